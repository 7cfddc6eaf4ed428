// What the four failure-mode experiments share (one file each: experiment-slowloris.ts,
// experiment-outage.ts, experiment-overload.ts, experiment-shutdown.ts): the run's context, k6 with
// a per-request log, Docker's peaks of a container, and how a model's units and bounds are read.
import type Docker from 'dockerode';
import type { Database } from '../src/database.ts';
import { runK6, type ServiceContainer } from '../src/docker.ts';
import { modelSpec, type ModelName } from '../src/models.ts';
import type { ModelEvidence } from '../src/sampler.ts';
import { FALLBACK_DB_DELAY_MS } from '../src/seed.ts';
import { allContainers, directUrl, proxyUrl, type Fleet, type State } from './fleet.ts';
import { parseTimeline, type RequestRecord } from './timeline.ts';
import type { Target } from './verdicts.ts';

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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const TARGETS: Target[] = ['direct', 'proxy'];
export const targetName = (model: string, target: Target) => (target === 'proxy' ? `${model}-proxy` : model);
export const targetUrl = (model: string, target: Target) => `${target === 'proxy' ? proxyUrl(model) : directUrl(model)}/db`;
/**
 * Direct clients of a bounded pool of workers (prefork, blocking: `bounded` in models.json) close
 * their connection after each answer: a worker owns its connection until it closes, so a
 * keep-alive client would keep the blocking baseline's only worker to itself (measured: the other
 * clients then time out). nginx talks to them the same way.
 */
export const closeTargets = (models: string[]) => models.filter((m) => modelSpec(m).bounded !== null).join(',');

/** Seconds one request spends in the database: DB_DELAY_MS as the model's /model reports it, 50 ms only as a fallback. */
export function floorSeconds(e: ModelEvidence | undefined): number {
  const reported = (e?.db as { delayMs?: unknown } | undefined)?.delayMs;
  return (typeof reported === 'number' && reported > 0 ? reported : FALLBACK_DB_DELAY_MS) / 1000;
}

/** The most database connections a model may hold as it is now (/model), or null when it did not answer. */
export const maxConnectionsOf = (e: ModelEvidence | undefined): number | null =>
  e === undefined ? null : (e.db.maxConnections ?? e.db.poolMaxPerUnit * e.db.pools);

/** k6 with the per-request log; throws when k6 could not run at all. */
export async function timelineK6(
  ctx: Context,
  env: Record<string, string>,
  durationS: number,
  timeoutS: number,
  network = ctx.fleet.db.network,
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
  if (records.length === 0)
    throw new Error(`k6 exited ${run.exitCode} without a single request: ${run.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const summary = run.stdout.split('@@K6_SUMMARY@@')[1] ?? '';
  const stderrTail = run.stderr
    .split('\n')
    .filter((l) => !l.includes('msg="R '))
    .slice(-20)
    .join('\n');
  return { records, stderrTail, exitCode: run.exitCode, summary };
}

/**
 * Peaks of a container while something runs, from Docker's stats (one read every 2 s): memory
 * (page cache excluded) and pids (processes and threads). Docker, not the model's /model: a
 * request to a model under attack would queue behind the attack and change what is measured.
 */
export class ContainerPeaks {
  memoryBytes: number | null = null;
  pids: number | null = null;
  readonly #timer: NodeJS.Timeout;
  #busy = false;
  constructor(docker: Docker, container: ServiceContainer) {
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void (docker.getContainer(container.id).stats({ stream: false }) as Promise<DockerStats>)
        .then(
          (frame) => {
            const stats = frame.memory_stats?.stats ?? {};
            const memory = (frame.memory_stats?.usage ?? 0) - (stats.inactive_file ?? stats.total_inactive_file ?? 0);
            this.memoryBytes = Math.max(this.memoryBytes ?? 0, memory);
            this.pids = Math.max(this.pids ?? 0, frame.pids_stats?.current ?? 0);
          },
          () => undefined,
        )
        .finally(() => {
          this.#busy = false;
        });
    }, 2000);
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

interface DockerStats {
  memory_stats?: { usage?: number; stats?: Record<string, number> };
  pids_stats?: { current?: number };
}

/** Units (threads, processes) the model started between two readings of /model; null when one is missing or the model restarted. */
export function unitsStarted(before: ModelEvidence | undefined, after: ModelEvidence | undefined): number | null {
  if (before === undefined || after === undefined || after.units.started < before.units.started) return null;
  return after.units.started - before.units.started;
}

/** OOM kills inside the container (the cgroup's counter) plus Docker's own flag on the main process. */
export function oomKillsBetween(
  before: ModelEvidence | undefined,
  after: ModelEvidence | undefined,
  stateBefore: State,
  stateAfter: State,
): number {
  const cgroup =
    after !== undefined && before !== undefined ? Math.max(0, (after.cgroup.oomKills ?? 0) - (before.cgroup.oomKills ?? 0)) : 0;
  return cgroup + (stateAfter.oomKilled && !stateBefore.oomKilled ? 1 : 0);
}

export const others = (fleet: Fleet, except: string[]) =>
  allContainers(fleet)
    .map((c) => c.service)
    .filter((s) => !except.includes(s));

/** VUs per target: a smoke-sized share, but under half of what a bounded pool serves (think + 50 ms per request). */
export function vusPerTarget(
  base: number,
  units: number | null,
  thinkS: number,
  targets: number,
  floorS = FALLBACK_DB_DELAY_MS / 1000,
): number {
  if (units === null || units < 1) return base;
  const capacity = units / floorS;
  const fit = Math.floor((0.5 * capacity * (thinkS + floorS)) / targets);
  return Math.max(1, Math.min(base, fit));
}

/** A pool of blocking workers (`bounded` in models.json: prefork, blocking) serves `limit` requests at once; the others are not bounded by a unit pool. */
export function boundedUnits(model: ModelName, e: ModelEvidence | undefined): number | null {
  return modelSpec(model).bounded !== null && e !== undefined ? e.units.limit : null;
}

export type { ServiceContainer };
