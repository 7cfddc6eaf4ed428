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
  /** Every scenario together (holders and the measured one): what the database query count is compared with. */
  allRequests?: number;
  allSucceeded?: number;
  /** The holders' own requests (0 when the level holds no extra connections). */
  holdRequests: number;
  holdFailed: number;
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

/** The measured scenario's figure: its sub-metric {scenario:load} where the script split it, else the whole metric. */
function stat(summary: K6Summary, metric: string, name: string): number {
  return (summary.metrics[`${metric}{scenario:load}`] ?? summary.metrics[metric])?.values[name] ?? 0;
}

function whole(summary: K6Summary, metric: string, name: string): number {
  return summary.metrics[metric]?.values[name] ?? 0;
}

function held(summary: K6Summary, metric: string, name: string): number {
  return summary.metrics[`${metric}{scenario:hold}`]?.values[name] ?? 0;
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : (100 * part) / whole;
}

export function loadFigures(summary: K6Summary, measuredS?: number): LoadFigures {
  const requests = stat(summary, 'http_reqs', 'count');
  // One iteration = one request with two checks; a request counts as succeeded when both passed.
  const checks = summary.root_group?.checks ?? [];
  const passesOf = (name: string) => checks.find((c) => c.name === name)?.passes;
  const split = summary.metrics['succeeded_requests{scenario:load}'] !== undefined;
  const allPasses = passesOf('body is the requested row') ?? passesOf('status is 200') ?? 0;
  const bodyPasses = split ? stat(summary, 'succeeded_requests', 'count') : allPasses;
  const holdRequests = held(summary, 'http_reqs', 'count');
  // k6's rates divide by the whole run, which is longer than the measured scenario (the
  // holders' ramp before it, gracefulStop after it): given measuredS, the scenario's own
  // duration, the per-second figures use that.
  const runS = (summary.state?.testRunDurationMs ?? 0) / 1000;
  const durationS = measuredS ?? runS;
  const timeouts = stat(summary, 'request_timeouts', 'passes');
  return {
    durationS,
    requests,
    succeeded: bodyPasses,
    failed: requests - bodyPasses,
    requestsPerSecond: measuredS === undefined ? stat(summary, 'http_reqs', 'rate') : requests / measuredS,
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
    newConnections: whole(summary, 'new_connections', 'count'),
    vusMax: whole(summary, 'vus_max', 'max'),
    allRequests: whole(summary, 'http_reqs', 'count'),
    allSucceeded: allPasses,
    holdRequests,
    holdFailed: holdRequests - held(summary, 'succeeded_requests', 'count'),
  };
}
