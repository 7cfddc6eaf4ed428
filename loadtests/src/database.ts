// The runner's own view of Postgres: pg_stat_statements (queries actually executed),
// pg_stat_activity (connections each model holds) and the server's settings.
import pg from 'pg';
import { WORLD_QUERY } from '@models/common';

export const RUNNER_APPLICATION_NAME = 'loadrunner';

export interface DatabaseSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/**
 * The runner reads pg_stat_statements and every session in pg_stat_activity: it connects as
 * the database's admin (DB_ADMIN_USER / DB_ADMIN_PASSWORD, default user postgres), falling
 * back to DB_USER / DB_PASSWORD where no admin is configured (the models' own role before
 * they moved to an application role).
 */
export function adminSettings(env: NodeJS.ProcessEnv, defaultHost: string): DatabaseSettings {
  const adminPassword = env.DB_ADMIN_PASSWORD;
  const useAdmin = adminPassword !== undefined && adminPassword !== '';
  const password = useAdmin ? adminPassword : (env.DB_PASSWORD ?? env.POSTGRES_PASSWORD);
  if (password === undefined || password === '')
    throw new Error('DB_ADMIN_PASSWORD or DB_PASSWORD (from .env) is required to read pg_stat_statements');
  return {
    host: env.DB_HOST ?? defaultHost,
    port: Number(env.DB_PORT ?? 5432),
    user: useAdmin ? env.DB_ADMIN_USER || 'postgres' : (env.DB_USER ?? env.POSTGRES_USER ?? 'benchmarkdbuser'),
    password,
    database: env.DB_NAME ?? env.POSTGRES_DB ?? 'hello_world',
  };
}

export class Database {
  readonly #pool: pg.Pool;

  constructor(settings: DatabaseSettings) {
    this.#pool = new pg.Pool({ ...settings, max: 2, application_name: RUNNER_APPLICATION_NAME, connectionTimeoutMillis: 15_000 });
    this.#pool.on('error', () => undefined); // an idle checker connection dying is not the run's problem
  }

  /**
   * Tries three times: right after a level Postgres may still be busy with thousands of
   * sessions (measured: a 5 s connect timeout ended a run after a 5,000-connection level on a
   * loaded 2-core host), and one slow connect must not throw the run's figures away.
   */
  async #rows<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return (await this.#pool.query<R>(sql, values)).rows;
      } catch (err) {
        if (attempt >= 3 || !/timeout|terminated|ECONNRESET|ECONNREFUSED/i.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 2000 * attempt));
      }
    }
  }

  async resetStatements(): Promise<void> {
    await this.#rows('SELECT pg_stat_statements_reset()');
  }

  /**
   * The world statement since the last reset, in one read of pg_stat_statements: how many
   * times it completed, and how long Postgres itself took to execute it (exec time: from the
   * executor's start to its end, so not the time a statement waited for a pooled connection
   * or for its backend to be scheduled; null when it never ran).
   */
  async worldQueryStats(): Promise<{ calls: number; execution: { meanMs: number; maxMs: number } | null }> {
    const rows = await this.#rows<{ calls: string | null; mean: number | null; max: number | null }>(
      'SELECT sum(calls)::bigint AS calls, sum(total_exec_time) / nullif(sum(calls), 0) AS mean, max(max_exec_time) AS max FROM pg_stat_statements WHERE query = $1',
      [WORLD_QUERY],
    );
    const { calls, mean, max } = rows[0] ?? { calls: null, mean: null, max: null };
    return { calls: Number(calls ?? 0), execution: mean === null || max === null ? null : { meanMs: Number(mean), maxMs: Number(max) } };
  }

  /** World statements running right now (a level's leftovers must finish before the next is measured). */
  async activeWorldQueries(): Promise<number> {
    const rows = await this.#rows<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1", [
      WORLD_QUERY,
    ]);
    return Number(rows[0]?.n ?? 0);
  }

  /** Client connections per application_name, ours excluded. */
  async connectionsByApplication(): Promise<Record<string, number>> {
    const rows = await this.#rows<{ app: string; n: string }>(
      `SELECT application_name AS app, count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND application_name <> $1
        GROUP BY application_name`,
      [RUNNER_APPLICATION_NAME],
    );
    return Object.fromEntries(rows.map((r) => [r.app, Number(r.n)]));
  }

  async settings(): Promise<{ version: string; maxConnections: number; reservedConnections: number }> {
    const rows = await this.#rows<{ version: string; max: string; reserved: string }>(
      "SELECT version() AS version, current_setting('max_connections') AS max, current_setting('superuser_reserved_connections') AS reserved",
    );
    const row = rows[0];
    return { version: row?.version ?? 'unknown', maxConnections: Number(row?.max ?? 0), reservedConnections: Number(row?.reserved ?? 0) };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
