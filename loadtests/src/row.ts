// One measured level of one model: everything the validity rules, the verdict and the report read.
import type { LoadFigures } from './k6-summary.ts';
import type { Level, ModelName } from './scenarios.ts';

export interface Resources {
  /** Highest container memory Docker reported while the level ran (page cache excluded). */
  peakMemoryBytes: number | null;
  /** Highest RSS over all the model's processes, from its /model. */
  peakRssBytes: number | null;
  cpuCoresAvg: number | null;
  cpuCoresPeak: number | null;
  k6CpuCoresAvg: number | null;
  k6CpuCoresPeak: number | null;
  k6PeakMemoryBytes: number | null;
  /** Whole host, from /proc/stat: how busy every core was during the level. */
  hostBusyPercent: number | null;
  unitsAlivePeak: number | null;
  unitsStarted: number | null;
  processesPeak: number | null;
  inFlightPeak: number | null;
  dbConnectionsPeak: number | null;
  /** The model's own capacity for database connections (pool max x pools). */
  dbConnectionsMax: number | null;
  restarts: number;
  oomKills: number;
  /** Postgres log lines that refused a connection ("too many clients") during the level. */
  dbRefusals: number;
  /** Samples of /model that did not answer within a second (the model was too busy or down). */
  modelProbeFailures: number;
  /** ESTABLISHED client sockets on the model's port inside its container, at most (server-side). */
  serverConnectionsPeak?: number | null;
  /** nginx's client connections at most (rows through the proxy). */
  proxyConnectionsPeak?: number | null;
  /** The model's memory idle, after a fresh restart, before the level. */
  baselineMemoryBytes?: number | null;
  memoryOverBaselineBytes?: number | null;
  memoryPerConnectionBytes?: number | null;
  /** The level began while the model was still recovering from the previous one. */
  recovering?: boolean | null;
}

export interface Limits {
  /** What the report claims (MODEL_CPUS / MODEL_MEMORY as the Makefile passed them, clamped). */
  claimedCpus: number | null;
  claimedMemoryBytes: number | null;
  /** What Docker was told for this container. */
  declaredCpus: number | null;
  declaredMemoryBytes: number | null;
  /** What the container itself reads from its cgroup (via /model). */
  cgroupCpus: number | null;
  cgroupMemoryBytes: number | null;
}

export interface Row {
  model: ModelName;
  level: Level;
  offeredRate: number;
  figures: LoadFigures;
  resources: Resources;
  /** pg_stat_statements calls of the world statement during the measured run. */
  executedQueries: number;
  limits: Limits;
  files: { k6: string; samples: string };
  /** Queries the database ran for requests the client had given up on (timed out). */
  wastedQueries?: number | null;
  /** In flight the offered rate needs at the floor (Little's law: rate x DB delay). */
  neededInFlight?: number | null;
  /** DB_DELAY_MS the model reported on /model for this level (the floor under every latency). */
  dbDelayMs?: number | null;
}

export interface Validity {
  valid: boolean;
  reasons: string[];
}

export interface Judged extends Row {
  validity: Validity;
  bottleneck: string;
  verdict: { verdict: 'confirmed' | 'refuted' | 'differs'; figure: string };
}
