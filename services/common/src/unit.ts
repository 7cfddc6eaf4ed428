// The part of the shared core a unit needs when it runs in its own process or thread
// (a prefork worker, a forked child, a thread): everything except the supervisor's
// fastify and prom-client. Each module a unit loads is paid again in every unit's memory.
export * from './config.ts';
export * from './db.ts';
export * from './reply.ts';
export * from './identity.ts';
export * from './routes.ts';
export * from './stats-protocol.ts';
export * from './unit-routes.ts';
export * from './logger.ts';
export * from './shutdown.ts';
export * from './run-service.ts';
export * from './http-common.ts';
export * from './node-http.ts';
export * from './blocking.ts';
export * from './blocking-atomics.ts';
export * from './blocking-pipe.ts';
export * from './handed-connection.ts';
export * from './unit-bounds.ts';
