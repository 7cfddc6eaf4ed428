// Prefork: a master process and POOL_SIZE worker processes started ahead of time. The
// master only accepts: each connection waits, paused, in the master's queue until a
// worker says it is idle, and then belongs to that worker alone until it closes. A
// worker runs its query BLOCKING (it sleeps in read(2) on a pipe while the master's pool
// runs it), so in-flight requests can never exceed POOL_SIZE.
// With POOL_SIZE=1 this is the single-threaded blocking server ('blocking').
import { createServer } from 'node:net';
import { Admission, Recorder, createLogger, identify, listen, onShutdownSignal, openPoolStore, runService } from '@models/common';
import { IdleDispatcher } from './dispatcher.ts';
import { loadPreforkSettings } from './settings.ts';
import { WorkerPool, type PreforkWorker } from './workers.ts';

runService(async () => {
  const { model, config, poolSize, queueMax, workerExecArgv, compileCacheDir } = loadPreforkSettings(process.env);
  const log = createLogger(config.logLevel, model);
  const identity = identify(model);
  // DB_POOL_MAX connections per worker (default 1: each worker in effect has its own
  // connection, like Apache+PHP persistent connections), all in one pool of the master.
  const store = openPoolStore(config, model, log, poolSize * config.db.poolMax);
  const admission = new Admission({
    queueMax,
    identity,
    overloaded: `all ${poolSize} workers are busy and ${queueMax} connections are waiting`,
  });
  const dispatcher: IdleDispatcher<PreforkWorker> = new IdleDispatcher(admission, (worker, socket) =>
    workers.hand(worker, socket, (s) => dispatcher.retry(s)),
  );
  const recorder: Recorder = new Recorder(model, () => ({
    unitKind: 'process',
    unitsAlive: workers.alive,
    unitsStarted: workers.started,
    unitsLimit: poolSize,
    pids: [process.pid, ...workers.pids()],
    // pools = POOL_SIZE: the master's pool is sized for every worker, dead or alive.
    db: { delayMs: config.dbDelayMs, poolMaxPerUnit: config.db.poolMax, pools: poolSize, pool: store.poolStats() },
    extra: {
      queued: admission.queued,
      queueMax,
      idleWorkers: dispatcher.idleWorkers,
      busyWorkers: workers.busy,
      rejected503: admission.rejected,
    },
  }));
  const workers: WorkerPool = new WorkerPool({
    entry: new URL('./worker.ts', import.meta.url),
    execArgv: workerExecArgv,
    compileCacheDir,
    size: poolSize,
    recorder,
    store,
    log,
    onIdle: (worker) => dispatcher.workerIdle(worker),
    onGone: (worker) => dispatcher.forget(worker),
  });
  await workers.start();

  const server = createServer({ pauseOnConnect: true }, (socket) => dispatcher.accept(socket));
  await listen(server, config, log, { poolSize, queueMax, workerExecArgv });

  onShutdownSignal(log, config.shutdownTimeoutMs, async () => {
    server.close(); // stop accepting
    admission.close(); // the waiting connections get 503 shutting_down
    await workers.drain(); // each worker finishes its request, closes its connection and exits
    await store.close();
  });
});
