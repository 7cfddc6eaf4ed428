// Configuration from the environment, validated once at start. A bad value throws a
// ConfigError whose message is one line: the variable, the value, and what is allowed.

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface IntRule {
  default?: number;
  min: number;
  max: number;
}

/** An integer variable within [min, max]; absent means the default (or an error when there is none). */
export function readInt(env: Env, name: string, rule: IntRule): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    if (rule.default === undefined) throw new ConfigError(`${name} is required: an integer from ${rule.min} to ${rule.max}`);
    return rule.default;
  }
  const value = Number(raw.trim());
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < rule.min || value > rule.max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected an integer from ${rule.min} to ${rule.max}`);
  }
  return value;
}

/** A string variable; absent means the default (or an error when there is none). */
export function readString(env: Env, name: string, fallback?: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback === undefined) throw new ConfigError(`${name} is required: a non-empty string`);
    return fallback;
  }
  return raw;
}

/** One of a fixed set of values. */
export function readChoice<const T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is invalid: expected one of ${allowed.join(', ')}`);
  }
  return raw as T;
}

export interface DbConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Connections per pool (per process or thread that owns a pool). */
  poolMax: number;
  /** How long a request waits for a connection, fresh or from the pool, before answering 503. */
  connectionTimeoutMs: number;
  /**
   * How long a NEW connection may take to open (TCP, authentication, session start) before
   * the pool abandons it. Longer than the wait above on purpose: see PoolStore.
   */
  connectTimeoutMs: number;
  /** Postgres statement_timeout for every query. */
  statementTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface ServiceConfig {
  host: string;
  port: number;
  logLevel: string;
  /** The time each /db query waits inside Postgres (pg_sleep). */
  dbDelayMs: number;
  db: DbConfig;
  shutdownTimeoutMs: number;
  /** Idle keep-alive connections are closed after this (Apache's KeepAliveTimeout is 5 s). */
  keepAliveTimeoutMs: number;
  /** Time allowed for a client to send the request headers: the Slowloris defence. */
  headersTimeoutMs: number;
  /** Time allowed for a whole request to arrive. */
  requestTimeoutMs: number;
  /** Accept queue of the listening socket: listen(2)'s backlog (the kernel caps it at net.core.somaxconn). */
  listenBacklog: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Defaults a model may change (each model has its own natural pool size and keep-alive). */
export interface ConfigDefaults {
  dbPoolMax?: number;
  keepAliveTimeoutMs?: number;
}

export function loadConfig(env: Env, defaults: ConfigDefaults = {}): ServiceConfig {
  const statementTimeoutMs = readInt(env, 'DB_STATEMENT_TIMEOUT_MS', { default: 5_000, min: 1, max: 600_000 });
  const dbDelayMs = readInt(env, 'DB_DELAY_MS', { default: 50, min: 0, max: 60_000 });
  if (dbDelayMs >= statementTimeoutMs) {
    throw new ConfigError(`DB_DELAY_MS=${dbDelayMs} is invalid: it must be below DB_STATEMENT_TIMEOUT_MS (${statementTimeoutMs})`);
  }
  const headersTimeoutMs = readInt(env, 'HEADERS_TIMEOUT_MS', { default: 10_000, min: 1, max: 600_000 });
  const requestTimeoutMs = readInt(env, 'REQUEST_TIMEOUT_MS', { default: 30_000, min: 1, max: 600_000 });
  if (headersTimeoutMs > requestTimeoutMs) {
    // node:http refuses to start with this combination; say so in our own words.
    throw new ConfigError(`HEADERS_TIMEOUT_MS=${headersTimeoutMs} is invalid: it must not exceed REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  return {
    host: readString(env, 'HOST', '0.0.0.0'),
    port: readInt(env, 'PORT', { default: 3000, min: 0, max: 65_535 }),
    logLevel: readChoice(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    dbDelayMs,
    db: {
      host: readString(env, 'DB_HOST', 'localhost'),
      port: readInt(env, 'DB_PORT', { default: 5432, min: 1, max: 65_535 }),
      user: readString(env, 'DB_USER', 'benchmarkdbuser'),
      password: readString(env, 'DB_PASSWORD'),
      database: readString(env, 'DB_NAME', 'hello_world'),
      poolMax: readInt(env, 'DB_POOL_MAX', { default: defaults.dbPoolMax ?? 10, min: 1, max: 10_000 }),
      connectionTimeoutMs: readInt(env, 'DB_CONNECTION_TIMEOUT_MS', { default: 750, min: 1, max: 600_000 }),
      connectTimeoutMs: readInt(env, 'DB_CONNECT_TIMEOUT_MS', { default: 5_000, min: 1, max: 600_000 }),
      statementTimeoutMs,
      idleTimeoutMs: readInt(env, 'DB_IDLE_TIMEOUT_MS', { default: 30_000, min: 0, max: 3_600_000 }),
    },
    shutdownTimeoutMs: readInt(env, 'SHUTDOWN_TIMEOUT_MS', { default: 10_000, min: 100, max: 600_000 }),
    keepAliveTimeoutMs: readInt(env, 'KEEP_ALIVE_TIMEOUT_MS', { default: defaults.keepAliveTimeoutMs ?? 5_000, min: 1, max: 3_600_000 }),
    headersTimeoutMs,
    requestTimeoutMs,
    // Node's default 511 overflows when thousands of clients connect at once (SYN flood warnings, timeouts).
    listenBacklog: readInt(env, 'LISTEN_BACKLOG', { default: 8_192, min: 1, max: 1_048_576 }),
  };
}

/** What every model's listening socket is given: where, and the accept queue's length. */
export function listenOptions(config: ServiceConfig): { host: string; port: number; backlog: number } {
  return { host: config.host, port: config.port, backlog: config.listenBacklog };
}
