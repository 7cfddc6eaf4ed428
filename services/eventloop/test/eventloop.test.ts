// Is it really an event loop? 50 concurrent slow requests must all be in flight at
// once, answered by one pid and one thread.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Evidence } from '@models/common';
import { get, listenBacklogOf, startService, startTestDatabase, type RunningService, type TestDatabase } from '@models/common/testing';

const ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));
let db: TestDatabase;
let svc: RunningService;

before(async () => {
  db = await startTestDatabase();
  // Pool as large as the burst, so the pool is not what limits concurrency.
  svc = await startService(ENTRY, { ...db.env, DB_POOL_MAX: '60', DB_DELAY_MS: '500' });
});
after(async () => {
  await svc?.stop('SIGKILL');
  await db?.close();
});

test('50 concurrent requests are all in flight at once, in one pid and one thread', async () => {
  await get(`${svc.url}/db?id=1`);
  const started = performance.now();
  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
  const elapsed = performance.now() - started;

  assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([200]));
  assert.equal(new Set(responses.map((r) => r.headers['x-pid'])).size, 1, 'one process');
  assert.deepEqual(new Set(responses.map((r) => r.headers['x-thread-id'])), new Set(['0']), 'one thread: the main thread');
  // Served one at a time this would take 50 x 500 ms; concurrently, about one delay.
  assert.ok(elapsed < 5 * 500, `50 requests took ${elapsed.toFixed(0)} ms`);

  const evidence = (await get(`${svc.url}/model`)).json<Evidence>();
  assert.ok(evidence.inFlight.max >= 50, `in-flight max was ${evidence.inFlight.max}`);
  assert.equal(evidence.units.kind, 'event-loop');
  assert.equal(evidence.units.alive, 1);
  assert.equal(evidence.memory.processes, 1);
  assert.equal(evidence.pid, evidence.supervisorPid);
});

test("LISTEN_BACKLOG is the listening socket's accept queue (default 8192, capped by net.core.somaxconn)", async () => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  assert.equal(listenBacklogOf(Number(new URL(svc.url).port)), Math.min(8_192, somaxconn));
  const small = await startService(ENTRY, { ...db.env, LISTEN_BACKLOG: '123' });
  try {
    assert.equal(listenBacklogOf(Number(new URL(small.url).port)), 123);
  } finally {
    await small.stop('SIGKILL');
  }
});
