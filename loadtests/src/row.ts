// One measured level of one model: everything the validity rules, the verdict and the report read.
import type { LoadFigures } from './k6-summary.ts';
import type { Level, ModelName } from './scenarios.ts';
import type { ServiceLatency } from './service-latency.ts';

/** Fields marked optional are absent from rows.json of runs made before the runner wrote them. */
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
  /** Highest count of ESTABLISHED sockets on the model's port inside its container (sampled every 3 s). */
  serverConnectionsPeak?: number | null;
  /** Proxy levels: highest count of nginx's ESTABLISHED client sockets (port 8080) in the proxy container. */
  proxyConnectionsPeak?: number | null;
  /** The model's memory after its fresh start, healthy and idle (same definition as peakMemoryBytes). */
  baselineMemoryBytes?: number | null;
  baselineRssBytes?: number | null;
  memoryOverBaselineBytes?: number | null;
  /** Over baseline / server-side connections held (levels that hold connections only). */
  memoryPerConnectionBytes?: number | null;
  /** The model (re)started within RECOVERING_WINDOW_S before the level, other than the runner's own fresh start. */
  recovering?: boolean;
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
  /** Queries the database ran for requests that did not succeed (executed - succeeded, 0 when not above). */
  wastedQueries?: number;
  /** Little's law: offered rate x the model's database delay: queries in flight the level needs. */
  neededInFlight?: number;
  /** cpusets as claimed (ISOLATE) and as Docker reports them; null fields: not pinned. */
  cpusets?: { claimedModel: string | null; model: string | null; claimedMeasurement: string | null; k6: string | null };
  limits: Limits;
  /**
   * Where the time went (service-latency.ts): the model's own timing of /db over the measured
   * run, and Postgres's execution time of the statement. Null parts: not read.
   */
  tail?: { service: ServiceLatency | null; dbExecution: { meanMs: number; maxMs: number } | null };
  files: { k6: string; samples: string };
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
