// Event loop: ONE process, ONE thread. Every connection is a socket in the same epoll
// set; a request waiting on Postgres costs a promise, not a thread. Concurrency is
// bounded only by the pool (DB_POOL_MAX) and memory.
import {
  Recorder,
  createFastify,
  createLogger,
  createRoutes,
  identify,
  listenOptions,
  loadConfig,
  onShutdownSignal,
  openPoolStore,
  runService,
} from '@models/common';

const MODEL = 'eventloop';

runService(async () => {
  const config = loadConfig(process.env, { dbPoolMax: 100, keepAliveTimeoutMs: 75_000 });
  const log = createLogger(config.logLevel, MODEL);
  const store = openPoolStore(config, MODEL, log);
  const stats = new Recorder(MODEL, () => ({
    unitKind: 'event-loop',
    unitsAlive: 1,
    unitsStarted: 1,
    unitsLimit: 1,
    pids: [process.pid],
    db: { delayMs: config.dbDelayMs, poolMaxPerUnit: config.db.poolMax, pools: 1, pool: store.poolStats() },
  }));
  const server = await createFastify(createRoutes({ identity: identify(MODEL), store, stats, log }), config);
  await server.listen(listenOptions(config));
  log.info({ address: server.server.address(), poolMax: config.db.poolMax }, 'listening');

  onShutdownSignal(log, config.shutdownTimeoutMs, async () => {
    await server.close(); // stops accepting, waits for in-flight requests
    await store.close();
  });
});
