/* global __ENV, console */
// Load for the resilience experiments: one scenario per target, and one log line per request
// (start time, wall-clock duration, status, k6 error code) so the runner can cut the run into
// "before", "during" and "after" a failure it causes (db stopped, a model stopped).
// Plain JavaScript (k6's runtime, not Node). Every knob comes from the runner.
//   TARGETS       name=url,name=url (url ends in /db)
//   EXECUTOR      constant-vus (VUS per target, THINK_TIME_S) or constant-arrival-rate (RATE per target, MAX_VUS)
//   DURATION, REQUEST_TIMEOUT (e.g. 20s, 5s): every request and the run are bounded.
//   CLOSE_TARGETS name,name: these send "Connection: close" (a prefork worker owns its connection
//                 until it closes: a keep-alive client would keep a worker to itself, as nginx avoids too).
import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';

const env = __ENV;
const TARGETS = (env.TARGETS ?? 'local=http://127.0.0.1:3000/db').split(',').map((pair) => {
  const at = pair.indexOf('=');
  return { name: pair.slice(0, at), url: pair.slice(at + 1) };
});
const EXECUTOR = env.EXECUTOR ?? 'constant-vus';
const VUS = Number(env.VUS ?? '10');
const RATE = Number(env.RATE ?? '0');
const MAX_VUS = Number(env.MAX_VUS ?? String(VUS));
const DURATION = env.DURATION ?? '10s';
const THINK_TIME_S = Number(env.THINK_TIME_S ?? '0');
const TIMEOUT = env.REQUEST_TIMEOUT ?? '5s';
const GRACEFUL_STOP = `${Number(TIMEOUT.replace(/s$/, '')) + 1}s`;
const ROWS = 10_000;
const MARK = '@@K6_SUMMARY@@';
const CLOSE = new Set((env.CLOSE_TARGETS ?? '').split(',').filter(Boolean));

function scenarioFor(target) {
  const base = { exec: 'hit', env: { TARGET_NAME: target.name, TARGET_URL: target.url }, gracefulStop: GRACEFUL_STOP, tags: { target: target.name } };
  return EXECUTOR === 'constant-arrival-rate'
    ? { ...base, executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION, preAllocatedVUs: VUS, maxVUs: MAX_VUS }
    : { ...base, executor: 'constant-vus', vus: VUS, duration: DURATION };
}

export const options = {
  scenarios: Object.fromEntries(TARGETS.map((t) => [t.name.replace(/[^a-zA-Z0-9_]/g, '_'), scenarioFor(t)])),
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(99)'],
  userAgent: 'concurrency-models-resilience/k6',
};

// What kind of failure a request without an answer met, from k6's error text.
function errorKind(res) {
  if (res.status !== 0) return '-';
  const text = String(res.error ?? '').toLowerCase();
  if (res.error_code === 1050) return 'timeout';
  if (text.includes('refused')) return 'refused';
  if (text.includes('reset')) return 'reset';
  if (text.includes('no route') || text.includes('unreachable')) return 'unreachable';
  if (text.includes('eof')) return 'closed';
  return 'other';
}

export function hit() {
  const name = exec.scenario.name;
  const url = __ENV.TARGET_URL;
  const id = 1 + Math.floor(Math.random() * ROWS);
  const started = Date.now();
  const headers = CLOSE.has(__ENV.TARGET_NAME) ? { Connection: 'close' } : {};
  const res = http.get(`${url}?id=${id}`, { timeout: TIMEOUT, headers, tags: { name: 'db' } });
  const ms = Date.now() - started;
  // One line per request: R <target> <start ms since epoch> <duration ms> <status> <error code> <error kind>
  console.log(`R ${__ENV.TARGET_NAME ?? name} ${started} ${ms} ${res.status} ${res.error_code} ${errorKind(res)}`);
  if (THINK_TIME_S > 0) sleep(THINK_TIME_S);
}

export function handleSummary(data) {
  return { stdout: `\n${MARK}\n${JSON.stringify(data)}\n${MARK}\n` };
}
