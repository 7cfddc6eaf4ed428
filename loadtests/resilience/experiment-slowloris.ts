// Slowloris: for each model and target, a sweep of slow connections (1, the pool, twice the pool,
// 1,000) trickling headers while one normal request must still be answered.
import { assertProxyRoutes } from '../src/proxy-routes.ts';
import type { ModelName } from '../src/models.ts';
import { ContainerPeaks, TARGETS, oomKillsBetween, others, unitsStarted, type Context } from './context.ts';
import { NeighbourProber, allContainers, directUrl, evidenceOf, proxyUrl, stateOf, statesOf, waitFor200 } from './fleet.ts';
import { slowloris, type SlowlorisResult } from './slowloris.ts';
import {
  againstExpectation,
  isolationVerdict,
  slowlorisExpectation,
  slowlorisSweep,
  type NeighbourCheck,
  type SlowlorisVerdict,
  type Target,
} from './verdicts.ts';

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
    return TARGETS.flatMap((target) =>
      slowlorisSweep(poolSize, SLOWLORIS.top).map((connections) => ({ model, target, connections, poolSize })),
    );
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
      target: target === 'proxy' ? proxyUrl(model) : directUrl(model),
      connections,
      holdMs: SLOWLORIS.holdMs,
      trickleEveryMs: SLOWLORIS.trickleEveryMs,
      probeAfterMs: SLOWLORIS.probeAfterMs,
      probeTimeoutMs: SLOWLORIS.probeTimeoutMs,
    });
    peaks.stop();
    const checks = await prober.finish(ctx.docker, allContainers(ctx.fleet), before);
    const recoveredMs = await waitFor200(`${directUrl(model)}/healthz`, 60_000);
    const after = await stateOf(ctx.docker, container);
    const evidenceAfter = await evidenceOf(model, 3000);
    const expected = slowlorisExpectation(model, target, connections, poolSize);
    const row: SlowlorisRow = {
      model,
      target,
      connections,
      poolSize,
      result,
      expected,
      against: againstExpectation(expected, result.verdict),
      peaks: { memoryBytes: peaks.memoryBytes, pids: peaks.pids, unitsStarted: unitsStarted(evidenceBefore, evidenceAfter) },
      restarts: Math.max(after.restartCount - before[model]!.restartCount, after.startedAt !== before[model]!.startedAt ? 1 : 0),
      oomKills: oomKillsBetween(evidenceBefore, evidenceAfter, before[model]!, after),
      recoveredMs,
      neighbours: checks,
      isolation: isolationVerdict(checks),
    };
    rows.push(row);
    onRow(row);
  }
  return rows;
}
