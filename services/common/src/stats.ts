// Request accounting and the model's evidence. One Recorder per service lives in the
// process/thread that supervises the units (workers, threads, children); units that
// run elsewhere report to it over their IPC channel (see stats-protocol.ts). So in-flight
// "now" and "max" count requests across the whole service, whatever the model.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { readCgroup, residentBytes, type CgroupReading } from './cgroup.ts';
import type { PoolStats } from './db.ts';

export interface RequestRecord {
  route: string;
  /** The status sent, or 'aborted' when the client went away before the response was sent. */
  status: number | 'aborted';
  seconds: number;
}

/** How a model describes itself at this moment; supplied by the model's supervisor. */
export interface ModelDescription {
  /** What a unit of concurrency is in this model. */
  unitKind: 'event-loop' | 'thread' | 'process';
  /** Units alive now (workers, threads, child processes). */
  unitsAlive: number;
  /** Units started since the service started. */
  unitsStarted: number;
  /** The configured bound on units, or null for unbounded. */
  unitsLimit: number | null;
  /** Every process of the service, for summing resident memory. */
  pids: readonly number[];
  /**
   * Connection pools: per unit configuration and what the supervisor can see, and the time
   * each /db query waits inside Postgres (DB_DELAY_MS), so a reader needs no other source for it.
   */
  db: { delayMs: number; poolMaxPerUnit: number; pools: number; pool?: PoolStats };
  /** Anything else that proves the model (queue lengths, dispatcher state...). */
  extra?: Record<string, unknown>;
}

export interface Evidence {
  model: string;
  /** The process and thread that answered this request. */
  pid: number;
  threadId: number;
  supervisorPid: number;
  node: string;
  units: { kind: ModelDescription['unitKind']; alive: number; started: number; limit: number | null };
  inFlight: { now: number; max: number };
  requestsTotal: number;
  db: ModelDescription['db'] & { maxConnections: number };
  memory: { rssBytes: number; processes: number };
  cgroup: CgroupReading;
  extra: Record<string, unknown>;
}

/** What a unit needs: report requests, and ask for the service-wide view. */
export interface Stats {
  started(): void;
  finished(record: RequestRecord): void;
  metricsText(): Promise<string>;
  evidence(): Promise<Evidence>;
}

export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.055, 0.06, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The service-wide record, with a Prometheus registry. Lives in the supervisor. */
export class Recorder implements Stats {
  readonly registry = new Registry();
  #inFlight = 0;
  #inFlightMax = 0;
  #total = 0;
  readonly #model: string;
  readonly #describe: () => ModelDescription;
  readonly #requests: Counter<'route' | 'status'>;
  readonly #latency: Histogram<'route'>;
  readonly #inFlightGauge: Gauge;
  readonly #inFlightMaxGauge: Gauge;

  constructor(model: string, describe: () => ModelDescription) {
    this.#model = model;
    this.#describe = describe;
    const registers = [this.registry];
    this.registry.setDefaultLabels({ model });
    collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: 'http_requests_total',
      help: 'Requests by route and status; status="aborted": the client went away before the response was sent.',
      labelNames: ['route', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from request to response end.',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#inFlightGauge = new Gauge({ name: 'http_requests_in_flight', help: 'Requests being served now, across all units.', registers });
    this.#inFlightMaxGauge = new Gauge({
      name: 'http_requests_in_flight_max',
      help: 'Most requests ever in flight at once since start.',
      registers,
    });
    const gauge = (name: string, help: string, read: () => number | null, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          const value = read();
          if (value !== null) this.set(value);
        },
      });
    gauge('model_units_alive', 'Units of concurrency alive (threads, processes or 1 event loop).', () => this.#describe().unitsAlive);
    gauge('model_units_started', 'Units of concurrency started since the service started.', () => this.#describe().unitsStarted);
    gauge('model_units_limit', 'Configured bound on units (absent when unbounded).', () => this.#describe().unitsLimit);
    gauge('model_db_max_connections', 'Database connections the service may open in all (pool max x pools).', () => {
      const { db } = this.#describe();
      return db.poolMaxPerUnit * db.pools;
    });
    gauge('service_resident_memory_bytes', 'Resident memory summed over every process of the service.', () =>
      residentBytes(this.#describe().pids),
    );
    // One reading of the cgroup files per scrape: prom-client runs every collect() in the same
    // turn of the event loop, so the gauges below share what the first one read.
    let reading: CgroupReading | undefined;
    const cgroupNow = (): CgroupReading => {
      if (reading === undefined) {
        reading = readCgroup();
        setImmediate(() => {
          reading = undefined;
        });
      }
      return reading;
    };
    gauge('container_memory_bytes', 'Memory the container cgroup uses now.', () => cgroupNow().memoryCurrentBytes);
    gauge('container_memory_peak_bytes', 'Highest memory the container cgroup used.', () => cgroupNow().memoryPeakBytes);
    gauge('container_memory_limit_bytes', 'Memory limit of the container cgroup.', () => cgroupNow().memoryLimitBytes);
    gauge('container_cpu_quota_cores', 'CPU quota of the container cgroup, in cores.', () => cgroupNow().cpuQuotaCores);
    gauge('container_cpu_usage_seconds', 'CPU time used by the container cgroup.', () => cgroupNow().cpuUsageSeconds);
    gauge('container_oom_kills', 'OOM kills in the container cgroup.', () => cgroupNow().oomKills);
  }

  started(): void {
    this.#inFlight += 1;
    this.#inFlightGauge.set(this.#inFlight);
    if (this.#inFlight > this.#inFlightMax) {
      this.#inFlightMax = this.#inFlight;
      this.#inFlightMaxGauge.set(this.#inFlightMax);
    }
  }

  finished(record: RequestRecord): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    this.#total += 1;
    this.#inFlightGauge.set(this.#inFlight);
    this.#requests.inc({ route: record.route, status: String(record.status) });
    // An aborted request has no response end: its time is the client's patience, not the model's latency.
    if (record.status !== 'aborted') this.#latency.observe({ route: record.route }, record.seconds);
  }

  /** Forget the in-flight requests of a unit that died mid-request. */
  abandoned(count: number): void {
    this.#inFlight = Math.max(0, this.#inFlight - count);
    this.#inFlightGauge.set(this.#inFlight);
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  evidence(): Promise<Evidence> {
    const d = this.#describe();
    return Promise.resolve({
      model: this.#model,
      pid: process.pid,
      threadId: 0,
      supervisorPid: process.pid,
      node: process.version,
      units: { kind: d.unitKind, alive: d.unitsAlive, started: d.unitsStarted, limit: d.unitsLimit },
      inFlight: { now: this.#inFlight, max: this.#inFlightMax },
      requestsTotal: this.#total,
      db: { ...d.db, maxConnections: d.db.poolMaxPerUnit * d.db.pools },
      memory: { rssBytes: residentBytes(d.pids), processes: d.pids.length },
      cgroup: readCgroup(),
      extra: d.extra ?? {},
    });
  }
}
