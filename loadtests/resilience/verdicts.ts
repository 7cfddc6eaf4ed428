// What each failure-mode run means: the seed's expectation beside what happened, the knee a
// model is overloaded from, and the verdict words the report uses. Pure: tested without Docker.
import { MODELS, modelSpec, type ModelSpec } from '../src/models.ts';
import { FALLBACK_DB_DELAY_MS } from '../src/seed.ts';
import type { WindowFigures } from './timeline.ts';

export type Target = 'direct' | 'proxy';
export type SlowlorisVerdict = 'survived' | 'degraded' | 'down';

/** The slow-connection counts for one model: 1, its pool, twice its pool, 1,000; deduplicated, ascending. */
export function slowlorisSweep(poolSize: number | null, top = 1000): number[] {
  const pool = poolSize !== null && poolSize > 0 ? poolSize : null;
  const counts = pool === null ? [1, top] : [1, pool, 2 * pool, top];
  return [...new Set(counts)].sort((a, b) => a - b);
}

const specOf = (model: string): ModelSpec | undefined => MODELS.find((m) => m.name === model);

/**
 * The seeds' expectation, from each model's entry in models.json: a bounded pool of blocking
 * workers (prefork, and blocking = prefork with one worker) falls once the slow connections fill
 * the pool, but not behind nginx, which buffers whole requests; a model that multiplexes
 * connections on event loops or goroutines keeps serving (its header timeout ends the slow
 * connections). Thread- and process-per-connection: no claim, the run says what they do.
 */
export function slowlorisExpectation(model: string, target: Target, connections: number, poolSize: number | null): SlowlorisVerdict | null {
  const spec = specOf(model);
  if (spec === undefined || spec.perConnection) return null;
  if (target === 'proxy') return 'survived';
  if (spec.bounded !== null) return poolSize === null ? null : connections >= poolSize ? 'down' : 'survived';
  if (spec.unit === 'loop' || spec.unit === 'goroutine') return 'survived';
  return null;
}

export function againstExpectation(expected: SlowlorisVerdict | null, observed: SlowlorisVerdict): 'confirmed' | 'refuted' | 'observed' {
  if (expected === null) return 'observed';
  // "degraded" (served, but slower than a second) is still serving: it refutes only "down".
  const served = (v: SlowlorisVerdict) => v !== 'down';
  return served(expected) === served(observed) ? 'confirmed' : 'refuted';
}

/** A make-load row, reduced to what the knee needs (results/<run>/rows.json). */
export interface LoadRowLike {
  model: string;
  level: { target: string; vus: number; name: string };
  offeredRate: number;
  figures: { successesPerSecond: number; errorPercent: number };
  /** The load report's validity verdict: an invalid row (k6 starved of CPU, queries ≠ successes, ...) says nothing about the knee. */
  validity?: { valid: boolean };
}

export interface Knee {
  /** Requests per second the model sustained before falling behind (a lower bound when not reached). */
  rate: number;
  /** false: every level of that run kept up, so the real knee is higher than `rate`. */
  reached: boolean;
  source: string;
}

/** A level keeps up when it served ≥ 90% of what was offered with < 1% errors. */
export function keptUp(row: LoadRowLike): boolean {
  return row.figures.errorPercent < 1 && row.figures.successesPerSecond >= 0.9 * row.offeredRate;
}

/** The knee of `model` from a make-load run's valid direct rows, or null when the run has none usable. */
export function kneeFromRows(rows: LoadRowLike[], model: string, source: string): Knee | null {
  const mine = rows
    .filter((r) => r.model === model && r.level.target === 'direct' && r.validity?.valid !== false && r.figures.successesPerSecond > 0)
    .sort((a, b) => a.offeredRate - b.offeredRate);
  if (mine.length === 0) return null;
  const firstBehind = mine.findIndex((r) => !keptUp(r));
  if (firstBehind === -1) {
    const top = mine.at(-1)!;
    return { rate: top.figures.successesPerSecond, reached: false, source: `${source}: kept up at every level, top ${top.level.name}` };
  }
  // The most it served: at or past the knee.
  const best = mine.reduce((a, b) => (b.figures.successesPerSecond > a.figures.successesPerSecond ? b : a));
  return {
    rate: best.figures.successesPerSecond,
    reached: true,
    source: `${source}: fell behind at ${mine[firstBehind]!.level.name}, most served at ${best.level.name}`,
  };
}

/**
 * Without a make-load run: the pool arithmetic (units or DB connections, each busy 50 ms per
 * request), capped by what this host can drive at all.
 */
export function kneeEstimate(slots: number | null, hostCap: number, floorMs = FALLBACK_DB_DELAY_MS): Knee {
  const arithmetic = slots !== null && slots > 0 ? slots / (floorMs / 1000) : null;
  if (arithmetic !== null && arithmetic <= hostCap)
    return { rate: arithmetic, reached: true, source: `estimate: ${slots} slots / ${floorMs} ms` };
  return {
    rate: hostCap,
    reached: false,
    source: `estimate: ${arithmetic === null ? 'unbounded' : `${slots} slots / ${floorMs} ms = ${arithmetic.toFixed(0)}/s`}, capped at what this host can drive (${hostCap}/s)`,
  };
}

/**
 * How many requests the model can have at its database at once: its workers for a bounded pool
 * (prefork, the blocking baseline: one request each), its children for a process per connection
 * (forking: MAX_PROCS; null: unbounded), its DB pools for the rest (event loop, goroutines, M:N,
 * threaded: their units are not one request each). Which is which comes from models.json.
 */
export function requestSlots(
  model: string,
  e: { units: { limit: number | null }; db: { maxConnections?: number; poolMaxPerUnit: number; pools: number } },
): number | null {
  const spec = modelSpec(model);
  if (spec.bounded !== null || (spec.perConnection && spec.unit === 'process')) return e.units.limit;
  return e.db.maxConnections ?? e.db.poolMaxPerUnit * e.db.pools;
}

/** Twice the knee, rounded, but never more than the host can offer. */
export function overloadRate(knee: Knee, maxRate: number): { rate: number; capped: boolean } {
  const twice = Math.max(2, Math.round(2 * knee.rate));
  return twice > maxRate ? { rate: maxRate, capped: true } : { rate: twice, capped: false };
}

/** Failures answered within this are "fast" (the services promise a 503 within 1 s with the database down). */
export const FAST_FAILURE_MS = 1000;

/** During a database outage: fast 503s, slow ones, or hangs. */
export function outageVerdict(during: WindowFigures): string {
  if (during.requests === 0) return 'no requests during the outage';
  if (during.failed === 0) return 'no failures';
  if (during.timeouts > 0) return `hangs: ${during.timeouts} timed out`;
  const p99 = during.failureMs.p99 ?? 0;
  const others = Object.keys(during.outcomes).filter((o) => o !== '200' && o !== '503');
  const kind = others.length === 0 ? '503s' : `errors (${others.join(', ')} besides 503)`;
  return p99 <= FAST_FAILURE_MS ? `fast ${kind}` : `slow ${kind} (p99 ${p99} ms)`;
}

/** Connections left after the outage against the model's own maximum. */
export function leakVerdict(after: number | null, max: number | null): string {
  if (after === null) return 'unknown (pg_stat_activity not read)';
  if (max === null) return `${after} (no maximum known)`;
  return after <= max ? 'no leak' : `LEAK: ${after} > ${max}`;
}

/** docker stop during load: what requests in flight and requests after the stop got. */
export function shutdownVerdict(inFlight: WindowFigures, afterStop: WindowFigures): string {
  const parts: string[] = [];
  parts.push(
    inFlight.requests === 0
      ? 'none in flight'
      : inFlight.failed === 0
        ? `${inFlight.ok}/${inFlight.requests} in flight completed`
        : `${inFlight.failed}/${inFlight.requests} in flight FAILED`,
  );
  if (afterStop.timeouts > 0) parts.push(`${afterStop.timeouts} hung until the client timeout`);
  else if (afterStop.failed > 0 && (afterStop.failureMs.max ?? 0) <= FAST_FAILURE_MS)
    parts.push(`new requests refused at once (max ${afterStop.failureMs.max} ms)`);
  else if (afterStop.failed > 0)
    parts.push(`new requests refused, none hung (p50 ${afterStop.failureMs.p50} ms, max ${afterStop.failureMs.max} ms)`);
  else if (afterStop.requests > 0 && (afterStop.okMs.max ?? 0) > FAST_FAILURE_MS) {
    // A stopped container's address answers nothing (no RST): connects wait and retry the SYN
    // until the container is back, so these requests were served late, not refused.
    parts.push(`no new request failed: they waited up to ${afterStop.okMs.max} ms for the container to come back`);
  } else parts.push('no new request failed');
  return parts.join('; ');
}

/** What an overloaded model did, in the order that matters most. */
export function overloadVerdict(f: WindowFigures, restarts: number, oomKills: number, offered: number, durationS: number): string {
  const parts: string[] = [];
  if (oomKills > 0) parts.push(`OOM-killed ${oomKills}×`);
  if (restarts > 0) parts.push(`restarted ${restarts}×`);
  const shed = f.outcomes['503'] ?? 0;
  if (shed > 0) parts.push(`shed ${shed} with 503`);
  if (f.timeouts > 0) parts.push(`${f.timeouts} timed out`);
  const others = Object.entries(f.outcomes).filter(([o]) => o !== '200' && o !== '503' && o !== 'timeout');
  for (const [o, n] of others) parts.push(`${n}× ${o}`);
  const servedRate = f.ok / durationS;
  if ((f.okMs.p50 ?? 0) > 500) parts.push(`queued (p50 ${f.okMs.p50} ms)`);
  if (parts.length === 0) return `kept up: ${servedRate.toFixed(0)}/s of ${offered}/s offered`;
  return `${parts.join(', ')}; served ${servedRate.toFixed(0)}/s of ${offered}/s offered`;
}

export interface NeighbourCheck {
  service: string;
  probes: number;
  failures: number;
  restarts: number;
  health: string;
}

/** The other containers during a failure: unharmed when every probe answered and none restarted or turned unhealthy. */
export function isolationVerdict(checks: NeighbourCheck[]): string {
  const harmed = checks.filter((c) => c.failures > 0 || c.restarts > 0 || (c.health !== 'healthy' && c.health !== 'running'));
  if (harmed.length === 0) return `unharmed (${checks.length} others, ${checks.reduce((s, c) => s + c.probes, 0)} probes answered)`;
  return `HARMED: ${harmed.map((c) => `${c.service} (${c.failures}/${c.probes} probes failed, ${c.restarts} restarts, ${c.health})`).join(', ')}`;
}
