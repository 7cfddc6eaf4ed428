// Is it really process-per-request? Every connection gets a NEW child process, which
// exits when its connection closes; the parent reaps it, and its database connection
// goes with it. Checked from outside: the kernel's process table and pg_stat_activity.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Evidence } from '@models/common';
import {
  assertBoundThenQueueThen503,
  assertResetClientsCostNoUnit,
  get,
  rawRequest,
  startService,
  startTestDatabase,
  waitFor,
  type RunningService,
  type ServiceTarget,
  type TestDatabase,
} from '@models/common/testing';

const ENTRY = fileURLToPath(new URL('../src/main.ts', import.meta.url));
let db: TestDatabase;

before(async () => {
  db = await startTestDatabase();
});
after(async () => {
  await db?.close();
});

/** Processes whose parent is `pid`, zombies included, read from /proc (not from the service). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(pid); // fields after "(comm)": state, ppid
      } catch {
        return false; // exited while we looked
      }
    })
    .map(Number);
}
// Opening 10 Postgres connections at once can take longer than the default 750 ms on a busy
// 2-core machine; this test is about threads/processes, not connection set-up time.
const PATIENT_DB = { DB_CONNECTION_TIMEOUT_MS: '5000' };
const evidence = async (svc: RunningService) => (await get(`${svc.url}/model`)).json<Evidence>();
const noChildrenLeft = (pid: number) =>
  waitFor(`no child of ${pid} left`, () => Promise.resolve(childrenOf(pid).length === 0 ? true : undefined), 5_000);
const noDbConnectionsLeft = () =>
  waitFor('no service connection left in Postgres', async () => ((await db.serviceConnections()) === 0 ? true : undefined), 5_000);

describe('unbounded (the classic model)', () => {
  let svc: RunningService;
  before(async () => {
    // Keep-alive long enough that 10 connections are certainly all open at the same moment.
    svc = await startService(ENTRY, { ...db.env, ...PATIENT_DB, DB_DELAY_MS: '500', KEEP_ALIVE_TIMEOUT_MS: '10000' });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('10 concurrent connections: 10 new child processes; once they close, all are reaped, with their DB connections', async () => {
    const parent = svc.child.pid!;
    const before = await evidence(svc);
    const agent = new Agent({ keepAlive: true, maxSockets: 10 });
    let pids: Set<number>;
    try {
      const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`${svc.url}/db?id=${i + 1}`, { agent })));
      assert.deepEqual(
        responses.map((r) => r.status),
        responses.map(() => 200),
        responses.map((r) => r.body).join('\n'),
      );
      pids = new Set(responses.map((r) => Number(r.headers['x-pid'])));
      assert.equal(pids.size, 10, `10 distinct processes, got ${[...pids].join(',')}`);
      assert.ok(!pids.has(parent), 'the parent answered no request');

      // The 10 connections are still open (keep-alive): the kernel shows their 10 children.
      await waitFor(
        'the /model child of the first request to exit',
        () => Promise.resolve(childrenOf(parent).length === 10 ? true : undefined),
        5_000,
      );
      assert.deepEqual(new Set(childrenOf(parent)), pids);
      const held = await evidence(svc);
      assert.equal(held.units.alive, 10 + 1, '10 held connections + the one asking');
      assert.equal(held.memory.processes, 1 + 10 + 1);
      assert.deepEqual(held.db, { delayMs: 500, poolMaxPerUnit: 1, pools: 11, maxConnections: 11 });
    } finally {
      agent.destroy(); // the clients close their connections
    }
    await noChildrenLeft(parent);
    for (const pid of pids) assert.equal(existsSync(`/proc/${pid}`), false, `child ${pid} is gone, not a zombie`);
    await noDbConnectionsLeft();
    const now = await evidence(svc); // answered by one more child: the only one alive
    assert.equal(now.units.alive, 1);
    assert.equal(now.units.started - before.units.started, 10 + 1 + 1, '10 for the burst, 1 for each /model request');
    assert.equal(now.units.kind, 'process');
    assert.equal(now.units.limit, null);
  });

  test('a child that crashes is reaped, its requests are released, and the service goes on', async () => {
    const parent = svc.child.pid!;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(`${svc.url}/healthz`, { agent });
      const child = Number(first.headers['x-pid']);
      assert.deepEqual(childrenOf(parent), [child], 'the keep-alive connection holds its child');
      process.kill(child, 'SIGKILL');
      await noChildrenLeft(parent);
      assert.equal(existsSync(`/proc/${child}`), false);
    } finally {
      agent.destroy();
    }
    const now = await evidence(svc);
    assert.equal(now.units.alive, 1);
    assert.equal(now.inFlight.now, 1, 'only this /model request');
    assert.equal((await get(`${svc.url}/db?id=9`)).status, 200);
  });

  test('headers that never finish get 408 from the child after HEADERS_TIMEOUT_MS, and the child exits', async () => {
    const slowloris = await startService(ENTRY, { ...db.env, HEADERS_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '1000' });
    try {
      const started = performance.now();
      const raw = await rawRequest(slowloris.url, 'GET /db?id=1 HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n', 15_000);
      const waited = performance.now() - started;
      assert.match(raw, /^HTTP\/1\.1 408 /);
      assert.match(raw, /"error":"request_timeout"/);
      assert.doesNotMatch(raw, new RegExp(`x-pid: ${slowloris.child.pid}\\r\\n`), 'answered by the child, not the parent');
      assert.ok(waited >= 1_000 && waited < 9_000, `closed after ${waited.toFixed(0)} ms`);
      await noChildrenLeft(slowloris.child.pid!);
    } finally {
      await slowloris.stop('SIGKILL');
    }
  });
});

describe('MAX_PROCS=2, QUEUE_MAX=2', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService(ENTRY, { ...db.env, ...PATIENT_DB, DB_DELAY_MS: '500', MAX_PROCS: '2', QUEUE_MAX: '2' });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('at the bound, connections wait in the parent; beyond the queue they get a fast 503', async () => {
    // No warm-up: a child still exiting would hold one of the two slots.
    await assertBoundThenQueueThen503(svc, { bound: 2, queue: 2, delayMs: 500, supervisorHeader: ['x-pid', String(svc.child.pid)] });
  });
});

describe('the parent going away', () => {
  test('SIGTERM: the child finishes its request and exits, the parent exits 0, nothing lingers', async () => {
    const svc = await startService(ENTRY, { ...db.env, DB_DELAY_MS: '1500' });
    try {
      const inFlight = get(`${svc.url}/db?id=3`);
      await waitFor('the child to start', () => Promise.resolve(childrenOf(svc.child.pid!).length === 1 ? true : undefined), 5_000, 20);
      await new Promise((r) => setTimeout(r, 300));
      const exit = svc.stop('SIGTERM');
      const res = await inFlight;
      assert.equal(res.status, 200, svc.output());
      assert.deepEqual(await exit, { code: 0, signal: null }, svc.output());
      assert.equal(existsSync(`/proc/${String(res.headers['x-pid'])}`), false, 'the child is gone');
      await noDbConnectionsLeft();
    } finally {
      await svc.stop('SIGKILL');
    }
  });

  test('SIGKILL: a child holding a connection notices and exits', async () => {
    const svc = await startService(ENTRY, { ...db.env });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const child = Number((await get(`${svc.url}/db?id=5`, { agent })).headers['x-pid']);
      assert.ok(existsSync(`/proc/${child}`));
      await svc.stop('SIGKILL');
      await waitFor(`child ${child} to exit`, () => Promise.resolve(existsSync(`/proc/${child}`) ? undefined : true), 5_000);
      await noDbConnectionsLeft();
    } finally {
      agent.destroy();
      await svc.stop('SIGKILL');
    }
  });
});

describe('MAX_PROCS=1: queued clients that reset', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService(ENTRY, { ...db.env, MAX_PROCS: '1', KEEP_ALIVE_TIMEOUT_MS: '10000' });
  });
  after(async () => {
    await svc?.stop('SIGKILL');
  });

  test('a queued connection whose client reset gets no child', async () => {
    await assertResetClientsCostNoUnit(svc);
  });
});

/**
 * The container's pids_limit, reproduced around one service: a pids cgroup of our own where
 * cgroup v1 is writable (a root host), otherwise RLIMIT_NPROC on a user of the service's own
 * (as root in a container, the test runner's case for `make test`: its cgroups are read-only). Either way the
 * limit is set to the tasks the service has now, so its next fork() fails with EAGAIN.
 */
interface ForkLimit {
  /** How to start the service so the limit can apply to it. */
  target: ServiceTarget;
  /** Not one task more than `pid` has now. */
  clamp(pid: number): void;
  lift(pid: number): void;
  cleanup(): Promise<void>;
}

const SERVICE_UID = '54321'; // a user nothing else on the machine runs as: RLIMIT_NPROC counts all its tasks

function forkLimit(): ForkLimit | string {
  const cgroup = `/sys/fs/cgroup/pids/forking-test-${process.pid}`;
  try {
    mkdirSync(cgroup);
    return {
      target: ENTRY,
      clamp(pid) {
        writeFileSync(`${cgroup}/cgroup.procs`, String(pid)); // the whole process, every thread
        writeFileSync(`${cgroup}/pids.max`, readFileSync(`${cgroup}/pids.current`, 'utf8').trim());
      },
      lift: () => writeFileSync(`${cgroup}/pids.max`, 'max'),
      async cleanup() {
        await waitFor(
          'the cgroup to empty',
          () => Promise.resolve(readFileSync(`${cgroup}/cgroup.procs`, 'utf8').trim() === '' ? true : undefined),
          5_000,
        );
        rmdirSync(cgroup);
      },
    };
  } catch (err) {
    const noCgroup = (err as Error).message;
    if (process.getuid?.() !== 0) return `no writable pids cgroup (${noCgroup}) and not root, so no user of its own for RLIMIT_NPROC`;
    // setpriv drops root (and with it every capability: the limit applies), then execs node,
    // so the pid is the service's. prlimit runs as that user too: root without CAP_SYS_RESOURCE
    // (Docker's default) may not change another user's limits.
    const asServiceUser = ['--reuid', SERVICE_UID, '--regid', SERVICE_UID, '--clear-groups'];
    const setSoftLimit = (pid: number, soft: string) =>
      execFileSync('setpriv', [...asServiceUser, 'prlimit', `--pid=${pid}`, `--nproc=${soft}:`]);
    let original = 'unlimited';
    return {
      target: { command: 'setpriv', args: [...asServiceUser, process.execPath, ENTRY] },
      clamp(pid) {
        original = /^Max processes\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ?? 'unlimited';
        setSoftLimit(pid, String(readdirSync(`/proc/${pid}/task`).length)); // its threads are all the user has
      },
      lift: (pid) => setSoftLimit(pid, original),
      cleanup: () => Promise.resolve(),
    };
  }
}

describe('faults stay in their process', () => {
  test('fork() failing at the pids limit (EAGAIN) answers 503 unit_start_failed, and forks again once there is room', async (t) => {
    const limit = forkLimit();
    if (typeof limit === 'string') {
      t.skip(limit);
      return;
    }
    const svc = await startService(limit.target, { ...db.env });
    try {
      assert.equal((await get(`${svc.url}/db?id=1`)).status, 200);
      await noChildrenLeft(svc.child.pid!);
      limit.clamp(svc.child.pid!);
      const refused = await get(`${svc.url}/db?id=2`);
      assert.equal(refused.status, 503, refused.body);
      assert.equal(refused.json<{ error: string }>().error, 'unit_start_failed');
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(Number(refused.headers['x-pid']), svc.child.pid, 'the parent answered');
      await waitFor(
        'the failed fork in the log',
        () => Promise.resolve(/could not start a child/.test(svc.output()) ? true : undefined),
        5_000,
      );
      limit.lift(svc.child.pid!);
      assert.equal((await get(`${svc.url}/db?id=3`)).status, 200);
      const now = await evidence(svc);
      assert.equal(now.units.alive, 1, 'the failed fork is not counted as alive');
      assert.equal(now.extra.unitsCrashed, 0, 'nor as a crash');
      assert.equal(now.inFlight.now, 1, 'only this /model request');
    } finally {
      await svc.stop('SIGKILL');
      await limit.cleanup();
    }
  });

  test('a child killed while its request is in flight: the request is released and the service goes on', async () => {
    const svc = await startService(ENTRY, { ...db.env, DB_DELAY_MS: '2000' });
    try {
      const inFlight = get(`${svc.url}/db?id=4`).then(
        (r) => `answered ${r.status}`,
        () => 'lost',
      );
      const [child] = await waitFor(
        'the child serving it',
        () => Promise.resolve(childrenOf(svc.child.pid!).length === 1 ? childrenOf(svc.child.pid!) : undefined),
        5_000,
        20,
      );
      await waitFor('its request to be in flight', async () => ((await evidence(svc)).inFlight.now === 2 ? true : undefined), 5_000, 50);
      process.kill(child!, 'SIGKILL');
      assert.equal(await inFlight, 'lost');
      const now = await waitFor(
        'the killed child reaped and its request released',
        async () => {
          const e = await evidence(svc);
          return e.inFlight.now === 1 && e.units.alive === 1 ? e : undefined;
        },
        5_000,
      );
      assert.equal(now.inFlight.now, 1, 'only this /model request');
      assert.equal(existsSync(`/proc/${child}`), false, 'the child is gone, not a zombie');
      assert.equal(now.extra.unitsCrashed, 1, 'the killed child is counted as crashed');
      assert.equal((await get(`${svc.url}/db?id=5`)).status, 200);
    } finally {
      await svc.stop('SIGKILL');
    }
  });
});
