// When a row is not a measurement of the model (docs: shared notes, benchmark method).
// Each rule gives a reason the report prints; any reason makes the row invalid.
import type { Row, Validity } from './row.ts';

export interface HostFacts {
  /** Cores k6 can use at most (the host's, k6 runs unlimited). */
  hostCores: number;
}

/** k6 using this share of every core, or the host this busy, means the generator was the cap. */
export const K6_SATURATED_SHARE = 0.85;
export const HOST_SATURATED_PERCENT = 97;
/** CPU quotas are set in 1/100 cores by Docker and read back from cgroup in microseconds. */
const CPU_TOLERANCE = 0.01;

const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

function limitsReasons(row: Row): string[] {
  const l = row.limits;
  const reasons: string[] = [];
  if (l.cgroupCpus === null && l.cgroupMemoryBytes === null) {
    return ["the container's limits could not be read from its cgroup (/model did not answer)"];
  }
  const cpusDiffer = (a: number | null, b: number | null) =>
    (a === null) !== (b === null) || (a !== null && b !== null && Math.abs(a - b) > CPU_TOLERANCE);
  const show = (v: number | null, unit: (n: number) => string) => (v === null ? 'unlimited' : unit(v));
  if (l.claimedCpus !== null && cpusDiffer(l.claimedCpus, l.cgroupCpus)) {
    reasons.push(`CPU limit is ${show(l.cgroupCpus, (n) => `${n} cores`)} in the container's cgroup, the report claims ${l.claimedCpus}`);
  } else if (cpusDiffer(l.declaredCpus, l.cgroupCpus)) {
    reasons.push(
      `CPU limit is ${show(l.cgroupCpus, (n) => `${n} cores`)} in the container's cgroup, Docker declared ${show(l.declaredCpus, (n) => `${n} cores`)}`,
    );
  }
  if (l.claimedMemoryBytes !== null && l.cgroupMemoryBytes !== l.claimedMemoryBytes) {
    reasons.push(
      `memory limit is ${show(l.cgroupMemoryBytes, mb)} in the container's cgroup, the report claims ${mb(l.claimedMemoryBytes)}`,
    );
  } else if (l.declaredMemoryBytes !== l.cgroupMemoryBytes) {
    reasons.push(
      `memory limit is ${show(l.cgroupMemoryBytes, mb)} in the container's cgroup, Docker declared ${show(l.declaredMemoryBytes, mb)}`,
    );
  }
  return reasons;
}

/** Cores in a cpuset list ("0", "0-3,6"); null for none (every core). */
export function cpusetSize(cpus: string | null): number | null {
  if (cpus === null || cpus.trim() === '') return null;
  return cpus.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - (a ?? b) + 1);
  }, 0);
}

function cpusetReasons(row: Row): string[] {
  const c = row.cpusets;
  if (c === undefined || c.claimedModel === null) return [];
  const reasons: string[] = [];
  if (c.model !== c.claimedModel) reasons.push(`the model ran on cpuset ${c.model ?? 'every core'}, the run claims ${c.claimedModel}`);
  if (c.claimedMeasurement !== null && c.k6 !== c.claimedMeasurement)
    reasons.push(`k6 ran on cpuset ${c.k6 ?? 'every core'}, the run claims ${c.claimedMeasurement}`);
  return reasons;
}

/**
 * An arrival-rate level whose VUs were all allocated before it started (vus = maxVus): k6
 * drops an iteration then only when every one of them is waiting for an answer, so the model
 * (or nginx in front of it) held them all and fell behind the rate: a result, which the row's
 * ok/s shows. With VUs left to allocate, k6 also drops while it initialises one mid-run
 * (measured: 23-284 dropped at 500 req/s with 200 of 1,000 allocated and p99 under 1 s):
 * the generator's own limit.
 */
export function everyVuPreallocated(level: Row['level']): boolean {
  return level.executor === 'constant-arrival-rate' && (level.maxVus ?? level.vus) <= level.vus;
}

export function judgeValidity(row: Row, host: HostFacts): Validity {
  const reasons: string[] = [];
  const f = row.figures;
  const r = row.resources;
  if (f.requests === 0) reasons.push('k6 completed no request');
  if (f.droppedIterations > 0 && !everyVuPreallocated(row.level)) {
    reasons.push(`k6 dropped ${f.droppedIterations} iterations: the generator had no free VU for the rate asked`);
  }
  const k6Cores = cpusetSize(row.cpusets?.k6 ?? null) ?? host.hostCores;
  if (r.k6CpuCoresAvg !== null && r.k6CpuCoresAvg >= K6_SATURATED_SHARE * k6Cores) {
    reasons.push(`k6 was CPU-saturated: ${r.k6CpuCoresAvg.toFixed(2)} of ${k6Cores} cores on average`);
  } else if (r.hostBusyPercent !== null && r.hostBusyPercent >= HOST_SATURATED_PERCENT) {
    reasons.push(`the host's CPUs were ${r.hostBusyPercent.toFixed(0)}% busy: k6 competed with the model and Postgres for CPU`);
  }
  if (r.dbRefusals > 0) reasons.push(`the database refused ${r.dbRefusals} connections (too many clients)`);
  // Every request that succeeded ran its query; a request the client gave up on may have run
  // its query too (wasted work: row.wastedQueries, a result). Outside [succeeded, sent] the count
  // itself is wrong: queries lost, or queries the run never asked for.
  const succeeded = f.allSucceeded ?? f.succeeded;
  const sent = f.allRequests ?? f.requests;
  if (row.executedQueries < succeeded) {
    reasons.push(`the database executed ${row.executedQueries} world queries for ${succeeded} successful requests (fewer than succeeded)`);
  } else if (row.executedQueries > sent) {
    reasons.push(`the database executed ${row.executedQueries} world queries for ${sent} requests sent (more than sent)`);
  }
  reasons.push(...limitsReasons(row));
  reasons.push(...cpusetReasons(row));
  return { valid: reasons.length === 0, reasons };
}
