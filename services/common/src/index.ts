// The shared core every concurrency model is built from. A model's own code is only
// "how a connection reaches the handler". Units (workers, threads, children) import the
// lighter './unit.ts'; supervisors get everything.
export * from './unit.ts';
export * from './cgroup.ts';
export * from './stats.ts';
export * from './fastify.ts';
export * from './admission.ts';
export * from './unit-per-connection.ts';
