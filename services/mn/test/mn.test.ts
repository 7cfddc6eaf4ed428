// Is it really M:N? Many connections, served concurrently by N distinct OS threads of one
// process; N defaults to the usable cores and a bad THREADS stops the service.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { usableCores, type Evidence } from '@models/common';
import {
  get,
  listenBacklogOf,
  startService,
  startTestDatabase,
  waitFor,
  type RunningService,
  type TestDatabase,
} from '@models/common/testing';

const ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const CRASH_FIXTURE = fileURLToPath(new URL('./fixtures/crash-first-thread.ts', import.meta.url));
let db: TestDatabase;

before(async () => {
  db = await startTestDatabase();
});
after(async () => {
  await db?.close();
});

async function withService(env: Record<string, string>, check: (svc: RunningService) => Promise<void>): Promise<void> {
  const svc = await startService(ENTRY, { ...db.env, ...env });
  try {
    await check(svc);
  } finally {
    await svc.stop('SIGKILL');
  }
}

test('THREADS=4: 80 connections are answered by 4 distinct threads of one pid, all concurrently', async (t) => {
  // Generous connection wait: on a busy 2-core host opening 80 Postgres connections at once can exceed 750 ms.
  await withService({ THREADS: '4', DB_POOL_MAX: '30', DB_CONNECTION_TIMEOUT_MS: '5000', DB_DELAY_MS: '300' }, async (svc) => {
    const started = performance.now();
    // agent: false in get(): every request is its own connection, so the kernel hashes each one anew.
    const responses = await Promise.all(Array.from({ length: 80 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
    const elapsed = performance.now() - started;

    assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([200]));
    assert.equal(new Set(responses.map((r) => r.headers['x-pid'])).size, 1, 'one process');
    const threads = new Set(responses.map((r) => r.headers['x-thread-id']));
    assert.equal(threads.size, 4, `answered by threads ${[...threads].join(', ')}`);
    assert.ok(!threads.has('0'), 'the main thread serves no requests');
    // One request per thread at a time would need at least 20 x 300 ms; concurrently it is about one delay
    // plus connection set-up (the bound is loose because the test host may be busy).
    assert.ok(elapsed < 20 * 300, `80 requests took ${elapsed.toFixed(0)} ms`);

    const evidence = (await get(`${svc.url}/model`)).json<Evidence>();
    assert.ok(evidence.inFlight.max >= 40, `in-flight max was ${evidence.inFlight.max}, far above the 4 threads`);
    assert.deepEqual(evidence.units, { kind: 'thread', alive: 4, started: 4, limit: 4 });
    assert.equal(evidence.memory.processes, 1);
    assert.equal(evidence.pid, evidence.supervisorPid, 'the answering thread lives in the supervisor process');
    assert.deepEqual(evidence.db, { ...evidence.db, poolMaxPerUnit: 30, pools: 4, maxConnections: 120 });
    // The spread is visible: every serving thread is listed with the requests it answered.
    const served = evidence.extra.requestsServedByThread as Record<string, number>;
    assert.deepEqual(new Set(Object.keys(served)), new Set([...threads].map(String)));
    assert.ok(Object.values(served).reduce((a, b) => a + b, 0) >= 80);
    t.diagnostic(
      `80 requests in ${elapsed.toFixed(0)} ms, in-flight max ${evidence.inFlight.max}, served by thread ${JSON.stringify(served)}`,
    );
  });
});

test('THREADS unset: one thread per usable core', async () => {
  await withService({ DB_POOL_MAX: '5' }, async (svc) => {
    const evidence = (await get(`${svc.url}/model`)).json<Evidence>();
    assert.deepEqual(evidence.units, { kind: 'thread', alive: usableCores(), started: usableCores(), limit: usableCores() });
    assert.equal(evidence.db.pools, usableCores());
    assert.equal(evidence.db.poolMaxPerUnit, 5);
  });
});

test('a bad THREADS value stops the service with one clear line', () => {
  for (const bad of ['0', 'many', '1.5']) {
    const run = spawnSync(process.execPath, [ENTRY], { env: { ...db.env, PORT: '0', THREADS: bad }, encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 1);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`THREADS="${bad.replace('.', '\\.')}" is invalid: expected an integer from 1 to 256`));
  }
});

test('a thread that dies is replaced on the same port, and its open requests are released', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mn-crash-'));
  const trigger = join(dir, 'now');
  try {
    const env = {
      THREADS: '2',
      DB_POOL_MAX: '20',
      DB_CONNECTION_TIMEOUT_MS: '5000',
      DB_DELAY_MS: '1000',
      NODE_OPTIONS: `--import ${CRASH_FIXTURE}`,
      MN_TEST_CRASH_FILE: trigger,
    };
    await withService(env, async (svc) => {
      // Slow requests on both threads; thread 1 dies while some of them are in flight.
      const inFlight = Array.from({ length: 20 }, (_, i) =>
        get(`${svc.url}/db?id=${i + 1}`).then(
          (r) => r.headers['x-thread-id'],
          () => 'lost',
        ),
      );
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(trigger, '');
      const answeredBy = await Promise.all(inFlight);
      assert.ok(answeredBy.includes('lost'), 'requests on the dying thread were cut off');
      assert.ok(answeredBy.includes('2'), 'the other thread kept serving');

      // A survivor's last "request finished" report may still be on its way: poll briefly. If the dead
      // thread's open requests were not released, in-flight would stay above 1 (this /model) for good.
      const evidence = await waitFor(
        'a replacement thread and no request left open',
        async () => {
          const e = (await get(`${svc.url}/model`)).json<Evidence>();
          return e.units.alive === 2 && e.units.started === 3 && e.inFlight.now === 1 ? e : undefined;
        },
        10_000,
      );
      assert.equal(evidence.units.limit, 2);
      assert.match(svc.output(), /"thread":"1".*"thread died: starting a replacement on the same port"/);

      // Same URL (same port): new connections reach the replacement thread 3 as well.
      const after = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`)));
      assert.deepEqual(new Set(after.map((r) => r.status)), new Set([200]));
      assert.deepEqual(new Set(after.map((r) => r.headers['x-thread-id'])), new Set(['2', '3']));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("LISTEN_BACKLOG reaches every thread's SO_REUSEPORT listener", async () => {
  await withService({ THREADS: '2', DB_POOL_MAX: '2', LISTEN_BACKLOG: '123' }, (svc) => {
    const run = spawnSync('ss', ['-ltnH', `sport = :${new URL(svc.url).port}`], { encoding: 'utf8' });
    const listeners = run.stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/));
    // One listening socket per thread (reusePort), each with the configured queue.
    assert.deepEqual(
      listeners.map((fields) => [fields[0], fields[2]]),
      [
        ['LISTEN', '123'],
        ['LISTEN', '123'],
      ],
      run.stdout,
    );
    assert.equal(listenBacklogOf(Number(new URL(svc.url).port)), 123);
    return Promise.resolve();
  });
});
