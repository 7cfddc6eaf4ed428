// The proxy route check against a stand-in for nginx whose /eventloop/ reaches M:N.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { assertProxyRoutes, wrongProxyRoutes } from '../src/proxy-routes.ts';

test('a proxy path that reaches another model, or nothing, is named; the right ones are not', async () => {
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
    await assert.rejects(
      assertProxyRoutes(['eventloop', 'mn', 'prefork', 'forking'], base),
      /nginx routes \/eventloop\/ reaches mn, \/forking\/ did not answer/,
    );
    assert.deepEqual(await wrongProxyRoutes(['mn', 'prefork'], base), []);
    await assert.doesNotReject(assertProxyRoutes(['mn', 'prefork'], base));
  } finally {
    proxy.close();
  }
});
