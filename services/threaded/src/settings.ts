// Settings of the thread-per-connection model, read by the main thread and (from the same,
// inherited environment) by every connection thread, so both sides agree.
import type { ResourceLimits } from 'node:worker_threads';
import { loadConfig, readInt, readUnitBounds, type Env, type ServiceConfig } from '@models/common/unit';

export const MODEL = 'threaded';

export interface ThreadedSettings {
  config: ServiceConfig;
  /** Most connection threads alive at once; null = unbounded (the classic model). */
  maxThreads: number | null;
  /** Connections that may wait in the main thread for a thread; beyond: 503. */
  queueMax: number;
  /** V8 heap bounds for each thread's isolate. */
  resourceLimits: ResourceLimits;
}

export function loadThreadedSettings(env: Env): ThreadedSettings {
  // One pool for the whole process, like a JDBC pool shared by servlet threads; Apache's 5 s keep-alive.
  const config = loadConfig(env, { dbPoolMax: 100, keepAliveTimeoutMs: 5_000 });
  const { limit, queueMax } = readUnitBounds(env, 'MAX_THREADS');
  return { config, maxThreads: limit, queueMax, resourceLimits: readIsolateLimits(env) };
}

/** Optional V8 heap bounds for each thread's isolate (MB, 0 = V8's default). */
function readIsolateLimits(env: Env): ResourceLimits {
  const limits: ResourceLimits = {
    maxOldGenerationSizeMb: readInt(env, 'THREAD_MAX_OLD_MB', { default: 0, min: 0, max: 16_384 }),
    maxYoungGenerationSizeMb: readInt(env, 'THREAD_MAX_YOUNG_MB', { default: 0, min: 0, max: 1_024 }),
  };
  return Object.fromEntries(Object.entries(limits).filter(([, mb]) => mb > 0));
}
