// A real Postgres for tests: the image tag docker-compose.yml uses, initialised from
// db/ exactly as the compose database is. Its host port is fixed for the container's
// life so a test can stop and start it (a DB outage) without the address changing.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgreSqlContainer, type StartedPostgreSqlContainer } from '@testcontainers/postgresql';
import { getContainerRuntimeClient } from 'testcontainers';
import { WORLD_QUERY } from '../src/db.ts';

export const POSTGRES_IMAGE = 'postgres:17-bookworm';
const DB_DIR = fileURLToPath(new URL('../../../db/', import.meta.url));

export interface TestDatabase {
  /** DB_* variables for a service under test. */
  env: Record<string, string>;
  /** Runs SQL as the database owner (never through a service). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Times the /db statement ran since the last reset (pg_stat_statements). */
  worldQueryCalls(): Promise<number>;
  /** All statements other than our own pg_stat_statements queries, since the last reset. */
  statementCalls(): Promise<number>;
  resetStatements(): Promise<void>;
  /** Connections other than our own checker's. */
  serviceConnections(): Promise<number>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForQuery(connect: () => pg.Client, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = connect();
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

export async function startTestDatabase(): Promise<TestDatabase> {
  const hostPort = await freePort();
  const container: StartedPostgreSqlContainer = await new PostgreSqlContainer(POSTGRES_IMAGE)
    .withDatabase('hello_world')
    .withUsername('benchmarkdbuser')
    .withPassword('test-only-password')
    .withExposedPorts({ container: 5432, host: hostPort })
    .withCopyDirectoriesToContainer([{ source: `${DB_DIR}initdb`, target: '/docker-entrypoint-initdb.d' }])
    .withCopyFilesToContainer([{ source: `${DB_DIR}postgresql.conf`, target: '/etc/postgresql/postgresql.conf' }])
    .withCommand(['postgres', '-c', 'config_file=/etc/postgresql/postgresql.conf', '-c', 'max_connections=200'])
    .withSharedMemorySize(256 * 1024 * 1024)
    .start();

  const settings = {
    host: container.getHost(),
    port: hostPort,
    user: container.getUsername(),
    password: container.getPassword(),
    database: container.getDatabase(),
  };
  const checker = new pg.Pool({ ...settings, max: 2, application_name: 'test-checker', connectionTimeoutMillis: 5_000 });
  checker.on('error', () => undefined); // the checker's idle clients die when a test stops the database
  const query = async <R extends pg.QueryResultRow>(sql: string, values?: unknown[]) => (await checker.query<R>(sql, values)).rows;
  const client = await getContainerRuntimeClient();
  const handle = client.container.getById(container.getId());

  return {
    env: {
      DB_HOST: settings.host,
      DB_PORT: String(hostPort),
      DB_USER: settings.user,
      DB_PASSWORD: settings.password,
      DB_NAME: settings.database,
    },
    query,
    async worldQueryCalls() {
      const rows = await query<{ calls: string }>('SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements WHERE query = $1', [
        WORLD_QUERY,
      ]);
      return Number(rows[0]?.calls ?? 0);
    },
    async statementCalls() {
      const rows = await query<{ calls: string }>(
        "SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat%'",
      );
      return Number(rows[0]?.calls ?? 0);
    },
    async resetStatements() {
      await query('SELECT pg_stat_statements_reset()');
    },
    async serviceConnections() {
      const rows = await query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name <> 'test-checker' AND pid <> pg_backend_pid()",
        [settings.database],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async stop() {
      await client.container.stop(handle, { timeout: 5 });
    },
    async start() {
      await client.container.start(handle);
      await waitForQuery(() => new pg.Client({ ...settings, connectionTimeoutMillis: 2_000 }), 60_000);
    },
    async close() {
      await checker.end().catch(() => undefined);
      await container.stop({ timeout: 5 }).catch(() => undefined);
    },
  };
}
