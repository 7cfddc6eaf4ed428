// One connection thread: serves the ONE connection the main thread handed it, then ends.
// Each query blocks this thread in Atomics.wait until the main thread's pool has the row:
// while it waits, this thread runs nothing else, exactly like a thread in a blocking JDBC call.
import type { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import {
  AtomicsTransport,
  BlockingStore,
  poolInSupervisor,
  createLogger,
  serveHandedConnection,
  type BlockingClientEnd,
  type HandedConnection,
  unitRoutes,
} from '@models/common/unit';
import { MODEL, loadThreadedSettings } from './settings.ts';

export interface ThreadData {
  /** This thread's end of the blocking link to the shared pool. */
  end: BlockingClientEnd;
}

// The same settings the main thread read, from the environment it passed on.
const { config } = loadThreadedSettings(process.env);
const { end } = workerData as ThreadData;
const mainThread = parentPort!;
const log = createLogger(config.logLevel, MODEL);
// A wait never outlasts the pool's own bounds (connection + statement timeouts), plus slack.
const store = new BlockingStore(
  new AtomicsTransport(end, config.db.connectionTimeoutMs + config.db.statementTimeoutMs + 1_000),
  poolInSupervisor(config.db.poolMax),
);
const app = unitRoutes(mainThread, { model: MODEL, store, log });

let connection: HandedConnection | undefined;
let drainAsked = false;
mainThread.on('message', (message: { socket?: Socket; t?: string }) => {
  if (message.socket !== undefined) {
    connection = serveHandedConnection(app, config, message.socket);
    if (drainAsked) connection.drain();
    void connection.closed.then(async () => {
      await store.close();
      process.exit(0); // in a worker_thread this ends the thread, not the process
    });
  } else if (message.t === 'drain') {
    drainAsked = true;
    connection?.drain();
  }
});
