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
    // pg-pool tears down a new connection still opening after this (and ends a queued wait
    // then too); PoolStore bounds each request's wait at db.connectionTimeoutMs itself.
    connectionTimeoutMillis: db.connectTimeoutMs,
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
  readonly #waitMs: number;
  /** Requests waiting now for a client, pooled or still opening (as the Go service counts them). Not pool.waitingCount: pg's queue keeps a request that already got its 503 until the pool serves or drops it. */
  #waiting = 0;

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
    this.#waitMs = db.connectionTimeoutMs;
  }

  async findWorld(id: number): Promise<World | undefined> {
    const result = await this.#withClient((client) =>
      client.query<{ id: number; randomnumber: number }>({ name: WORLD_QUERY_NAME, text: WORLD_QUERY, values: [id, this.#delaySeconds] }),
    );
    return toWorld(result.rows[0]);
  }

  async ping(): Promise<void> {
    await this.#withClient((client) => client.query('SELECT 1'));
  }

  /** Runs `work` on a pooled client, released afterwards (and discarded if the work failed, as pool.query does). */
  async #withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#acquire();
    let failure: Error | undefined;
    // A checked-out client has no listener of the pool's: when Postgres ends the session
    // mid-query (a restart, pg_terminate_backend), pg emits 'error' on the client before the
    // query's rejection reaches us, and an 'error' nobody listens to ends the process.
    const onError = (err: Error): void => {
      failure ??= err;
    };
    client.on('error', onError);
    try {
      return await work(client);
    } catch (err) {
      failure ??= err instanceof Error ? err : new Error(String(err));
      throw classifyDbError(err);
    } finally {
      client.removeListener('error', onError);
      client.release(failure);
    }
  }

  /**
   * A client within DB_CONNECTION_TIMEOUT_MS, or DatabaseUnavailableError (a 503). When
   * this request stops waiting while the pool is still opening a new connection for it,
   * the connection goes on opening (up to DB_CONNECT_TIMEOUT_MS) and joins the pool for
   * the next request. With pg-pool's own timeout at 750 ms, a burst on a busy host tore
   * down every connection that took longer and started it again: the pool never grew,
   * Postgres did the work of each abandoned session, and every request got a 503
   * (make resilience, overload at 1,200 req/s: 196 of them served per second).
   */
  async #acquire(): Promise<pg.PoolClient> {
    const acquiring = this.pool.connect();
    this.#waiting += 1;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DatabaseUnavailableError(`no database connection within ${this.#waitMs} ms`)), this.#waitMs);
    });
    try {
      return await Promise.race([acquiring, waited]);
    } catch (err) {
      // Whenever the pool does hand this request a client, it goes straight back.
      acquiring.then(
        (client) => client.release(),
        () => {},
      );
      throw classifyDbError(err);
    } finally {
      this.#waiting -= 1;
      clearTimeout(timer);
    }
  }

  poolStats(): PoolStats {
    return { max: this.pool.options.max, total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.#waiting };
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
