// Docker's Engine API (dockerode) for what the runner needs: the compose containers,
// their declared limits, restarts and OOM kills, live CPU/memory, and k6 in its own container.
import { PassThrough, type Readable } from 'node:stream';
import Docker from 'dockerode';

export const K6_IMAGE = 'grafana/k6:1.8.1';
export const RUN_LABEL = 'concurrency-models.loadrun';

export function connectDocker(): Docker {
  return new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });
}

export interface ServiceContainer {
  id: string;
  name: string;
  service: string;
  /** First network the container is on: where k6 must run to reach it by service name. */
  network: string;
}

/** The running container of a compose service of `project`, or undefined. */
export async function findService(docker: Docker, project: string, service: string): Promise<ServiceContainer | undefined> {
  const list = await docker.listContainers({
    filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`], status: ['running'] },
  });
  const found = list[0];
  if (found === undefined) return undefined;
  const network = Object.keys(found.NetworkSettings?.Networks ?? {})[0] ?? `${project}_default`;
  return { id: found.Id, name: (found.Names[0] ?? found.Id).replace(/^\//, ''), service, network };
}

/** The compose project this process runs in (when it is itself a container), else undefined. */
export async function ownComposeProject(docker: Docker, hostname: string): Promise<string | undefined> {
  try {
    const self = await docker.getContainer(hostname).inspect();
    return self.Config.Labels['com.docker.compose.project'];
  } catch {
    return undefined;
  }
}

export interface ContainerState {
  restartCount: number;
  oomKilled: boolean;
  running: boolean;
  status: string;
  startedAt: string;
  /** What Docker was told (compose's cpus and mem_limit): cores and bytes, null when unlimited. */
  declaredCpus: number | null;
  declaredMemoryBytes: number | null;
  image: string;
}

export async function containerState(docker: Docker, id: string): Promise<ContainerState> {
  const info = await docker.getContainer(id).inspect();
  const host = info.HostConfig;
  const nanoCpus = host.NanoCpus ?? 0;
  const quotaCpus = host.CpuQuota && host.CpuPeriod ? host.CpuQuota / host.CpuPeriod : 0;
  const cpus = nanoCpus > 0 ? nanoCpus / 1e9 : quotaCpus > 0 ? quotaCpus : null;
  return {
    restartCount: info.RestartCount,
    oomKilled: info.State.OOMKilled,
    running: info.State.Running,
    status: info.State.Status,
    startedAt: info.State.StartedAt,
    declaredCpus: cpus,
    declaredMemoryBytes: host.Memory ? host.Memory : null,
    image: info.Config.Image,
  };
}

/** A variable of a container's environment (docker inspect's Config.Env, `NAME=value` lines); null when unset. */
export function envValue(env: string[] | undefined, name: string): string | null {
  const line = env?.find((entry) => entry.startsWith(`${name}=`));
  return line === undefined ? null : line.slice(name.length + 1);
}

/** Lines of a container's log since a time (unix seconds) that match `pattern`. */
export async function logLinesSince(docker: Docker, id: string, sinceS: number, pattern: RegExp): Promise<string[]> {
  const buffer = await docker.getContainer(id).logs({ stdout: true, stderr: true, since: sinceS, follow: false });
  // Multiplexed frames carry an 8-byte header; the text lines we look for survive it.
  return buffer
    .toString('utf8')
    .split('\n')
    .filter((line) => pattern.test(line));
}

export interface ResourceSample {
  t: number;
  cpuCores: number;
  memoryBytes: number;
}

interface StatsFrame {
  read: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

/** Docker's own arithmetic (as `docker stats` does it): cores used since the previous frame, memory without reclaimable page cache. */
export function frameToSample(frame: StatsFrame): ResourceSample | undefined {
  const cpu = frame.cpu_stats;
  const pre = frame.precpu_stats;
  if (cpu?.cpu_usage?.total_usage === undefined || pre?.cpu_usage?.total_usage === undefined) return undefined;
  if (cpu.system_cpu_usage === undefined || pre.system_cpu_usage === undefined || pre.system_cpu_usage === 0) return undefined;
  const cpuDelta = cpu.cpu_usage.total_usage - pre.cpu_usage.total_usage;
  const systemDelta = cpu.system_cpu_usage - pre.system_cpu_usage;
  const cores = systemDelta > 0 ? (cpuDelta / systemDelta) * (cpu.online_cpus ?? 1) : 0;
  const stats = frame.memory_stats?.stats ?? {};
  const cache = stats.inactive_file ?? stats.total_inactive_file ?? 0;
  const usage = frame.memory_stats?.usage ?? 0;
  return { t: Date.parse(frame.read), cpuCores: Math.max(0, cores), memoryBytes: Math.max(0, usage - cache) };
}

/** Streams a container's stats (one frame a second) until stop() is called. */
export class StatsStream {
  readonly samples: ResourceSample[] = [];
  #stream: Readable | undefined;

  static async open(docker: Docker, id: string): Promise<StatsStream> {
    const stats = new StatsStream();
    const stream = (await docker.getContainer(id).stats({ stream: true })) as unknown as Readable;
    stats.#stream = stream;
    let pending = '';
    stream.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== '') {
          try {
            const sample = frameToSample(JSON.parse(line) as StatsFrame);
            if (sample !== undefined) stats.samples.push(sample);
          } catch {
            /* a frame cut by stop() */
          }
        }
        newline = pending.indexOf('\n');
      }
    });
    stream.on('error', () => undefined); // the container stopping ends the stream; samples so far stand
    return stats;
  }

  stop(): ResourceSample[] {
    this.#stream?.destroy();
    return this.samples;
  }
}

export interface K6Run {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** k6's own CPU and memory while it ran. */
  samples: ResourceSample[];
  /** The cpuset Docker gave k6's container ('' or undefined: every core). */
  cpusetCpus?: string;
  /** k6's web dashboard export (HTML), when asked for and written. */
  dashboardHtml?: string;
}

export interface K6RunOptions {
  /** The compose network (targets by service name), or 'host' (targets on published loopback ports). */
  network: string;
  /** Host path of loadtests/k6 (bind mounts are resolved by the engine, on the host). */
  hostScriptsDir: string;
  script: string;
  env: Record<string, string>;
  runId: string;
  /** Open files for k6 (NOFILE_LIMIT, as `make up` lowered it to the host's hard limit). */
  nofile?: number;
  /** Kills k6 after this long: every run stops by itself even if k6 hangs. */
  deadlineMs: number;
  /** Cores k6 may run on (ISOLATE): apart from the model under test. */
  cpusetCpus?: string;
  /** Export k6's web dashboard as HTML and return it (copied out of the stopped container). */
  dashboard?: boolean;
}

const DASHBOARD_PATH = '/tmp/k6-dashboard.html';

/** The first regular file's bytes in a tar archive (what the Engine API's archive endpoint returns for one file). */
export function firstFileOfTar(tar: Buffer): Buffer | undefined {
  for (let at = 0; at + 512 <= tar.length;) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return undefined;
    const size = parseInt(header.subarray(124, 136).toString('ascii').replace(/\0/g, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const body = at + 512;
    if (type === '0' || type === '\0') return tar.subarray(body, body + size);
    at = body + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

async function copyOut(docker: Docker, id: string, path: string): Promise<string | undefined> {
  const stream = (await docker.getContainer(id).getArchive({ path })) as unknown as Readable;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return firstFileOfTar(Buffer.concat(chunks))?.toString('utf8');
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString('utf8');
}

/** Runs k6 in its own container on the compose network and returns what it printed. */
export async function runK6(docker: Docker, options: K6RunOptions): Promise<K6Run> {
  const container = await docker.createContainer({
    Image: K6_IMAGE,
    Cmd: ['run', '--quiet', '--no-color', `/scripts/${options.script}`],
    Env: [
      ...Object.entries(options.env).map(([k, v]) => `${k}=${v}`),
      ...(options.dashboard === true ? ['K6_WEB_DASHBOARD=true', `K6_WEB_DASHBOARD_EXPORT=${DASHBOARD_PATH}`] : []),
    ],
    Labels: { [RUN_LABEL]: options.runId },
    HostConfig: {
      Binds: [`${options.hostScriptsDir}:/scripts:ro`],
      NetworkMode: options.network,
      // 5,000 VUs each hold a socket: raise the engine's default to what the host allows.
      ...(options.nofile === undefined ? {} : { Ulimits: [{ Name: 'nofile', Soft: options.nofile, Hard: options.nofile }] }),
      ...(options.cpusetCpus === undefined ? {} : { CpusetCpus: options.cpusetCpus }),
    },
  });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const readStdout = collect(stdout);
  const readStderr = collect(stderr);
  try {
    const attached = await container.attach({ stream: true, stdout: true, stderr: true });
    docker.modem.demuxStream(attached, stdout, stderr);
    await container.start();
    const stats = await StatsStream.open(docker, container.id);
    const killer = setTimeout(() => void container.kill().catch(() => undefined), options.deadlineMs);
    const result = (await container.wait()) as { StatusCode: number };
    clearTimeout(killer);
    const samples = stats.stop();
    await new Promise((r) => setTimeout(r, 200)); // let the attach stream flush its last frames
    const cpusetCpus = options.cpusetCpus === undefined ? undefined : options.cpusetCpus;
    const dashboardHtml =
      options.dashboard === true ? await copyOut(docker, container.id, DASHBOARD_PATH).catch(() => undefined) : undefined;
    return {
      exitCode: result.StatusCode,
      stdout: readStdout(),
      stderr: readStderr(),
      samples,
      ...(cpusetCpus === undefined ? {} : { cpusetCpus }),
      ...(dashboardHtml === undefined ? {} : { dashboardHtml }),
    };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Removes k6 containers a previous, interrupted run left behind. */
export async function removeLeftoverK6(docker: Docker): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [RUN_LABEL] } });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined),
    ),
  );
  return list.length;
}

export interface EngineInfo {
  serverVersion: string;
  cpus: number;
  memoryBytes: number;
  os: string;
  kernel: string;
  cgroupVersion: string;
}

export async function engineInfo(docker: Docker): Promise<EngineInfo> {
  const info = (await docker.info()) as Partial<Record<'ServerVersion' | 'OperatingSystem' | 'KernelVersion' | 'CgroupVersion', string>> & {
    NCPU?: number;
    MemTotal?: number;
  };
  return {
    serverVersion: info.ServerVersion ?? 'unknown',
    cpus: info.NCPU ?? 0,
    memoryBytes: info.MemTotal ?? 0,
    os: info.OperatingSystem ?? 'unknown',
    kernel: info.KernelVersion ?? 'unknown',
    cgroupVersion: info.CgroupVersion ?? 'unknown',
  };
}

/** The host as a run's environment.json describes it. */
export interface HostDescription {
  cores: number;
  memoryBytes: number;
  os: string;
  kernel: string;
  dockerVersion: string;
  cgroupVersion: string;
}

export function describeHost(engine: EngineInfo): HostDescription {
  const { cpus: cores, memoryBytes, os, kernel, serverVersion: dockerVersion, cgroupVersion } = engine;
  return { cores, memoryBytes, os, kernel, dockerVersion, cgroupVersion };
}

/** Runs a command in a running container and returns its stdout (bounded by timeoutMs). */
export async function execText(docker: Docker, id: string, cmd: string[], timeoutMs = 5000): Promise<string> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const read = collect(stdout);
  docker.modem.demuxStream(stream, stdout, stderr);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`exec ${cmd.join(' ')}: no end within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return read();
}

/** One stats frame (stream=false): the container's memory now, as frameToSample defines it. */
export async function memoryNow(docker: Docker, id: string): Promise<number | null> {
  const frame = (await docker.getContainer(id).stats({ stream: false })) as unknown as StatsFrame;
  const stats = frame.memory_stats?.stats ?? {};
  const usage = frame.memory_stats?.usage;
  if (usage === undefined) return null;
  return Math.max(0, usage - (stats.inactive_file ?? stats.total_inactive_file ?? 0));
}

/**
 * Restarts a container (SIGTERM, then SIGKILL after stopTimeoutS) and waits until it runs and
 * `ready` says so (the runner asks the model's own /healthz, what its healthcheck asks).
 * Docker's health status is not waited for: it changes only at the image's healthcheck
 * interval (10 s), which made every fresh start take 11-24 s.
 */
export async function restartAndWait(
  docker: Docker,
  id: string,
  stopTimeoutS: number,
  readyWithinMs: number,
  ready: () => Promise<boolean>,
): Promise<{ startedAt: string; healthy: boolean }> {
  const container = docker.getContainer(id);
  await container.restart({ t: stopTimeoutS });
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    const info = await container.inspect();
    if (info.State.Running && (await ready())) return { startedAt: info.State.StartedAt, healthy: true };
    if (Date.now() > deadline) return { startedAt: info.State.StartedAt, healthy: false };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The container's IP address on a network (a restart normally keeps it). */
export async function addressOn(docker: Docker, id: string, network: string): Promise<string | undefined> {
  const info = await docker.getContainer(id).inspect();
  return info.NetworkSettings.Networks[network]?.IPAddress;
}

/** Pins a running container to cpus ("0", "1-3"; "" lifts the pin), returns what Docker then reports. */
export async function setCpuset(docker: Docker, id: string, cpus: string): Promise<string> {
  const container = docker.getContainer(id);
  await container.update({ CpusetCpus: cpus });
  return (await container.inspect()).HostConfig.CpusetCpus ?? '';
}
