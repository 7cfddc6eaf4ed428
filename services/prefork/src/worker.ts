// One prefork worker process: ONE connection at a time, ONE request at a time, and the
// query runs BLOCKING (this thread sleeps in Atomics.wait until Postgres answers; no
// other socket, timer or request runs meanwhile). The master gives it a connection only
// after it said idle; it keeps that connection for keep-alive requests until the client
// closes it or it idles out (KEEP_ALIVE_TIMEOUT_MS), then says idle again.
import { flushCompileCache } from 'node:module';
import { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import {
  BlockingStore, RemoteStats, createBlockingLink, createHttpServer, createLogger, createRoutes, identify, toChannel,
  type ServiceConfig,
} from '@models/common/unit';
import { CONNECTION, DRAIN, IDLE, isMessage } from './messages.ts';
import { loadPreforkSettings } from './settings.ts';
import type { DbThreadData } from './db-thread.ts';

const { model, config } = loadPreforkSettings(process.env);
const log = createLogger(config.logLevel, model);
const database = startDatabaseThread(config);
const app = createRoutes({ identity: identify(model), store: database.store, stats: new RemoteStats(toChannel(process)), log });
const server = createHttpServer(app, config);
// Node starts the headers/request timeout checker (the Slowloris defence) on 'listening'.
// This server never listens (its sockets come from the master), so announce it ourselves.
server.emit('listening');

let connection: Socket | undefined;
let requestsOpen = 0;
let draining = false;
server.on('request', (_req, res) => {
  requestsOpen += 1;
  res.once('close', () => {
    requestsOpen -= 1;
    if (draining) connection?.end(); // the request is answered: now close, as the master asked
  });
});

process.on('message', (message, handle) => {
  if (isMessage(message, CONNECTION) && handle instanceof Socket) serve(handle);
  else if (isMessage(message, DRAIN)) drain();
});
// The master owns shutdown: a Ctrl-C sent to the whole process group must not cut a request short.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => process.exit(0)); // the master is gone: nobody can give us work
await database.ready;
// Compiled (type-stripped) modules go to NODE_COMPILE_CACHE now, so workers started after
// this one skip TypeScript stripping altogether (see README, "Memory").
flushCompileCache();
process.send?.(IDLE);

function serve(socket: Socket): void {
  if (connection !== undefined) {
    log.error('a second connection while one is open: the dispatcher is broken; refusing it');
    socket.destroy();
    return;
  }
  connection = socket;
  socket.once('close', () => {
    connection = undefined;
    if (draining) void exit();
    else process.send?.(IDLE);
  });
  server.emit('connection', socket);
  socket.resume();
}

function drain(): void {
  draining = true;
  server.close(); // stops the timeout checker
  if (connection === undefined) void exit();
  else if (requestsOpen === 0) connection.end();
}

async function exit(): Promise<void> {
  await database.close();
  process.exit(0);
}

function startDatabaseThread(settings: ServiceConfig) {
  const link = createBlockingLink();
  const poolCounts = new Int32Array(new SharedArrayBuffer(12));
  const data: DbThreadData = {
    db: settings.db, delayMs: settings.dbDelayMs, applicationName: model, port: link.server, signal: link.client.signal, poolCounts,
  };
  const thread = new Worker(new URL('./db-thread.ts', import.meta.url), { workerData: data, transferList: [link.server] });
  thread.on('error', (err) => {
    log.fatal({ err }, 'database thread failed');
    process.exit(1); // the master replaces this worker
  });
  // A wait never outlasts the pool's own bounds (connection + statement timeouts), plus slack.
  const waitMs = settings.db.connectionTimeoutMs + settings.db.statementTimeoutMs + 1_000;
  const store = new BlockingStore(link.client, waitMs, () => ({
    max: settings.db.poolMax, total: Atomics.load(poolCounts, 0), idle: Atomics.load(poolCounts, 1), waiting: Atomics.load(poolCounts, 2),
  }));
  return {
    store,
    ready: new Promise((resolve) => thread.once('message', resolve)),
    async close(): Promise<void> {
      const ended = new Promise((resolve) => thread.once('exit', resolve));
      thread.postMessage('close');
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    },
  };
}
