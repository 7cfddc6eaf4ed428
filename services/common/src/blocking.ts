// A blocking database call for models whose unit must wait IN the call (prefork
// workers, thread-per-request threads): the unit's thread posts the query to a pool
// owned elsewhere (a helper thread, or the main thread) and sleeps in Atomics.wait
// until the answer is there. While it waits, that thread runs nothing else: no timers,
// no other sockets, no event loop. That is the model being demonstrated.
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { DatabaseUnavailableError, type PoolStats, type World, type WorldStore } from './db.ts';

type Call = { seq: number } & ({ op: 'find'; id: number } | { op: 'ping' });
type Answer = { seq: number } & ({ ok: true; world?: World } | { ok: false; unavailable: boolean; message: string });

/** The two ends of a blocking link; the client end (port + signal) is transferable to a thread. */
export interface BlockingLink {
  server: MessagePort;
  client: BlockingClientEnd;
}
export interface BlockingClientEnd {
  port: MessagePort;
  /** A SharedArrayBuffer-backed flag: 0 while waiting, 1 when the answer is posted. */
  signal: Int32Array;
}

export function createBlockingLink(): BlockingLink {
  const { port1, port2 } = new MessageChannel();
  return { server: port1, client: { port: port2, signal: new Int32Array(new SharedArrayBuffer(4)) } };
}

/** Owner side: answer calls from a blocked client with an async store, then wake it. */
export function serveBlockingCalls(port: MessagePort, signal: Int32Array, store: WorldStore): void {
  port.on('message', (call: Call) => {
    const work = call.op === 'find' ? Promise.resolve(store.findWorld(call.id)) : Promise.resolve(store.ping()).then(() => undefined);
    const seq = call.seq;
    work.then(
      (world): Answer => (world ? { seq, ok: true, world } : { seq, ok: true }),
      (err: unknown): Answer => ({ seq, ok: false, unavailable: err instanceof DatabaseUnavailableError, message: err instanceof Error ? err.message : String(err) }),
    ).then((answer) => {
      port.postMessage(answer);
      Atomics.store(signal, 0, 1);
      Atomics.notify(signal, 0);
    }, () => undefined);
  });
}

/** Client side: a WorldStore whose calls block the calling thread until answered. */
export class BlockingStore implements WorldStore {
  readonly #end: BlockingClientEnd;
  readonly #timeoutMs: number;
  readonly #poolStats: () => PoolStats;
  #seq = 0;

  /** timeoutMs bounds one wait (connection + statement timeouts of the owner's pool, plus slack). */
  constructor(end: BlockingClientEnd, timeoutMs: number, poolStats: () => PoolStats) {
    this.#end = end;
    this.#timeoutMs = timeoutMs;
    this.#poolStats = poolStats;
  }

  #call(call: { op: 'find'; id: number } | { op: 'ping' }): Answer {
    const seq = ++this.#seq;
    const deadline = performance.now() + this.#timeoutMs;
    Atomics.store(this.#end.signal, 0, 0);
    this.#end.port.postMessage({ ...call, seq });
    for (;;) {
      // The thread sleeps here, in the kernel, until the owner posts an answer.
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(this.#end.signal, 0, 0, left) === 'timed-out') {
        throw new DatabaseUnavailableError(`no answer from the database within ${this.#timeoutMs} ms`);
      }
      Atomics.store(this.#end.signal, 0, 0);
      // Skip late answers to earlier calls that timed out.
      for (let received = receiveMessageOnPort(this.#end.port); received; received = receiveMessageOnPort(this.#end.port)) {
        const answer = received.message as Answer;
        if (answer.seq === seq) return answer;
      }
    }
  }

  findWorld(id: number): World | undefined {
    const answer = this.#call({ op: 'find', id });
    if (!answer.ok) throw answer.unavailable ? new DatabaseUnavailableError(answer.message) : new Error(answer.message);
    return answer.world;
  }

  ping(): void {
    const answer = this.#call({ op: 'ping' });
    if (!answer.ok) throw answer.unavailable ? new DatabaseUnavailableError(answer.message) : new Error(answer.message);
  }

  poolStats(): PoolStats {
    return this.#poolStats();
  }

  close(): Promise<void> {
    this.#end.port.close();
    return Promise.resolve();
  }
}
