// The service's endpoints as plain functions from a parsed request to a Reply, so
// every model (fastify or node:http, async or blocking) answers exactly alike.
import type { Logger } from 'pino';
import { DatabaseUnavailableError, type WorldStore } from './db.ts';
import { errorReply, jsonReply, type Reply } from './reply.ts';
import type { Identity } from './identity.ts';
import type { Stats } from './stats.ts';

export const WORLD_ROWS = 10_000;

export type Query = Readonly<Record<string, string | string[] | undefined>>;

export interface Route {
  path: string;
  handle(query: Query): Promise<Reply> | Reply;
}

export interface ServiceApp {
  identity: Identity;
  routes: ReadonlyMap<string, Route>;
  stats: Stats;
  log: Logger;
}

export interface AppParts {
  identity: Identity;
  store: WorldStore;
  stats: Stats;
  log: Logger;
}

/** The id of /db?id=N: a random row when absent, 400 when not one integer, 404 when out of range. */
export function parseWorldId(raw: string | string[] | undefined, random: () => number = Math.random): number | Reply {
  if (raw === undefined) return 1 + Math.floor(random() * WORLD_ROWS);
  if (Array.isArray(raw)) return errorReply(400, 'bad_request', 'id must be given once');
  if (!/^[+-]?\d+$/.test(raw)) return errorReply(400, 'bad_request', `id must be an integer, got ${JSON.stringify(raw.slice(0, 40))}`);
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id < 1 || id > WORLD_ROWS) {
    return errorReply(404, 'not_found', `no world with id ${raw.slice(0, 40)}: ids are 1 to ${WORLD_ROWS}`);
  }
  return id;
}

/** What a client may know of an outage; the driver's words (addresses, host names) go to the log only. */
export const DATABASE_UNAVAILABLE_MESSAGE = 'the database is unavailable; retry later';

/** Logs at most one outage detail per second: under overload every request may fail alike. */
function outageLogger(log: Logger): (err: DatabaseUnavailableError) => void {
  let lastAt = -Infinity;
  let omitted = 0;
  return (err) => {
    const now = performance.now();
    if (now - lastAt < 1_000) {
      omitted += 1;
      return;
    }
    log.warn({ err, similarOmitted: omitted }, 'database unavailable: answered 503');
    lastAt = now;
    omitted = 0;
  };
}

function failure(err: unknown, log: Logger, logOutage: (err: DatabaseUnavailableError) => void): Reply {
  if (err instanceof DatabaseUnavailableError) {
    logOutage(err);
    return errorReply(503, 'database_unavailable', DATABASE_UNAVAILABLE_MESSAGE, { 'retry-after': '1' });
  }
  log.error({ err }, 'request failed');
  return errorReply(500, 'internal_error', 'the request failed; see the service log');
}

export function createRoutes({ identity, store, stats, log }: AppParts): ServiceApp {
  const logOutage = outageLogger(log);
  const list: Route[] = [
    {
      path: '/db',
      async handle(query) {
        const id = parseWorldId(query.id);
        if (typeof id !== 'number') return id;
        try {
          const world = await store.findWorld(id);
          return world ? jsonReply(200, world) : errorReply(404, 'not_found', `no world with id ${id}`);
        } catch (err) {
          return failure(err, log, logOutage);
        }
      },
    },
    { path: '/healthz', handle: () => jsonReply(200, { status: 'ok' }) },
    {
      path: '/readyz',
      async handle() {
        try {
          await store.ping();
          return jsonReply(200, { status: 'ready' });
        } catch (err) {
          return failure(err, log, logOutage);
        }
      },
    },
    {
      path: '/metrics',
      async handle() {
        return { status: 200, body: await stats.metricsText(), contentType: 'text/plain; version=0.0.4; charset=utf-8' };
      },
    },
    {
      path: '/model',
      async handle() {
        const evidence = await stats.evidence();
        return jsonReply(200, { ...evidence, pid: identity.pid, threadId: identity.threadId });
      },
    },
  ];
  return { identity, stats, log, routes: new Map(list.map((r) => [r.path, r])) };
}

/** 405 for a known path with another method, 404 for an unknown path. */
export function unmatched(app: ServiceApp, method: string, path: string): Reply {
  if (app.routes.has(path))
    return errorReply(405, 'method_not_allowed', `${method} is not allowed on ${path}; use GET`, { allow: 'GET, HEAD' });
  return errorReply(404, 'not_found', `no route ${method} ${path.slice(0, 200)}`);
}

export const ALLOWED_METHODS = new Set(['GET', 'HEAD']);
