// The shared core every concurrency model is built from. A model's own code is only
// "how a connection reaches the handler".
export * from './config.ts';
export * from './cgroup.ts';
export * from './db.ts';
export * from './reply.ts';
export * from './identity.ts';
export * from './routes.ts';
export * from './stats.ts';
export * from './channel.ts';
export * from './logger.ts';
export * from './shutdown.ts';
export * from './main.ts';
export * from './http-common.ts';
export * from './node-http.ts';
export * from './fastify.ts';
export * from './blocking.ts';
export * from './handed-connection.ts';
export * from './unit-per-connection.ts';
