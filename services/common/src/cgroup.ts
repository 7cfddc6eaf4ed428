// What the container actually allows, read from the kernel's cgroup files (v2, then v1).
// os.availableParallelism() ignores CPU quotas, so a model that sizes itself by cores
// must read the quota here.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

export interface CgroupReading {
  version: 1 | 2 | null;
  /** CPU quota in cores (quota / period), or null when unlimited or unknown. */
  cpuQuotaCores: number | null;
  /** Memory limit in bytes, or null when unlimited or unknown. */
  memoryLimitBytes: number | null;
  memoryCurrentBytes: number | null;
  /** Highest memory use the kernel recorded for this cgroup (v2 memory.peak, v1 max_usage). */
  memoryPeakBytes: number | null;
  /** Total CPU time used by the cgroup, in seconds. */
  cpuUsageSeconds: number | null;
  /** Times the OOM killer fired in this cgroup. */
  oomKills: number | null;
  pidsCurrent: number | null;
  pidsMax: number | null;
}

const ROOT = '/sys/fs/cgroup';
// cgroup v1 reports "no limit" as a page-aligned huge number.
const V1_UNLIMITED = 2 ** 62;

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function numberOrNull(text: string | null): number | null {
  if (text === null || text === 'max') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function statField(text: string | null, field: string): number | null {
  const line = text?.split('\n').find((l) => l.startsWith(`${field} `));
  return line === undefined ? null : numberOrNull(line.split(' ')[1] ?? null);
}

/** This process's cgroup v2 directory: "/" inside a container, a nested path on a host. */
function v2Dir(): string {
  const line = read('/proc/self/cgroup')
    ?.split('\n')
    .find((l) => l.startsWith('0::'));
  const dir = line === undefined ? ROOT : join(ROOT, line.slice(3));
  return read(join(dir, 'memory.current')) === null ? ROOT : dir;
}

function readV2(): CgroupReading {
  const dir = v2Dir();
  const cpuMax = read(join(dir, 'cpu.max'))?.split(' ');
  const quota = numberOrNull(cpuMax?.[0] ?? null);
  const period = numberOrNull(cpuMax?.[1] ?? null);
  const usageUsec = statField(read(join(dir, 'cpu.stat')), 'usage_usec');
  return {
    version: 2,
    cpuQuotaCores: quota !== null && period ? quota / period : null,
    memoryLimitBytes: numberOrNull(read(join(dir, 'memory.max'))),
    memoryCurrentBytes: numberOrNull(read(join(dir, 'memory.current'))),
    memoryPeakBytes: numberOrNull(read(join(dir, 'memory.peak'))),
    cpuUsageSeconds: usageUsec === null ? null : usageUsec / 1e6,
    oomKills: statField(read(join(dir, 'memory.events')), 'oom_kill'),
    pidsCurrent: numberOrNull(read(join(dir, 'pids.current'))),
    pidsMax: numberOrNull(read(join(dir, 'pids.max'))),
  };
}

function readV1(): CgroupReading {
  const quota = numberOrNull(read(`${ROOT}/cpu/cpu.cfs_quota_us`));
  const period = numberOrNull(read(`${ROOT}/cpu/cpu.cfs_period_us`));
  const limit = numberOrNull(read(`${ROOT}/memory/memory.limit_in_bytes`));
  const usageNs = numberOrNull(read(`${ROOT}/cpuacct/cpuacct.usage`));
  return {
    version: 1,
    cpuQuotaCores: quota !== null && quota > 0 && period ? quota / period : null,
    memoryLimitBytes: limit !== null && limit < V1_UNLIMITED ? limit : null,
    memoryCurrentBytes: numberOrNull(read(`${ROOT}/memory/memory.usage_in_bytes`)),
    memoryPeakBytes: numberOrNull(read(`${ROOT}/memory/memory.max_usage_in_bytes`)),
    cpuUsageSeconds: usageNs === null ? null : usageNs / 1e9,
    oomKills: statField(read(`${ROOT}/memory/memory.oom_control`), 'oom_kill'),
    pidsCurrent: numberOrNull(read(`${ROOT}/pids/pids.current`)),
    pidsMax: numberOrNull(read(`${ROOT}/pids/pids.max`)),
  };
}

export function readCgroup(): CgroupReading {
  if (read(`${ROOT}/cgroup.controllers`) !== null) return readV2();
  if (read(`${ROOT}/memory/memory.limit_in_bytes`) !== null) return readV1();
  return {
    version: null,
    cpuQuotaCores: null,
    memoryLimitBytes: null,
    memoryCurrentBytes: null,
    memoryPeakBytes: null,
    cpuUsageSeconds: null,
    oomKills: null,
    pidsCurrent: null,
    pidsMax: null,
  };
}

/** Cores this process may really use: the cgroup quota (rounded up) when set, else the CPU count. */
export function usableCores(): number {
  const quota = readCgroup().cpuQuotaCores;
  const cores = availableParallelism();
  return quota === null ? cores : Math.max(1, Math.min(cores, Math.ceil(quota)));
}

/** Resident memory of each live process in the list, in bytes (Linux /proc). */
export function residentBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    const line = read(`/proc/${pid}/status`)
      ?.split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    const kb = line === undefined ? null : numberOrNull(line.replace(/\D+/g, ''));
    if (kb !== null) total += kb * 1024;
  }
  return total;
}
