// One of mn's N threads (main.ts starts them): an ordinary event-loop server with its own
// fastify and pg.Pool, listening with SO_REUSEPORT on the port its siblings share, so the
// kernel decides which thread a new connection reaches.
import type { ListenOptions } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { createFastify, createLogger, listenOptions, loadConfig, openPoolStore, runService, unitRoutes } from '@models/common';
import { DEFAULTS, MODEL, type Address, type ThreadMessage } from './settings.ts';

runService(serveOneThread);

/** One OS thread: an ordinary event-loop server that shares the port with its siblings. */
async function serveOneThread(): Promise<void> {
  const config = loadConfig(process.env, DEFAULTS);
  const log = createLogger(config.logLevel, MODEL);
  const supervisor = parentPort!;
  const store = openPoolStore(config, MODEL, log);
  const server = await createFastify(unitRoutes(supervisor, { model: MODEL, store, log }), config);
  supervisor.on('message', (message: ThreadMessage) => {
    if (message.t !== 'close') return;
    // fastify's close waits for in-flight requests; then the port is all that keeps the thread alive.
    void server
      .close()
      .then(() => store.close())
      .finally(() => supervisor.close());
  });
  const listenOn: ListenOptions = { ...listenOptions(config), port: (workerData as { port: number }).port, reusePort: true };
  await server.listen(listenOn);
  supervisor.postMessage({ t: 'listening', address: server.server.address() as Address } satisfies ThreadMessage);
}
