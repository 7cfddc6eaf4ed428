// Is it really a prefork pool? At most POOL_SIZE requests in flight, the rest queued
// (not failed), a bounded queue that answers 503 beyond its bound, dead workers
// replaced, and the Slowloris timeout working on sockets handed in by the master.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Evidence } from '@models/common';
import {
  assertBoundThenQueueThen503,
  get,
  rawRequest,
  startService,
  startTestDatabase,
  waitFor,
  type RunningService,
  type TestDatabase,
} from '@models/common/testing';
import { CONNECTION, IDLE, isMessage } from '../src/messages.ts';

const ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('../src/worker.ts', import.meta.url));
const DELAY_MS = 500;
let db: TestDatabase;

before(async () => {
  db = await startTestDatabase();
});
after(async () => {
  await db?.close();
});

const evidence = async (url: string) => (await get(`${url}/model`)).json<Evidence>();

describe('prefork, POOL_SIZE=4', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService(ENTRY, { ...db.env, POOL_SIZE: '4', DB_DELAY_MS: String(DELAY_MS) });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('12 concurrent slow requests: exactly 4 in flight at once, the rest queued and all answered', async () => {
    // Warm every worker's database connection, so the timing below measures only the queueing.
    await Promise.all(Array.from({ length: 4 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
    const elapsed = performance.now() - started;

    assert.deepEqual(
      responses.map((r) => r.status),
      responses.map(() => 200),
      'queued, not failed',
    );
    assert.equal(new Set(responses.map((r) => r.headers['x-pid'])).size, 4, 'four worker processes answered');
    assert.ok(responses.every((r) => r.headers['x-model'] === 'prefork'));
    // Four at a time: three rounds of one delay each (all 12 at once would take one delay).
    assert.ok(elapsed >= 3 * DELAY_MS, `12 requests took ${elapsed.toFixed(0)} ms, less than 3 rounds`);
    assert.ok(elapsed < 5 * DELAY_MS, `12 requests took ${elapsed.toFixed(0)} ms`);

    const model = await evidence(svc.url);
    assert.equal(model.inFlight.max, 4, 'in-flight max is exactly POOL_SIZE');
    assert.deepEqual(model.units, { kind: 'process', alive: 4, started: 4, limit: 4 });
    assert.equal(model.memory.processes, 5, 'the master and four workers');
    assert.notEqual(model.pid, model.supervisorPid, 'a worker answered, not the master');
    assert.deepEqual(model.db.maxConnections, 4, 'one connection per worker');
    assert.equal(model.extra.rejected503, 0);
  });

  test('a killed worker is replaced and requests keep succeeding', async () => {
    const victim = Number((await get(`${svc.url}/healthz`)).headers['x-pid']);
    const before = await evidence(svc.url);
    process.kill(victim, 'SIGKILL');
    await waitFor(
      'a replacement worker',
      async () => {
        const now = await evidence(svc.url);
        return now.units.alive === 4 && now.units.started === before.units.started + 1 ? now : undefined;
      },
      10_000,
    );
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
    assert.deepEqual(
      responses.map((r) => r.status),
      responses.map(() => 200),
    );
    assert.ok(
      responses.every((r) => Number(r.headers['x-pid']) !== victim),
      'the dead worker answers nothing',
    );
    assert.match(svc.output(), /worker died: starting a replacement/);
  });
});

describe('prefork, POOL_SIZE=4, QUEUE_MAX=2', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService(ENTRY, {
      ...db.env,
      POOL_SIZE: '4',
      QUEUE_MAX: '2',
      DB_DELAY_MS: String(DELAY_MS),
      DB_CONNECTION_TIMEOUT_MS: '5000',
    });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('4 workers busy and the queue full: the next connections get a fast 503 from the master', async () => {
    await assertBoundThenQueueThen503(svc, { bound: 4, queue: 2, delayMs: DELAY_MS, supervisorHeader: ['x-pid', String(svc.child.pid)] });
  });
});

describe('a worker, driven as the master drives it', () => {
  test('a connection whose handle is gone on the way (its client left) gets IDLE back, and the worker serves the next one', async () => {
    const worker = fork(WORKER_ENTRY, [], {
      env: { ...process.env, ...db.env, LOG_LEVEL: 'error' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe', 'pipe'], // fds 4 and 5: the pipes to the master's pool
    });
    const idle = () =>
      new Promise<void>((resolve) => {
        const onMessage = (message: unknown) => {
          if (!isMessage(message, IDLE)) return;
          worker.off('message', onMessage);
          resolve();
        };
        worker.on('message', onMessage);
      });
    const server = createServer({ pauseOnConnect: true });
    try {
      await idle(); // ready
      const again = idle();
      worker.send(CONNECTION); // what Node delivers when the socket was closed before it was sent
      await Promise.race([again, setTimeout(5_000).then(() => assert.fail('no IDLE after a CONNECTION without a handle'))]);

      server.on('connection', (socket) => worker.send(CONNECTION, socket));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      const reply = await rawRequest(`http://127.0.0.1:${port}`, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match(reply, /^HTTP\/1\.1 200 /, 'the worker took the next connection: it is not stuck busy');
    } finally {
      server.close();
      worker.kill('SIGKILL');
    }
  });
});
