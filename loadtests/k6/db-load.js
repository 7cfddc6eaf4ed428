// One load level against one model: GET /db?id=N with a check on status and body.
// Plain JavaScript (k6's runtime, not Node: the project's tsconfig does not cover it).
// Runs inside the grafana/k6 container (never inside a model's container). Every knob
// comes from the runner through environment variables; the summary goes to stdout as
// JSON between markers so the runner needs no shared writable directory with k6.
//
// Closed model (constant-vus): each VU holds ONE keep-alive connection, sends a request,
// then thinks THINK_TIME_S seconds: "N concurrent connections" means N VUs.
// Open model (constant-arrival-rate): RATE requests/s whatever the latency; k6 reports
// dropped_iterations when it had no free VU, which makes the row invalid.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';
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

export const options = {
  scenarios: { load: scenario(RUN, 2, { tags }) },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)'],
  // Thresholds never fail a run here (a model falling over is a result); they exist so
  // the summary carries the successful-request latency as its own sub-metric.
  thresholds: {
    'http_req_duration{expected_response:true}': ['max>=0'],
    checks: ['rate>=0'],
  },
  noConnectionReuse: false,
  userAgent: 'concurrency-models-loadtest/k6',
};

export default function load() {
  const id = randomRowId();
  const res = http.get(`${TARGET}?id=${id}`, { timeout: RUN.timeout, tags: { name: 'db' } });
  if (res.timings.connecting > 0) newConnections.add(1);
  timeouts.add(res.error_code === 1050);
  if (res.status >= 500) serverErrors.add(1);
  if (res.status === 503) unavailable.add(1);
  if (res.status === 0 && res.error_code !== 1050) connectionErrors.add(1);
  check(res, {
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
  if (RUN.thinkTimeS > 0) sleep(RUN.thinkTimeS);
}

export const handleSummary = summaryOnStdout;
