// The one query every model runs, and the pool it runs on.
import pg from 'pg';
import type { Logger } from 'pino';
import type { DbConfig, ServiceConfig } from './config.ts';

/**
 * One statement that fetches a row AND spends the delay inside Postgres, so the
 * 50 ms is real database time and pg_stat_statements counts one call per request.
 */
export const WORLD_QUERY = 'SELECT w.id, w.randomnumber FROM world w, pg_sleep($2) WHERE w.id = $1';
export const WORLD_QUERY_NAME = 'world-by-id';

export interface World {
  id: number;
  randomNumber: number;
}

export interface PoolStats {
  max: number;
  total: number;
  idle: number;
  waiting: number;
}

/**
 * Where /db and /readyz get their data. The async pool returns promises; a blocking
 * store (prefork) returns plain values after its thread waited in the call.
 */
export interface WorldStore {
  findWorld(id: number): Promise<World | undefined> | World | undefined;
  ping(): Promise<void> | void;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

/** Postgres or the network is not there: the right answer is a fast 503. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

// SQLSTATE classes/codes that mean "the database cannot serve you now".
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0)|^57014$/;
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
const UNAVAILABLE_MESSAGE = /timeout|terminat|Connection ended|not queryable|Client has encountered a connection error|pool is ended/i;

/** Turns driver errors that mean "unavailable" into DatabaseUnavailableError; leaves real bugs alone. */
export function classifyDbError(err: unknown): Error {
  if (err instanceof DatabaseUnavailableError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code) || UNAVAILABLE_MESSAGE.test(message)) {
    return new DatabaseUnavailableError(message || code, { cause: err });
  }
  return err instanceof Error ? err : new Error(message);
}

/** pg's defaults (max 10, wait forever for a connection) must never leak through: everything is explicit. */
export function poolOptions(db: DbConfig, applicationName: string): pg.PoolConfig {
  return {
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
    database: db.database,
    max: db.poolMax,
    connectionTimeoutMillis: db.connectionTimeoutMs,
    idleTimeoutMillis: db.idleTimeoutMs,
    // Sent as a startup parameter, so it costs no extra statement per connection.
    statement_timeout: db.statementTimeoutMs,
    // Client-side bound for a query whose server went silent (no RST, no answer).
    query_timeout: db.statementTimeoutMs + db.connectionTimeoutMs,
    application_name: applicationName,
    allowExitOnIdle: false,
  };
}

export function toWorld(row: { id: number; randomnumber: number } | undefined): World | undefined {
  return row === undefined ? undefined : { id: row.id, randomNumber: row.randomnumber };
}

/** The async store: a pg.Pool shared by every request of one event loop. */
export class PoolStore implements WorldStore {
  readonly pool: pg.Pool;
  readonly #delaySeconds: number;

  constructor(db: DbConfig, delayMs: number, applicationName: string, onIdleError: (err: Error) => void) {
    this.pool = new pg.Pool(poolOptions(db, applicationName));
    // An idle client whose server went away emits 'error' on the pool; unhandled, it would crash the process.
    // pg-pool attaches the whole client to that error (err.client): a logger would print all of it.
    this.pool.on('error', (err: Error & { client?: unknown; code?: string }) => {
      const summary: Error & { code?: string } = new Error(err.message);
      summary.name = err.name;
      if (err.stack !== undefined) summary.stack = err.stack;
      if (err.code !== undefined) summary.code = err.code;
      onIdleError(summary);
    });
    this.#delaySeconds = delayMs / 1000;
  }

  async findWorld(id: number): Promise<World | undefined> {
    try {
      const result = await this.pool.query<{ id: number; randomnumber: number }>({
        name: WORLD_QUERY_NAME,
        text: WORLD_QUERY,
        values: [id, this.#delaySeconds],
      });
      return toWorld(result.rows[0]);
    } catch (err) {
      throw classifyDbError(err);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      throw classifyDbError(err);
    }
  }

  poolStats(): PoolStats {
    return { max: this.pool.options.max, total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

/**
 * The model's async pool, named after the model in pg_stat_activity. `poolMax` overrides
 * DB_POOL_MAX where one pool serves several units (prefork's master pools for every worker).
 */
export function openPoolStore(config: ServiceConfig, model: string, log: Logger, poolMax = config.db.poolMax): PoolStore {
  return new PoolStore({ ...config.db, poolMax }, config.dbDelayMs, model, (err) => log.warn({ err }, 'idle database client failed'));
}
