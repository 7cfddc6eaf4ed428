// `make load`: PROFILE=auto|full|small|smoke, MODELS=eventloop,prefork,..., ISOLATE=auto|on|off, RESTART=1|0. Runs in the loadrunner
// container (compose profile "load") or on a host with Node 24. Exits non-zero only when the
// run itself could not be done; a model falling over is a result in the report.
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Database, adminSettings } from './database.ts';
import {
  K6_IMAGE,
  connectDocker,
  describeHost,
  engineInfo,
  envValue,
  findService,
  ownComposeProject,
  removeLeftoverK6,
  type ServiceContainer,
} from './docker.ts';
import type { Environment } from './report.ts';
import { Runner, pointLatest, writeReport } from './runner.ts';
import { fetchEvidence, hostLoad, type ModelEvidence } from './sampler.ts';
import { assertProxyRoutes } from './proxy-routes.ts';
import { chooseProfile, readScenarioFile, resolveProfile, selectModels, type Level, type ModelName } from './scenarios.ts';
import { modelSpec } from './models.ts';
import { isolationFor } from './plan.ts';
import { ARRIVAL_PROCESS } from '../k6/lib/arrivals.js';
import { runAsEntry } from './entry.ts';

/** What every row's memory figures are (docker.ts frameToSample computes it). */
export const MEMORY_DEFINITION =
  "Docker stats memory_stats.usage minus memory_stats.stats.inactive_file (cgroup v2: memory.current minus the inactive file cache; what `docker stats` shows): the memory the container's limit charges that the kernel cannot simply drop before an OOM kill. Baseline: the same figure after the runner restarted the container before the level and it was healthy and idle; RSS (summed over the model's processes, from /model) is reported beside it.";

/** Docker's size notation (4g, 512m, 1073741824) in bytes. */
export function parseBytes(text: string | undefined): number | null {
  if (text === undefined || text.trim() === '') return null;
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?$/i.exec(text.trim());
  if (match === null) throw new Error(`cannot read the size "${text}" (e.g. 4g, 512m)`);
  const unit = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[(match[2] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(match[1]) * unit);
}

function numberOrNull(text: string | undefined): number | null {
  return text === undefined || text.trim() === '' ? null : Number(text);
}

function utcStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

async function main(): Promise<number> {
  const env = process.env;
  const projectDir = resolve(env.PROJECT_DIR ?? fileURLToPath(new URL('../../', import.meta.url)));
  const hostProjectDir = env.HOST_PROJECT_DIR || projectDir;
  const resultsRoot = resolve(env.RESULTS_DIR ?? join(projectDir, 'results'));
  const file = readScenarioFile();
  const models = selectModels(file, env.MODELS);
  const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

  const docker = connectDocker();
  const engine = await engineInfo(docker).catch((err: unknown) => {
    throw new Error(`cannot reach Docker's Engine API (is /var/run/docker.sock mounted?): ${String(err)}`);
  });
  const profileChoice = chooseProfile(file, env.PROFILE, engine.cpus);
  const profile = resolveProfile(file, profileChoice.name);
  log(`profile ${profileChoice.name}: ${profileChoice.why}`);
  const isolation = isolationFor(env.ISOLATE, engine.cpus);
  log(isolation.why);
  const hostBefore = await hostLoad(2000);
  log(
    `host before the run: load average ${hostBefore.loadAvg1 ?? 'n/a'}, ${hostBefore.busyPercent?.toFixed(0) ?? 'n/a'}% of the CPUs busy over 2 s`,
  );
  const ownProject = await ownComposeProject(docker, hostname());
  const inCompose = ownProject !== undefined;
  if (inCompose && !env.HOST_PROJECT_DIR)
    throw new Error("HOST_PROJECT_DIR (the checkout's path on the Docker host) is required in the container: run `make load`");
  const project =
    env.COMPOSE_PROJECT_NAME ??
    ownProject ??
    basename(hostProjectDir)
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '');
  const leftovers = await removeLeftoverK6(docker);
  if (leftovers > 0) log(`removed ${leftovers} k6 container(s) an interrupted run left behind`);
  try {
    await docker.getImage(K6_IMAGE).inspect();
  } catch {
    throw new Error(`the k6 image ${K6_IMAGE} is not present: docker pull ${K6_IMAGE}`);
  }

  const containers: Record<ModelName, ServiceContainer> = {};
  for (const model of models) {
    const found = await findService(docker, project, model);
    if (found === undefined)
      throw new Error(`no running container for service "${model}" in compose project "${project}": run \`make up\` first`);
    containers[model] = found;
  }
  const dbContainer = await findService(docker, project, 'db');
  const proxyContainer = await findService(docker, project, 'proxy');
  if (profile.levels.some((l) => l.target === 'proxy')) {
    if (proxyContainer === undefined) {
      throw new Error(`the profile sends load through the proxy but compose project "${project}" has no running "proxy"`);
    }
    await assertProxyRoutes(models);
  }

  const db = new Database(adminSettings(env, inCompose ? 'db' : '127.0.0.1'));
  const pgSettings = await db.settings();
  await db.resetStatements();

  const startedAt = new Date();
  const runDirName = `${utcStamp(startedAt)}-${profile.name}`;
  const resultsDir = join(resultsRoot, runDirName);
  for (const sub of ['raw', 'samples', 'charts']) mkdirSync(join(resultsDir, sub), { recursive: true });
  const modelUrl = (model: ModelName) => (inCompose ? `http://${model}:3000` : `http://127.0.0.1:${modelSpec(model).port}`);
  const targetUrl = (model: ModelName, level: Level) =>
    level.target === 'proxy' ? `http://proxy:8080/${model}/db` : `http://${model}:3000/db`;
  // The design asks MODEL_CPUS (4); Docker refuses more than the host has, so `make up`
  // clamps it to the host's cores: the report claims the clamped figure and says so.
  const requestedCpus = numberOrNull(env.MODEL_CPUS);
  const claimedCpus = requestedCpus === null ? null : Math.min(requestedCpus, engine.cpus);
  const claimedMemoryBytes = parseBytes(env.MODEL_MEMORY);

  log(`profile ${profile.name}: ${models.join(', ')}; ${profile.levels.map((l) => l.name).join(', ')}; results in ${resultsDir}`);
  log(
    `host ${engine.cpus} cores, ${Math.round(engine.memoryBytes / 2 ** 30)} GiB; model containers: ${claimedCpus ?? 'as declared'} CPUs, ${env.MODEL_MEMORY ?? 'as declared'} memory${requestedCpus !== null && claimedCpus !== null && requestedCpus > claimedCpus ? ` (MODEL_CPUS=${requestedCpus} clamped: the host has ${engine.cpus} cores)` : ''}`,
  );

  const idleEvidence: Partial<Record<ModelName, ModelEvidence>> = {};
  for (const model of models) {
    const evidence = await fetchEvidence(modelUrl(model), 10_000);
    if (evidence === undefined) log(`warning: ${model}'s /model did not answer at the start (its limits are read later)`);
    else idleEvidence[model] = evidence;
  }
  const runner = new Runner(docker, db, {
    idleEvidence,
    profile,
    models,
    resultsDir,
    runId: runDirName,
    modelUrl,
    targetUrl,
    containers,
    db: dbContainer,
    proxy: proxyContainer,
    cpusets: isolation.cpusets,
    restart: env.RESTART !== '0',
    allCpus: engine.cpus > 1 ? `0-${engine.cpus - 1}` : '0',
    dashboard: env.DASHBOARD !== '0',
    hostScriptsDir: join(hostProjectDir, 'loadtests', 'k6'),
    claimedCpus,
    claimedMemoryBytes,
    log,
    nofile: env.NOFILE_LIMIT ? Number(env.NOFILE_LIMIT) : undefined,
  });
  const stop = () => {
    log('interrupted: removing k6 containers');
    void removeLeftoverK6(docker).finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A run that stops half-way still writes the rows it measured (a report of what was done),
  // then fails.
  let stopped: unknown;
  try {
    await runner.runAll();
  } catch (err) {
    stopped = err;
    log(
      `the run stopped after ${runner.rows.length} level(s): ${err instanceof Error ? err.message : String(err)}; writing the report of what was measured`,
    );
  } finally {
    await db.close();
  }

  const containerEvidence: Record<string, unknown> = {};
  const modelKnobs: NonNullable<Environment['modelKnobs']> = {};
  const cpusetsRead: Record<string, string> = {};
  const nodeOptions: NonNullable<Environment['nodeOptions']> = {};
  // db's and proxy's as the run pinned them (read back then: by now their pins are lifted), else as they are.
  for (const c of [dbContainer, proxyContainer]) {
    if (c !== undefined)
      cpusetsRead[c.service] =
        runner.measurementCpusets[c.service] ??
        (
          await docker
            .getContainer(c.id)
            .inspect()
            .catch(() => undefined)
        )?.HostConfig.CpusetCpus ??
        '';
  }
  for (const model of models) {
    const evidence = await fetchEvidence(modelUrl(model), 5000);
    const container = containers[model];
    if (container === undefined) continue;
    const state = await docker
      .getContainer(container.id)
      .inspect()
      .catch(() => undefined);
    cpusetsRead[model] = runner.rows.find((r) => r.model === model)?.cpusets?.model ?? state?.HostConfig.CpusetCpus ?? '';
    nodeOptions[model] = envValue(state?.Config.Env, 'NODE_OPTIONS');
    modelKnobs[model] = { env: modelSpec(model).env, db: evidence?.db ?? null, units: evidence?.units ?? null };
    containerEvidence[model] = {
      container: container.name,
      baseline: runner.starts[model] ?? null,
      image: state?.Config.Image,
      declared: {
        nanoCpus: state?.HostConfig.NanoCpus,
        cpuQuota: state?.HostConfig.CpuQuota,
        cpuPeriod: state?.HostConfig.CpuPeriod,
        memory: state?.HostConfig.Memory,
        pidsLimit: state?.HostConfig.PidsLimit,
      },
      cgroup: evidence?.cgroup ?? null,
      units: evidence?.units ?? null,
      db: evidence?.db ?? null,
      node: (evidence as { node?: string } | undefined)?.node ?? null,
    };
  }
  const environment: Environment = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    profile: profile.name,
    profileChoice,
    arrivals: ARRIVAL_PROCESS,
    memoryDefinition: MEMORY_DEFINITION,
    cpusets: {
      setting: env.ISOLATE ?? 'auto',
      why: isolation.why,
      claimed: isolation.cpusets === null ? null : { model: isolation.cpusets.model, measurement: isolation.cpusets.measurement },
      read: cpusetsRead,
      measurementReadWhilePinned: Object.keys(runner.measurementCpusets).length > 0,
    },
    composeVersion: env.COMPOSE_VERSION || null,
    workTreeClean: env.WORK_TREE_CLEAN === '1' ? true : env.WORK_TREE_CLEAN === '0' ? false : null,
    hostBefore,
    modelKnobs,
    nodeOptions,
    models,
    host: describeHost(engine),
    modelCpus: claimedCpus ?? runner.rows[0]?.limits.cgroupCpus ?? null,
    modelMemoryBytes: claimedMemoryBytes ?? runner.rows[0]?.limits.cgroupMemoryBytes ?? null,
    modelCpusRequested: requestedCpus,
    containers: containerEvidence,
    versions: { runnerNode: process.version, k6: K6_IMAGE, postgres: pgSettings.version, docker: engine.serverVersion },
    gitCommit: env.GIT_COMMIT ?? 'unknown',
    k6Image: K6_IMAGE,
    postgres: { version: pgSettings.version, maxConnections: pgSettings.maxConnections },
  };
  const written = await writeReport(resultsDir, profile, environment, runner.rows);
  pointLatest(resultsRoot, runDirName);
  log(`done: ${written.report}`);
  for (const line of written.summary) console.log(`  ${line}`);
  if (written.invalid > 0) log(`${written.invalid} row(s) invalid: the reasons are in the report`);
  if (stopped !== undefined) throw stopped instanceof Error ? stopped : new Error(`the run stopped: ${JSON.stringify(stopped)}`);
  return 0;
}

runAsEntry(import.meta.url, 'make load', main);
