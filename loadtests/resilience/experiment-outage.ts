// The database stopped for 10 s while every model is under load, direct and through nginx.
import type { ModelName } from '../src/models.ts';
import {
  TARGETS,
  boundedUnits,
  closeTargets,
  floorSeconds,
  maxConnectionsOf,
  sleep,
  targetName,
  targetUrl,
  timelineK6,
  vusPerTarget,
  type Context,
} from './context.ts';
import { evidenceOf, stateOf, statesOf, type State } from './fleet.ts';
import { figures, recovery, windowOf, type RequestRecord, type WindowFigures } from './timeline.ts';
import { leakVerdict, outageVerdict, type Target } from './verdicts.ts';

export const OUTAGE = { beforeS: 8, downS: 10, afterS: 25, thinkS: 0.5, timeoutS: 5 };

export interface OutageTargetRow {
  model: ModelName;
  target: Target;
  vus: number;
  before: WindowFigures;
  during: WindowFigures;
  after: WindowFigures;
  firstOkMs: number | null;
  allOkMs: number | null;
  verdict: string;
}

export interface OutageResult {
  stopBeganAt: number;
  stoppedAt: number;
  startedAt: number;
  dbReadyMs: number | null;
  rows: OutageTargetRow[];
  models: {
    model: ModelName;
    restarted: boolean;
    before: State;
    after: State;
    connectionsAfter: number | null;
    maxConnections: number | null;
    leak: string;
  }[];
  proxy: { before: State; after: State };
  k6: { exitCode: number; stderrTail: string };
  records: RequestRecord[];
}

export async function runOutage(ctx: Context, baseVus: number): Promise<OutageResult> {
  const { docker, fleet, models } = ctx;
  const targets = models.flatMap((m) => TARGETS.map((t) => ({ model: m, target: t })));
  const vus = new Map(
    models.map((m) => [m, vusPerTarget(baseVus, boundedUnits(m, ctx.evidence[m]), OUTAGE.thinkS, 2, floorSeconds(ctx.evidence[m]))]),
  );
  const modelStates = await statesOf(
    docker,
    models.map((m) => fleet.models[m]!),
  );
  const proxyBefore = await stateOf(docker, fleet.proxy);
  const durationS = OUTAGE.beforeS + OUTAGE.downS + OUTAGE.afterS;
  ctx.log(
    `db outage: ${targets.length} targets (${models.map((m) => `${m} ${vus.get(m)} VUs`).join(', ')} per target, think ${OUTAGE.thinkS}s), ${OUTAGE.beforeS}s load, db stopped ${OUTAGE.downS}s, ${OUTAGE.afterS}s after (~${durationS + 10}s)`,
  );
  // Every target is a scenario of one k6; the VU count is one per k6, so one k6 per distinct count, side by side.
  const groups = new Map<number, string[]>();
  for (const t of targets) {
    const v = vus.get(t.model)!;
    groups.set(v, [...(groups.get(v) ?? []), `${targetName(t.model, t.target)}=${targetUrl(t.model, t.target)}`]);
  }
  const k6Runs = Promise.all(
    [...groups.entries()].map(([v, list]) =>
      timelineK6(
        ctx,
        {
          TARGETS: list.join(','),
          EXECUTOR: 'constant-vus',
          VUS: String(v),
          THINK_TIME_S: String(OUTAGE.thinkS),
          CLOSE_TARGETS: closeTargets(models),
        },
        durationS,
        OUTAGE.timeoutS,
      ),
    ),
  );
  await sleep(OUTAGE.beforeS * 1000 + 2000); // k6 needs a moment to start
  const db = docker.getContainer(fleet.db.id);
  const stopBeganAt = Date.now();
  ctx.log('db outage: docker stop db');
  await db.stop({ t: 10 });
  const stoppedAt = Date.now();
  await sleep(OUTAGE.downS * 1000 - (stoppedAt - stopBeganAt));
  ctx.log('db outage: docker start db');
  const startedAt = Date.now();
  await db.start();
  let dbReadyMs: number | null = null;
  while (Date.now() - startedAt < 60_000) {
    if (
      await ctx.db.settings().then(
        () => true,
        () => false,
      )
    ) {
      dbReadyMs = Date.now() - startedAt;
      break;
    }
    await sleep(250);
  }
  ctx.log(`db outage: database answers again ${dbReadyMs ?? 'never (60 s)'} ms after docker start; load continues`);
  const runs = await k6Runs;
  const records = runs.flatMap((r) => r.records);
  await sleep(3000); // idle pools: what is still open now is what the model keeps
  // The bound comes from /model read just before and just after the count: a model with a
  // connection per unit (forking) may rightly hold more now than when idle, one per child
  // still alive (nginx keeps idle upstream connections, each with its child, for 4 s).
  const boundNow = async () =>
    new Map(await Promise.all(models.map(async (m) => [m, maxConnectionsOf(await evidenceOf(m, 5000))] as const)));
  const boundBefore = await boundNow();
  const connections = await ctx.db.connectionsByApplication().catch(() => null);
  const boundAfter = await boundNow();
  const rows = targets.map(({ model, target }): OutageTargetRow => {
    const name = targetName(model, target);
    const during = figures(windowOf(records, name, stopBeganAt, startedAt));
    const rec = recovery(records, name, startedAt);
    return {
      model,
      target,
      vus: vus.get(model)!,
      before: figures(windowOf(records, name, 0, stopBeganAt)),
      during,
      after: figures(windowOf(records, name, startedAt, Number.MAX_SAFE_INTEGER)),
      firstOkMs: rec.firstOkMs,
      allOkMs: rec.allOkMs,
      verdict: outageVerdict(during),
    };
  });
  const afterStates = await statesOf(
    docker,
    models.map((m) => fleet.models[m]!),
  );
  return {
    stopBeganAt,
    stoppedAt,
    startedAt,
    dbReadyMs,
    rows,
    models: models.map((model) => {
      const e = ctx.evidence[model];
      const bounds = [maxConnectionsOf(e), boundBefore.get(model), boundAfter.get(model)].filter((b): b is number => typeof b === 'number');
      const max = bounds.length === 0 ? null : Math.max(...bounds);
      const after = connections === null ? null : (connections[e?.model ?? model] ?? 0);
      const b = modelStates[model]!;
      const a = afterStates[model]!;
      return {
        model,
        restarted: a.restartCount !== b.restartCount || a.startedAt !== b.startedAt,
        before: b,
        after: a,
        connectionsAfter: after,
        maxConnections: max,
        leak: leakVerdict(after, max),
      };
    }),
    proxy: { before: proxyBefore, after: await stateOf(docker, fleet.proxy) },
    k6: { exitCode: Math.max(...runs.map((r) => r.exitCode)), stderrTail: runs.map((r) => r.stderrTail).join('\n') },
    records,
  };
}
