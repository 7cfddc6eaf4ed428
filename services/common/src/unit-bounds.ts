// The two bounds of every model whose supervisor hands connections to units, read the
// same way everywhere: how many units may be alive (0 = unbounded, for the classic
// per-connection models), and how many accepted connections may wait for one (QUEUE_MAX).
import { readInt, type Env } from './config.ts';

export interface UnitBounds {
  /** Most units alive at once; null = unbounded. */
  limit: number | null;
  /** Connections that may wait for a unit; beyond: 503. */
  queueMax: number;
}

export function readUnitBounds(env: Env, limitName: string): UnitBounds {
  const limit = readInt(env, limitName, { default: 0, min: 0, max: 100_000 });
  return { limit: limit === 0 ? null : limit, queueMax: readQueueMax(env) };
}

/** QUEUE_MAX: 1024 is about two of Apache's default ListenBacklog (511). */
export function readQueueMax(env: Env): number {
  return readInt(env, 'QUEUE_MAX', { default: 1_024, min: 0, max: 100_000 });
}
