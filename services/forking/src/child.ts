// One forked child: serves the ONE connection its parent handed it, on its OWN database
// connection (CGI-style: opened for this child, closed before it exits), then exits.
import { Socket } from 'node:net';
import { createLogger, openPoolStore, serveHandedConnection, type HandedConnection, unitRoutes } from '@models/common/unit';
import { MODEL, loadForkingSettings } from './settings.ts';
import type { ParentMessage } from './messages.ts';
import { OneAtATimeStore } from './one-at-a-time-store.ts';

let connection: HandedConnection | undefined;
let drainAsked = false;

/** At shutdown, how long a child still waiting for its connection waits for it before it exits. */
const HANDOVER_GRACE_MS = 2_000;

process.on('message', (message: ParentMessage, handle: unknown) => {
  if (message.t === 'connection') {
    if (handle instanceof Socket) serve(handle);
    else process.exit(0); // the client went away while its socket was on the way: nothing to serve
  } else if (message.t === 'drain') {
    drainAsked = true;
    if (connection !== undefined) connection.drain();
    // Not handed its connection yet: it may still come (the parent sends it on 'ready'); if not, end.
    else setTimeout(() => connection === undefined && process.exit(0), HANDOVER_GRACE_MS).unref();
  }
});
// The parent owns shutdown: a Ctrl-C sent to the whole process group must not cut a request short.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => process.exit(0)); // the parent is gone: nobody reaps or reports for us
process.send?.({ t: 'ready' });

function serve(socket: Socket): void {
  // The same settings the parent read, from the environment it passed on.
  const { config } = loadForkingSettings(process.env);
  const log = createLogger(config.logLevel, MODEL);
  const store = new OneAtATimeStore(openPoolStore(config, MODEL, log));
  const app = unitRoutes(process, { model: MODEL, store, log });
  connection = serveHandedConnection(app, config, socket);
  if (drainAsked) connection.drain();
  void connection.closed.then(async () => {
    await store.close(); // the database connection ends with the child, never after it
    process.exit(0);
  });
}
