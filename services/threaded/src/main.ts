// Thread-per-request: the main thread accepts each connection, starts a NEW OS thread (a
// worker_thread) for it and hands it the socket; the thread serves that connection
// (keep-alive included) and ends when it closes. A thread's query BLOCKS it (Atomics.wait)
// while ONE pool shared by all threads, owned by the main thread, runs it: servlet threads
// sharing a JDBC pool. MAX_THREADS bounds live threads (0 = unbounded, the classic model);
// at the bound, connections wait in the main thread (QUEUE_MAX), beyond that they get 503.
import { createServer } from 'node:net';
import { UnitPerConnection, createLogger, listen, onShutdownSignal, openPoolStore, runService, unitEnv } from '@models/common';
import { startConnectionThread } from './connection-thread.ts';
import { MODEL, loadThreadedSettings } from './settings.ts';

runService(async () => {
  const { config, maxThreads, queueMax, resourceLimits } = loadThreadedSettings(process.env);
  const log = createLogger(config.logLevel, MODEL);
  const store = openPoolStore(config, MODEL, log);
  const env = unitEnv(MODEL); // the threads read their settings from it, as this thread did
  const threads = new UnitPerConnection(MODEL, 'thread', {
    limit: maxThreads,
    queueMax,
    start: (socket, recorder) => startConnectionThread(socket, { store, recorder, log, resourceLimits, env }),
    evidence: () => ({
      pids: [process.pid],
      db: { delayMs: config.dbDelayMs, poolMaxPerUnit: config.db.poolMax, pools: 1, pool: store.poolStats() },
      extra: { resourceLimits },
    }),
  });

  // accept -> a new thread for this connection
  const server = createServer({ pauseOnConnect: true }, (socket) => threads.accept(socket));
  await listen(server, config, log, { maxThreads, queueMax, poolMax: config.db.poolMax, resourceLimits });

  onShutdownSignal(log, config.shutdownTimeoutMs, async () => {
    await threads.close(server); // stop accepting; each thread finishes its request, closes, ends
    await store.close();
  });
});
