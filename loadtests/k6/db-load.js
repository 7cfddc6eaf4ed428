// One load level against one model: GET /db?id=N with a check on status and body.
// Plain JavaScript (k6's runtime, not Node: the project's tsconfig does not cover it).
// Runs inside the grafana/k6 container (never inside a model's container). Every knob
// comes from the runner through environment variables; the summary goes to stdout as
// JSON between markers so the runner needs no shared writable directory with k6.
//
// Closed model (constant-vus): each VU holds ONE keep-alive connection, sends a request,
// then thinks a time drawn per iteration (exponential, mean THINK_TIME_S); its first
// request waits a uniform share of one think period (lib/arrivals.js says why).
// Open model (constant-arrival-rate): RATE requests/s whatever the latency; k6 reports
// dropped_iterations when it had no free VU, which makes the row invalid.
// Held connections (HOLD_VUS > 0): a second scenario, "hold", of mostly idle VUs that keep
// one keep-alive connection each (exponential think, mean HOLD_THINK_S, first requests over
// the first 60% of HOLD_RAMP_S); the measured scenario "load" starts once they are connected. Every figure
// the row reads comes from sub-metrics tagged scenario:load; the holders' requests are
// counted apart (hold_*) so the runner can compare the database's query count with all of them.
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate } from 'k6/metrics';
import { exponentialThinkS, firstRequestDelayS } from './lib/arrivals.js';
import { randomRowId, runOptions, scenario, summaryOnStdout } from './lib/run-options.js';

const env = __ENV;
const TARGET = env.TARGET_URL ?? 'http://127.0.0.1:3000/db';
const RUN = runOptions(env, '10s');

const tags = { model: env.MODEL ?? 'unknown', level: env.LEVEL ?? String(RUN.vus), phase: env.PHASE ?? 'measure' };

// Requests that opened a new TCP connection: with keep-alive this stays close to the VU count.
const newConnections = new Counter('new_connections');
const timeouts = new Rate('request_timeouts');
const serverErrors = new Counter('server_errors');
const unavailable = new Counter('db_unavailable_503');
// No HTTP answer at all and not a timeout: refused or reset (the model is not accepting).
const connectionErrors = new Counter('connection_errors');
// Requests whose status and body were right, in every scenario (sub-metrics split them).
const succeeded = new Counter('succeeded_requests');

const holding = RUN.holdVus > 0;
const scenarios = {
  load: scenario(RUN, 2, { tags, exec: 'load', ...(holding ? { startTime: `${RUN.holdRampS}s` } : {}) }),
};
if (holding) {
  const gracefulStop = `${RUN.timeoutS + 2}s`;
  scenarios.hold = {
    executor: 'constant-vus',
    vus: RUN.holdVus,
    duration: `${RUN.holdRampS + RUN.durationS}s`,
    gracefulStop,
    exec: 'hold',
    tags,
  };
}

// Sub-metrics exist in the summary only when a threshold names them. These thresholds never
// fail a run (a model falling over is a result).
const SPLIT = [
  'http_reqs',
  'http_req_duration',
  'request_timeouts',
  'server_errors',
  'db_unavailable_503',
  'connection_errors',
  'succeeded_requests',
  'new_connections',
];
const thresholds = {
  'http_req_duration{expected_response:true}': ['max>=0'],
  checks: ['rate>=0'],
};
for (const metric of SPLIT) {
  const rule = metric === 'http_req_duration' ? 'max>=0' : metric === 'request_timeouts' ? 'rate>=0' : 'count>=0';
  thresholds[`${metric}{scenario:load}`] = [rule];
  if (holding) thresholds[`${metric}{scenario:hold}`] = [rule];
}

export const options = {
  scenarios,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)'],
  thresholds,
  noConnectionReuse: false,
  userAgent: 'concurrency-models-loadtest/k6',
};

function request() {
  const id = randomRowId();
  const res = http.get(`${TARGET}?id=${id}`, { timeout: RUN.timeout, tags: { name: 'db' } });
  if (res.timings.connecting > 0) newConnections.add(1);
  timeouts.add(res.error_code === 1050);
  if (res.status >= 500) serverErrors.add(1);
  if (res.status === 503) unavailable.add(1);
  if (res.status === 0 && res.error_code !== 1050) connectionErrors.add(1);
  const ok = check(res, {
    'status is 200': (r) => r.status === 200,
    'body is the requested row': (r) => {
      if (r.status !== 200 || typeof r.body !== 'string') return false;
      try {
        const row = JSON.parse(r.body);
        return row.id === id && typeof row.randomNumber === 'number';
      } catch {
        return false;
      }
    },
  });
  if (ok) succeeded.add(1);
}

export function load() {
  // Closed model only: the open model's iterations are started by k6 at the rate.
  const closed = RUN.executor !== 'constant-arrival-rate';
  if (closed && exec.vu.iterationInScenario === 0) sleep(firstRequestDelayS(RUN.thinkTimeS));
  request();
  if (closed) sleep(exponentialThinkS(RUN.thinkTimeS));
}

// The holders' first requests (each a new connection) come in the first 60% of HOLD_RAMP_S;
// the rest lets that connection storm settle before the measured scenario starts.
const HOLD_CONNECT_SHARE = 0.6;

export function hold() {
  if (exec.vu.iterationInScenario === 0) sleep(firstRequestDelayS(RUN.holdRampS * HOLD_CONNECT_SHARE));
  request();
  sleep(exponentialThinkS(RUN.holdThinkS));
}

export default load;

export const handleSummary = summaryOnStdout;
