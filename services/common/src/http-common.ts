// What both HTTP adapters do the same way: count the request, stamp identity headers,
// and answer parser-level errors (oversized headers, Slowloris timeouts) with JSON.
import { STATUS_CODES, type RequestListener, type ServerResponse } from 'node:http';
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

/** Counts a request as in flight until its response ends or its connection closes. */
function trackRequest(app: ServiceApp, res: ServerResponse, route: string): void {
  const start = process.hrtime.bigint();
  app.stats.started();
  res.once('close', () => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    app.stats.finished({ route, status: res.statusCode, seconds });
  });
}

/**
 * Wraps the raw node:http listener, so EVERY response (including those a framework
 * writes on its own: bad URLs, 503 while closing) is counted and carries identity headers.
 */
export function instrument(app: ServiceApp, listener: RequestListener): RequestListener {
  return (req, res) => {
    const path = pathOf(req.url);
    trackRequest(app, res, app.routes.has(path) ? path : 'unmatched');
    for (const [name, value] of Object.entries(app.identity.headers)) res.setHeader(name, value);
    listener(req, res);
  };
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
