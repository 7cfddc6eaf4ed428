// The order of one load run as data: what the runner does for each model, so a test can read it.
// Every level starts fresh (issue 15): the model's container is restarted, the runner waits
// until it is healthy and idle and records its idle memory, then measures. Restarting only
// before a model's sweep was not enough: each level then began with the heap the level
// before it grew (measured on the 2-core host: the event loop's 5,000 level via nginx began
// at 166-232 MB, its idle baseline being 59 MB), so a row's memory depended on what ran
// before it. After a restart the proxy's routes are checked again before a level through nginx.
import type { Level, ModelName } from './scenarios.ts';

export type Step =
  | { kind: 'restart'; model: ModelName }
  | { kind: 'baseline'; model: ModelName }
  | { kind: 'check-proxy-routes'; model: ModelName }
  | { kind: 'level'; model: ModelName; level: Level; index: number; total: number };

export function planRun(models: readonly ModelName[], levels: readonly Level[], options: { restart: boolean } = { restart: true }): Step[] {
  const steps: Step[] = [];
  const total = models.length * levels.length;
  let index = 0;
  for (const model of models) {
    // Without restarts (RESTART=0) the baseline is still the model idle before its sweep.
    if (!options.restart) steps.push({ kind: 'baseline', model });
    let routesChecked = false;
    for (const level of levels) {
      if (options.restart) steps.push({ kind: 'restart', model }, { kind: 'baseline', model });
      if (level.target === 'proxy' && (options.restart || !routesChecked)) {
        steps.push({ kind: 'check-proxy-routes', model });
        routesChecked = true;
      }
      index += 1;
      steps.push({ kind: 'level', model, level, index, total });
    }
  }
  return steps;
}

/**
 * ISOLATE=auto|on|off: auto pins when the host has fewer than 4 cores (issue 16.6: a model
 * burning its CPU must not starve k6 and Postgres). Measured once both ways, eventloop, the
 * `check` profile, on the 2-core build host while other work kept its load average at 50-60
 * (so neither figure describes a quiet host): 100 VUs with the model on core 1 and k6/Postgres/
 * nginx on core 0: 7 ok/s, p50 1,106 ms, 79.6% errors; the model still on core 1 (a pin the
 * first, interrupted run left behind) and k6/Postgres/nginx on both cores: 37 ok/s, p50 287 ms,
 * 7.8% errors. On a host busy with other work, one core is too little for Postgres and k6
 * together; the default stays as the issue asks until a quiet-host comparison with a
 * saturating model (threaded, forking) is made.
 */
export interface Cpusets {
  /** The model under test. */
  model: string;
  /** k6, Postgres and nginx. */
  measurement: string;
  /** Every core: what a pin is lifted to. */
  all: string;
}

export function isolationFor(setting: string | undefined, hostCores: number): { cpusets: Cpusets | null; why: string } {
  const all = hostCores > 1 ? `0-${hostCores - 1}` : '0';
  const mode = (setting ?? 'auto').trim() || 'auto';
  if (mode !== 'auto' && mode !== 'on' && mode !== 'off') throw new Error(`ISOLATE must be auto, on or off (got "${mode}")`);
  if (hostCores < 2) return { cpusets: null, why: `ISOLATE=${mode}: the host has ${hostCores} core, nothing to split` };
  const on = mode === 'on' || (mode === 'auto' && hostCores < 4);
  if (!on)
    return {
      cpusets: null,
      why:
        mode === 'off'
          ? 'ISOLATE=off: the model shares every core with k6, Postgres and nginx'
          : `ISOLATE=auto: the host has ${hostCores} cores (>= 4), every container shares them`,
    };
  // The model gets the upper half (at least one core), the measurement the rest.
  const modelCores = Math.max(1, Math.floor(hostCores / 2));
  const first = hostCores - modelCores;
  const model = modelCores === 1 ? String(first) : `${first}-${hostCores - 1}`;
  const measurement = first === 1 ? '0' : `0-${first - 1}`;
  return {
    cpusets: { model, measurement, all },
    why: `ISOLATE=${mode}: ${hostCores} cores: the model under test on cpuset ${model}, k6, Postgres and nginx on ${measurement}`,
  };
}
