// What is sampled every second while a level runs, beside Docker's stats stream:
// the model's own evidence (/model), Postgres connections, and the host's CPU.
import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import type { Database } from './database.ts';
import { request } from 'node:http';
import { containerState, execText } from './docker.ts';
import { SOCKET_TABLE_COMMAND, countEstablished } from './sockets.ts';

/** The part of /model (services/common Evidence) the runner reads. */
export interface ModelEvidence {
  model: string;
  units: { kind: string; alive: number; started: number; limit: number | null };
  inFlight: { now: number; max: number };
  requestsTotal: number;
  db: { poolMaxPerUnit: number; pools: number; maxConnections?: number };
  memory: { rssBytes: number; processes: number };
  cgroup: {
    version: number | null;
    cpuQuotaCores: number | null;
    memoryLimitBytes: number | null;
    memoryPeakBytes: number | null;
    cpuUsageSeconds: number | null;
    oomKills: number | null;
    pidsCurrent: number | null;
  };
}

/**
 * GET on a fresh connection that closes after the answer (agent: false sends `Connection:
 * close`); undefined when there was no answer within timeoutMs. The runner's own requests
 * must neither hold a unit nor stay among the connections a level counts as held: a pooled
 * keep-alive connection, re-used every second, would own the blocking baseline's only worker
 * for the whole run, and the pool warm-up's 150 would be counted server-side beside k6's.
 */
export function getOnce(url: string, timeoutMs: number): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** GET <model>/model (getOnce): the model's evidence, or undefined. */
export async function fetchEvidence(baseUrl: string, timeoutMs = 1000): Promise<ModelEvidence | undefined> {
  const res = await getOnce(`${baseUrl}/model`, timeoutMs);
  if (res?.status !== 200) return undefined;
  try {
    return JSON.parse(res.body) as ModelEvidence;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of all CPUs (the first line of /proc/stat; host-wide even in a container). */
export function readCpuTimes(stat: string = readFileSync('/proc/stat', 'utf8')): { busy: number; total: number } {
  const fields = (stat.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export interface TickSample {
  t: number;
  evidence: ModelEvidence | null;
  dbConnections: Record<string, number> | null;
}

/** Samples once a second until stopped; never throws (a missing sample is recorded as null). */
export class Ticker {
  readonly samples: TickSample[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #cpuStart = readCpuTimes();
  #busy = false;

  constructor(modelUrl: string, db: Database, onTick: (sample: TickSample) => void) {
    this.#timer = setInterval(() => {
      if (this.#busy) return; // the previous probe is still waiting on a busy model
      this.#busy = true;
      void Promise.all([fetchEvidence(modelUrl), db.connectionsByApplication().catch(() => null)])
        .then(([evidence, dbConnections]) => {
          const sample = { t: Date.now(), evidence: evidence ?? null, dbConnections };
          this.samples.push(sample);
          onTick(sample);
        })
        .finally(() => {
          this.#busy = false;
        });
    }, 1000);
  }

  #cpuEnd: { busy: number; total: number } | undefined;

  stop(): void {
    clearInterval(this.#timer);
    this.#cpuEnd ??= readCpuTimes();
  }

  /** How busy the host's CPUs were on average between start and stop (percent). */
  hostBusyPercent(): number | null {
    const end = this.#cpuEnd ?? readCpuTimes();
    const total = end.total - this.#cpuStart.total;
    return total > 0 ? (100 * (end.busy - this.#cpuStart.busy)) / total : null;
  }
}

export interface HeldSample {
  t: number;
  /** ESTABLISHED sockets on the model's port inside its container; null when the read failed. */
  serverConnections: number | null;
  /** ESTABLISHED client sockets on nginx's port in the proxy container (proxy levels only). */
  proxyConnections: number | null;
  restartCount: number | null;
  oomKilled: boolean | null;
  startedAt: string | null;
}

export const MODEL_PORT = 3000;
export const PROXY_PORT = 8080;

/**
 * Every few seconds, like memory: the connections the model (and nginx) hold, counted in
 * their own socket tables, and the model container's restart count and OOM flag (so a
 * restart or OOM kill during the level is in the level's samples, not lost between them).
 */
export class HeldSampler {
  readonly samples: HeldSample[] = [];
  readonly #timer: NodeJS.Timeout;
  #busy = false;

  constructor(docker: Docker, modelId: string, proxyId: string | undefined, everyMs = 3000) {
    const count = async (id: string, port: number) => countEstablished(await execText(docker, id, SOCKET_TABLE_COMMAND, 5000), port);
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void Promise.all([
        count(modelId, MODEL_PORT).catch(() => null),
        proxyId === undefined ? Promise.resolve(null) : count(proxyId, PROXY_PORT).catch(() => null),
        containerState(docker, modelId).catch(() => undefined),
      ])
        .then(([serverConnections, proxyConnections, state]) => {
          this.samples.push({
            t: Date.now(),
            serverConnections,
            proxyConnections,
            restartCount: state?.restartCount ?? null,
            oomKilled: state?.oomKilled ?? null,
            startedAt: state?.startedAt ?? null,
          });
        })
        .finally(() => {
          this.#busy = false;
        });
    }, everyMs);
  }

  stop(): HeldSample[] {
    clearInterval(this.#timer);
    return this.samples;
  }
}

/** The host before the run: 1-minute load average and how busy every core was over a short sample. */
export async function hostLoad(sampleMs = 2000): Promise<{ loadAvg1: number | null; busyPercent: number | null }> {
  const loadAvg1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? NaN);
  const start = readCpuTimes();
  await new Promise((r) => setTimeout(r, sampleMs));
  const end = readCpuTimes();
  const total = end.total - start.total;
  return { loadAvg1: Number.isFinite(loadAvg1) ? loadAvg1 : null, busyPercent: total > 0 ? (100 * (end.busy - start.busy)) / total : null };
}
