// The seed's table (README, issue 6) as data, and how a measured row is held against it.
import type { ModelName } from './scenarios.ts';
import { QUERY_FLOOR_S } from './scenarios.ts';
import type { Judged, Row } from './row.ts';
import { modelSpec } from './models.ts';

export type Behaviour =
  | { kind: 'handles-all' }
  | { kind: 'capped'; inFlight: number }
  | { kind: 'decent-until'; connections: number }
  | { kind: 'falls-over' };

export interface SeedClaim {
  row: string;
  memory: string;
  memoryBytes: number;
  at5k: string;
  bottleneck: string;
  behaviour: Behaviour;
}

const MB = 1e6;

export const SEED: Record<ModelName, SeedClaim> = {
  forking: { row: 'process-per-request', memory: '~5 GB+', memoryBytes: 5000 * MB, at5k: 'falls over', bottleneck: 'fork overhead', behaviour: { kind: 'falls-over' } },
  threaded: { row: 'thread-per-request', memory: '~500 MB', memoryBytes: 500 * MB, at5k: 'decent until ~2K', bottleneck: 'scheduler, RAM', behaviour: { kind: 'decent-until', connections: 2000 } },
  prefork: { row: 'prefork pool (100)', memory: '~200 MB', memoryBytes: 200 * MB, at5k: 'capped at 100 in flight', bottleneck: 'pool size', behaviour: { kind: 'capped', inFlight: 100 } },
  eventloop: { row: 'event loop', memory: '~50 MB', memoryBytes: 50 * MB, at5k: 'handles all 5K', bottleneck: '(blocking syscalls)', behaviour: { kind: 'handles-all' } },
  mn: { row: 'goroutines / M:N', memory: '~100 MB', memoryBytes: 100 * MB, at5k: 'handles all 5K', bottleneck: '(runtime scheduler)', behaviour: { kind: 'handles-all' } },
  blocking: { row: 'single-threaded blocking (baseline)', memory: '(not in the table)', memoryBytes: 0, at5k: 'one request at a time', bottleneck: 'one worker', behaviour: { kind: 'capped', inFlight: 1 } },
};

const FLOOR_MS = QUERY_FLOOR_S * 1000;
/** "Handles" a level: no failed request and the median within 10% of the 50 ms floor. */
const HANDLES_P50_MS = FLOOR_MS * 1.1;
/** "Decent": under 1% errors and the median within 2x the floor. */
const DECENT_P50_MS = FLOOR_MS * 2;
/** "Falls over": at least this share of requests fail, or the container died. */
const FALLS_OVER_ERROR_PERCENT = 5;

const fmtMs = (ms: number) => `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
const fmtMb = (bytes: number | null) => (bytes === null ? 'n/a' : `${Math.round(bytes / MB)} MB`);
const fmtPct = (p: number) => `${p < 0.1 && p > 0 ? p.toFixed(2) : p.toFixed(1)}%`;

function memoryFigure(row: Row, claim: SeedClaim): string {
  const peak = row.resources.peakMemoryBytes;
  if (claim.memoryBytes === 0 || peak === null) return `memory ${fmtMb(peak)}`;
  return `memory ${fmtMb(peak)} vs ${claim.memory}`;
}

function scaleNote(row: Row): string {
  return row.level.vus < 5000 && row.level.executor === 'constant-vus' ? ` (at ${row.level.vus} connections, not 5,000)` : '';
}

/** Holds one row against the seed's claim for its model: confirmed, refuted or differs, with the figure. */
export function verdictFor(row: Row): Judged['verdict'] {
  const claim = SEED[row.model] ?? modelSpec(row.model).seed;
  const f = row.figures;
  const dead = row.resources.restarts > 0 || row.resources.oomKills > 0;
  const perf = `p50 ${fmtMs(f.latencyMs.p50)}, errors ${fmtPct(f.errorPercent)}, ${f.successesPerSecond.toFixed(0)} ok/s`;
  const mem = memoryFigure(row, claim);
  const b = claim.behaviour;
  const note = scaleNote(row);
  switch (b.kind) {
    case 'handles-all': {
      if (f.errorPercent === 0 && !dead && f.latencyMs.p50 <= HANDLES_P50_MS) return { verdict: 'confirmed', figure: `${perf}; ${mem}${note}` };
      if (f.errorPercent >= FALLS_OVER_ERROR_PERCENT || dead) return { verdict: 'refuted', figure: `${perf}${dead ? ', container restarted/OOM-killed' : ''}; ${mem}${note}` };
      return { verdict: 'differs', figure: `${perf} (claim: every request at the floor); ${mem}${note}` };
    }
    case 'capped': {
      const capRate = b.inFlight / QUERY_FLOOR_S;
      const peak = row.resources.inFlightPeak;
      const over = peak !== null && peak > b.inFlight;
      const saturated = row.offeredRate >= capRate;
      const capFigure = `in flight peak ${peak ?? 'n/a'} (cap ${b.inFlight}), ${f.successesPerSecond.toFixed(0)} ok/s of ${capRate.toFixed(0)} max`;
      if (over) return { verdict: 'refuted', figure: `${capFigure}; ${perf}; ${mem}` };
      if (saturated && f.successesPerSecond >= 0.95 * capRate) return { verdict: 'confirmed', figure: `${capFigure}; ${mem}` };
      if (!saturated) return { verdict: 'differs', figure: `offered ${row.offeredRate.toFixed(0)}/s is below the cap's ${capRate.toFixed(0)}/s: ${capFigure}; ${mem}` };
      // A worker that serves one connection at a time keeps it for its keep-alive: VUs beyond
      // the cap wait for a worker to free up rather than for a request slot.
      const pinned = f.timeoutPercent > 0 ? `, ${fmtPct(f.timeoutPercent)} timed out waiting for a worker` : '';
      return { verdict: 'differs', figure: `${capFigure}, below 95% of the cap${pinned}; ${perf}; ${mem}` };
    }
    case 'decent-until': {
      const decent = f.errorPercent < 1 && !dead && f.latencyMs.p50 <= DECENT_P50_MS;
      const within = row.level.vus <= b.connections;
      if (within) return { verdict: decent ? 'confirmed' : 'refuted', figure: `${perf}${decent ? '' : ` (claim: decent up to ${b.connections})`}; ${mem}${note}` };
      return { verdict: decent ? 'refuted' : 'confirmed', figure: `${perf}${decent ? ` (claim: degrades past ${b.connections})` : ''}; ${mem}` };
    }
    case 'falls-over': {
      if (f.errorPercent >= FALLS_OVER_ERROR_PERCENT || dead) return { verdict: 'confirmed', figure: `${perf}${dead ? ', container restarted/OOM-killed' : ''}; ${mem}` };
      if (f.errorPercent === 0 && f.latencyMs.p50 <= DECENT_P50_MS) return { verdict: row.level.vus >= 5000 ? 'refuted' : 'differs', figure: `held up: ${perf}; ${mem}${note}` };
      return { verdict: 'differs', figure: `degraded, did not fall over: ${perf}; ${mem}${note}` };
    }
  }
}

/** What limited the row, read from the evidence (not from the model's name). */
export function observedBottleneck(row: Row, hostCores: number, modelCpus: number | null): string {
  const r = row.resources;
  const f = row.figures;
  if (r.oomKills > 0) return 'memory (OOM kill)';
  if (r.restarts > 0) return 'the container restarted';
  if (r.dbRefusals > 0) return 'Postgres connection limit';
  const cpuLimit = modelCpus ?? hostCores;
  if (r.cpuCoresPeak !== null && r.cpuCoresAvg !== null && r.cpuCoresAvg >= 0.9 * cpuLimit) return `model CPU (${r.cpuCoresAvg.toFixed(2)} of ${cpuLimit} cores)`;
  const slow = f.latencyMs.p50 > HANDLES_P50_MS;
  // Every model runs one statement per request on its own connection, so its database
  // connections (pool x pools, or workers x 1) are its in-flight cap.
  if (slow && r.inFlightPeak !== null && r.dbConnectionsMax !== null && r.inFlightPeak >= r.dbConnectionsMax) {
    return r.dbConnectionsMax === 1 ? 'one request at a time (single worker)' : `in flight at its cap (${r.dbConnectionsMax}): requests queue for a worker/connection`;
  }
  if (slow && r.dbConnectionsMax !== null && r.dbConnectionsPeak !== null && r.dbConnectionsPeak >= r.dbConnectionsMax) {
    return `database pool (${r.dbConnectionsPeak} of ${r.dbConnectionsMax} connections open)`;
  }
  if (f.connectionErrors > 0) return `connections refused or reset (${f.connectionErrors}): the model was not accepting`;
  if (f.timeoutPercent > 0) return `timeouts (${fmtPct(f.timeoutPercent)})`;
  if (f.unavailable503 > 0) return `503s (${f.unavailable503}): no database connection within the wait`;
  if (r.hostBusyPercent !== null && r.hostBusyPercent >= 97) return `host CPU (${r.hostBusyPercent.toFixed(0)}% busy, shared with k6 and Postgres)`;
  if (slow) return `latency ${fmtMs(f.latencyMs.p50)} p50 with CPU ${r.cpuCoresAvg?.toFixed(2) ?? 'n/a'} cores`;
  return 'none observed (requests at the 50 ms floor)';
}
