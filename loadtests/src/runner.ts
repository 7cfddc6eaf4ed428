// One load run: for each model in turn and each level of the profile (in the order plan.ts
// gives: a fresh start of the model before every level), a warm-up, a reset of
// pg_stat_statements and a reading of the model's /metrics, the measured k6 run with sampling
// alongside, then the row's figures.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { renderCharts } from './charts.ts';
import type { Database } from './database.ts';
import {
  K6_IMAGE,
  StatsStream,
  addressOn,
  containerState,
  logLinesSince,
  memoryNow,
  restartAndWait,
  runK6,
  setCpuset,
  type ResourceSample,
  type ServiceContainer,
} from './docker.ts';
import { planRun, type Cpusets } from './plan.ts';
import { wrongProxyRoutes } from './proxy-routes.ts';
import { extractSummary, loadFigures } from './k6-summary.ts';
import { judgeRows, renderReport, topRows, type Environment } from './report.ts';
import type { Row } from './row.ts';
import { HeldSampler, Ticker, fetchEvidence, getOnce, type HeldSample, type ModelEvidence, type TickSample } from './sampler.ts';
import { modelSpec } from './models.ts';
import { dbHistogram, histogramIncrease, serviceLatency, type Histogram } from './service-latency.ts';
import { QUERY_FLOOR_S, levelSeconds, neededInFlight, offeredRate, type Level, type ModelName, type Profile } from './scenarios.ts';

export interface RunPlan {
  profile: Profile;
  models: ModelName[];
  resultsDir: string;
  hostScriptsDir: string;
  runId: string;
  /** Where the runner reaches a model's /model (compose name or 127.0.0.1 port). */
  modelUrl: (model: ModelName) => string;
  /** Where k6, on the compose network, sends its requests. */
  targetUrl: (model: ModelName, level: Level) => string;
  containers: Record<ModelName, ServiceContainer>;
  /** Each model's /model read at the start, idle: its limits even if it stops answering under load. */
  idleEvidence: Partial<Record<ModelName, ModelEvidence>>;
  db: ServiceContainer | undefined;
  proxy: ServiceContainer | undefined;
  /** ISOLATE: the model under test pinned apart from k6, Postgres and nginx; null: shared cores. */
  cpusets: Cpusets | null;
  /** Restart the model before each level (issue 15; RESTART=0: never). */
  restart: boolean;
  /** Every core of the host as a cpuset ("0-1"): what pins are lifted to. */
  allCpus: string;
  /** Save k6's own HTML dashboard per level beside the raw JSON (DASHBOARD=0 turns it off). */
  dashboard: boolean;
  claimedCpus: number | null;
  claimedMemoryBytes: number | null;
  nofile: number | undefined;
  log: (line: string) => void;
}

const K6_SCRIPT = 'db-load.js';

/** A level that began this soon after the model (re)started, other than the runner's own restart, is marked recovering. */
export const RECOVERING_WINDOW_S = 30;

export function k6Env(
  model: ModelName,
  level: Level,
  target: string,
  phase: 'warmup' | 'measure',
  durationS: number,
): Record<string, string> {
  const env: Record<string, string> = {
    TARGET_URL: target,
    EXECUTOR: level.executor,
    VUS: String(level.vus),
    DURATION: `${durationS}s`,
    THINK_TIME_S: String(level.thinkTimeS),
    REQUEST_TIMEOUT: `${level.requestTimeoutS}s`,
    MODEL: model,
    LEVEL: level.name,
    PHASE: phase,
  };
  if (level.rate !== undefined) env.RATE = String(level.rate);
  if (level.maxVus !== undefined) env.MAX_VUS = String(level.maxVus);
  // The holders belong to the measured run only: a warm-up's connections end with its k6.
  if (phase === 'measure' && (level.holdConnections ?? 0) > 0) {
    env.HOLD_VUS = String(level.holdConnections);
    env.HOLD_THINK_S = String(level.holdThinkS ?? 30);
    env.HOLD_RAMP_S = String(level.holdRampS ?? 15);
  }
  return env;
}

/** Seconds k6 may spend building its VUs before the run starts (one second per 40 VUs, generous on purpose). */
export function k6InitAllowanceS(level: Level): number {
  return Math.ceil(((level.holdConnections ?? 0) + (level.maxVus ?? level.vus)) / 40);
}

/** Restarts and OOM kills seen by the level: its samples against the state at its start. */
export function deathsDuring(
  before: { restartCount: number; oomKilled: boolean; startedAt: string },
  samples: readonly Pick<HeldSample, 'restartCount' | 'oomKilled' | 'startedAt'>[],
  after: { restartCount: number; oomKilled: boolean; startedAt: string },
): { restarts: number; oomKills: number } {
  const all = [...samples, after];
  const counts = all.map((s) => s.restartCount).filter((n): n is number => n !== null);
  const restarts = Math.max(0, ...counts.map((n) => n - before.restartCount));
  // OOMKilled stays true until the next start: count each distinct start that was OOM-flagged.
  const oomStarts = new Set(all.filter((s) => s.oomKilled === true && s.startedAt !== null).map((s) => s.startedAt));
  if (before.oomKilled) oomStarts.delete(before.startedAt);
  return { restarts, oomKills: Math.max(oomStarts.size, 0) };
}

/** Whether the model last started within the window before the level and not by the runner's own restart. */
export function isRecovering(
  startedAt: string,
  levelStartMs: number,
  ownRestartStartedAt: string | undefined,
  windowS = RECOVERING_WINDOW_S,
): boolean {
  if (startedAt === ownRestartStartedAt) return false;
  const started = Date.parse(startedAt);
  return Number.isFinite(started) && levelStartMs - started >= 0 && levelStartMs - started < windowS * 1000;
}

/** The model's database delay from /model (db.delayMs) where it says, else the 50 ms floor. */
function dbDelayS(evidence: ModelEvidence | undefined): number {
  const ms = (evidence?.db as { delayMs?: unknown } | undefined)?.delayMs;
  const env = Number(process.env.DB_DELAY_MS);
  if (typeof ms === 'number' && ms > 0) return ms / 1000;
  return Number.isFinite(env) && env > 0 ? env / 1000 : QUERY_FLOOR_S;
}

const avg = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
const peak = (xs: number[]) => (xs.length === 0 ? null : Math.max(...xs));
const fmtDuration = (s: number) =>
  s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;

/**
 * Waits (bounded) until the model is quiet: /model answers with nothing in flight but the
 * probe, nothing queued for a unit, and no world statement running in Postgres for two
 * readings in a row. Requests k6 gave up on (warm-up, timeouts) may still reach the
 * database later; measured here they would break the query count.
 */
async function settle(modelUrl: string, db: Database, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let quietReadings = 0;
  while (Date.now() < deadline) {
    const evidence = await fetchEvidence(modelUrl, 2000);
    const queued = Number((evidence as { extra?: { queued?: unknown } } | undefined)?.extra?.queued ?? 0);
    const active = await db.activeWorldQueries().catch(() => 1);
    quietReadings = evidence !== undefined && evidence.inFlight.now <= 1 && queued === 0 && active === 0 ? quietReadings + 1 : 0;
    if (quietReadings >= 2) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

/** Drops the first stats frame (it covers the time before the level) and any after k6 ended. */
function during(samples: ResourceSample[], from: number, to: number): ResourceSample[] {
  return samples.filter((s) => s.t >= from + 500 && s.t <= to + 1000);
}

export interface ModelStart {
  /** State.StartedAt after the runner's own restart (a later start is the model's own). */
  startedAt: string | undefined;
  healthy: boolean;
  baselineMemoryBytes: number | null;
  baselineRssBytes: number | null;
  proxyRoutesWrong: string[];
}

/** Concurrent requests that open a pooled model's database connections before a held level. */
const WARM_POOL_REQUESTS = 150;

export class Runner {
  readonly #docker: Docker;
  readonly #db: Database;
  readonly #plan: RunPlan;
  #secondsLeft: number;
  readonly rows: Row[] = [];
  /** Per model: its latest fresh start and idle baseline (before the level now measured). */
  readonly starts: Record<ModelName, ModelStart> = {};
  /** ISOLATE: db's and proxy's cpusets read back right after pinning them (the pins are lifted at the end). */
  readonly measurementCpusets: Record<string, string> = {};

  constructor(docker: Docker, db: Database, plan: RunPlan) {
    this.#docker = docker;
    this.#db = db;
    this.#plan = plan;
    this.#secondsLeft = plan.models.length * plan.profile.levels.reduce((s, l) => s + levelSeconds(l), 0);
  }

  #container(model: ModelName): ServiceContainer {
    const found = this.#plan.containers[model];
    if (found === undefined) throw new Error(`no container for ${model}`);
    return found;
  }

  async #k6(model: ModelName, level: Level, phase: 'warmup' | 'measure', durationS: number) {
    const run = await runK6(this.#docker, {
      network: this.#container(model).network,
      hostScriptsDir: this.#plan.hostScriptsDir,
      script: K6_SCRIPT,
      env: k6Env(model, level, this.#plan.targetUrl(model, level), phase, durationS),
      runId: this.#plan.runId,
      ...(this.#plan.nofile === undefined ? {} : { nofile: this.#plan.nofile }),
      ...(this.#plan.cpusets === null ? {} : { cpusetCpus: this.#plan.cpusets.measurement }),
      dashboard: phase === 'measure' && this.#plan.dashboard,
      // k6 builds every VU before the first request: measured here, ~65 s for 5,124 VUs on a busy 2-core host.
      deadlineMs:
        (durationS + (phase === 'measure' ? (level.holdRampS ?? 0) + k6InitAllowanceS(level) : 0) + level.requestTimeoutS + 60) * 1000,
    });
    try {
      return { run, summary: extractSummary(run.stdout) };
    } catch (err) {
      throw new Error(
        `k6 (${phase}, ${model} ${level.name}) exited ${run.exitCode} without a summary: ${run.stderr.trim().split('\n').slice(-5).join(' | ')}`,
        { cause: err },
      );
    }
  }

  /**
   * Pins Postgres and nginx to the measurement's cores, or lifts every pin (the models' too):
   * at the end, and at the start of an unpinned run, so that a pin an interrupted run left
   * behind never reaches the next one (measured: it did, before this lift).
   */
  async pinMeasurement(lift = false): Promise<void> {
    const sets = this.#plan.cpusets;
    const all = this.#plan.allCpus;
    if (lift || sets === null) {
      const everyone = [this.#plan.db, this.#plan.proxy, ...this.#plan.models.map((m) => this.#plan.containers[m])];
      for (const c of everyone) if (c !== undefined) await setCpuset(this.#docker, c.id, all).catch(() => undefined);
      return;
    }
    for (const c of [this.#plan.db, this.#plan.proxy]) {
      if (c !== undefined) this.measurementCpusets[c.service] = await setCpuset(this.#docker, c.id, sets.measurement);
    }
  }

  async runAll(): Promise<void> {
    const { models, profile } = this.#plan;
    await this.pinMeasurement();
    try {
      for (const step of planRun(models, profile.levels, { restart: this.#plan.restart })) {
        if (step.kind === 'restart') await this.#restart(step.model);
        else if (step.kind === 'baseline') await this.#baseline(step.model);
        else if (step.kind === 'check-proxy-routes') await this.#checkRoutes(step.model);
        else await this.#level(step.model, step.level, `[${step.index}/${step.total}]`);
        if (step.kind === 'level' && step.index % profile.levels.length === 0 && this.#plan.cpusets !== null) {
          await setCpuset(this.#docker, this.#container(step.model).id, this.#plan.cpusets.all);
        }
      }
    } finally {
      await this.pinMeasurement(true);
    }
  }

  async #restart(model: ModelName): Promise<void> {
    const log = this.#plan.log;
    const c = this.#container(model);
    const addressBefore = await addressOn(this.#docker, c.id, c.network).catch(() => undefined);
    // Pinned before the restart so the model starts seeing its own cores (M:N sizes its threads then).
    if (this.#plan.cpusets !== null) await setCpuset(this.#docker, c.id, this.#plan.cpusets.model);
    const t0 = Date.now();
    const healthz = `${this.#plan.modelUrl(model)}/healthz`;
    const restarted = await restartAndWait(this.#docker, c.id, 10, 120_000, async () => (await getOnce(healthz, 2000))?.status === 200);
    const addressAfter = await addressOn(this.#docker, c.id, c.network).catch(() => undefined);
    this.starts[model] = {
      startedAt: restarted.startedAt,
      healthy: restarted.healthy,
      baselineMemoryBytes: null,
      baselineRssBytes: null,
      proxyRoutesWrong: [],
    };
    log(
      `${model}: restarted for a fresh start in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${restarted.healthy ? 'healthy' : 'NOT healthy (GET /healthz) within 120 s'}; address ${addressBefore ?? '?'} -> ${addressAfter ?? '?'}`,
    );
  }

  async #baseline(model: ModelName): Promise<void> {
    const plan = this.#plan;
    // Healthy is not idle: wait until /model answers with nothing in flight, then let it settle.
    const quiet = await settle(plan.modelUrl(model), this.#db, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    const memory = await memoryNow(this.#docker, this.#container(model).id).catch(() => null);
    const evidence = await fetchEvidence(plan.modelUrl(model), 5000);
    const start = this.starts[model] ?? {
      startedAt: undefined,
      healthy: true,
      baselineMemoryBytes: null,
      baselineRssBytes: null,
      proxyRoutesWrong: [],
    };
    this.starts[model] = { ...start, baselineMemoryBytes: memory, baselineRssBytes: evidence?.memory.rssBytes ?? null };
    plan.log(
      `${model}: idle baseline ${memory === null ? 'n/a' : `${(memory / 2 ** 20).toFixed(1)} MiB`} (cgroup, no inactive file cache), RSS ${evidence === undefined ? 'n/a' : `${(evidence.memory.rssBytes / 2 ** 20).toFixed(1)} MiB`} over ${evidence?.memory.processes ?? '?'} process(es)${quiet ? '' : '; not idle within 30 s'}`,
    );
  }

  /**
   * Before every level a pooled model (one shared pool per process or thread, no unit per
   * connection, no bound) gets its database connections opened by a burst of concurrent
   * requests, so the row's tail and errors are the model's and not Postgres forking (and
   * authenticating) backends for a pool that grows mid-measurement: a held level has no k6
   * warm-up (it would connect 5,000 holders twice), and a closed level's 5 s warm-up opened
   * too few (measured: goroutines at 1,000 VUs, 356 503s from connections that took over
   * 750 ms to open on the core Postgres shares with k6, 0.8% for the event loop).
   */
  async #warmPool(model: ModelName): Promise<void> {
    const spec = modelSpec(model);
    if (spec.perConnection || spec.bounded !== null) return;
    const burst = WARM_POOL_REQUESTS;
    const url = `${this.#plan.modelUrl(model)}/db?id=1`;
    const answers = await Promise.all(Array.from({ length: burst }, async () => (await getOnce(url, 10_000))?.status ?? 0));
    await settle(this.#plan.modelUrl(model), this.#db, 30_000);
    this.#plan.log(
      `${model}: database pool warmed by ${burst} concurrent requests (${answers.filter((s) => s === 200).length} answered 200)`,
    );
  }

  /**
   * The model's /db latency histogram from its /metrics: null when it has served no /db yet
   * (nothing to subtract), undefined when /metrics did not answer.
   */
  async #dbHistogram(model: ModelName): Promise<Histogram | null | undefined> {
    const res = await getOnce(`${this.#plan.modelUrl(model)}/metrics`, 5000);
    return res?.status === 200 ? dbHistogram(res.body) : undefined;
  }

  /** nginx resolved the upstreams when it started: after a restart each path must still reach its own model. */
  async #checkRoutes(model: ModelName): Promise<void> {
    // A path that reaches another model is wrong; one that does not answer is only wrong for
    // the model just restarted (the previous model may still be drowning in its last level).
    const wrong = (await wrongProxyRoutes(this.#plan.models)).filter(
      (line) => line.startsWith(`/${model}/`) || !line.endsWith('did not answer'),
    );
    const start = this.starts[model];
    if (start !== undefined) start.proxyRoutesWrong = wrong;
    if (wrong.length > 0)
      throw new Error(`after restarting ${model}, nginx routes ${wrong.join(', ')}: run \`make up\` (it restarts the proxy) and try again`);
    this.#plan.log(`${model}: every proxy path reaches its own model after the restart`);
  }

  async #level(model: ModelName, level: Level, counter: string): Promise<void> {
    const plan = this.#plan;
    const log = plan.log;
    const container = this.#container(model);
    const label = `${counter} ${model} ${level.name}`;
    const rate = offeredRate(level);
    const shape =
      level.executor === 'constant-arrival-rate'
        ? `open model ${level.rate} req/s (${level.vus}-${level.maxVus} VUs)`
        : `${level.vus} VUs, think exp. mean ${level.thinkTimeS}s`;
    const holds =
      (level.holdConnections ?? 0) > 0
        ? ` + ${level.holdConnections} holders (think exp. mean ${level.holdThinkS}s, connect over ${level.holdRampS}s)`
        : '';
    log(
      `${label}: ${shape}${holds}, offered ~${rate.toFixed(0)} req/s, ${level.target}; warm-up ${level.warmupS}s, measure ${level.durationS}s (run: ~${fmtDuration(this.#secondsLeft)} left)`,
    );

    // One model under load at a time: the previous level's backlog drains first.
    await settle(plan.modelUrl(model), this.#db, 30_000);
    await this.#warmPool(model);
    if (level.warmupS > 0) await this.#k6(model, level, 'warmup', level.warmupS);
    if (!(await settle(plan.modelUrl(model), this.#db, 30_000))) log(`${label}: still busy 30 s after the warm-up; measuring anyway`);
    this.#secondsLeft -= level.warmupS;

    const before = await containerState(this.#docker, container.id);
    const evidenceBefore = await fetchEvidence(plan.modelUrl(model), 5000);
    const latencyBefore = await this.#dbHistogram(model);
    await this.#db.resetStatements();

    const start = Date.now();
    const stats = await StatsStream.open(this.#docker, container.id);
    let lastPrint = start;
    let lastRequests = evidenceBefore?.requestsTotal ?? 0;
    let lastT = start;
    const proxyId = level.target === 'proxy' ? plan.proxy?.id : undefined;
    const held = new HeldSampler(this.#docker, container.id, proxyId);
    const ticker = new Ticker(plan.modelUrl(model), this.#db, (s) => {
      if (s.t - lastPrint < 5000 || s.evidence === null) return;
      const elapsed = (s.t - start) / 1000;
      const reqRate = ((s.evidence.requestsTotal - lastRequests) * 1000) / (s.t - lastT);
      lastRequests = s.evidence.requestsTotal;
      lastT = s.t;
      lastPrint = s.t;
      const mem = stats.samples.at(-1)?.memoryBytes;
      const conns = held.samples.at(-1);
      const total = level.durationS + (level.holdRampS ?? 0);
      log(
        `${label}: ${fmtDuration(Math.max(0, total - elapsed))} left of ${total}s · run ~${fmtDuration(Math.max(0, this.#secondsLeft - elapsed))} left · ${reqRate.toFixed(0)} req/s · in flight ${s.evidence.inFlight.now} · units ${s.evidence.units.alive} · ${mem === undefined ? '' : `${Math.round(mem / 1e6)} MB`} · held ${conns?.serverConnections ?? '?'}${proxyId === undefined ? '' : ` (nginx ${conns?.proxyConnections ?? '?'})`}`,
      );
    });
    const measured = await this.#k6(model, level, 'measure', level.durationS).finally(() => {
      ticker.stop();
      stats.stop();
      held.stop();
    });
    const hostBusy = ticker.hostBusyPercent();
    const modelSamples = stats.samples;
    const end = Date.now();
    this.#secondsLeft -= level.durationS + (level.holdRampS ?? 0) + 2 * 3;

    const { calls: executedQueries, execution: dbExecution } = await this.#db.worldQueryStats();
    // A /metrics that did not answer before or after the level leaves no window to measure.
    const latencyAfter = await this.#dbHistogram(model);
    const service =
      latencyBefore === undefined || latencyAfter === undefined ? null : serviceLatency(histogramIncrease(latencyBefore, latencyAfter));
    const after = await containerState(this.#docker, container.id);
    const evidenceAfter = await fetchEvidence(plan.modelUrl(model), 5000);
    const refusals =
      plan.db === undefined
        ? []
        : await logLinesSince(this.#docker, plan.db.id, Math.floor(start / 1000) - 1, /too many clients|remaining connection slots/i).catch(
            () => [],
          );

    // Per second over the measured scenario's own duration: k6's run lasts longer (the holders'
    // ramp, and gracefulStop lets a closed-model VU finish the think time it drew after its last
    // request), but no request of the scenario starts outside that window.
    const figures = loadFigures(measured.summary, level.durationS);
    const modelStats = during(modelSamples, start, end);
    const k6Stats = during(measured.run.samples, start, end);
    const evidences = ticker.samples.map((s) => s.evidence).filter((e): e is ModelEvidence => e !== null);
    const limitsFrom = evidenceBefore ?? evidenceAfter ?? evidences[0] ?? plan.idleEvidence[model];
    const appName = limitsFrom?.model ?? model;
    const dbPeak = peak(ticker.samples.flatMap((s: TickSample) => (s.dbConnections === null ? [] : [s.dbConnections[appName] ?? 0])));
    const oomBefore = evidenceBefore?.cgroup.oomKills ?? 0;
    const oomAfter = evidenceAfter?.cgroup.oomKills ?? oomBefore;
    const heldSamples = held.samples;
    const deaths = deathsDuring(before, heldSamples, after);
    const fresh = this.starts[model];
    const peakMemory = peak(modelStats.map((s) => s.memoryBytes));
    const serverPeak = peak(heldSamples.flatMap((s) => (s.serverConnections === null ? [] : [s.serverConnections])));
    const proxyPeak =
      proxyId === undefined ? null : peak(heldSamples.flatMap((s) => (s.proxyConnections === null ? [] : [s.proxyConnections])));
    const baseline = fresh?.baselineMemoryBytes ?? null;
    const over = peakMemory === null || baseline === null ? null : peakMemory - baseline;
    const modelCpuset =
      (
        await this.#docker
          .getContainer(container.id)
          .inspect()
          .catch(() => undefined)
      )?.HostConfig.CpusetCpus || null;

    const fileBase = `${model}-${level.name}`;
    const row: Row = {
      model,
      level,
      offeredRate: rate,
      figures,
      executedQueries,
      wastedQueries: Math.max(0, executedQueries - (figures.allSucceeded ?? figures.succeeded)),
      neededInFlight: neededInFlight(level, dbDelayS(limitsFrom)),
      cpusets: {
        claimedModel: plan.cpusets?.model ?? null,
        model: modelCpuset,
        claimedMeasurement: plan.cpusets?.measurement ?? null,
        k6: measured.run.cpusetCpus ?? null,
      },
      resources: {
        peakMemoryBytes: peakMemory,
        peakRssBytes: peak(evidences.map((e) => e.memory.rssBytes)),
        cpuCoresAvg: avg(modelStats.map((s) => s.cpuCores)),
        cpuCoresPeak: peak(modelStats.map((s) => s.cpuCores)),
        k6CpuCoresAvg: avg(k6Stats.map((s) => s.cpuCores)),
        k6CpuCoresPeak: peak(k6Stats.map((s) => s.cpuCores)),
        k6PeakMemoryBytes: peak(k6Stats.map((s) => s.memoryBytes)),
        hostBusyPercent: hostBusy,
        unitsAlivePeak: peak(evidences.map((e) => e.units.alive)),
        unitsStarted: evidenceAfter?.units.started ?? null,
        processesPeak: peak(evidences.map((e) => e.memory.processes)),
        inFlightPeak: peak(evidences.map((e) => e.inFlight.now)),
        dbConnectionsPeak: dbPeak,
        dbConnectionsMax: connectionCap(limitsFrom),
        restarts: deaths.restarts,
        oomKills: Math.max(Math.max(0, oomAfter - oomBefore), deaths.oomKills),
        dbRefusals: refusals.length,
        modelProbeFailures: ticker.samples.filter((s) => s.evidence === null).length,
        serverConnectionsPeak: serverPeak,
        proxyConnectionsPeak: proxyPeak,
        baselineMemoryBytes: baseline,
        baselineRssBytes: fresh?.baselineRssBytes ?? null,
        memoryOverBaselineBytes: over,
        memoryPerConnectionBytes: over !== null && serverPeak !== null && serverPeak > 0 ? over / serverPeak : null,
        recovering: isRecovering(before.startedAt, start, fresh?.startedAt),
      },
      limits: {
        claimedCpus: plan.claimedCpus,
        claimedMemoryBytes: plan.claimedMemoryBytes,
        declaredCpus: after.declaredCpus,
        declaredMemoryBytes: after.declaredMemoryBytes,
        cgroupCpus: limitsFrom?.cgroup.cpuQuotaCores ?? null,
        cgroupMemoryBytes: limitsFrom?.cgroup.memoryLimitBytes ?? null,
      },
      tail: { service, dbExecution },
      files: { k6: `raw/${fileBase}.json`, samples: `samples/${fileBase}.json` },
    };
    this.rows.push(row);
    writeFileSync(join(plan.resultsDir, row.files.k6), JSON.stringify(measured.summary, null, 2));
    writeFileSync(join(plan.resultsDir, `raw/${fileBase}.stderr.txt`), measured.run.stderr);
    if (measured.run.dashboardHtml !== undefined)
      writeFileSync(join(plan.resultsDir, `raw/${fileBase}.dashboard.html`), measured.run.dashboardHtml);
    writeFileSync(
      join(plan.resultsDir, row.files.samples),
      JSON.stringify(
        {
          model,
          level,
          start,
          end,
          k6ExitCode: measured.run.exitCode,
          containerBefore: before,
          containerAfter: after,
          evidenceBefore,
          evidenceAfter,
          modelStats: modelSamples,
          k6Stats: measured.run.samples,
          ticks: ticker.samples,
          held: heldSamples,
          dbRefusals: refusals,
          baseline: fresh ?? null,
        },
        null,
        2,
      ),
    );
    log(
      `${label}: ${figures.successesPerSecond.toFixed(0)} ok/s, p50 ${figures.latencyMs.p50.toFixed(1)} ms, p99 ${figures.latencyMs.p99.toFixed(1)} ms, errors ${figures.errorPercent.toFixed(2)}%, queries ${executedQueries}/${figures.allSucceeded ?? figures.succeeded} ok, in the model p99 <= ${service?.p99AtMostMs ?? 'n/a'} ms (${service?.over100msPercent.toFixed(2) ?? 'n/a'}% > 100 ms), Postgres max ${dbExecution?.maxMs.toFixed(1) ?? 'n/a'} ms, held ${serverPeak ?? 'n/a'}${proxyId === undefined ? '' : ` (nginx ${proxyPeak ?? 'n/a'})`}, peak ${row.resources.peakMemoryBytes === null ? 'n/a' : Math.round(row.resources.peakMemoryBytes / 1e6)} MB, k6 CPU ${row.resources.k6CpuCoresAvg?.toFixed(2) ?? 'n/a'}`,
    );
  }
}

/** Writes report.md, the charts, rows.json and environment.json; points results/latest at the run. */
export async function writeReport(
  resultsDir: string,
  profile: Profile,
  env: Environment,
  rows: Row[],
): Promise<{ report: string; invalid: number; summary: string[] }> {
  const judged = judgeRows(rows, env);
  const charts = await renderCharts(judged);
  mkdirSync(join(resultsDir, 'charts'), { recursive: true });
  for (const chart of charts) writeFileSync(join(resultsDir, 'charts', chart.file), chart.svg);
  const report = renderReport(profile, env, judged, charts);
  writeFileSync(join(resultsDir, 'report.md'), report);
  writeFileSync(join(resultsDir, 'rows.json'), JSON.stringify(judged, null, 2));
  writeFileSync(join(resultsDir, 'environment.json'), JSON.stringify(env, null, 2));
  const summary = [...topRows(judged), ...topRows(judged, 'proxy')].map(
    (r) =>
      `${r.model.padEnd(10)} ${String(r.level.connections ?? r.level.vus).padStart(5)} conns${r.level.target === 'proxy' ? ' via proxy' : ''}  ${r.figures.successesPerSecond.toFixed(0).padStart(6)} ok/s  p50 ${r.figures.latencyMs.p50.toFixed(1).padStart(7)} ms  errors ${r.figures.errorPercent.toFixed(2).padStart(6)}%  ${r.verdict.verdict.padEnd(9)} ${r.validity.valid ? 'valid' : `INVALID: ${r.validity.reasons.join('; ')}`}`,
  );
  return { report: join(resultsDir, 'report.md'), invalid: judged.filter((r) => !r.validity.valid).length, summary };
}

/** results/latest -> the newest run (a relative symlink; a small file where symlinks fail). */
export function pointLatest(resultsRoot: string, runDirName: string): void {
  const latest = join(resultsRoot, 'latest');
  rmSync(latest, { force: true, recursive: false });
  try {
    symlinkSync(runDirName, latest);
  } catch {
    writeFileSync(latest, `${runDirName}\n`);
  }
}

export { K6_IMAGE };

/**
 * The database connections a model can open at most, or null when there is no cap. An
 * unbounded process-per-connection model (forking) opens one pool per live child: the
 * count seen at one moment is not a cap. Otherwise one shared pool gives its max, and one
 * pool per unit (prefork workers, M:N threads) gives pool max x the bound on units.
 */
export function connectionCap(evidence: ModelEvidence | undefined): number | null {
  if (evidence === undefined) return null;
  if (evidence.units.kind === 'process' && evidence.units.limit === null) return null;
  if (evidence.db.pools === 1 || evidence.units.limit === null)
    return evidence.db.maxConnections ?? evidence.db.poolMaxPerUnit * evidence.db.pools;
  return evidence.db.poolMaxPerUnit * evidence.units.limit;
}
