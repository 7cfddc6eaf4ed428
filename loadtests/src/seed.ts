// The seed's table as models.json holds it (each model's `seed`), and how a measured row is held against it.
import { MODELS, modelSpec, type ModelName, type SeedClaim } from './models.ts';
import type { Judged, Row } from './row.ts';

export type { Behaviour, SeedClaim } from './models.ts';

const MB = 1e6;

/** The seed claim every model is judged against, keyed by model name (from models.json). */
export const SEED: Readonly<Record<ModelName, SeedClaim>> = Object.fromEntries(MODELS.map((m) => [m.name, m.seed]));

export function seedClaim(model: ModelName): SeedClaim {
  return modelSpec(model).seed;
}

/** Only when neither the row nor the environment says what DB_DELAY_MS the model ran with. */
export const FALLBACK_DB_DELAY_MS = 50;

/** Where the delay may be recorded: the row (/model at the level), else the run's environment (its containers' /model). */
export interface DelaySource {
  dbDelayMs?: number | null;
  containers?: Record<string, unknown>;
}

function delayOfContainer(env: DelaySource | undefined, model: string): number | null {
  const c = env?.containers?.[model] as { db?: { delayMs?: unknown } } | undefined;
  return typeof c?.db?.delayMs === 'number' ? c.db.delayMs : null;
}

/** The database time of one request in ms, the floor under every latency: as the model reported it, 50 only as a fallback. */
export function floorMs(row: Pick<Row, 'model' | 'dbDelayMs'> | undefined, env?: DelaySource): number {
  const candidates = [row?.dbDelayMs, row === undefined ? null : delayOfContainer(env, row.model), env?.dbDelayMs];
  const found = candidates.find((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
  return found ?? FALLBACK_DB_DELAY_MS;
}

/** "Handles" a level: no failed request and the median within 10% of the floor (50 ms). */
const handlesP50Ms = (floor: number) => floor * 1.1;
/** "Decent": under 1% errors and the median within 2x the floor. */
const decentP50Ms = (floor: number) => floor * 2;
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

/** The level's extra fields (the runner's open-model probe beside idle holders); absent in old rows. */
export interface HeldLevel {
  vus: number;
  /** Client-side total of connections held (probe VUs + idle holders). */
  connections?: number | null;
  /** Idle holder VUs beside an open-model probe. */
  holdConnections?: number | null;
}

/** Connections the client held at the level: the runner's total where it records one, else one per VU. */
export function connectionsHeld(row: { level: unknown }): number {
  const level = row.level as HeldLevel;
  if (typeof level.connections === 'number') return level.connections;
  return level.vus + (typeof level.holdConnections === 'number' ? level.holdConnections : 0);
}

function scaleNote(row: Row): string {
  const held = connectionsHeld(row);
  return held < 5000 ? ` (at ${held} connections, not 5,000)` : '';
}

/** Holds one row against the seed's claim for its model: confirmed, refuted or differs, with the figure. */
export function verdictFor(row: Row, env?: DelaySource): Judged['verdict'] {
  const claim = seedClaim(row.model);
  const floor = floorMs(row, env);
  const HANDLES_P50_MS = handlesP50Ms(floor);
  const DECENT_P50_MS = decentP50Ms(floor);
  const f = row.figures;
  const dead = row.resources.restarts > 0 || row.resources.oomKills > 0;
  const perf = `p50 ${fmtMs(f.latencyMs.p50)}, errors ${fmtPct(f.errorPercent)}, ${f.successesPerSecond.toFixed(0)} ok/s`;
  const mem = memoryFigure(row, claim);
  const b = claim.behaviour;
  const note = scaleNote(row);
  switch (b.kind) {
    case 'handles-all': {
      if (f.errorPercent === 0 && !dead && f.latencyMs.p50 <= HANDLES_P50_MS)
        return { verdict: 'confirmed', figure: `${perf}; ${mem}${note}` };
      if (f.errorPercent >= FALLS_OVER_ERROR_PERCENT || dead)
        return { verdict: 'refuted', figure: `${perf}${dead ? ', container restarted/OOM-killed' : ''}; ${mem}${note}` };
      return { verdict: 'differs', figure: `${perf} (claim: every request at the floor); ${mem}${note}` };
    }
    case 'capped': {
      const capRate = b.inFlight / (floor / 1000);
      const peak = row.resources.inFlightPeak;
      const over = peak !== null && peak > b.inFlight;
      const saturated = row.offeredRate >= capRate;
      const capFigure = `in flight peak ${peak ?? 'n/a'} (cap ${b.inFlight}), ${f.successesPerSecond.toFixed(0)} ok/s of ${capRate.toFixed(0)} max`;
      if (over) return { verdict: 'refuted', figure: `${capFigure}; ${perf}; ${mem}` };
      if (saturated && f.successesPerSecond >= 0.95 * capRate) return { verdict: 'confirmed', figure: `${capFigure}; ${mem}` };
      if (!saturated)
        return {
          verdict: 'differs',
          figure: `offered ${row.offeredRate.toFixed(0)}/s is below the cap's ${capRate.toFixed(0)}/s: ${capFigure}; ${mem}`,
        };
      // A worker that serves one connection at a time keeps it for its keep-alive: VUs beyond
      // the cap wait for a worker to free up rather than for a request slot.
      const pinned = f.timeoutPercent > 0 ? `, ${fmtPct(f.timeoutPercent)} timed out waiting for a worker` : '';
      return { verdict: 'differs', figure: `${capFigure}, below 95% of the cap${pinned}; ${perf}; ${mem}` };
    }
    case 'decent-until': {
      const decent = f.errorPercent < 1 && !dead && f.latencyMs.p50 <= DECENT_P50_MS;
      const within = connectionsHeld(row) <= b.connections;
      if (within)
        return {
          verdict: decent ? 'confirmed' : 'refuted',
          figure: `${perf}${decent ? '' : ` (claim: decent up to ${b.connections})`}; ${mem}${note}`,
        };
      return {
        verdict: decent ? 'refuted' : 'confirmed',
        figure: `${perf}${decent ? ` (claim: degrades past ${b.connections})` : ''}; ${mem}`,
      };
    }
    case 'falls-over': {
      if (f.errorPercent >= FALLS_OVER_ERROR_PERCENT || dead)
        return { verdict: 'confirmed', figure: `${perf}${dead ? ', container restarted/OOM-killed' : ''}; ${mem}` };
      if (f.errorPercent === 0 && f.latencyMs.p50 <= DECENT_P50_MS)
        return { verdict: connectionsHeld(row) >= 5000 ? 'refuted' : 'differs', figure: `held up: ${perf}; ${mem}${note}` };
      return { verdict: 'differs', figure: `degraded, did not fall over: ${perf}; ${mem}${note}` };
    }
  }
}

/** What limited the row, read from the evidence (not from the model's name). */
export function observedBottleneck(row: Row, hostCores: number, modelCpus: number | null, env?: DelaySource): string {
  const r = row.resources;
  const HANDLES_P50_MS = handlesP50Ms(floorMs(row, env));
  const f = row.figures;
  if (r.oomKills > 0) return 'memory (OOM kill)';
  if (r.restarts > 0) return 'the container restarted';
  if (r.dbRefusals > 0) return 'Postgres connection limit';
  const cpuLimit = modelCpus ?? hostCores;
  if (r.cpuCoresPeak !== null && r.cpuCoresAvg !== null && r.cpuCoresAvg >= 0.9 * cpuLimit)
    return `model CPU (${r.cpuCoresAvg.toFixed(2)} of ${cpuLimit} cores)`;
  const slow = f.latencyMs.p50 > HANDLES_P50_MS;
  // Every model runs one statement per request on its own connection, so its database
  // connections (pool x pools, or workers x 1) are its in-flight cap.
  if (slow && r.inFlightPeak !== null && r.dbConnectionsMax !== null && r.inFlightPeak >= r.dbConnectionsMax) {
    return r.dbConnectionsMax === 1
      ? 'one request at a time (single worker)'
      : `in flight at its cap (${r.dbConnectionsMax}): requests queue for a worker/connection`;
  }
  if (slow && r.dbConnectionsMax !== null && r.dbConnectionsPeak !== null && r.dbConnectionsPeak >= r.dbConnectionsMax) {
    return `database pool (${r.dbConnectionsPeak} of ${r.dbConnectionsMax} connections open)`;
  }
  if (f.connectionErrors > 0) return `connections refused or reset (${f.connectionErrors}): the model was not accepting`;
  if (f.timeoutPercent > 0) return `timeouts (${fmtPct(f.timeoutPercent)})`;
  if (f.unavailable503 > 0) return `503s (${f.unavailable503}): no database connection within the wait`;
  if (r.hostBusyPercent !== null && r.hostBusyPercent >= 97)
    return `host CPU (${r.hostBusyPercent.toFixed(0)}% busy, shared with k6 and Postgres)`;
  if (slow) return `latency ${fmtMs(f.latencyMs.p50)} p50 with CPU ${r.cpuCoresAvg?.toFixed(2) ?? 'n/a'} cores`;
  return `none observed (requests at the ${floorMs(row, env)} ms floor)`;
}
