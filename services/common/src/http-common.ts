// What both HTTP adapters do the same way: count the request, stamp identity headers,
// read every request target form alike, and answer parser-level errors (oversized
// headers, Slowloris timeouts, a missing Host) with JSON.
import { STATUS_CODES, createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServiceConfig } from './config.ts';
import type { ServiceApp } from './routes.ts';
import { errorReply, type Reply } from './reply.ts';
import type { Identity } from './identity.ts';

/** The path of a request target, without the query. */
export function pathOf(target: string | undefined): string {
  const url = target ?? '/';
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
}

/**
 * The origin-form of a request target. HTTP/1.1 servers must accept the absolute-form
 * (`GET http://host/db?id=5`, RFC 9112 section 3.2.2) and route it like `/db?id=5`.
 */
export function originForm(target: string | undefined): string {
  const url = target ?? '/';
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  if (absolute === null) return url;
  const rest = url.slice(absolute[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/**
 * Counts a request as in flight until its response ends or its connection closes. A
 * response that never finished (the client closed or reset first) is counted with
 * status "aborted", never with the 200 that node's statusCode holds by default.
 */
function trackRequest(app: ServiceApp, res: ServerResponse, route: string): void {
  const start = process.hrtime.bigint();
  app.stats.started();
  res.once('close', () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    app.stats.finished({ route, status: res.writableFinished ? res.statusCode : ABORTED, seconds });
  });
}

/** The status label of a request whose client went away before the response was sent. */
export const ABORTED = 'aborted';

/** HTTP/1.1 requires a Host header (RFC 9112 section 3.2); HTTP/1.0 may omit it. */
function missingHost(req: IncomingMessage): boolean {
  return req.headers.host === undefined && req.httpVersion !== '1.0' && req.httpVersion !== '0.9';
}

/** Sends a Reply on a node:http response (HEAD: headers only). */
export function sendReply(res: ServerResponse, reply: Reply, head: boolean): void {
  res.writeHead(reply.status, { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body), ...reply.headers });
  res.end(head ? undefined : reply.body);
}

/**
 * Wraps the raw node:http listener, so EVERY response (including those a framework
 * writes on its own: bad URLs, 503 while closing) is counted and carries identity headers.
 */
export function instrument(app: ServiceApp, listener: RequestListener): RequestListener {
  return (req, res) => {
    req.url = originForm(req.url);
    const path = pathOf(req.url);
    trackRequest(app, res, app.routes.has(path) ? path : 'unmatched');
    for (const [name, value] of Object.entries(app.identity.headers)) res.setHeader(name, value);
    if (missingHost(req)) {
      // node's own check (requireHostHeader) answers a bare, uncounted 400; this one is ours.
      sendReply(
        res,
        errorReply(400, 'bad_request', 'an HTTP/1.1 request must carry a Host header', { connection: 'close' }),
        req.method === 'HEAD',
      );
      return;
    }
    listener(req, res);
  };
}

/** A node:http server for either adapter: our timeouts, our Host check, half-closed clients answered. */
export function createNodeServer(app: ServiceApp, config: ServiceConfig, listener: RequestListener): Server {
  const server = createServer({ ...serverTimeouts(config), requireHostHeader: false }, instrument(app, listener));
  // A client may send its request and then half-close (shutdown(SHUT_WR)); it still waits for
  // the answer. node:http's default aborts the request on that FIN; this flag (no constructor
  // option exists) makes it answer and then close. Sockets accepted elsewhere and handed in
  // (pauseOnConnect servers) were made without allowHalfOpen: set it before a byte is read.
  Object.assign(server, { httpAllowHalfOpen: true });
  server.on('connection', (socket: Socket) => {
    socket.allowHalfOpen = true;
  });
  return server;
}

const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  ERR_HTTP_HEADERS_TIMEOUT: 408,
};

/**
 * Writes a whole HTTP/1.1 response straight onto a socket that no HTTP server owns (a
 * parser-level error, or a connection a supervisor turns away), then closes it.
 */
export function writeRawReply(socket: Duplex, reply: Reply, identity: Identity): void {
  const head = [
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? 'Error'}`,
    `content-type: ${reply.contentType}`,
    `content-length: ${Buffer.byteLength(reply.body)}`,
    ...Object.entries({ ...reply.headers, ...identity.headers }).map(([k, v]) => `${k}: ${v}`),
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${reply.body}`);
}

/** node:http's 'clientError': answer with a JSON error (never a bare close), then close. */
export function answerClientError(identity: Identity, err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? 400;
  const error = status === 408 ? 'request_timeout' : status === 431 ? 'headers_too_large' : 'bad_request';
  writeRawReply(socket, errorReply(status, error, `the request could not be read (${err.code ?? err.message})`), identity);
}

/** Timeouts for node:http (also passed to fastify's server). */
export function serverTimeouts(config: ServiceConfig) {
  return {
    keepAliveTimeout: config.keepAliveTimeoutMs,
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    // The header/request timeout check runs on this interval; the default 30 s is too coarse.
    connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs),
  };
}
