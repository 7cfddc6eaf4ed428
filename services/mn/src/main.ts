// M:N: many concurrent requests multiplexed over N OS threads in ONE process. Each of the
// N worker threads runs its own event loop, fastify and pg.Pool, and all of them listen on
// the same port with SO_REUSEPORT: the KERNEL hashes each new connection to one thread.
// There is no work stealing (unlike Go's scheduler): a connection stays on its thread.
// The main thread serves no requests; it owns the stats and keeps N threads alive.
import { Worker } from 'node:worker_threads';
import {
  Recorder,
  createLogger,
  loadConfig,
  onShutdownSignal,
  readInt,
  runService,
  serveStats,
  toChannel,
  usableCores,
  whenExited,
  type StatsMessage,
} from '@models/common';
import { DEFAULTS, MODEL, type Address, type ThreadMessage } from './settings.ts';

// Each thread runs thread.ts: an ordinary event-loop server that shares the port.
runService(supervise);

/** The main thread: start N threads on one port, restart any that dies, drain them on SIGTERM. */
async function supervise(): Promise<void> {
  const config = loadConfig(process.env, DEFAULTS);
  const threads = readInt(process.env, 'THREADS', { default: usableCores(), min: 1, max: 256 });
  const log = createLogger(config.logLevel, MODEL);
  const alive = new Set<Worker>();
  const servedByThread: Record<string, number> = {};
  let started = 0;
  let closing = false;
  const recorder = new Recorder(MODEL, () => ({
    unitKind: 'thread',
    unitsAlive: alive.size,
    unitsStarted: started,
    unitsLimit: threads,
    pids: [process.pid],
    db: { delayMs: config.dbDelayMs, poolMaxPerUnit: config.db.poolMax, pools: threads },
    extra: { requestsServedByThread: servedByThread },
  }));

  const startThread = (port: number) =>
    new Promise<Address>((resolve, reject) => {
      const worker = new Worker(new URL('./thread.ts', import.meta.url), { workerData: { port } });
      const id = String(worker.threadId);
      started += 1;
      servedByThread[id] = 0;
      const open = serveStats(toChannel(worker), recorder);
      let boundPort = port;
      worker.on('message', (message: ThreadMessage | StatsMessage) => {
        if (message.t === 'stats.end') servedByThread[id] = (servedByThread[id] ?? 0) + 1;
        if (message.t === 'listening') {
          alive.add(worker);
          boundPort = message.address.port;
          resolve(message.address);
        }
      });
      worker.on('error', (err) => log.error({ err, thread: id }, 'thread failed'));
      worker.on('exit', (code) => {
        const wasServing = alive.delete(worker);
        recorder.abandoned(open.openRequests()); // its open requests died with it
        reject(new Error(`thread ${id} exited (code ${code}) before it listened`));
        if (!wasServing || closing) return;
        log.error({ thread: id, code }, 'thread died: starting a replacement on the same port');
        startThread(boundPort).catch((err: unknown) => log.error({ err }, 'replacement thread failed to start'));
      });
    });

  // With SO_REUSEPORT all threads must bind the SAME port: the first one resolves PORT (0 = any).
  const first = await startThread(config.port);
  await Promise.all(Array.from({ length: threads - 1 }, () => startThread(first.port)));
  log.info({ address: first, threads, poolMaxPerThread: config.db.poolMax }, 'listening');

  onShutdownSignal(log, config.shutdownTimeoutMs, async () => {
    closing = true;
    await Promise.all(
      [...alive].map((worker) => {
        worker.postMessage({ t: 'close' } satisfies ThreadMessage);
        return whenExited(worker); // not once(): it rejects on an 'error' first
      }),
    );
  });
}
