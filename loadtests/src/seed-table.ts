// The seed's table rebuilt from a run: per model, the claim beside what the top level measured
// (5,000 held connections where the profile has that level), one verdict per cell. Read by the
// load report and by the README generator, so both say the same thing from the same rows.
import { cell, ms, num, pct } from './format.ts';
import { MODELS, modelSpec } from './models.ts';
import type { Judged } from './row.ts';
import { connectionsHeld, floorMs } from './seed.ts';
import { holdersRate, measuredOfferedRate } from './scenarios.ts';

export const SEED_CONNECTIONS = 5000;

/** A memory figure within this factor of the seed's claim confirms it; above, refutes; below, differs. */
const MEMORY_TOLERANCE = 1.5;

const MB = 1e6;
const mb = (bytes: number | null | undefined) =>
  bytes === null || bytes === undefined ? 'n/a' : `${Math.round(bytes / MB).toLocaleString('en-US')} MB`;
const kb = (bytes: number | null | undefined) =>
  bytes === null || bytes === undefined ? 'n/a' : bytes >= MB ? mb(bytes) : `${(bytes / 1e3).toFixed(1)} KB`;

/** "499 (500)", or "499 (500 + 133 holders)": the row's ok/s are the measured scenario's, beside what it offered. */
export function okOfOffered(r: Judged): string {
  const holders = holdersRate(r.level);
  const offered = `${measuredOfferedRate(r.level).toFixed(0)}${holders > 0 ? ` + ${holders.toFixed(0)} holders` : ''}`;
  return `${r.figures.successesPerSecond.toFixed(0)} (${offered})`;
}

/** The model's row at the most connections held, per target; models in models.json's order. */
export function topRowsByModel(rows: Judged[], target: 'direct' | 'proxy'): Judged[] {
  const best = new Map<string, Judged>();
  for (const r of rows) {
    if (r.level.target !== target) continue;
    const current = best.get(r.model);
    if (current === undefined || connectionsHeld(r) >= connectionsHeld(current)) best.set(r.model, r);
  }
  const order = (m: string) => {
    const i = MODELS.findIndex((s) => s.name === m);
    return i === -1 ? MODELS.length : i;
  };
  return [...best.values()].sort((a, b) => order(a.model) - order(b.model));
}

/** The highest peak memory over the rows shown (every level of the model, direct and through nginx). */
export function truePeakMemory(rows: Judged[], model: string): { bytes: number | null; where: string } {
  let bytes: number | null = null;
  let where = '';
  for (const r of rows) {
    const peak = r.resources.peakMemoryBytes;
    if (r.model !== model || peak === null || (bytes !== null && peak <= bytes)) continue;
    bytes = peak;
    where = `${connectionsHeld(r)}${r.level.target === 'proxy' ? ' via nginx' : ''}`;
  }
  return { bytes, where };
}

export function memoryVerdict(peakBytes: number | null, claimBytes: number): string {
  if (claimBytes === 0) return 'no claim';
  if (peakBytes === null) return 'not measured';
  const ratio = peakBytes / claimBytes;
  const times = `${ratio.toFixed(ratio < 10 ? 1 : 0)}x the claim`;
  if (ratio > MEMORY_TOLERANCE) return `refuted (${times})`;
  if (ratio < 1 / MEMORY_TOLERANCE) return `differs (${times})`;
  return `confirmed (${times})`;
}

/** "5,000 held (4,987 server-side)" or, for proxy rows, nginx's client connections too. */
export function heldCell(r: Judged): string {
  const parts = [`${num(connectionsHeld(r))} held by k6`];
  const server = r.resources.serverConnectionsPeak;
  parts.push(server === null || server === undefined ? 'server-side n/a' : `${num(server)} server-side`);
  if (r.level.target === 'proxy') {
    const proxy = r.resources.proxyConnectionsPeak;
    parts.push(proxy === null || proxy === undefined ? 'nginx n/a' : `${num(proxy)} at nginx`);
  }
  return parts.join(', ');
}

export function memoryCell(r: Judged): string {
  const res = r.resources;
  const unrecorded = (v: number | null | undefined) => v === null || v === undefined;
  if (unrecorded(res.memoryOverBaselineBytes) && unrecorded(res.memoryPerConnectionBytes))
    return `${mb(res.peakMemoryBytes)} (over idle and per connection: not recorded)`;
  return `${mb(res.peakMemoryBytes)} (over idle ${mb(res.memoryOverBaselineBytes)}, per connection ${kb(res.memoryPerConnectionBytes)})`;
}

export function dbBudgetCell(r: Judged): string {
  const res = r.resources;
  // The runner's figure where it recorded one; else Little's law on the offered rate and the floor.
  const needed = r.neededInFlight ?? (r.offeredRate * floorMs(r)) / 1000;
  return `pool ${num(res.dbConnectionsMax)}, in flight peak ${num(res.inFlightPeak)}, needed ${Math.ceil(needed).toLocaleString('en-US')} (${r.offeredRate.toFixed(0)}/s x ${floorMs(r)} ms)`;
}

export function failuresCell(r: Judged): string {
  const f = r.figures;
  const wasted = r.wastedQueries;
  return `${pct(f.errorPercent)}% / ${pct(f.timeoutPercent)}% (${num(f.timeouts)}) / ${wasted === null || wasted === undefined ? 'n/a' : num(wasted)}`;
}

const HEADER = [
  "| model | seed's claim | target | connections held | memory: peak (over idle, per connection) | memory vs claim | ok/s (offered) | p50 / p99 ms | errors % / timeouts % (n) / wasted queries | DB budget and in flight | bottleneck: observed; seed | at 5K vs claim | validity |",
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];

function line(r: Judged): string {
  const spec = modelSpec(r.model);
  const claim = spec.seed;
  const f = r.figures;
  return `| ${[
    `${spec.name}: ${spec.title}`,
    `${claim.row}: ${claim.memory}, ${claim.at5k}`,
    r.level.target === 'proxy' ? 'via nginx' : 'direct',
    heldCell(r),
    memoryCell(r),
    memoryVerdict(r.resources.peakMemoryBytes, claim.memoryBytes),
    okOfOffered(r),
    `${ms(f.latencyMs.p50)} / ${ms(f.latencyMs.p99)}`,
    failuresCell(r),
    dbBudgetCell(r),
    `${r.bottleneck}; seed: ${claim.bottleneck}`,
    `**${r.verdict.verdict}**`,
    r.validity.valid ? 'valid' : `**invalid**: ${r.validity.reasons.join('; ')}`,
  ]
    .map(cell)
    .join(' | ')} |`;
}

/** The table, direct rows then proxied ones, with a heading that says which level it comes from. */
export function renderSeedTable(rows: Judged[]): string[] {
  const direct = topRowsByModel(rows, 'direct');
  const proxy = topRowsByModel(rows, 'proxy');
  const held = [...new Set(direct.map(connectionsHeld))];
  const reached = held.length > 0 && held.every((h) => h >= SEED_CONNECTIONS);
  const scale = reached
    ? `from the ${num(SEED_CONNECTIONS)}-connection level`
    : `from the top level of this run (${held.map(num).join(' / ') || 'none'} connections held, **not ${num(SEED_CONNECTIONS)}**: this profile does not reach the seed's level)`;
  const byModel = new Map<string, Judged[]>();
  for (const r of [...direct, ...proxy]) byModel.set(r.model, [...(byModel.get(r.model) ?? []), r]);
  return [
    `The seed's table, rebuilt ${scale}. One verdict per cell: memory against the claimed figure (within ${MEMORY_TOLERANCE}x: confirmed), the behaviour at 5K by the runner's rule. "wasted queries": queries the database ran for requests the client had given up on. "needed": the in-flight count the offered rate needs at the floor (rate x DB delay).`,
    '',
    ...HEADER,
    ...[...byModel.values()].flat().map(line),
  ];
}
