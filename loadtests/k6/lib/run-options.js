/* global __ENV */
// What the runner tells every k6 script through the environment, read in one place.
// Plain JavaScript (k6's runtime, not Node).
//   EXECUTOR       constant-vus (VUS, each thinks THINK_TIME_S between requests) or
//                  constant-arrival-rate (RATE requests/s, up to MAX_VUS)
//   DURATION, REQUEST_TIMEOUT (e.g. 20s, 5s): every request and the run are bounded.
//   HOLD_VUS, HOLD_THINK_S, HOLD_RAMP_S  db-load.js only: VUs that mostly hold an idle
//                  keep-alive connection (exponential think, mean HOLD_THINK_S) beside the
//                  measured scenario, their first requests spread over HOLD_RAMP_S.

const ROWS = 10_000;
const MARK = '@@K6_SUMMARY@@';

/** The run's knobs; defaultTimeout applies when REQUEST_TIMEOUT is unset. */
export function runOptions(env, defaultTimeout) {
  const timeout = env.REQUEST_TIMEOUT ?? defaultTimeout;
  const vus = Number(env.VUS ?? '10');
  return {
    executor: env.EXECUTOR ?? 'constant-vus',
    vus,
    rate: Number(env.RATE ?? '0'),
    maxVus: Number(env.MAX_VUS ?? String(vus)),
    duration: env.DURATION ?? '10s',
    thinkTimeS: Number(env.THINK_TIME_S ?? '0'),
    timeout,
    timeoutS: Number(timeout.replace(/s$/, '')),
    durationS: Number((env.DURATION ?? '10s').replace(/s$/, '')),
    holdVus: Number(env.HOLD_VUS ?? '0'),
    holdThinkS: Number(env.HOLD_THINK_S ?? '30'),
    holdRampS: Number(env.HOLD_RAMP_S ?? '0'),
  };
}

/**
 * One scenario of the chosen executor. Requests in flight when the duration ends may finish,
 * up to their timeout plus graceS: one cut off could still run its query, and the runner
 * compares queries with answers.
 */
export function scenario(run, graceS, extra) {
  const gracefulStop = `${run.timeoutS + graceS}s`;
  const shape =
    run.executor === 'constant-arrival-rate'
      ? {
          executor: 'constant-arrival-rate',
          rate: run.rate,
          timeUnit: '1s',
          duration: run.duration,
          preAllocatedVUs: run.vus,
          maxVUs: run.maxVus,
        }
      : { executor: 'constant-vus', vus: run.vus, duration: run.duration };
  return { ...shape, gracefulStop, ...extra };
}

/** A random existing row of the world table. */
export const randomRowId = () => 1 + Math.floor(Math.random() * ROWS);

/** The summary as JSON between markers on stdout: the runner needs no shared writable folder with k6. */
export function summaryOnStdout(data) {
  return { stdout: `\n${MARK}\n${JSON.stringify(data)}\n${MARK}\n` };
}
