// The compose project's containers as the resilience runs see them: where each one answers,
// its state (restarts, start time, health, OOM), and a prober that checks the others keep
// answering while one of them is being hurt.
import { request } from 'node:http';
import type Docker from 'dockerode';
import type { Database } from '../src/database.ts';
import { findService, type ServiceContainer } from '../src/docker.ts';
import type { ModelEvidence } from '../src/sampler.ts';
import type { ModelName } from '../src/models.ts';
import type { NeighbourCheck } from './verdicts.ts';

export interface Fleet {
  project: string;
  models: Partial<Record<ModelName, ServiceContainer>>;
  db: ServiceContainer;
  proxy: ServiceContainer;
}

export async function findFleet(docker: Docker, project: string, models: readonly ModelName[]): Promise<Fleet> {
  const need = async (service: string) => {
    const found = await findService(docker, project, service);
    if (found === undefined)
      throw new Error(`no running container for service "${service}" in compose project "${project}": run \`make up\` first`);
    return found;
  };
  const fleet: Fleet = { project, models: {}, db: await need('db'), proxy: await need('proxy') };
  for (const model of models) fleet.models[model] = await need(model);
  return fleet;
}

export interface State {
  service: string;
  running: boolean;
  /** healthy / unhealthy / starting, or the state (exited, ...) when there is no healthcheck. */
  health: string;
  restartCount: number;
  startedAt: string;
  oomKilled: boolean;
  exitCode: number;
}

export async function stateOf(docker: Docker, container: ServiceContainer): Promise<State> {
  const info = await docker.getContainer(container.id).inspect();
  return {
    service: container.service,
    running: info.State.Running,
    health: info.State.Health?.Status ?? info.State.Status,
    restartCount: info.RestartCount,
    startedAt: info.State.StartedAt,
    oomKilled: info.State.OOMKilled,
    exitCode: info.State.ExitCode,
  };
}

export async function statesOf(docker: Docker, containers: ServiceContainer[]): Promise<Record<string, State>> {
  const states = await Promise.all(containers.map((c) => stateOf(docker, c)));
  return Object.fromEntries(states.map((s) => [s.service, s]));
}

export function allContainers(fleet: Fleet): ServiceContainer[] {
  return [fleet.db, ...Object.values(fleet.models).filter((c): c is ServiceContainer => c !== undefined), fleet.proxy];
}

/** Where the runner (on the compose network) reaches a model directly and through nginx. */
export const directUrl = (model: string) => `http://${model}:3000`;
export const proxyUrl = (model: string) => `http://proxy:8080/${model}`;

/**
 * Where a client on the host reaches a container: its port published on the loopback
 * (MODELS_BIND / PROXY_BIND, 127.0.0.1 by default; 0.0.0.0 includes the loopback). Only the
 * loopback: load never goes to any other address of the host.
 */
export async function loopbackUrl(docker: Docker, container: ServiceContainer, containerPort: number): Promise<string> {
  const info = await docker.getContainer(container.id).inspect();
  const bindings = info.NetworkSettings.Ports[`${containerPort}/tcp`] ?? [];
  const onLoopback = bindings.find((b) => ['127.0.0.1', '0.0.0.0', ''].includes(b.HostIp));
  if (onLoopback === undefined) {
    const where = bindings.map((b) => `${b.HostIp}:${b.HostPort}`).join(', ') || 'not published';
    throw new Error(
      `${container.service}: port ${containerPort} is ${where}, not on 127.0.0.1: set its *_BIND to 127.0.0.1 (the default) and run make up again`,
    );
  }
  return `http://127.0.0.1:${onLoopback.HostPort}`;
}

/** One environment variable of a running container, as the container sees it (undefined when unset). */
export async function containerEnv(docker: Docker, container: ServiceContainer, name: string): Promise<string | undefined> {
  const info = await docker.getContainer(container.id).inspect();
  const entry = (info.Config.Env ?? []).find((e) => e.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

/**
 * GET with a hard time limit, on a connection of its own that closes after the answer. Never
 * keep-alive: a prefork worker (and the blocking baseline's only one) owns a connection until
 * it closes, so an idle pooled connection from this runner would pin a worker and distort
 * the very thing being measured.
 */
export function httpGet(url: string, timeoutMs: number): Promise<{ status: number; ms: number; body: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, body: string) => resolve({ status, ms: Math.round(performance.now() - started), body });
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
      res.on('error', () => done(0, ''));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', () => done(0, ''));
    req.end();
  });
}

export async function httpStatus(url: string, timeoutMs: number): Promise<{ status: number; ms: number }> {
  const { status, ms } = await httpGet(url, timeoutMs);
  return { status, ms };
}

/** A model's /model (see loadtests/src/sampler.ts), read without keep-alive; undefined when it does not answer. */
export async function evidenceOf(model: string, timeoutMs: number): Promise<ModelEvidence | undefined> {
  const { status, body } = await httpGet(`${directUrl(model)}/model`, timeoutMs);
  if (status !== 200) return undefined;
  try {
    return JSON.parse(body) as ModelEvidence;
  } catch {
    return undefined;
  }
}

/** Waits (bounded) until url answers 200; the ms it took, or null when it never did. */
export async function waitFor200(url: string, timeoutMs: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if ((await httpStatus(url, 2000)).status === 200) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

/** Waits (bounded) until Docker reports the container healthy; ms, or null. */
export async function waitHealthy(docker: Docker, container: ServiceContainer, timeoutMs: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const state = await stateOf(docker, container).catch(() => undefined);
    if (state?.health === 'healthy') return Date.now() - started;
    await new Promise((r) => setTimeout(r, 500));
  }
  return null;
}

/**
 * Every second, each neighbour gets one bounded probe: a model its /healthz, nginx its
 * /nginx-health, Postgres one query. At the end, their states (restarts, health) too.
 */
export class NeighbourProber {
  readonly #timer: NodeJS.Timeout;
  readonly #counts = new Map<string, { probes: number; failures: number; worstMs: number }>();
  #busy = false;
  readonly services: string[];

  constructor(services: string[], db: Database | undefined, timeoutMs = 2000) {
    this.services = services;
    for (const s of services) this.#counts.set(s, { probes: 0, failures: 0, worstMs: 0 });
    const probeOne = async (service: string): Promise<{ ok: boolean; ms: number }> => {
      if (service === 'db') {
        const started = performance.now();
        if (db === undefined) return { ok: true, ms: 0 };
        const ok = await Promise.race([
          db.settings().then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs)),
        ]);
        return { ok, ms: Math.round(performance.now() - started) };
      }
      const url = service === 'proxy' ? 'http://proxy:8080/nginx-health' : `${directUrl(service)}/healthz`;
      const { status, ms } = await httpStatus(url, timeoutMs);
      return { ok: status === 200, ms };
    };
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void Promise.all(
        this.services.map(async (service) => {
          const { ok, ms } = await probeOne(service);
          const c = this.#counts.get(service)!;
          c.probes += 1;
          if (!ok) c.failures += 1;
          c.worstMs = Math.max(c.worstMs, ms);
        }),
      ).finally(() => {
        this.#busy = false;
      });
    }, 1000);
  }

  /** Stops probing and adds each neighbour's state change between `before` and now (a new StartedAt counts as a restart). */
  async finish(
    docker: Docker,
    containers: ServiceContainer[],
    before: Record<string, State>,
  ): Promise<(NeighbourCheck & { worstMs: number })[]> {
    clearInterval(this.#timer);
    const mine = containers.filter((c) => this.services.includes(c.service));
    const after = await statesOf(docker, mine);
    return this.services.map((service) => {
      const c = this.#counts.get(service)!;
      const a = after[service];
      const b = before[service];
      return {
        service,
        probes: c.probes,
        failures: c.failures,
        worstMs: c.worstMs,
        restarts: a !== undefined && b !== undefined ? Math.max(a.restartCount - b.restartCount, a.startedAt !== b.startedAt ? 1 : 0) : 0,
        health: a?.health ?? 'unknown',
      };
    });
  }
}
