// A blocking database call for models whose unit must wait IN the call (prefork
// workers, thread-per-request threads): the unit's thread sends the query to a pool
// owned elsewhere and sleeps in the kernel until the answer is there. While it waits,
// that thread runs nothing else: no timers, no other sockets, no event loop. That is
// the model being demonstrated. Two transports carry the call:
// - Atomics (blocking-atomics.ts): a thread of the same process (MessagePort + Atomics.wait
//   on shared memory);
// - pipe (blocking-pipe.ts): another process (a line of JSON written to one fd, the answer
//   read from another with readSync, which blocks in read(2): a C worker blocked in recv()
//   on its DB socket).
import { DatabaseUnavailableError, type PoolStats, type World, type WorldStore } from './db.ts';

export type BlockingRequest = { op: 'find'; id: number } | { op: 'ping' };
export type BlockingCall = { seq: number } & BlockingRequest;
export type BlockingAnswer = { seq: number } & ({ ok: true; world?: World } | { ok: false; unavailable: boolean; message: string });

/** How a call reaches the owner of the pool, and its answer comes back, while the caller blocks. */
export interface BlockingTransport {
  /** Sends the call and blocks the calling thread until the answer with the call's seq is there. */
  exchange(call: BlockingCall): BlockingAnswer;
  close(): void;
}

/** Owner side, both transports: run one call on the async store; never rejects. */
export function answerCall(call: BlockingCall, store: WorldStore): Promise<BlockingAnswer> {
  const seq = call.seq;
  const work = new Promise<World | undefined>((resolve) => {
    resolve(call.op === 'find' ? store.findWorld(call.id) : Promise.resolve(store.ping()).then(() => undefined));
  });
  return work.then(
    (world): BlockingAnswer => (world ? { seq, ok: true, world } : { seq, ok: true }),
    (err: unknown): BlockingAnswer => ({
      seq,
      ok: false,
      unavailable: err instanceof DatabaseUnavailableError,
      message: err instanceof Error ? err.message : String(err),
    }),
  );
}

/**
 * The pool stats a unit reports when the pool it calls lives in its supervisor: only the
 * size is known here; the live counts (total, idle, waiting) are in the supervisor's /model.
 */
export function poolInSupervisor(poolMax: number): () => PoolStats {
  return () => ({ max: poolMax, total: 0, idle: 0, waiting: 0 });
}

/** Client side: a WorldStore whose calls block the calling thread until answered. */
export class BlockingStore implements WorldStore {
  readonly #transport: BlockingTransport;
  readonly #poolStats: () => PoolStats;
  #seq = 0;

  constructor(transport: BlockingTransport, poolStats: () => PoolStats) {
    this.#transport = transport;
    this.#poolStats = poolStats;
  }

  #call(request: BlockingRequest): World | undefined {
    const answer = this.#transport.exchange({ ...request, seq: ++this.#seq });
    if (!answer.ok) throw answer.unavailable ? new DatabaseUnavailableError(answer.message) : new Error(answer.message);
    return answer.world;
  }

  findWorld(id: number): World | undefined {
    return this.#call({ op: 'find', id });
  }

  ping(): void {
    this.#call({ op: 'ping' });
  }

  poolStats(): PoolStats {
    return this.#poolStats();
  }

  close(): Promise<void> {
    this.#transport.close();
    return Promise.resolve();
  }
}
