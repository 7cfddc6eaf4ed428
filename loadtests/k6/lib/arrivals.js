// When each VU sends: pure arithmetic, no k6 imports, so node:test can check it directly.
// A fixed think time makes N VUs fire in the same instant once per (think + response): the
// model then sees waves of N requests and the tail measures the waves, not the model
// (measured: 600 lock-step VUs gave the event loop p99 407 ms, the same VUs with exponential
// think and spread starts 55 ms). So think time is drawn per iteration from an exponential
// distribution with the configured mean (each VU is then a Poisson source, and N of them
// merge into a Poisson stream), and each VU's first request waits a uniform share of one
// think period.

export const ARRIVAL_PROCESS =
  "closed model: think time exponential per iteration (mean THINK_TIME_S), each VU's first request delayed uniformly over one mean think period; open model: constant-arrival-rate (k6 starts iterations at the rate whatever the latency)";

/** One think time (seconds), exponential with the given mean; `random` returns [0, 1). */
export function exponentialThinkS(meanS, random = Math.random) {
  if (!(meanS > 0)) return 0;
  // 1 - random() is in (0, 1]: the log is finite.
  return -meanS * Math.log(1 - random());
}

/** The delay before a VU's first request: uniform over one mean think period. */
export function firstRequestDelayS(meanS, random = Math.random) {
  if (!(meanS > 0)) return 0;
  return meanS * random();
}
