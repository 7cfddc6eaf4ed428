// The proxy route check against a stand-in for nginx whose /eventloop/ reaches M:N.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { assertProxyRoutes, wrongProxyRoutes } from '../src/proxy-routes.ts';

test('a proxy path that reaches another model, or nothing, is named with its own way out; the right ones are not', async () => {
  const answeredBy: Record<string, string> = { '/eventloop/healthz': 'mn', '/mn/healthz': 'mn', '/prefork/healthz': 'prefork' };
  const proxy = createServer((req, res) => {
    const model = answeredBy[req.url ?? ''];
    res.writeHead(model === undefined ? 502 : 200, {
      'content-type': 'application/json',
      ...(model === undefined ? {} : { 'x-model': model }),
    });
    res.end(JSON.stringify(model === undefined ? { statusCode: 502 } : { status: 'ok' }));
  }).listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  try {
    const base = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const wrong = await wrongProxyRoutes(['eventloop', 'mn', 'prefork', 'forking'], base);
    assert.deepEqual(wrong, ['/eventloop/ reaches mn', '/forking/ did not answer']);
    // Each kind of wrong path with its own way out: a stale nginx address, or a model that does not answer.
    await assert.rejects(assertProxyRoutes(['eventloop', 'mn', 'prefork', 'forking'], base), (error: Error) => {
      assert.match(error.message, /nginx routes \/eventloop\/ reaches mn: .*`make up` restarts it/);
      assert.match(error.message, /through nginx \/forking\/ did not answer within 5 s: .*`make ps`/);
      assert.doesNotMatch(error.message, /routes [^;]*\/forking\//, 'a silent model is not blamed on stale addresses');
      return true;
    });
    assert.deepEqual(await wrongProxyRoutes(['mn', 'prefork'], base), []);
    await assert.doesNotReject(assertProxyRoutes(['mn', 'prefork'], base));
  } finally {
    proxy.close();
  }
});
