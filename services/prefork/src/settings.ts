// Settings of the prefork model, read by the master and (from the same environment) by
// every worker, so both sides agree on the model's name and its bounds.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readInt, readQueueMax, type Env, type ServiceConfig } from '@models/common/unit';

/** V8 flags for each worker process; measured in README.md ("Memory"). */
export const DEFAULT_WORKER_NODE_OPTIONS = '--max-semi-space-size=1 --v8-pool-size=1';

export interface PreforkSettings {
  /** 'blocking' when there is one worker: the single-threaded blocking baseline. */
  model: 'prefork' | 'blocking';
  config: ServiceConfig;
  poolSize: number;
  /** Accepted connections that may wait in the master for an idle worker; beyond: 503. */
  queueMax: number;
  workerExecArgv: string[];
  /** Where workers keep compiled modules (node's NODE_COMPILE_CACHE), or null for none. */
  compileCacheDir: string | null;
}

export function loadPreforkSettings(env: Env): PreforkSettings {
  // One database connection per worker (it runs one query at a time) and Apache's 5 s keep-alive.
  const config = loadConfig(env, { dbPoolMax: 1, keepAliveTimeoutMs: 5_000 });
  const poolSize = readInt(env, 'POOL_SIZE', { default: 100, min: 1, max: 1_000 });
  const queueMax = readQueueMax(env);
  const options = env.WORKER_NODE_OPTIONS ?? DEFAULT_WORKER_NODE_OPTIONS;
  return {
    model: poolSize === 1 ? 'blocking' : 'prefork',
    config,
    poolSize,
    queueMax,
    workerExecArgv: options.split(/\s+/).filter((flag) => flag !== ''),
    compileCacheDir: env.NODE_DISABLE_COMPILE_CACHE ? null : (env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'prefork-compile-cache')),
  };
}
