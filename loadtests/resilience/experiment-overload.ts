// Each model alone, direct, driven at twice its knee as an open arrival rate.
import { StatsStream } from '../src/docker.ts';
import type { ModelName } from '../src/models.ts';
import { ContainerPeaks, closeTargets, oomKillsBetween, others, targetUrl, timelineK6, unitsStarted, type Context } from './context.ts';
import { NeighbourProber, allContainers, directUrl, evidenceOf, stateOf, statesOf, waitFor200 } from './fleet.ts';
import { figures, type WindowFigures } from './timeline.ts';
import { isolationVerdict, overloadRate, overloadVerdict, type Knee, type NeighbourCheck } from './verdicts.ts';

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

export async function runOverload(
  ctx: Context,
  knees: Record<string, Knee>,
  maxRate: number,
  onRow: (row: OverloadRow) => void,
): Promise<OverloadRow[]> {
  const rows: OverloadRow[] = [];
  for (const [i, model] of ctx.models.entries()) {
    const container = ctx.fleet.models[model]!;
    const knee = knees[model]!;
    const { rate, capped } = overloadRate(knee, maxRate);
    const maxVus = Math.min(OVERLOAD.maxVus, Math.max(10, rate * OVERLOAD.timeoutS));
    await waitFor200(`${directUrl(model)}/healthz`, 30_000);
    ctx.log(
      `[${i + 1}/${ctx.models.length}] overload ${model}: knee ${knee.rate.toFixed(0)}/s (${knee.source}) -> ${rate}/s${capped ? ' (capped)' : ''} for ${OVERLOAD.durationS}s, up to ${maxVus} VUs`,
    );
    const before = await statesOf(ctx.docker, allContainers(ctx.fleet));
    const evidenceBefore = await evidenceOf(model, 3000);
    const prober = new NeighbourProber(others(ctx.fleet, [model]), ctx.db);
    const peaks = new ContainerPeaks(ctx.docker, container);
    const stats = await StatsStream.open(ctx.docker, container.id);
    const run = await timelineK6(
      ctx,
      {
        TARGETS: `${model}=${targetUrl(model, 'direct')}`,
        EXECUTOR: 'constant-arrival-rate',
        RATE: String(rate),
        CLOSE_TARGETS: closeTargets([model]),
        VUS: String(Math.min(maxVus, Math.max(10, Math.ceil(rate * 0.2)))),
        MAX_VUS: String(maxVus),
      },
      OVERLOAD.durationS,
      OVERLOAD.timeoutS,
    ).finally(() => {
      peaks.stop();
      stats.stop();
    });
    const checks = await prober.finish(ctx.docker, allContainers(ctx.fleet), before);
    const recoveredMs = await waitFor200(`${directUrl(model)}/healthz`, 60_000);
    const after = await stateOf(ctx.docker, container);
    const evidenceAfter = await evidenceOf(model, 3000);
    const f = figures(run.records);
    const restarts = Math.max(after.restartCount - before[model]!.restartCount, after.startedAt !== before[model]!.startedAt ? 1 : 0);
    const oomKills = oomKillsBetween(evidenceBefore, evidenceAfter, before[model]!, after);
    const dropped = /dropped_iterations[^\n]*?(\d+)/.exec(run.summary);
    const row: OverloadRow = {
      model,
      knee,
      rate,
      capped,
      figures: f,
      droppedNote: dropped === null ? '' : `k6 dropped iterations (no free VU): see raw`,
      peakMemoryBytes: stats.samples.length === 0 ? null : Math.max(...stats.samples.map((s) => s.memoryBytes)),
      memoryLimitBytes: evidenceBefore?.cgroup.memoryLimitBytes ?? null,
      unitsStarted: unitsStarted(evidenceBefore, evidenceAfter),
      pidsPeak: peaks.pids,
      restarts,
      oomKills,
      recoveredMs,
      neighbours: checks,
      isolation: isolationVerdict(checks),
      verdict: overloadVerdict(f, restarts, oomKills, rate, OVERLOAD.durationS),
    };
    rows.push(row);
    onRow(row);
  }
  return rows;
}
