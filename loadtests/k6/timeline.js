/* global __ENV, console */
// Load for the resilience experiments: one scenario per target, and one log line per request
// (start time, wall-clock duration, status, k6 error code) so the runner can cut the run into
// "before", "during" and "after" a failure it causes (db stopped, a model stopped).
// Plain JavaScript (k6's runtime, not Node). Every knob comes from the runner.
//   TARGETS       name=url,name=url (url ends in /db)
//   EXECUTOR, VUS/RATE (per target), DURATION, REQUEST_TIMEOUT: see lib/run-options.js.
//   CLOSE_TARGETS name,name: these send "Connection: close" (a prefork worker owns its connection
//                 until it closes: a keep-alive client would keep a worker to itself, as nginx avoids too).
import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';
import { randomRowId, runOptions, scenario, summaryOnStdout } from './lib/run-options.js';

const env = __ENV;
const TARGETS = (env.TARGETS ?? 'local=http://127.0.0.1:3000/db').split(',').map((pair) => {
  const at = pair.indexOf('=');
  return { name: pair.slice(0, at), url: pair.slice(at + 1) };
});
const RUN = runOptions(env, '5s');
const CLOSE = new Set((env.CLOSE_TARGETS ?? '').split(',').filter(Boolean));

export const options = {
  scenarios: Object.fromEntries(
    TARGETS.map((t) => [
      t.name.replace(/[^a-zA-Z0-9_]/g, '_'),
      scenario(RUN, 1, { exec: 'hit', env: { TARGET_NAME: t.name, TARGET_URL: t.url }, tags: { target: t.name } }),
    ]),
  ),
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
  const id = randomRowId();
  const started = Date.now();
  const headers = CLOSE.has(__ENV.TARGET_NAME) ? { Connection: 'close' } : {};
  const res = http.get(`${url}?id=${id}`, { timeout: RUN.timeout, headers, tags: { name: 'db' } });
  const ms = Date.now() - started;
  // One line per request: R <target> <start ms since epoch> <duration ms> <status> <error code> <error kind>
  console.log(`R ${__ENV.TARGET_NAME ?? name} ${started} ${ms} ${res.status} ${res.error_code} ${errorKind(res)}`);
  if (RUN.thinkTimeS > 0) sleep(RUN.thinkTimeS);
}

export const handleSummary = summaryOnStdout;
