// The database thread of one prefork worker: it owns the worker's pool (DB_POOL_MAX,
// default 1) and answers the worker's blocking calls. The worker's own thread sleeps
// in Atomics.wait meanwhile; this thread exists only because Node's driver is async.
import { flushCompileCache } from 'node:module';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
// Only the two modules it needs: everything imported here is paid again in every worker.
import { serveBlockingCalls } from '@models/common/blocking';
import { PoolStore, type WorldStore } from '@models/common/db';
import type { DbConfig } from '@models/common/unit';

export interface DbThreadData {
  db: DbConfig;
  delayMs: number;
  applicationName: string;
  port: MessagePort;
  signal: Int32Array;
  /** total, idle, waiting of the pool, written after every call for the worker's poolStats(). */
  poolCounts: Int32Array;
}

const { db, delayMs, applicationName, port, signal, poolCounts } = workerData as DbThreadData;
const pool = new PoolStore(db, delayMs, applicationName, () => undefined); // an idle client's error: the next call reports it
const recordCounts = () => {
  const { total, idle, waiting } = pool.poolStats();
  Atomics.store(poolCounts, 0, total);
  Atomics.store(poolCounts, 1, idle);
  Atomics.store(poolCounts, 2, waiting);
};
const store: WorldStore = {
  findWorld: (id) => pool.findWorld(id).finally(recordCounts),
  ping: () => pool.ping().finally(recordCounts),
  poolStats: () => pool.poolStats(),
  close: () => pool.close(),
};
serveBlockingCalls(port, signal, store);
flushCompileCache(); // this thread's modules too, so the next workers' threads skip TypeScript stripping
parentPort?.postMessage('ready');

// The worker asks once, at shutdown: close the pool's connection, then let the thread end.
parentPort?.once('message', () => {
  void pool.close().finally(() => {
    port.close();
    parentPort?.close();
  });
});
