// Memory per unit of concurrency: a benchmark, not a test. For each model it starts the real
// service against a real Postgres, makes it hold N units (1, 10, 100; idle connections also 1,000),
// and reads the memory of all the service's processes. A unit is what the model pays for one more
// connection it serves:
//   prefork   a worker process (POOL_SIZE=N), each holding one connection
//   threaded  a thread, started by a held connection
//   forking   a child process, started by a held connection
//   eventloop / mn   an idle keep-alive connection on the event loop(s)
// Every held connection first completes one real /db request (so a unit has done real work,
// including opening whatever database connection it uses), then stays open and idle.
// MB per unit is the slope between levels. Writes results/memory-per-unit.json.
//
//   node loadtests/memory/memory-per-unit.ts          (MODELS=eventloop,mn LEVELS=1,10,100 to choose)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Evidence } from '@models/common';
import { get, startService, startTestDatabase, type RunningService } from '@models/common/testing';

interface ModelPlan {
  name: string;
  unit: string;
  /** Settings that make the service run n units (beyond the shared ones below). */
  env(n: number): Record<string, string>;
  /** Idle connections cost little: a 1,000 level resolves what 100 cannot. */
  cheap?: boolean;
}

const PLANS: ModelPlan[] = [
  { name: 'prefork', unit: 'prefork worker (process)', env: (n) => ({ POOL_SIZE: String(n) }) },
  { name: 'threaded', unit: 'thread per connection', env: () => ({}) },
  { name: 'forking', unit: 'forked process per connection', env: () => ({}) },
  { name: 'eventloop', unit: 'idle connection on the event loop', env: () => ({}), cheap: true },
  { name: 'mn', unit: 'idle connection on M:N (THREADS=4)', env: () => ({ THREADS: '4' }), cheap: true },
];
// Held connections must outlive the measurement, whatever the model's own keep-alive default; and
// this measures memory, not latency, so a busy host's slow connection set-up must not fail a level.
const SHARED_ENV = { KEEP_ALIVE_TIMEOUT_MS: '600000', DB_CONNECTION_TIMEOUT_MS: '10000', DB_DELAY_MS: '50' };
const SETTLE_MS = 3_000;
const RUN_DEADLINE_MS = 30 * 60_000;

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const levels = (process.env.LEVELS ?? '1,10,100').split(',').map(Number);
const levelsFor = (plan: ModelPlan) => (plan.cheap && process.env.LEVELS === undefined ? [...levels, 1000] : levels);
const chosen = process.env.MODELS?.split(',') ?? PLANS.map((p) => p.name);

/** The service's process and all its descendants (forked workers and children), from /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the ")" that ends the command name: state, ppid, ...
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** Summed kB fields of /proc/PID/smaps_rollup: Rss counts shared pages in every process, Pss splits them. */
function memoryOf(pids: number[]): { rssBytes: number; pssBytes: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0) * 1024;
      pss += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0) * 1024;
    } catch {
      // ended meanwhile
    }
  }
  return { rssBytes: rss, pssBytes: pss };
}

interface LevelResult {
  units: number;
  /** The model's own settings at this level (the shared ones are in "env"). */
  settings: Record<string, string>;
  connectionsHeld: number;
  unitsAliveReported: number;
  processes: number;
  /** /model memory.rssBytes: the service's own sum of VmRSS over its processes. */
  modelRssBytes: number;
  treeRssBytes: number;
  treePssBytes: number;
}

async function measureLevel(plan: ModelPlan, n: number, dbEnv: Record<string, string>): Promise<LevelResult> {
  const svc = await startService(repo(`services/${plan.name}/src/main.ts`), { ...dbEnv, ...SHARED_ENV, ...plan.env(n) }, 180_000);
  const held: Agent[] = [];
  try {
    for (let i = 0; i < n; i++) {
      // One agent per connection, one socket each: the connection stays open after its request.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      held.push(agent);
      const res = await get(`${svc.url}/db?id=${i + 1}`, { agent, timeoutMs: 30_000 });
      if (res.status !== 200) throw new Error(`${plan.name}: /db answered ${res.status} on connection ${i + 1}: ${res.body}`);
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    // Asked over a held connection, so measuring starts no extra unit.
    const evidence = (await get(`${svc.url}/model`, { agent: held[0]!, timeoutMs: 30_000 })).json<Evidence>();
    const tree = processTree(svc.child.pid!);
    const { rssBytes, pssBytes } = memoryOf(tree);
    const connectionsHeld = held.filter((a) => Object.values(a.freeSockets).flat().some((s) => s !== undefined && !s.destroyed)).length;
    return {
      units: n, settings: plan.env(n), connectionsHeld, unitsAliveReported: evidence.units.alive, processes: tree.length,
      modelRssBytes: evidence.memory.rssBytes, treeRssBytes: rssBytes, treePssBytes: pssBytes,
    };
  } finally {
    for (const agent of held) agent.destroy();
    await stop(svc);
  }
}

/** SIGTERM, then SIGKILL after 15 s; and no descendant of ours may outlive the run. */
async function stop(svc: RunningService): Promise<void> {
  const tree = processTree(svc.child.pid!);
  const killer = setTimeout(() => svc.child.kill('SIGKILL'), 15_000);
  await svc.stop('SIGTERM');
  clearTimeout(killer);
  for (const pid of tree.slice(1)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  }
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: repo('.'), encoding: 'utf8' }).trim();
const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 1000) / 1000;
/** MB per unit between each pair of consecutive levels, e.g. { "10-100": 0.05 }. */
function slopes(results: LevelResult[], key: 'modelRssBytes' | 'treePssBytes'): Record<string, number> {
  return Object.fromEntries(results.slice(1).map((b, i) => {
    const a = results[i]!;
    return [`${a.units}-${b.units}`, mb((b[key] - a[key]) / (b.units - a.units))];
  }));
}

const deadline = setTimeout(() => {
  process.stderr.write(`memory benchmark: gave up after ${RUN_DEADLINE_MS / 60_000} minutes\n`);
  process.exit(1);
}, RUN_DEADLINE_MS);
deadline.unref();

const db = await startTestDatabase();
const models: Record<string, unknown> = {};
try {
  for (const plan of PLANS.filter((p) => chosen.includes(p.name))) {
    if (!existsSync(repo(`services/${plan.name}/src/main.ts`))) {
      models[plan.name] = { skipped: 'services/' + plan.name + '/src/main.ts does not exist' };
      continue;
    }
    const results: LevelResult[] = [];
    try {
      for (const n of levelsFor(plan)) {
        process.stdout.write(`${plan.name}: ${n} unit(s)... `);
        const result = await measureLevel(plan, n, db.env);
        results.push(result);
        process.stdout.write(`RSS ${mb(result.modelRssBytes)} MB, PSS ${mb(result.treePssBytes)} MB, ${result.processes} process(es), units alive ${result.unitsAliveReported}\n`);
      }
    } catch (err) {
      // One broken model must not hide the others' numbers; its failure is recorded instead.
      process.stdout.write(`failed: ${String(err)}\n`);
      models[plan.name] = { unit: plan.unit, levels: results, failed: String(err) };
      continue;
    }
    models[plan.name] = {
      unit: plan.unit,
      // The measured code is the working tree: say when it differs from the commit recorded below.
      uncommittedChanges: git('status', '--porcelain', `services/${plan.name}`) !== '',
      levels: results,
      mbPerUnit: {
        rss: slopes(results, 'modelRssBytes'),
        pss: slopes(results, 'treePssBytes'),
      },
    };
  }
} finally {
  await db.close();
}

const output = {
  benchmark: 'memory per unit of concurrency',
  method: 'Each level starts the service afresh; every held connection completes one GET /db, then stays open and idle; '
    + `memory is read ${SETTLE_MS} ms later. rss = /model memory.rssBytes (VmRSS summed over the service's processes; `
    + 'shared pages counted once per process); pss = Pss from /proc/PID/smaps_rollup summed over the process tree '
    + '(shared pages split). MB per unit = slope between levels (MB = 2^20 bytes). Processes run on the host, not in a container.',
  host: {
    date: new Date().toISOString(), commit: git('rev-parse', 'HEAD'), node: process.version, kernel: release(), cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown', memoryBytes: totalmem(),
  },
  env: SHARED_ENV,
  levels,
  models,
};
mkdirSync(repo('results'), { recursive: true });
writeFileSync(repo('results/memory-per-unit.json'), `${JSON.stringify(output, null, 2)}\n`);
process.stdout.write(`wrote results/memory-per-unit.json\n`);
process.exit(0);
