// Memory per unit of concurrency: a benchmark, not a test. For each model in models.json it starts
// the real service against a real Postgres, makes it hold N units (1, 10, 100; idle connections on
// the Node event loops also 1,000; goroutines 100, 1,000, 5,000), and reads the memory of all the
// service's processes. A unit is what the model pays for one more connection it serves, from its
// entry in models.json:
//   bounded pool (prefork)        a worker process (POOL_SIZE=N), each holding one connection
//   per connection (threaded, forking)   a thread / a child process, started by a held connection
//   loop / goroutine (eventloop, mn, goroutines)   an idle keep-alive connection
// Models that are a setting of another model's service (blocking = prefork with one worker) are
// left out: their unit is the other model's. The Go service is built with `go build` first;
// without Go it is skipped with a message.
// Every held connection first completes one real /db request (so a unit has done real work,
// including opening whatever database connection it uses), then stays open and idle.
// MB per unit is the slope between levels. Writes results/memory-per-unit.json.
//
//   node loadtests/memory/memory-per-unit.ts          (MODELS=eventloop,mn LEVELS=1,10,100 to choose)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Evidence } from '@models/common';
import { get, startService, startTestDatabase, type RunningService } from '@models/common/testing';
import { MODELS, type ModelSpec } from '../src/models.ts';

interface ModelPlan {
  name: string;
  unit: string;
  /** Settings that make the service run n units (beyond the shared ones below). */
  env(n: number): Record<string, string>;
  /** Levels when LEVELS is not given: idle connections cost little, so they need more of them. */
  defaultLevels: number[] | null;
  /** How to start it: a node entry file, or a binary built before its levels. */
  start: { entry: string } | { build: () => string | undefined; why?: string };
}

/** A benchmark setting: M:N with 4 threads, so a connection's cost is seen across several loops. */
const MN_THREADS = '4';

function unitName(spec: ModelSpec): string {
  if (spec.bounded !== null) return `${spec.name} worker (${spec.unit})`;
  if (spec.perConnection) return `${spec.unit} per connection (${spec.name})`;
  return `idle connection on ${spec.title}${'THREADS' in spec.env ? ` (THREADS=${MN_THREADS})` : ''}`;
}

/** go build in services/<service>, once; undefined (with the reason printed) when Go is missing. */
function goBuilder(spec: ModelSpec): () => string | undefined {
  let built: string | undefined;
  return () => {
    if (built !== undefined) return built;
    try {
      execFileSync('go', ['version'], { stdio: 'ignore' });
    } catch {
      process.stdout.write(`${spec.name}: skipped: Go is not installed (needed to build services/${spec.service})\n`);
      return undefined;
    }
    const out = join(mkdtempSync(join(tmpdir(), `memory-${spec.name}-`)), spec.name);
    execFileSync('go', ['build', '-o', out, '.'], {
      cwd: repo(`services/${spec.service}`),
      stdio: 'inherit',
      env: { ...process.env, CGO_ENABLED: '0' },
    });
    built = out;
    return built;
  };
}

function planFor(spec: ModelSpec): ModelPlan | null {
  // blocking is prefork with POOL_SIZE=1: its unit is prefork's, measured there.
  if (spec.service !== spec.name) return null;
  const idle = spec.bounded === null && !spec.perConnection;
  return {
    name: spec.name,
    unit: unitName(spec),
    env: (n) => ({
      ...('POOL_SIZE' in spec.env && spec.bounded !== null ? { POOL_SIZE: String(n) } : {}),
      ...('THREADS' in spec.env ? { THREADS: MN_THREADS } : {}),
    }),
    defaultLevels: !idle ? null : spec.unit === 'goroutine' ? [100, 1000, 5000] : [...levels, 1000],
    start: spec.language === 'go' ? { build: goBuilder(spec) } : { entry: repo(`services/${spec.service}/src/main.ts`) },
  };
}

// Held connections must outlive the measurement, whatever the model's own keep-alive default; and
// this measures memory, not latency, so a busy host's slow connection set-up must not fail a level.
const SHARED_ENV = { KEEP_ALIVE_TIMEOUT_MS: '600000', DB_CONNECTION_TIMEOUT_MS: '10000', DB_DELAY_MS: '50' };
const SETTLE_MS = 3_000;
const RUN_DEADLINE_MS = 45 * 60_000;

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const levels = (process.env.LEVELS ?? '1,10,100').split(',').map(Number);
const PLANS: ModelPlan[] = MODELS.map(planFor).filter((p): p is ModelPlan => p !== null);
const levelsFor = (plan: ModelPlan) => (plan.defaultLevels !== null && process.env.LEVELS === undefined ? plan.defaultLevels : levels);
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

/** The node entry to start, with EXEC_BINARY for a built binary (exec-entry.ts runs it in its place). */
function entryOf(plan: ModelPlan): { entry: string; env: Record<string, string>; wrapped: boolean } | undefined {
  if ('entry' in plan.start) return { entry: plan.start.entry, env: {}, wrapped: false };
  const binary = plan.start.build();
  return binary === undefined ? undefined : { entry: repo('loadtests/memory/exec-entry.ts'), env: { EXEC_BINARY: binary }, wrapped: true };
}

async function measureLevel(plan: ModelPlan, n: number, dbEnv: Record<string, string>): Promise<LevelResult> {
  const start = entryOf(plan);
  if (start === undefined) throw new Error(`${plan.name}: cannot be started here`);
  const svc = await startService(start.entry, { ...dbEnv, ...SHARED_ENV, ...plan.env(n), ...start.env }, 180_000);
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
    // A wrapped binary: its tree without the node wrapper at the root.
    const tree = start.wrapped ? processTree(svc.child.pid!).slice(1) : processTree(svc.child.pid!);
    const { rssBytes, pssBytes } = memoryOf(tree);
    const connectionsHeld = held.filter((a) =>
      Object.values(a.freeSockets)
        .flat()
        .some((s) => s !== undefined && !s.destroyed),
    ).length;
    return {
      units: n,
      settings: plan.env(n),
      connectionsHeld,
      unitsAliveReported: evidence.units.alive,
      processes: tree.length,
      modelRssBytes: evidence.memory.rssBytes,
      treeRssBytes: rssBytes,
      treePssBytes: pssBytes,
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
  return Object.fromEntries(
    results.slice(1).map((b, i) => {
      const a = results[i]!;
      return [`${a.units}-${b.units}`, mb((b[key] - a[key]) / (b.units - a.units))];
    }),
  );
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
    if ('entry' in plan.start ? !existsSync(plan.start.entry) : !existsSync(repo(`services/${plan.name}`))) {
      models[plan.name] = { skipped: `services/${plan.name} does not exist in this checkout` };
      process.stdout.write(`${plan.name}: skipped: services/${plan.name} does not exist in this checkout\n`);
      continue;
    }
    if (entryOf(plan) === undefined) {
      models[plan.name] = { skipped: 'Go is not installed: the service could not be built' };
      continue;
    }
    const results: LevelResult[] = [];
    try {
      for (const n of levelsFor(plan)) {
        process.stdout.write(`${plan.name}: ${n} unit(s)... `);
        const result = await measureLevel(plan, n, db.env);
        results.push(result);
        process.stdout.write(
          `RSS ${mb(result.modelRssBytes)} MB, PSS ${mb(result.treePssBytes)} MB, ${result.processes} process(es), units alive ${result.unitsAliveReported}\n`,
        );
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
  method:
    'Each level starts the service afresh; every held connection completes one GET /db, then stays open and idle; ' +
    `memory is read ${SETTLE_MS} ms later. rss = /model memory.rssBytes (VmRSS summed over the service's processes; ` +
    'shared pages counted once per process); pss = Pss from /proc/PID/smaps_rollup summed over the process tree ' +
    '(shared pages split). MB per unit = slope between levels (MB = 2^20 bytes). Processes run on the host, not in a container.',
  host: {
    date: new Date().toISOString(),
    commit: git('rev-parse', 'HEAD'),
    node: process.version,
    kernel: release(),
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
  },
  env: SHARED_ENV,
  levels,
  models,
};
mkdirSync(repo('results'), { recursive: true });
writeFileSync(repo('results/memory-per-unit.json'), `${JSON.stringify(output, null, 2)}\n`);
process.stdout.write(`wrote results/memory-per-unit.json\n`);
process.exit(0);
