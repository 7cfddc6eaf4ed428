// Is it really thread-per-request? Every connection gets a NEW OS thread in ONE process,
// and the thread is gone once its connection closes.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Recorder, createLogger, openPoolStore, type Evidence } from '@models/common';
import {
  assertBoundThenQueueThen503,
  assertResetClientsCostNoUnit,
  get,
  rawRequest,
  startService,
  startTestDatabase,
  waitFor,
  type RunningService,
  type TestDatabase,
} from '@models/common/testing';
import { startConnectionThread } from '../src/connection-thread.ts';
import { MODEL, loadThreadedSettings } from '../src/settings.ts';

const ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const OOM_FIXTURE = fileURLToPath(new URL('./fixtures/oom-one-thread.ts', import.meta.url));
let db: TestDatabase;

before(async () => {
  db = await startTestDatabase();
});
after(async () => {
  await db?.close();
});

/** OS threads of a process, counted by the kernel (not by the service). */
const osThreads = (pid: number) => readdirSync(`/proc/${pid}/task`).length;
// Opening 10 Postgres connections at once can take longer than the default 750 ms on a busy
// 2-core machine; this test is about threads/processes, not connection set-up time.
const PATIENT_DB = { DB_CONNECTION_TIMEOUT_MS: '5000' };
/** The OS thread count once it has stopped changing (no connection open). */
async function steadyOsThreads(pid: number): Promise<number> {
  let last = -1;
  let same = 0;
  for (;;) {
    const now = osThreads(pid);
    same = now === last ? same + 1 : 0;
    if (same === 5) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const evidence = async (svc: RunningService) => (await get(`${svc.url}/model`)).json<Evidence>();

describe('unbounded (the classic model)', () => {
  let svc: RunningService;
  before(async () => {
    // Keep-alive long enough that 10 connections are certainly all open at the same moment.
    svc = await startService(ENTRY, { ...db.env, ...PATIENT_DB, DB_DELAY_MS: '500', KEEP_ALIVE_TIMEOUT_MS: '10000' });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('10 concurrent connections: 10 new threads in one pid; once they close, no thread is left', async () => {
    const pid = svc.child.pid!;
    await get(`${svc.url}/db?id=1`); // the pool opens its first connection; then this thread ends
    const idle = await steadyOsThreads(pid);
    const before = await evidence(svc);
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    try {
      const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`, { agent })));
      assert.deepEqual(
        responses.map((r) => r.status),
        responses.map(() => 200),
        responses.map((r) => r.body).join('\n'),
      );
      assert.deepEqual(new Set(responses.map((r) => r.headers['x-pid'])), new Set([String(pid)]), 'one process');
      const threadIds = new Set(responses.map((r) => r.headers['x-thread-id']));
      assert.equal(threadIds.size, 10, `10 distinct threads, got ${[...threadIds].join(',')}`);
      assert.ok(!threadIds.has('0'), 'no request was answered by the main thread');

      // The 10 connections are still open (keep-alive), so their 10 threads are all alive now.
      const held = await evidence(svc);
      assert.equal(held.units.alive, 10 + 1, '10 held connections + the one asking');
      assert.ok(osThreads(pid) >= idle + 10, `the kernel sees ${osThreads(pid)} threads, ${idle} with no connection open`);
    } finally {
      agent.destroy(); // the clients close their connections
    }
    const settled = await waitFor(
      'the 10 threads to end',
      async () => {
        const now = await evidence(svc);
        return now.units.alive === 1 ? now : undefined; // only the thread answering this request
      },
      5_000,
    );
    assert.equal(settled.units.started - before.units.started, 10 + 1 + 1, '10 for the burst, 1 for each /model request');
    assert.equal(settled.units.kind, 'thread');
    assert.equal(settled.units.limit, null);
    assert.deepEqual(settled.db, { delayMs: 500, poolMaxPerUnit: 100, pools: 1, pool: settled.db.pool, maxConnections: 100 });
    assert.deepEqual(settled.memory.processes, 1);
    await waitFor('the OS thread count to return to idle', () => Promise.resolve(osThreads(pid) <= idle ? true : undefined), 5_000);
  });

  test('a keep-alive connection keeps its one thread for all its requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const responses = [];
      for (let i = 0; i < 3; i++) responses.push(await get(`${svc.url}/db?id=${i + 1}`, { agent }));
      assert.deepEqual(
        responses.map((r) => r.status),
        [200, 200, 200],
      );
      assert.equal(new Set(responses.map((r) => r.headers['x-thread-id'])).size, 1, 'one thread served the whole connection');
    } finally {
      agent.destroy();
    }
  });
});

test('KEEP_ALIVE_TIMEOUT_MS: an idle connection is closed and its thread ends', async () => {
  const svc = await startService(ENTRY, { ...db.env, KEEP_ALIVE_TIMEOUT_MS: '1000' });
  try {
    const idle = await steadyOsThreads(svc.child.pid!);
    // A raw connection that never closes by itself: only the server's idle timeout can end it.
    const raw = await rawRequest(svc.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 15_000);
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.match(raw, /keep-alive/i);
    await waitFor('the thread to end', () => Promise.resolve(osThreads(svc.child.pid!) <= idle ? true : undefined), 5_000);
  } finally {
    await svc.stop('SIGKILL');
  }
});

describe('MAX_THREADS=2, QUEUE_MAX=2', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService(ENTRY, { ...db.env, ...PATIENT_DB, DB_DELAY_MS: '500', MAX_THREADS: '2', QUEUE_MAX: '2' });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('at the bound, connections wait in the main thread; beyond the queue they get a fast 503', async () => {
    // No warm-up: a unit still ending would hold one of the two slots.
    await assertBoundThenQueueThen503(svc, { bound: 2, queue: 2, delayMs: 500, supervisorHeader: ['x-thread-id', '0'] });
  });
});

describe('Slowloris defence on a handed-in socket', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService(ENTRY, { ...db.env, HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '1000' });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('headers that never finish get 408 from the thread after HEADERS_TIMEOUT_MS, and the thread ends', async () => {
    const started = performance.now();
    const raw = await rawRequest(svc.url, 'GET /db?id=1 HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n', 15_000);
    const waited = performance.now() - started;
    assert.match(raw, /^HTTP\/1\.1 408 /);
    assert.match(raw, /"error":"request_timeout"/);
    assert.doesNotMatch(raw, /x-thread-id: 0\r\n/, 'answered by the connection thread');
    assert.ok(waited >= 1_000 && waited < 9_000, `closed after ${waited.toFixed(0)} ms`);
    await waitFor('the thread to end', async () => ((await evidence(svc)).units.alive === 1 ? true : undefined), 5_000);
  });
});

describe('faults stay in their thread', () => {
  test('a connection thread that runs out of memory is gone alone: the service keeps answering, nothing stays open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'threaded-oom-'));
    const trigger = join(dir, 'now');
    // A small but workable isolate heap; the fixture makes one thread exceed it.
    const svc = await startService(ENTRY, {
      ...db.env,
      THREAD_MAX_OLD_MB: '64',
      NODE_OPTIONS: `--import ${OOM_FIXTURE}`,
      THREADED_TEST_OOM_FILE: trigger,
    });
    try {
      assert.equal((await get(`${svc.url}/db?id=1`)).status, 200, 'a normal thread fits in the bound');
      writeFileSync(trigger, '');
      const doomed = await get(`${svc.url}/db?id=2`, { timeoutMs: 10_000 }).then(
        (r) => `answered ${r.status}`,
        () => 'lost',
      );
      assert.equal(existsSync(trigger), false, 'a connection thread took the trigger');
      assert.equal(doomed, 'lost', 'the connection of the thread that died is lost with it');
      await waitFor(
        'the out-of-memory error in the log',
        () => Promise.resolve(/ERR_WORKER_OUT_OF_MEMORY/.test(svc.output()) ? true : undefined),
        5_000,
      );
      assert.equal(svc.child.exitCode, null, `the service is still running:\n${svc.output()}`);
      const next = await Promise.all(Array.from({ length: 5 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
      assert.deepEqual(
        next.map((r) => r.status),
        [200, 200, 200, 200, 200],
      );
      const now = await waitFor(
        'every thread but this one ended',
        async () => {
          const e = await evidence(svc);
          return e.units.alive === 1 ? e : undefined;
        },
        5_000,
      );
      assert.equal(now.inFlight.now, 1, 'only this /model request is in flight');
      assert.equal(now.extra.unitsCrashed, 1, 'the thread out of memory is counted as crashed');
    } finally {
      await svc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a thread that cannot start', () => {
  test('leaves no MessagePort of its blocking link open (the 503 path of new Worker throwing)', async () => {
    const { config } = loadThreadedSettings({ ...db.env });
    const log = createLogger('silent', MODEL);
    const store = openPoolStore(config, MODEL, log); // real, but never queried: the thread never runs
    const openPorts = () => process.getActiveResourcesInfo().filter((resource) => resource === 'MessagePort').length;
    const before = openPorts();
    try {
      assert.throws(
        () =>
          startConnectionThread(new Socket(), {
            store,
            recorder: new Recorder(MODEL, () => {
              throw new Error('not asked: the thread never started');
            }),
            log,
            resourceLimits: {},
            // What makes the Worker constructor throw here; in production it is the thread
            // limit (ERR_WORKER_INIT_FAILED), which cannot be reached inside this process.
            env: 42 as unknown as NodeJS.ProcessEnv,
          }),
        { code: 'ERR_INVALID_ARG_TYPE' },
      );
      // A closed port leaves the active handles a turn or two of the event loop later.
      await waitFor('both ends of the link closed', () => Promise.resolve(openPorts() === before ? true : undefined), 2_000, 10);
    } finally {
      await store.close();
    }
  });
});

describe('MAX_THREADS=1: queued clients that reset', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService(ENTRY, { ...db.env, MAX_THREADS: '1', KEEP_ALIVE_TIMEOUT_MS: '10000' });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('a queued connection whose client reset gets no thread', async () => {
    await assertResetClientsCostNoUnit(svc);
  });
});
