// `make slowloris` / `make resilience`: the failure modes against the containers of `make up`.
//   EXPERIMENTS=slowloris,outage,overload,shutdown (make resilience: the last three), MODELS=...
// Runs in the loadrunner container (on the compose network, with the Docker socket). Writes
// results/<UTC time>-resilience/. Everything is bounded; whatever it stopped, it starts again.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database } from '../src/database.ts';
import { K6_IMAGE, connectDocker, describeHost, engineInfo, ownComposeProject, removeLeftoverK6 } from '../src/docker.ts';
import { assertProxyRoutes } from '../src/proxy-routes.ts';
import type { ModelEvidence } from '../src/sampler.ts';
import { MODELS, type ModelName } from '../src/models.ts';
import { readScenarioFile, resolveProfile } from '../src/scenarios.ts';
import { floorSeconds } from './context.ts';
import {
  OUTAGE,
  OVERLOAD,
  SHUTDOWN,
  SLOWLORIS,
  runOutage,
  runOverload,
  runShutdown,
  runSlowloris,
  slowlorisPlan,
  type Context,
} from './experiments.ts';
import { allContainers, containerEnv, evidenceOf, findFleet, stateOf } from './fleet.ts';
import { renderResilience, type ReportParts, type RunInfo } from './tables.ts';
import { kneeEstimate, kneeFromRows, requestSlots, type Knee, type LoadRowLike } from './verdicts.ts';
import { runAsEntry } from '../src/entry.ts';

const ALL = ['slowloris', 'outage', 'overload', 'shutdown'] as const;
type Experiment = (typeof ALL)[number];

/** MODELS="eventloop,goroutines" (or empty: every model in models.json, in its order). */
export function pickModels(text: string | undefined, known: readonly string[] = MODELS.map((m) => m.name)): ModelName[] {
  const wanted = (text ?? '').split(/[\s,]+/).filter(Boolean);
  if (wanted.length === 0) return [...known];
  const unknown = wanted.filter((m) => !known.includes(m));
  if (unknown.length > 0) throw new Error(`unknown MODELS ${unknown.join(', ')}: choose from ${known.join(', ')} (models.json)`);
  return known.filter((m) => wanted.includes(m));
}

export function parseExperiments(text: string | undefined): Experiment[] {
  const wanted = (text ?? '').split(/[\s,]+/).filter(Boolean);
  if (wanted.length === 0) return ['outage', 'overload', 'shutdown'];
  const unknown = wanted.filter((w) => !(ALL as readonly string[]).includes(w));
  if (unknown.length > 0) throw new Error(`unknown EXPERIMENTS ${unknown.join(', ')}: choose from ${ALL.join(', ')}`);
  return ALL.filter((e) => wanted.includes(e));
}

/** The newest make-load run that has rows.json: its rows and folder name. */
function newestLoadRows(resultsRoot: string): { rows: LoadRowLike[]; run: string } | undefined {
  if (!existsSync(resultsRoot)) return undefined;
  const runs = readdirSync(resultsRoot)
    .filter((d) => /^\d{8}T\d{6}Z-/.test(d) && existsSync(join(resultsRoot, d, 'rows.json')))
    .sort()
    .reverse();
  const run = runs[0];
  return run === undefined
    ? undefined
    : { rows: JSON.parse(readFileSync(join(resultsRoot, run, 'rows.json'), 'utf8')) as LoadRowLike[], run };
}

const utcStamp = (date: Date) =>
  date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
const fmt = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`);

async function main(): Promise<number> {
  const env = process.env;
  const projectDir = resolve(env.PROJECT_DIR ?? fileURLToPath(new URL('../../', import.meta.url)));
  const hostProjectDir = env.HOST_PROJECT_DIR || projectDir;
  const resultsRoot = resolve(env.RESULTS_DIR ?? join(projectDir, 'results'));
  const experiments = parseExperiments(env.EXPERIMENTS);
  const scenarioFile = readScenarioFile();
  const models = pickModels(env.MODELS);
  const smoke = resolveProfile(scenarioFile, 'smoke').levels[0]!;
  const maxRate = Number(env.OVERLOAD_MAX_RATE ?? 1200);
  const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

  const docker = connectDocker();
  const engine = await engineInfo(docker).catch((err: unknown) => {
    throw new Error(`cannot reach Docker's Engine API (is /var/run/docker.sock mounted?): ${String(err)}`);
  });
  const ownProject = await ownComposeProject(docker, hostname());
  if (ownProject === undefined)
    throw new Error('run this in the loadrunner container on the compose network: `make slowloris` or `make resilience`');
  if (!env.HOST_PROJECT_DIR)
    throw new Error("HOST_PROJECT_DIR (the checkout's path on the Docker host) is required: run `make resilience`");
  const project = env.COMPOSE_PROJECT_NAME ?? ownProject;
  await removeLeftoverK6(docker);
  // Every container of the project: the ones not under test are the neighbours that must stay unharmed.
  const fleet = await findFleet(
    docker,
    project,
    MODELS.map((m) => m.name),
  );
  await assertProxyRoutes(models);
  const password = env.DB_PASSWORD;
  if (password === undefined || password === '') throw new Error('DB_PASSWORD (from .env) is required');
  const db = new Database({
    host: env.DB_HOST ?? 'db',
    port: 5432,
    user: env.DB_USER ?? 'benchmarkdbuser',
    password,
    database: env.DB_NAME ?? 'hello_world',
  });

  const evidence: Partial<Record<ModelName, ModelEvidence>> = {};
  for (const model of models) {
    const e = await evidenceOf(model, 10_000);
    if (e === undefined) throw new Error(`${model}'s /model did not answer within 10 s: is it healthy? (make ps)`);
    evidence[model] = e;
  }
  const startedAt = new Date();
  const runDir = join(resultsRoot, `${utcStamp(startedAt)}-resilience`);
  mkdirSync(join(runDir, 'raw'), { recursive: true });
  const ctx: Context = {
    docker,
    db,
    fleet,
    models,
    evidence,
    hostScriptsDir: join(hostProjectDir, 'loadtests', 'k6'),
    runId: `${utcStamp(startedAt)}-resilience`,
    nofile: env.NOFILE_LIMIT ? Number(env.NOFILE_LIMIT) : undefined,
    log,
  };

  // The knee each model is overloaded from: the newest make-load run, else the pool arithmetic.
  const knees: Record<string, Knee> = {};
  const notes: string[] = [];
  if (experiments.includes('overload')) {
    const load = newestLoadRows(resultsRoot);
    for (const model of models) {
      const e = evidence[model]!;
      knees[model] =
        (load === undefined ? null : kneeFromRows(load.rows, model, `make load ${load.run}`)) ??
        kneeEstimate(requestSlots(model, e), maxRate / 2, floorSeconds(e) * 1000);
    }
    notes.push(
      load === undefined
        ? 'Knees: no make-load results here, pool arithmetic used'
        : `Knees from the valid rows of the make-load run ${load.run} where it had any, else the pool arithmetic`,
    );
  }
  const seconds: Record<Experiment, number> = {
    slowloris: slowlorisPlan(ctx).length * (SLOWLORIS.holdMs / 1000 + 3),
    outage: OUTAGE.beforeS + OUTAGE.downS + OUTAGE.afterS + 20,
    overload: models.length * (OVERLOAD.durationS + OVERLOAD.timeoutS + 12),
    shutdown: models.length * (SHUTDOWN.durationS + SHUTDOWN.timeoutS + 10),
  };
  const total = experiments.reduce((s, e) => s + seconds[e], 0);
  log(
    `resilience: ${experiments.map((e) => `${e} ~${fmt(seconds[e])}`).join(', ')}; models ${models.join(', ')}; about ${fmt(total)} in all; results in ${runDir}`,
  );

  const restoreAll = async () => {
    for (const c of allContainers(fleet)) {
      const state = await stateOf(docker, c).catch(() => undefined);
      if (state !== undefined && !state.running) {
        log(`restoring ${c.service}: docker start`);
        await docker
          .getContainer(c.id)
          .start()
          .catch(() => undefined);
      }
    }
  };
  const stop = () => {
    log('interrupted: removing k6 containers, starting anything stopped');
    void removeLeftoverK6(docker)
      .then(restoreAll)
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  const parts: ReportParts = {};
  const save = (name: string, data: unknown) => writeFileSync(join(runDir, name), JSON.stringify(data, null, 2));
  try {
    if (experiments.includes('slowloris')) {
      parts.slowloris = await runSlowloris(ctx, (r) =>
        log(
          `  -> ${r.model} ${r.target} N=${r.connections}: ${r.result.verdict} (probe ${r.result.probe.status ?? r.result.probe.error} in ${r.result.probe.ms} ms; closed by server ${r.result.closedByServer}; units started ${r.peaks.unitsStarted ?? 'n/a'}, peak pids ${r.peaks.pids ?? 'n/a'}, ${r.peaks.memoryBytes === null ? '' : `${Math.round(r.peaks.memoryBytes / 1e6)} MB`}; restarts ${r.restarts}); others: ${r.isolation}`,
        ),
      );
      save('slowloris.json', parts.slowloris);
    }
    if (experiments.includes('outage')) {
      const outage = await runOutage(ctx, Math.max(2, Math.round(smoke.vus / 4)));
      const { records, ...rest } = outage;
      save('outage.json', rest);
      writeFileSync(join(runDir, 'raw', 'outage.requests.json'), JSON.stringify(records));
      parts.outage = outage;
      for (const r of outage.rows)
        log(`  -> ${r.model} ${r.target}: ${r.verdict}; first 200 ${r.firstOkMs === null ? 'never' : `${r.firstOkMs} ms`} after db start`);
      for (const m of outage.models)
        log(
          `  -> ${m.model}: restarted ${m.restarted}, DB connections after ${m.connectionsAfter ?? 'n/a'} / ${m.maxConnections ?? 'n/a'}: ${m.leak}`,
        );
    }
    if (experiments.includes('overload')) {
      parts.overload = await runOverload(ctx, knees, maxRate, (r) => log(`  -> ${r.model}: ${r.verdict}; others: ${r.isolation}`));
      save('overload.json', parts.overload);
    }
    if (experiments.includes('shutdown')) {
      notes.push(
        `nginx's connect timeout towards the models (PROXY_CONNECT_TIMEOUT): ${(await containerEnv(docker, fleet.proxy, 'PROXY_CONNECT_TIMEOUT')) ?? 'unset (nginx default 60s)'}`,
      );
      parts.shutdown = await runShutdown(ctx, Math.max(2, Math.round(smoke.vus / 4)), (s) => {
        writeFileSync(join(runDir, 'raw', `shutdown-${s.model}.requests.json`), JSON.stringify(s.records));
        log(
          `  -> ${s.model}: stop ${s.stopMs} ms, exit ${s.exitCode}; ${s.rows.map((r) => `${r.target}: ${r.verdict}`).join(' | ')}; others: ${s.isolation}`,
        );
      });
      save(
        'shutdown.json',
        parts.shutdown.map(({ records: _records, ...rest }) => rest),
      );
    }
  } finally {
    await restoreAll();
    await db.close();
  }

  const info: RunInfo = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    experiments,
    models,
    host: describeHost(engine),
    gitCommit: env.GIT_COMMIT ?? 'unknown',
    k6Image: K6_IMAGE,
    project,
    notes,
  };
  const settings = {
    slowlorisHoldS: SLOWLORIS.holdMs / 1000,
    slowlorisProbeAfterS: SLOWLORIS.probeAfterMs / 1000,
    slowlorisProbeTimeoutS: SLOWLORIS.probeTimeoutMs / 1000,
    overloadDurationS: OVERLOAD.durationS,
    overloadMaxRate: maxRate,
    shutdownBeforeS: SHUTDOWN.beforeS,
    shutdownDownS: SHUTDOWN.downS,
    shutdownStopTimeoutS: SHUTDOWN.stopTimeoutS,
  };
  save('environment.json', { ...info, settings, SLOWLORIS, OUTAGE, OVERLOAD, SHUTDOWN, evidence, knees });
  const report = renderResilience(info, parts, settings);
  writeFileSync(join(runDir, 'resilience.md'), report);
  log(`done in ${fmt((Date.now() - startedAt.getTime()) / 1000)}: ${join(runDir, 'resilience.md')}`);
  return 0;
}

runAsEntry(import.meta.url, 'resilience run', main);
