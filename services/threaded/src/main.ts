// Thread-per-request: the main thread accepts each connection, starts a NEW OS thread (a
// worker_thread) for it and hands it the socket; the thread serves that connection
// (keep-alive included) and ends when it closes. A thread's query BLOCKS it (Atomics.wait)
// while ONE pool shared by all threads, owned by the main thread, runs it: servlet threads
// sharing a JDBC pool. MAX_THREADS bounds live threads (0 = unbounded, the classic model);
// at the bound, connections wait in the main thread (QUEUE_MAX), beyond that they get 503.
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import {
  Recorder, UnitPerConnection, createBlockingLink, createLogger, identify, loadConfig, onShutdownSignal, openPoolStore,
  readInt, runService, serveBlockingCalls, serveStats, toChannel, unitEnv,
} from '@models/common';
import type { ThreadData } from './thread.ts';

const MODEL = 'threaded';

runService(async () => {
  // One pool for the whole process, like a JDBC pool shared by servlet threads; Apache's 5 s keep-alive.
  const config = loadConfig(process.env, { dbPoolMax: 100, keepAliveTimeoutMs: 5_000 });
  const maxThreads = readInt(process.env, 'MAX_THREADS', { default: 0, min: 0, max: 100_000 });
  const queueMax = readInt(process.env, 'QUEUE_MAX', { default: 1_024, min: 0, max: 100_000 });
  const resourceLimits = readIsolateLimits();
  const env = unitEnv(MODEL);
  const log = createLogger(config.logLevel, MODEL);
  const store = openPoolStore(config, MODEL, log);

  const threads: UnitPerConnection = new UnitPerConnection({
    limit: maxThreads === 0 ? null : maxThreads, queueMax, identity: identify(MODEL),
    start(socket: Socket) {
      const link = createBlockingLink();
      serveBlockingCalls(link.server, link.client.signal, store);
      const data: ThreadData = { config, end: link.client };
      const thread = new Worker(new URL('./thread.ts', import.meta.url), { workerData: data, transferList: [link.client.port], resourceLimits, env });
      const requests = serveStats(toChannel(thread), recorder);
      thread.on('error', (err) => log.error({ err, threadId: thread.threadId }, 'connection thread failed'));
      // Node 24 can move an unread socket into another thread.
      thread.postMessage({ socket }, [socket as unknown as TransferListItem]);
      const ended = once(thread, 'exit').then(() => {
        link.server.close();
        recorder.abandoned(requests.openRequests()); // a thread that died mid-request
      });
      return { ended, drain: () => thread.postMessage({ t: 'drain' }) };
    },
  });
  const recorder: Recorder = new Recorder(MODEL, () => ({
    unitKind: 'thread', unitsAlive: threads.alive, unitsStarted: threads.started, unitsLimit: maxThreads === 0 ? null : maxThreads,
    pids: [process.pid], db: { delayMs: config.dbDelayMs, poolMaxPerUnit: config.db.poolMax, pools: 1, pool: store.poolStats() },
    extra: { queued: threads.queued, queueMax, rejected503: threads.rejected, resourceLimits },
  }));

  const address = await threads.listen(config.host, config.port);
  log.info({ address, maxThreads, queueMax, poolMax: config.db.poolMax, resourceLimits }, 'listening');

  onShutdownSignal(log, config.shutdownTimeoutMs, async () => {
    await threads.close(); // stop accepting; each thread finishes its request, closes, ends
    await store.close();
  });
});

/** Optional V8 heap bounds for each thread's isolate (MB, 0 = V8's default). */
function readIsolateLimits(): ResourceLimits {
  const limits: ResourceLimits = {
    maxOldGenerationSizeMb: readInt(process.env, 'THREAD_MAX_OLD_MB', { default: 0, min: 0, max: 16_384 }),
    maxYoungGenerationSizeMb: readInt(process.env, 'THREAD_MAX_YOUNG_MB', { default: 0, min: 0, max: 1_024 }),
  };
  return Object.fromEntries(Object.entries(limits).filter(([, mb]) => mb > 0));
}
