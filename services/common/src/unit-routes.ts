// The routes of a unit that serves outside its supervisor (a prefork worker, a connection
// thread, a forked child, one of mn's threads): the routes every model has, answering as
// `model`, each request reported over the channel to the supervisor, whose Recorder
// /model and /metrics read.
import type { Logger } from 'pino';
import type { WorldStore } from './db.ts';
import { identify } from './identity.ts';
import { createRoutes, type ServiceApp } from './routes.ts';
import { RemoteStats, toChannel } from './stats-protocol.ts';

export function unitRoutes(
  supervisor: Parameters<typeof toChannel>[0],
  unit: { model: string; store: WorldStore; log: Logger },
): ServiceApp {
  const { model, store, log } = unit;
  return createRoutes({ identity: identify(model), store, stats: new RemoteStats(toChannel(supervisor)), log });
}
