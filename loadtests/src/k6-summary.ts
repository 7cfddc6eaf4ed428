// Reading what k6's handleSummary printed (loadtests/k6/db-load.js) into the figures a row needs.

export const SUMMARY_MARK = '@@K6_SUMMARY@@';

interface MetricValues {
  [stat: string]: number | undefined;
}

export interface K6Summary {
  state?: { testRunDurationMs?: number };
  metrics: Record<string, { type: string; values: MetricValues } | undefined>;
  root_group?: { checks?: { name: string; passes: number; fails: number }[] };
}

/** The figures of one measured k6 run. Latencies in milliseconds. */
export interface LoadFigures {
  durationS: number;
  requests: number;
  /** Requests that passed both checks (status 200 and the requested row in the body). */
  succeeded: number;
  failed: number;
  requestsPerSecond: number;
  successesPerSecond: number;
  /** Over every request, failures included. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; avg: number };
  errorPercent: number;
  timeoutPercent: number;
  timeouts: number;
  serverErrors: number;
  unavailable503: number;
  /** No HTTP answer and no timeout: connection refused or reset. */
  connectionErrors: number;
  droppedIterations: number;
  newConnections: number;
  vusMax: number;
}

/** The JSON between the markers of k6's stdout; throws when k6 printed no summary. */
export function extractSummary(stdout: string): K6Summary {
  const parts = stdout.split(SUMMARY_MARK);
  const json = parts[1];
  if (parts.length < 3 || json === undefined) throw new Error('k6 printed no summary (did it start? see its stderr)');
  const parsed = JSON.parse(json) as K6Summary;
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.metrics !== 'object') throw new Error('k6 summary has no metrics');
  return parsed;
}

function stat(summary: K6Summary, metric: string, name: string): number {
  return summary.metrics[metric]?.values[name] ?? 0;
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : (100 * part) / whole;
}

export function loadFigures(summary: K6Summary): LoadFigures {
  const requests = stat(summary, 'http_reqs', 'count');
  // One iteration = one request with two checks; a request counts as succeeded when both passed.
  const checks = summary.root_group?.checks ?? [];
  const passesOf = (name: string) => checks.find((c) => c.name === name)?.passes;
  const bodyPasses = passesOf('body is the requested row') ?? passesOf('status is 200') ?? 0;
  const durationS = (summary.state?.testRunDurationMs ?? 0) / 1000;
  const timeouts = stat(summary, 'request_timeouts', 'passes');
  return {
    durationS,
    requests,
    succeeded: bodyPasses,
    failed: requests - bodyPasses,
    requestsPerSecond: stat(summary, 'http_reqs', 'rate'),
    successesPerSecond: durationS > 0 ? bodyPasses / durationS : 0,
    latencyMs: {
      p50: stat(summary, 'http_req_duration', 'p(50)'),
      p90: stat(summary, 'http_req_duration', 'p(90)'),
      p99: stat(summary, 'http_req_duration', 'p(99)'),
      max: stat(summary, 'http_req_duration', 'max'),
      avg: stat(summary, 'http_req_duration', 'avg'),
    },
    errorPercent: percent(requests - bodyPasses, requests),
    timeoutPercent: percent(timeouts, requests),
    timeouts,
    serverErrors: stat(summary, 'server_errors', 'count'),
    unavailable503: stat(summary, 'db_unavailable_503', 'count'),
    connectionErrors: stat(summary, 'connection_errors', 'count'),
    droppedIterations: stat(summary, 'dropped_iterations', 'count'),
    newConnections: stat(summary, 'new_connections', 'count'),
    vusMax: stat(summary, 'vus_max', 'max'),
  };
}
