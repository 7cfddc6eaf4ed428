// The node:http adapter: for units that must start fast or stay small (a thread or
// process per connection, prefork workers). Same routes, errors and headers as fastify.
import type { IncomingMessage, Server } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { ServiceConfig } from './config.ts';
import { ALLOWED_METHODS, unmatched, type ServiceApp } from './routes.ts';
import { answerClientError, createNodeServer, pathOf, sendReply } from './http-common.ts';
import { errorReply, type Reply } from './reply.ts';

async function route(app: ServiceApp, req: IncomingMessage, path: string, search: string): Promise<Reply> {
  const method = req.method ?? 'GET';
  const found = app.routes.get(path);
  if (found === undefined || !ALLOWED_METHODS.has(method)) return unmatched(app, method, path);
  return found.handle(parseQuery(search));
}

export function createHttpServer(app: ServiceApp, config: ServiceConfig): Server {
  const server = createNodeServer(app, config, (req, res) => {
    const target = req.url ?? '/';
    const path = pathOf(target);
    const search = target.slice(path.length + 1);
    route(app, req, path, search).then(
      (reply) => sendReply(res, reply, req.method === 'HEAD'),
      (err: unknown) => {
        app.log.error({ err }, 'unhandled route error');
        sendReply(res, errorReply(500, 'internal_error', 'the request failed; see the service log'), false);
      },
    );
  });
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.on('clientError', (err, socket) => answerClientError(app.identity, err, socket));
  return server;
}
