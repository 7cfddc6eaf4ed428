// Settings of the process-per-connection model, read by the parent and (from the same,
// inherited environment) by every child, so both sides agree.
import { loadConfig, readUnitBounds, type Env, type ServiceConfig } from '@models/common/unit';

export const MODEL = 'forking';

export interface ForkingSettings {
  config: ServiceConfig;
  /** Most children alive at once; null = unbounded (the classic model). */
  maxProcs: number | null;
  /** Connections that may wait in the parent for a child; beyond: 503. */
  queueMax: number;
  /** Extra node/V8 flags for each child (CHILD_NODE_OPTIONS). */
  childFlags: string[];
}

export function loadForkingSettings(env: Env): ForkingSettings {
  // One connection per child (it runs one query at a time); Apache's 5 s keep-alive.
  const config = loadConfig(env, { dbPoolMax: 1, keepAliveTimeoutMs: 5_000 });
  const { limit, queueMax } = readUnitBounds(env, 'MAX_PROCS');
  return { config, maxProcs: limit, queueMax, childFlags: (env.CHILD_NODE_OPTIONS ?? '').split(/\s+/).filter((flag) => flag !== '') };
}
