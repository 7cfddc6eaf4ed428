// Generated bad input against a running service: arbitrary paths, query strings and
// headers must never produce a 5xx, every error body must be JSON, and the service
// (and its units) must still be there afterwards.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Evidence } from '../src/stats.ts';
import { get, waitFor } from './http.ts';

// Characters a client may legally put on the request line: anything printable but space.
const pathChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%?#[]ABCXYZ".split(''));
const rawText = fc.string({ unit: pathChar, maxLength: 60 });
const percentJunk = fc.constantFrom('%', '%z', '%zz', '%00', '%E0%A4%A', '%C3%28', '%FF%FE', '%25', '%2', '%%%');
const idValue = fc.oneof(
  rawText,
  percentJunk,
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.double().map(String),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
);
const queryString = fc
  .array(fc.tuple(fc.constantFrom('id', 'ID', 'id[]', 'x', '', '__proto__', 'constructor'), idValue), { maxLength: 4 })
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join(fc.sample(fc.constantFrom('&', ';', '&&'), 1)[0]));
const path = fc.oneof(
  fc.constantFrom('/db', '/db/', '//db', '/DB', '/db/..', '/./db', '/model', '/metrics', '/readyz', '/healthz', '/%64b', '/db%00'),
  rawText.map((p) => `/${p}`),
);
const headerName = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,20}$/)
  .filter((n) => !['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'upgrade'].includes(n));
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,200}$/);
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 5 });
const method = fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH');

export interface PropertyTarget {
  url: string;
  model: string;
  /** Units that live for the whole service (prefork workers, M:N threads, the event loop): none may die. */
  persistentUnits: boolean;
  alive(): boolean;
}

export async function assertBadInputNeverBreaks(target: PropertyTarget, numRuns: number): Promise<void> {
  const before = (await get(`${target.url}/model`)).json<Evidence>();
  await fc.assert(
    fc.asyncProperty(method, path, queryString, headers, async (m, p, q, h) => {
      const url = `${target.url}${p}${q ? `?${q}` : ''}`;
      const res = await get(url, { method: m, headers: h });
      assert.ok(res.status < 500, `${m} ${url} → ${res.status} ${res.body}`);
      if (res.status >= 400 && m !== 'HEAD') {
        assert.match(String(res.headers['content-type']), /^application\/json/, `${m} ${url}: error without JSON type`);
        const body = JSON.parse(res.body) as { statusCode?: number };
        assert.equal(body.statusCode, res.status, `${m} ${url}: error body ${res.body}`);
      }
      assert.equal(res.headers['x-model'], target.model);
    }),
    // Found by this property once: a HEAD whose target net/http cannot parse got its error
    // reply with a body (the Go service), which the client then reads as a broken response.
    { numRuns, endOnFailure: true, examples: [['HEAD', '/&%hl0bc&', 'a=1', {}]] },
  );
  assert.ok(target.alive(), 'the service process is still running');
  assert.equal((await get(`${target.url}/db?id=1`)).status, 200, 'and still serves /db');
  if (target.persistentUnits) {
    const after = (await get(`${target.url}/model`)).json<Evidence>();
    assert.equal(after.units.started, before.units.started, 'no unit died and was replaced');
    assert.equal(after.units.alive, before.units.alive, 'every unit is still alive');
  } else {
    // A unit per connection: every one started for the run has ended (only this request's
    // unit is alive), and each ended by exiting 0, none by a crash.
    const after = await waitFor(
      'every unit of the run to end',
      async () => {
        const now = (await get(`${target.url}/model`)).json<Evidence>();
        return now.units.alive === 1 ? now : undefined;
      },
      10_000,
    );
    assert.ok(
      after.units.started - before.units.started >= numRuns,
      `${after.units.started - before.units.started} units for ${numRuns} connections`,
    );
    assert.equal(typeof after.extra.unitsCrashed, 'number', 'the model reports crashed units');
    assert.equal(after.extra.unitsCrashed, before.extra.unitsCrashed, 'no unit crashed');
  }
}
