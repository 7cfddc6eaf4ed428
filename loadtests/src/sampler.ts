// What is sampled every second while a level runs, beside Docker's stats stream:
// the model's own evidence (/model), Postgres connections, and the host's CPU.
import { readFileSync } from 'node:fs';
import type { Database } from './database.ts';

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

export async function fetchEvidence(baseUrl: string, timeoutMs = 1000): Promise<ModelEvidence | undefined> {
  try {
    const res = await fetch(`${baseUrl}/model`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    return (await res.json()) as ModelEvidence;
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
        .finally(() => { this.#busy = false; });
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
