// The four failure modes, each bounded in time: Slowloris (a sweep of slow connections),
// the database stopped for 10 s under load, each model driven at twice its knee, and a model
// container stopped under load. Each returns plain data; tables.ts turns it into the report.
import type Docker from 'dockerode';
import type { Database } from '../src/database.ts';
import { StatsStream, runK6, type ServiceContainer } from '../src/docker.ts';
import { assertProxyRoutes } from '../src/proxy-routes.ts';
import type { ModelEvidence } from '../src/sampler.ts';
import type { ModelName } from '../src/scenarios.ts';
import { NeighbourProber, allContainers, directUrl, evidenceOf, loopbackUrl, proxyUrl, stateOf, statesOf, waitFor200, waitHealthy, type Fleet, type State } from './fleet.ts';
import { slowloris, type SlowlorisResult } from './slowloris.ts';
import { figures, parseTimeline, recovery, windowOf, type RequestRecord, type WindowFigures } from './timeline.ts';
import {
  againstExpectation, isolationVerdict, leakVerdict, outageVerdict, overloadRate, overloadVerdict, shutdownVerdict,
  slowlorisExpectation, slowlorisSweep, type Knee, type NeighbourCheck, type SlowlorisVerdict, type Target,
} from './verdicts.ts';

export interface Context {
  docker: Docker;
  db: Database;
  fleet: Fleet;
  models: ModelName[];
  /** Each model's /model read idle at the start: its pool size and DB maximum. */
  evidence: Partial<Record<ModelName, ModelEvidence>>;
  /** Host path of loadtests/k6 (the engine bind-mounts it into k6). */
  hostScriptsDir: string;
  runId: string;
  nofile: number | undefined;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TARGETS: Target[] = ['direct', 'proxy'];
const targetName = (model: string, target: Target) => (target === 'proxy' ? `${model}-proxy` : model);
const targetUrl = (model: string, target: Target) => `${target === 'proxy' ? proxyUrl(model) : directUrl(model)}/db`;
/**
 * Direct clients of prefork and blocking close their connection after each answer: a worker owns
 * its connection until it closes, so a keep-alive client would keep the blocking baseline's only
 * worker to itself (measured: the other clients then time out). nginx talks to them the same way.
 */
const closeTargets = (models: string[]) => models.filter((m) => m === 'prefork' || m === 'blocking').join(',');

/** The most database connections a model may hold as it is now (/model), or null when it did not answer. */
const maxConnectionsOf = (e: ModelEvidence | undefined): number | null =>
  e === undefined ? null : e.db.maxConnections ?? e.db.poolMaxPerUnit * e.db.pools;

/** k6 with the per-request log; throws when k6 could not run at all. */
async function timelineK6(
  ctx: Context, env: Record<string, string>, durationS: number, timeoutS: number, network = ctx.fleet.db.network,
): Promise<{ records: RequestRecord[]; stderrTail: string; exitCode: number; summary: string }> {
  const run = await runK6(ctx.docker, {
    network,
    hostScriptsDir: ctx.hostScriptsDir,
    script: 'timeline.js',
    env: { REQUEST_TIMEOUT: `${timeoutS}s`, DURATION: `${durationS}s`, ...env },
    runId: ctx.runId,
    ...(ctx.nofile === undefined ? {} : { nofile: ctx.nofile }),
    deadlineMs: (durationS + timeoutS + 60) * 1000,
  });
  const records = parseTimeline(run.stderr);
  if (records.length === 0) throw new Error(`k6 exited ${run.exitCode} without a single request: ${run.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const summary = run.stdout.split('@@K6_SUMMARY@@')[1] ?? '';
  const stderrTail = run.stderr.split('\n').filter((l) => !l.includes('msg="R ')).slice(-20).join('\n');
  return { records, stderrTail, exitCode: run.exitCode, summary };
}

/**
 * Peaks of a container while something runs, from Docker's stats (one read every 2 s): memory
 * (page cache excluded) and pids (processes and threads). Docker, not the model's /model: a
 * request to a model under attack would queue behind the attack and change what is measured.
 */
class ContainerPeaks {
  memoryBytes: number | null = null;
  pids: number | null = null;
  readonly #timer: NodeJS.Timeout;
  #busy = false;
  constructor(docker: Docker, container: ServiceContainer) {
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void (docker.getContainer(container.id).stats({ stream: false }) as Promise<DockerStats>)
        .then((frame) => {
          const stats = frame.memory_stats?.stats ?? {};
          const memory = (frame.memory_stats?.usage ?? 0) - (stats.inactive_file ?? stats.total_inactive_file ?? 0);
          this.memoryBytes = Math.max(this.memoryBytes ?? 0, memory);
          this.pids = Math.max(this.pids ?? 0, frame.pids_stats?.current ?? 0);
        }, () => undefined)
        .finally(() => { this.#busy = false; });
    }, 2000);
  }
  stop(): void { clearInterval(this.#timer); }
}

interface DockerStats {
  memory_stats?: { usage?: number; stats?: Record<string, number> };
  pids_stats?: { current?: number };
}

/** Units (threads, processes) the model started between two readings of /model; null when one is missing or the model restarted. */
function unitsStarted(before: ModelEvidence | undefined, after: ModelEvidence | undefined): number | null {
  if (before === undefined || after === undefined || after.units.started < before.units.started) return null;
  return after.units.started - before.units.started;
}

/** OOM kills inside the container (the cgroup's counter) plus Docker's own flag on the main process. */
function oomKillsBetween(before: ModelEvidence | undefined, after: ModelEvidence | undefined, stateBefore: State, stateAfter: State): number {
  const cgroup = after !== undefined && before !== undefined ? Math.max(0, (after.cgroup.oomKills ?? 0) - (before.cgroup.oomKills ?? 0)) : 0;
  return cgroup + (stateAfter.oomKilled && !stateBefore.oomKilled ? 1 : 0);
}

const others = (fleet: Fleet, except: string[]) => allContainers(fleet).map((c) => c.service).filter((s) => !except.includes(s));

// ---------------------------------------------------------------- Slowloris

export const SLOWLORIS = { holdMs: 15_000, probeAfterMs: 3_000, probeTimeoutMs: 5_000, trickleEveryMs: 1_000, top: 1000 };

export interface SlowlorisRow {
  model: ModelName;
  target: Target;
  connections: number;
  poolSize: number | null;
  result: SlowlorisResult;
  expected: SlowlorisVerdict | null;
  against: 'confirmed' | 'refuted' | 'observed';
  /** Docker's peaks during the attack, and the units (threads, processes) the attack made the model start. */
  peaks: { memoryBytes: number | null; pids: number | null; unitsStarted: number | null };
  restarts: number;
  oomKills: number;
  /** How long the model took to answer /healthz again after the attack (ms; null: not within 60 s). */
  recoveredMs: number | null;
  neighbours: NeighbourCheck[];
  isolation: string;
}

export function slowlorisPlan(ctx: Context): { model: ModelName; target: Target; connections: number; poolSize: number | null }[] {
  return ctx.models.flatMap((model) => {
    const poolSize = ctx.evidence[model]?.units.limit ?? null;
    return TARGETS.flatMap((target) => slowlorisSweep(poolSize, SLOWLORIS.top).map((connections) => ({ model, target, connections, poolSize })));
  });
}

export async function runSlowloris(ctx: Context, onRow: (row: SlowlorisRow) => void): Promise<SlowlorisRow[]> {
  const plan = slowlorisPlan(ctx);
  const rows: SlowlorisRow[] = [];
  for (const [i, step] of plan.entries()) {
    const { model, target, connections, poolSize } = step;
    const container = ctx.fleet.models[model]!;
    await waitFor200(`${directUrl(model)}/healthz`, 30_000);
    // A model restarted by an earlier step (OOM-killed) may have another address than nginx knows.
    if (target === 'proxy') await assertProxyRoutes(ctx.models);
    const neighbours = others(ctx.fleet, [model]);
    const before = await statesOf(ctx.docker, allContainers(ctx.fleet));
    ctx.log(`[${i + 1}/${plan.length}] slowloris ${model} ${target}: ${connections} slow connection(s) (pool ${poolSize ?? 'unbounded'})`);
    const evidenceBefore = await evidenceOf(model, 3000);
    const prober = new NeighbourProber(neighbours, ctx.db);
    const peaks = new ContainerPeaks(ctx.docker, container);
    const result = await slowloris({
      target: target === 'proxy' ? proxyUrl(model) : directUrl(model), connections,
      holdMs: SLOWLORIS.holdMs, trickleEveryMs: SLOWLORIS.trickleEveryMs, probeAfterMs: SLOWLORIS.probeAfterMs, probeTimeoutMs: SLOWLORIS.probeTimeoutMs,
    });
    peaks.stop();
    const checks = await prober.finish(ctx.docker, allContainers(ctx.fleet), before);
    const recoveredMs = await waitFor200(`${directUrl(model)}/healthz`, 60_000);
    const after = await stateOf(ctx.docker, container);
    const evidenceAfter = await evidenceOf(model, 3000);
    const expected = slowlorisExpectation(model, target, connections, poolSize);
    const row: SlowlorisRow = {
      model, target, connections, poolSize, result, expected, against: againstExpectation(expected, result.verdict),
      peaks: { memoryBytes: peaks.memoryBytes, pids: peaks.pids, unitsStarted: unitsStarted(evidenceBefore, evidenceAfter) },
      restarts: Math.max(after.restartCount - before[model]!.restartCount, after.startedAt !== before[model]!.startedAt ? 1 : 0),
      oomKills: oomKillsBetween(evidenceBefore, evidenceAfter, before[model]!, after),
      recoveredMs, neighbours: checks, isolation: isolationVerdict(checks),
    };
    rows.push(row);
    onRow(row);
  }
  return rows;
}

// ---------------------------------------------------------------- database outage

export const OUTAGE = { beforeS: 8, downS: 10, afterS: 25, thinkS: 0.5, timeoutS: 5 };

export interface OutageTargetRow {
  model: ModelName;
  target: Target;
  vus: number;
  before: WindowFigures;
  during: WindowFigures;
  after: WindowFigures;
  firstOkMs: number | null;
  allOkMs: number | null;
  verdict: string;
}

export interface OutageResult {
  stopBeganAt: number;
  stoppedAt: number;
  startedAt: number;
  dbReadyMs: number | null;
  rows: OutageTargetRow[];
  models: { model: ModelName; restarted: boolean; before: State; after: State; connectionsAfter: number | null; maxConnections: number | null; leak: string }[];
  proxy: { before: State; after: State };
  k6: { exitCode: number; stderrTail: string };
  records: RequestRecord[];
}

/** VUs per target: a smoke-sized share, but under half of what a bounded pool serves (think + 50 ms per request). */
export function vusPerTarget(base: number, units: number | null, thinkS: number, targets: number): number {
  if (units === null || units < 1) return base;
  const capacity = units / 0.05;
  const fit = Math.floor((0.5 * capacity * (thinkS + 0.05)) / targets);
  return Math.max(1, Math.min(base, fit));
}

/** A pool of blocking workers (prefork, blocking) serves `limit` requests at once; the others are not bounded by a unit pool. */
function boundedUnits(model: ModelName, e: ModelEvidence | undefined): number | null {
  return (model === 'prefork' || model === 'blocking') && e !== undefined ? e.units.limit : null;
}

export async function runOutage(ctx: Context, baseVus: number): Promise<OutageResult> {
  const { docker, fleet, models } = ctx;
  const targets = models.flatMap((m) => TARGETS.map((t) => ({ model: m, target: t })));
  const vus = new Map(models.map((m) => [m, vusPerTarget(baseVus, boundedUnits(m, ctx.evidence[m]), OUTAGE.thinkS, 2)]));
  const modelStates = await statesOf(docker, models.map((m) => fleet.models[m]!));
  const proxyBefore = await stateOf(docker, fleet.proxy);
  const durationS = OUTAGE.beforeS + OUTAGE.downS + OUTAGE.afterS;
  ctx.log(`db outage: ${targets.length} targets (${models.map((m) => `${m} ${vus.get(m)} VUs`).join(', ')} per target, think ${OUTAGE.thinkS}s), ${OUTAGE.beforeS}s load, db stopped ${OUTAGE.downS}s, ${OUTAGE.afterS}s after (~${durationS + 10}s)`);
  // Every target is a scenario of one k6; the VU count is one per k6, so one k6 per distinct count, side by side.
  const groups = new Map<number, string[]>();
  for (const t of targets) {
    const v = vus.get(t.model)!;
    groups.set(v, [...(groups.get(v) ?? []), `${targetName(t.model, t.target)}=${targetUrl(t.model, t.target)}`]);
  }
  const k6Runs = Promise.all([...groups.entries()].map(([v, list]) => timelineK6(ctx, {
    TARGETS: list.join(','), EXECUTOR: 'constant-vus', VUS: String(v), THINK_TIME_S: String(OUTAGE.thinkS), CLOSE_TARGETS: closeTargets(models),
  }, durationS, OUTAGE.timeoutS)));
  await sleep(OUTAGE.beforeS * 1000 + 2000); // k6 needs a moment to start
  const db = docker.getContainer(fleet.db.id);
  const stopBeganAt = Date.now();
  ctx.log('db outage: docker stop db');
  await db.stop({ t: 10 });
  const stoppedAt = Date.now();
  await sleep(OUTAGE.downS * 1000 - (stoppedAt - stopBeganAt));
  ctx.log('db outage: docker start db');
  const startedAt = Date.now();
  await db.start();
  let dbReadyMs: number | null = null;
  while (Date.now() - startedAt < 60_000) {
    if (await ctx.db.settings().then(() => true, () => false)) { dbReadyMs = Date.now() - startedAt; break; }
    await sleep(250);
  }
  ctx.log(`db outage: database answers again ${dbReadyMs ?? 'never (60 s)'} ms after docker start; load continues`);
  const runs = await k6Runs;
  const records = runs.flatMap((r) => r.records);
  await sleep(3000); // idle pools: what is still open now is what the model keeps
  // The bound comes from /model read just before and just after the count: a model with a
  // connection per unit (forking) may rightly hold more now than when idle, one per child
  // still alive (nginx keeps idle upstream connections, each with its child, for 4 s).
  const boundNow = async () => new Map(await Promise.all(models.map(async (m) => [m, maxConnectionsOf(await evidenceOf(m, 5000))] as const)));
  const boundBefore = await boundNow();
  const connections = await ctx.db.connectionsByApplication().catch(() => null);
  const boundAfter = await boundNow();
  const rows = targets.map(({ model, target }): OutageTargetRow => {
    const name = targetName(model, target);
    const during = figures(windowOf(records, name, stopBeganAt, startedAt));
    const rec = recovery(records, name, startedAt);
    return {
      model, target, vus: vus.get(model)!,
      before: figures(windowOf(records, name, 0, stopBeganAt)),
      during,
      after: figures(windowOf(records, name, startedAt, Number.MAX_SAFE_INTEGER)),
      firstOkMs: rec.firstOkMs, allOkMs: rec.allOkMs, verdict: outageVerdict(during),
    };
  });
  const afterStates = await statesOf(docker, models.map((m) => fleet.models[m]!));
  return {
    stopBeganAt, stoppedAt, startedAt, dbReadyMs, rows,
    models: models.map((model) => {
      const e = ctx.evidence[model];
      const bounds = [maxConnectionsOf(e), boundBefore.get(model), boundAfter.get(model)].filter((b): b is number => typeof b === 'number');
      const max = bounds.length === 0 ? null : Math.max(...bounds);
      const after = connections === null ? null : connections[e?.model ?? model] ?? 0;
      const b = modelStates[model]!;
      const a = afterStates[model]!;
      return { model, restarted: a.restartCount !== b.restartCount || a.startedAt !== b.startedAt, before: b, after: a, connectionsAfter: after, maxConnections: max, leak: leakVerdict(after, max) };
    }),
    proxy: { before: proxyBefore, after: await stateOf(docker, fleet.proxy) },
    k6: { exitCode: Math.max(...runs.map((r) => r.exitCode)), stderrTail: runs.map((r) => r.stderrTail).join('\n') },
    records,
  };
}

// ---------------------------------------------------------------- overload

export const OVERLOAD = { durationS: 15, timeoutS: 5, maxVus: 2000 };

export interface OverloadRow {
  model: ModelName;
  knee: Knee;
  rate: number;
  capped: boolean;
  figures: WindowFigures;
  droppedNote: string;
  peakMemoryBytes: number | null;
  memoryLimitBytes: number | null;
  unitsStarted: number | null;
  pidsPeak: number | null;
  restarts: number;
  oomKills: number;
  recoveredMs: number | null;
  neighbours: (NeighbourCheck & { worstMs: number })[];
  isolation: string;
  verdict: string;
}

export async function runOverload(ctx: Context, knees: Record<string, Knee>, maxRate: number, onRow: (row: OverloadRow) => void): Promise<OverloadRow[]> {
  const rows: OverloadRow[] = [];
  for (const [i, model] of ctx.models.entries()) {
    const container = ctx.fleet.models[model]!;
    const knee = knees[model]!;
    const { rate, capped } = overloadRate(knee, maxRate);
    const maxVus = Math.min(OVERLOAD.maxVus, Math.max(10, rate * OVERLOAD.timeoutS));
    await waitFor200(`${directUrl(model)}/healthz`, 30_000);
    ctx.log(`[${i + 1}/${ctx.models.length}] overload ${model}: knee ${knee.rate.toFixed(0)}/s (${knee.source}) -> ${rate}/s${capped ? ' (capped)' : ''} for ${OVERLOAD.durationS}s, up to ${maxVus} VUs`);
    const before = await statesOf(ctx.docker, allContainers(ctx.fleet));
    const evidenceBefore = await evidenceOf(model, 3000);
    const prober = new NeighbourProber(others(ctx.fleet, [model]), ctx.db);
    const peaks = new ContainerPeaks(ctx.docker, container);
    const stats = await StatsStream.open(ctx.docker, container.id);
    const run = await timelineK6(ctx, {
      TARGETS: `${model}=${targetUrl(model, 'direct')}`, EXECUTOR: 'constant-arrival-rate', RATE: String(rate), CLOSE_TARGETS: closeTargets([model]),
      VUS: String(Math.min(maxVus, Math.max(10, Math.ceil(rate * 0.2)))), MAX_VUS: String(maxVus),
    }, OVERLOAD.durationS, OVERLOAD.timeoutS).finally(() => { peaks.stop(); stats.stop(); });
    const checks = await prober.finish(ctx.docker, allContainers(ctx.fleet), before);
    const recoveredMs = await waitFor200(`${directUrl(model)}/healthz`, 60_000);
    const after = await stateOf(ctx.docker, container);
    const evidenceAfter = await evidenceOf(model, 3000);
    const f = figures(run.records);
    const restarts = Math.max(after.restartCount - before[model]!.restartCount, after.startedAt !== before[model]!.startedAt ? 1 : 0);
    const oomKills = oomKillsBetween(evidenceBefore, evidenceAfter, before[model]!, after);
    const dropped = /dropped_iterations[^\n]*?(\d+)/.exec(run.summary);
    const row: OverloadRow = {
      model, knee, rate, capped, figures: f,
      droppedNote: dropped === null ? '' : `k6 dropped iterations (no free VU): see raw`,
      peakMemoryBytes: stats.samples.length === 0 ? null : Math.max(...stats.samples.map((s) => s.memoryBytes)),
      memoryLimitBytes: evidenceBefore?.cgroup.memoryLimitBytes ?? null,
      unitsStarted: unitsStarted(evidenceBefore, evidenceAfter), pidsPeak: peaks.pids,
      restarts, oomKills, recoveredMs, neighbours: checks, isolation: isolationVerdict(checks),
      verdict: overloadVerdict(f, restarts, oomKills, rate, OVERLOAD.durationS),
    };
    rows.push(row);
    onRow(row);
  }
  return rows;
}

// ---------------------------------------------------------------- shutdown under load

export const SHUTDOWN = { beforeS: 5, downS: 3, durationS: 30, thinkS: 0.2, timeoutS: 5, stopTimeoutS: 15 };

export interface ShutdownRow {
  model: ModelName;
  target: Target;
  vus: number;
  inFlight: WindowFigures;
  duringStop: WindowFigures;
  whileDown: WindowFigures;
  firstOkAfterStartMs: number | null;
  verdict: string;
}

export interface ShutdownResult {
  model: ModelName;
  stopMs: number;
  exitCode: number;
  oomKilled: boolean;
  healthyAfterStartMs: number | null;
  neighbours: NeighbourCheck[];
  isolation: string;
  rows: ShutdownRow[];
  records: RequestRecord[];
}

export async function runShutdown(ctx: Context, baseVus: number, onResult: (r: ShutdownResult) => void): Promise<ShutdownResult[]> {
  const results: ShutdownResult[] = [];
  for (const [i, model] of ctx.models.entries()) {
    const container = ctx.fleet.models[model]!;
    const vus = vusPerTarget(baseVus, boundedUnits(model, ctx.evidence[model]), SHUTDOWN.thinkS, 2);
    await waitFor200(`${directUrl(model)}/healthz`, 30_000);
    await assertProxyRoutes(ctx.models); // the model stopped and started before may have another address now
    ctx.log(`[${i + 1}/${ctx.models.length}] shutdown ${model}: ${vus} VUs direct + ${vus} through nginx, docker stop after ${SHUTDOWN.beforeS}s, start ${SHUTDOWN.downS}s later (k6 ${SHUTDOWN.durationS}s)`);
    const before = await statesOf(ctx.docker, allContainers(ctx.fleet));
    // k6 in the host's network, through the published loopback ports, as a client of `make up`
    // reaches them. On the compose network a stopped container's address would simply stop
    // answering (no RST, and k6 keeps the resolved address), so every client there waits for
    // its own connect timeout whatever the model did: that measures the network, not the model.
    const loopback = {
      direct: `${await loopbackUrl(ctx.docker, container, 3000)}/db`,
      proxy: `${await loopbackUrl(ctx.docker, ctx.fleet.proxy, 8080)}/${model}/db`,
    };
    const prober = new NeighbourProber(others(ctx.fleet, [model]), ctx.db);
    const k6 = timelineK6(ctx, {
      TARGETS: TARGETS.map((t) => `${targetName(model, t)}=${loopback[t]}`).join(','),
      EXECUTOR: 'constant-vus', VUS: String(vus), THINK_TIME_S: String(SHUTDOWN.thinkS), CLOSE_TARGETS: closeTargets([model]),
    }, SHUTDOWN.durationS, SHUTDOWN.timeoutS, 'host');
    await sleep(SHUTDOWN.beforeS * 1000 + 2000);
    const handle = ctx.docker.getContainer(container.id);
    const stopAt = Date.now();
    await handle.stop({ t: SHUTDOWN.stopTimeoutS }).catch(() => undefined);
    const stoppedAt = Date.now();
    const stopped = await stateOf(ctx.docker, container);
    await sleep(SHUTDOWN.downS * 1000);
    const startAt = Date.now();
    await handle.start();
    const healthyAfterStartMs = await waitHealthy(ctx.docker, container, 60_000);
    const run = await k6;
    const checks = await prober.finish(ctx.docker, allContainers(ctx.fleet), before);
    const rows = TARGETS.map((target): ShutdownRow => {
      const name = targetName(model, target);
      const mine = run.records.filter((r) => r.target === name);
      const inFlight = figures(mine.filter((r) => r.start < stopAt && r.start + r.ms > stopAt));
      const duringStop = figures(windowOf(mine, name, stopAt, stoppedAt));
      const whileDown = figures(windowOf(mine, name, stoppedAt, startAt));
      return {
        model, target, vus, inFlight, duringStop, whileDown,
        firstOkAfterStartMs: recovery(mine, name, startAt).firstOkMs,
        verdict: shutdownVerdict(inFlight, figures(windowOf(mine, name, stopAt, startAt))),
      };
    });
    const result: ShutdownResult = {
      model, stopMs: stoppedAt - stopAt, exitCode: stopped.exitCode, oomKilled: stopped.oomKilled, healthyAfterStartMs,
      neighbours: checks, isolation: isolationVerdict(checks), rows, records: run.records,
    };
    results.push(result);
    onResult(result);
  }
  return results;
}

export type { ServiceContainer };
