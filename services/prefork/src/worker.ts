// One prefork worker process: ONE connection at a time, ONE request at a time, and the
// query runs BLOCKING: this process's only thread writes the call to the master (fd 4)
// and sleeps in read(2) on fd 5 until the master's pool has the answer, as a C worker
// sleeps in recv() on its database socket; no other socket, timer or request runs
// meanwhile. The master gives it a connection only after it said idle; it keeps that
// connection for keep-alive requests until the client closes it or it idles out
// (KEEP_ALIVE_TIMEOUT_MS), then says idle again.
import { flushCompileCache } from 'node:module';
import { Socket } from 'node:net';
import {
  BlockingStore,
  poolInSupervisor,
  PipeTransport,
  createLogger,
  serveHandedConnection,
  type HandedConnection,
  unitRoutes,
} from '@models/common/unit';
import { ANSWER_FD, CALL_FD, CONNECTION, DRAIN, IDLE, isMessage } from './messages.ts';
import { loadPreforkSettings } from './settings.ts';

const { model, config } = loadPreforkSettings(process.env);
const log = createLogger(config.logLevel, model);
const store = new BlockingStore(new PipeTransport(CALL_FD, ANSWER_FD), poolInSupervisor(config.db.poolMax));
const app = unitRoutes(process, { model, store, log });

let connection: HandedConnection | undefined;
let draining = false;

process.on('message', (message, handle) => {
  if (isMessage(message, CONNECTION)) {
    if (handle instanceof Socket) serve(handle);
    else process.send?.(IDLE); // its client left while the socket was on the way: ready for the next
  } else if (isMessage(message, DRAIN)) drain();
});
// The master owns shutdown: a Ctrl-C sent to the whole process group must not cut a request short.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => process.exit(0)); // the master is gone: nobody can give us work
// Compiled (type-stripped) modules go to NODE_COMPILE_CACHE now, so workers started after
// this one skip TypeScript stripping altogether (see README, "Memory").
flushCompileCache();
process.send?.(IDLE);

/** Serves the connection until it closes (the shared unit side, as threads and forked children do), then says idle. */
function serve(socket: Socket): void {
  if (connection !== undefined) {
    log.error('a second connection while one is open: the dispatcher is broken; refusing it');
    socket.destroy();
    return;
  }
  const served = serveHandedConnection(app, config, socket);
  connection = served;
  void served.closed.then(() => {
    connection = undefined;
    if (draining) void exit();
    else process.send?.(IDLE);
  });
}

function drain(): void {
  draining = true;
  if (connection === undefined) void exit();
  else connection.drain(); // finish the request, close; then exit (above)
}

async function exit(): Promise<void> {
  await store.close();
  process.exit(0);
}
