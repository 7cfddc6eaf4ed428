// The fastify adapter: the routes as fastify routes, with the same JSON errors,
// identity headers and in-flight accounting as the node:http adapter.
import Fastify, { LogController, type FastifyReply } from 'fastify';
import type { ServiceConfig } from './config.ts';
import { ALLOWED_METHODS, unmatched, type Query, type ServiceApp } from './routes.ts';
import { answerClientError, createNodeServer, serverTimeouts } from './http-common.ts';
import { errorReply, type Reply } from './reply.ts';

function send(reply: FastifyReply, r: Reply): FastifyReply {
  if (r.headers) void reply.headers(r.headers);
  return reply.code(r.status).type(r.contentType).send(r.body);
}

export async function createFastify(app: ServiceApp, config: ServiceConfig) {
  const timeouts = serverTimeouts(config);
  const fastify = Fastify({
    loggerInstance: app.log,
    // One log line per request would dominate the cost of a 50 ms request under load.
    logController: new LogController({ disableRequestLogging: true }),
    // fastify's own defaults (keep-alive 72 s, no request timeout) would override node's: set them all.
    keepAliveTimeout: timeouts.keepAliveTimeout,
    requestTimeout: timeouts.requestTimeout,
    connectionTimeout: 0,
    // Our own server, so the instrumented listener sees every response fastify writes.
    serverFactory: (handler) => createNodeServer(app, config, handler),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler: (err, socket) => answerClientError(app.identity, err, socket),
    // Errors fastify raises before routing (a malformed URL) get our JSON shape too.
    frameworkErrors: (err, _request, reply) => {
      void send(reply, errorReply(400, 'bad_request', err.message));
    },
  });
  for (const route of app.routes.values()) {
    fastify.route({
      method: [...ALLOWED_METHODS] as ('GET' | 'HEAD')[],
      url: route.path,
      exposeHeadRoute: false,
      handler: async (request, reply) => send(reply, await route.handle(request.query as Query)),
    });
  }
  fastify.setNotFoundHandler((request, reply) => send(reply, unmatched(app, request.method, request.url.split('?')[0] ?? '/')));
  fastify.setErrorHandler((err: { statusCode?: number; message?: string }, _request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) app.log.error({ err }, 'unhandled route error');
    return send(
      reply,
      errorReply(
        status,
        status === 500 ? 'internal_error' : 'bad_request',
        status === 500 ? 'the request failed; see the service log' : (err.message ?? 'bad request'),
      ),
    );
  });
  await fastify.ready();
  return fastify;
}
