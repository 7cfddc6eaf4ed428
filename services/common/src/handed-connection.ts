// Unit side of the models where a supervisor accepts and a unit (a thread or a process
// started for that connection) serves: ONE connection handed in from elsewhere, served
// with the node:http adapter (keep-alive included) until it closes.
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { ServiceConfig } from './config.ts';
import type { ServiceApp } from './routes.ts';
import { createHttpServer } from './node-http.ts';

/** At shutdown, how long a connection that was just handed in may take to send its first request. */
const FIRST_REQUEST_GRACE_MS = 1_000;
/** At shutdown, how long the client may take to close its side after ours; then the socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/** Our FIN; and should the client never send its own, the socket still ends (shutdown is bounded). */
function endSoon(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

export interface HandedConnection {
  /** Resolves when the connection has closed (client gone, keep-alive idle timeout, or drained). */
  closed: Promise<void>;
  /** Shutdown: finish the request in flight (if any), then close the connection. */
  drain(): void;
}

export function serveHandedConnection(app: ServiceApp, config: ServiceConfig, socket: Socket): HandedConnection {
  const server = createHttpServer(app, config);
  // node:http starts its headers/request-timeout checker (the Slowloris defence) on
  // 'listening'. This server never listens (its socket was accepted elsewhere), so
  // announce it ourselves, or HEADERS_TIMEOUT_MS would silently do nothing.
  server.emit('listening');

  let current: ServerResponse | undefined;
  let served = 0;
  let draining = false;
  server.on('request', (_req, res: ServerResponse) => {
    current = res;
    served += 1;
    res.once('close', () => {
      current = undefined;
      if (draining) endSoon(socket); // the request is answered: now close, as asked
    });
  });
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      server.close(); // stops the timeout checker
      resolve();
    });
  });
  server.emit('connection', socket);
  socket.resume(); // it was accepted paused (pauseOnConnect), so no byte was read elsewhere

  return {
    closed,
    drain() {
      draining = true;
      if (current !== undefined) {
        if (!current.headersSent) current.setHeader('connection', 'close');
      } else if (served > 0) {
        endSoon(socket); // idle between keep-alive requests
      } else {
        // Just handed in: its first request may still be on the way. Serve it if it
        // comes soon (the reply then closes the connection), else close.
        setTimeout(() => current === undefined && endSoon(socket), FIRST_REQUEST_GRACE_MS).unref();
      }
    },
  };
}
