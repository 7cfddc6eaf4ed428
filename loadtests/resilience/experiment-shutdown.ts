// `docker stop` of a model under load, direct and through nginx (clients on the published ports).
import { assertProxyRoutes } from '../src/proxy-routes.ts';
import type { ModelName } from '../src/models.ts';
import {
  TARGETS,
  boundedUnits,
  closeTargets,
  floorSeconds,
  others,
  sleep,
  targetName,
  timelineK6,
  vusPerTarget,
  type Context,
} from './context.ts';
import { NeighbourProber, allContainers, directUrl, loopbackUrl, stateOf, statesOf, waitFor200, waitHealthy } from './fleet.ts';
import { figures, recovery, windowOf, type RequestRecord, type WindowFigures } from './timeline.ts';
import { isolationVerdict, shutdownVerdict, type NeighbourCheck, type Target } from './verdicts.ts';

export const SHUTDOWN = { beforeS: 5, downS: 3, durationS: 30, thinkS: 0.2, timeoutS: 5, stopTimeoutS: 15 };

export interface ShutdownRow {
  model: ModelName;
  target: Target;
  vus: number;
  inFlight: WindowFigures;
  duringStop: WindowFigures;
  whileDown: WindowFigures;
  firstOkAfterStartMs: number | null;
  verdict: string;
}

export interface ShutdownResult {
  model: ModelName;
  stopMs: number;
  exitCode: number;
  oomKilled: boolean;
  healthyAfterStartMs: number | null;
  neighbours: NeighbourCheck[];
  isolation: string;
  rows: ShutdownRow[];
  records: RequestRecord[];
}

export async function runShutdown(ctx: Context, baseVus: number, onResult: (r: ShutdownResult) => void): Promise<ShutdownResult[]> {
  const results: ShutdownResult[] = [];
  for (const [i, model] of ctx.models.entries()) {
    const container = ctx.fleet.models[model]!;
    const vus = vusPerTarget(baseVus, boundedUnits(model, ctx.evidence[model]), SHUTDOWN.thinkS, 2, floorSeconds(ctx.evidence[model]));
    await waitFor200(`${directUrl(model)}/healthz`, 30_000);
    // This model's route only: a model stopped and started before may have taken another address,
    // and one still working off an earlier experiment (threaded, forking after overload) need not
    // hold up the others.
    await assertProxyRoutes([model]);
    ctx.log(
      `[${i + 1}/${ctx.models.length}] shutdown ${model}: ${vus} VUs direct + ${vus} through nginx, docker stop after ${SHUTDOWN.beforeS}s, start ${SHUTDOWN.downS}s later (k6 ${SHUTDOWN.durationS}s)`,
    );
    const before = await statesOf(ctx.docker, allContainers(ctx.fleet));
    // k6 in the host's network, through the published loopback ports, as a client of `make up`
    // reaches them. On the compose network a stopped container's address would simply stop
    // answering (no RST, and k6 keeps the resolved address), so every client there waits for
    // its own connect timeout whatever the model did: that measures the network, not the model.
    const loopback = {
      direct: `${await loopbackUrl(ctx.docker, container, 3000)}/db`,
      proxy: `${await loopbackUrl(ctx.docker, ctx.fleet.proxy, 8080)}/${model}/db`,
    };
    const prober = new NeighbourProber(others(ctx.fleet, [model]), ctx.db);
    const k6 = timelineK6(
      ctx,
      {
        TARGETS: TARGETS.map((t) => `${targetName(model, t)}=${loopback[t]}`).join(','),
        EXECUTOR: 'constant-vus',
        VUS: String(vus),
        THINK_TIME_S: String(SHUTDOWN.thinkS),
        CLOSE_TARGETS: closeTargets([model]),
      },
      SHUTDOWN.durationS,
      SHUTDOWN.timeoutS,
      'host',
    );
    await sleep(SHUTDOWN.beforeS * 1000 + 2000);
    const handle = ctx.docker.getContainer(container.id);
    const stopAt = Date.now();
    await handle.stop({ t: SHUTDOWN.stopTimeoutS }).catch(() => undefined);
    const stoppedAt = Date.now();
    const stopped = await stateOf(ctx.docker, container);
    await sleep(SHUTDOWN.downS * 1000);
    const startAt = Date.now();
    await handle.start();
    const healthyAfterStartMs = await waitHealthy(ctx.docker, container, 60_000);
    const run = await k6;
    const checks = await prober.finish(ctx.docker, allContainers(ctx.fleet), before);
    const rows = TARGETS.map((target): ShutdownRow => {
      const name = targetName(model, target);
      const mine = run.records.filter((r) => r.target === name);
      const inFlight = figures(mine.filter((r) => r.start < stopAt && r.start + r.ms > stopAt));
      const duringStop = figures(windowOf(mine, name, stopAt, stoppedAt));
      const whileDown = figures(windowOf(mine, name, stoppedAt, startAt));
      return {
        model,
        target,
        vus,
        inFlight,
        duringStop,
        whileDown,
        firstOkAfterStartMs: recovery(mine, name, startAt).firstOkMs,
        verdict: shutdownVerdict(inFlight, figures(windowOf(mine, name, stopAt, startAt))),
      };
    });
    const result: ShutdownResult = {
      model,
      stopMs: stoppedAt - stopAt,
      exitCode: stopped.exitCode,
      oomKilled: stopped.oomKilled,
      healthyAfterStartMs,
      neighbours: checks,
      isolation: isolationVerdict(checks),
      rows,
      records: run.records,
    };
    results.push(result);
    onResult(result);
  }
  return results;
}
