// Where a level's time went, from the model's side. k6 times a request from the client,
// through nginx and the kernel's queues on cores the model shares or not; the model times
// it from when its handler got the request to the end of the response
// (http_request_duration_seconds, the same name, buckets and route label from the Node
// and the Go services). The increase of that histogram over the measured run, read from
// /metrics before and after, says how much of a tail the model itself took; Postgres's own
// execution time of the statement (pg_stat_statements) says how much of that was the query.

const HISTOGRAM = 'http_request_duration_seconds_bucket';

/** Cumulative counts per upper bound in seconds (Infinity for +Inf), ascending. */
export type Histogram = { le: number; count: number }[];

function labels(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found.set(m[1]!, m[2]!);
  return found;
}

/** The /db latency histogram in a /metrics text (Prometheus text format), or null when it has none. */
export function dbHistogram(metricsText: string, route = '/db'): Histogram | null {
  const buckets: Histogram = [];
  for (const line of metricsText.split('\n')) {
    const m = /^(\w+)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (m === null || m[1] !== HISTOGRAM) continue;
    const l = labels(m[2]!);
    const le = l.get('le');
    if (l.get('route') !== route || le === undefined) continue;
    buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: Number(m[3]) });
  }
  return buckets.length === 0 ? null : buckets.sort((a, b) => a.le - b.le);
}

/** after - before per bucket: the requests of the window. Null if the buckets differ or a count fell (a restart). */
export function histogramIncrease(before: Histogram | null, after: Histogram | null): Histogram | null {
  if (after === null) return null;
  if (before === null) return after;
  if (before.length !== after.length || before.some((b, i) => b.le !== after[i]!.le)) return null;
  const increase = after.map((a, i) => ({ le: a.le, count: a.count - before[i]!.count }));
  return increase.some((b) => b.count < 0) ? null : increase;
}

export interface ServiceLatency {
  /** /db requests the model finished in the window (responses sent; aborted ones are not timed). */
  requests: number;
  /** The upper bound (ms) of the bucket holding the quantile: the quantile is at most this. Null above the last finite bucket. */
  p50AtMostMs: number | null;
  p99AtMostMs: number | null;
  /** Share of those requests that took longer than 100 ms inside the model. */
  over100msPercent: number;
}

function quantileAtMostMs(h: Histogram, total: number, q: number): number | null {
  const bucket = h.find((b) => b.count >= q * total);
  return bucket === undefined || !Number.isFinite(bucket.le) ? null : Math.round(bucket.le * 1000 * 1000) / 1000;
}

/** The window's figures; null when nothing was timed or there is no 100 ms bucket to count against. */
export function serviceLatency(increase: Histogram | null): ServiceLatency | null {
  if (increase === null) return null;
  const total = increase.at(-1)!.count;
  const at100 = increase.find((b) => b.le === 0.1);
  if (total === 0 || at100 === undefined || increase.at(-1)!.le !== Infinity) return null;
  return {
    requests: total,
    p50AtMostMs: quantileAtMostMs(increase, total, 0.5),
    p99AtMostMs: quantileAtMostMs(increase, total, 0.99),
    over100msPercent: ((total - at100.count) / total) * 100,
  };
}
