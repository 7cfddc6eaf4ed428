// A blocking database call for models whose unit must wait IN the call (prefork
// workers, thread-per-request threads): the unit's thread sends the query to a pool
// owned elsewhere and sleeps in the kernel until the answer is there. While it waits,
// that thread runs nothing else: no timers, no other sockets, no event loop. That is
// the model being demonstrated. Two transports carry the call:
// - Atomics: a thread of the same process (MessagePort + Atomics.wait on shared memory);
// - pipe: another process (a line of JSON written to one fd, the answer read from another
//   with readSync, which blocks in read(2): a C worker blocked in recv() on its DB socket).
import { closeSync, readSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { DatabaseUnavailableError, type PoolStats, type World, type WorldStore } from './db.ts';

type Request = { op: 'find'; id: number } | { op: 'ping' };
type Call = { seq: number } & Request;
type Answer = { seq: number } & ({ ok: true; world?: World } | { ok: false; unavailable: boolean; message: string });

/** How a call reaches the owner of the pool, and its answer comes back, while the caller blocks. */
export interface BlockingTransport {
  /** Sends the call and blocks the calling thread until the answer with the call's seq is there. */
  exchange(call: Call): Answer;
  close(): void;
}

/** Owner side, both transports: run one call on the async store; never rejects. */
function answerCall(call: Call, store: WorldStore): Promise<Answer> {
  const seq = call.seq;
  const work = new Promise<World | undefined>((resolve) => {
    resolve(call.op === 'find' ? store.findWorld(call.id) : Promise.resolve(store.ping()).then(() => undefined));
  });
  return work.then(
    (world): Answer => (world ? { seq, ok: true, world } : { seq, ok: true }),
    (err: unknown): Answer => ({ seq, ok: false, unavailable: err instanceof DatabaseUnavailableError, message: err instanceof Error ? err.message : String(err) }),
  );
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

  #call(request: Request): World | undefined {
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

// --- Atomics: a thread of the same process -------------------------------------------

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

/** Owner side: answer calls from a blocked thread with an async store, then wake it. */
export function serveBlockingCalls(port: MessagePort, signal: Int32Array, store: WorldStore): void {
  port.on('message', (call: Call) => {
    void answerCall(call, store).then((answer) => {
      port.postMessage(answer);
      Atomics.store(signal, 0, 1);
      Atomics.notify(signal, 0);
    });
  });
}

/** Client side of the Atomics link: the thread sleeps in Atomics.wait. */
export class AtomicsTransport implements BlockingTransport {
  readonly #end: BlockingClientEnd;
  readonly #timeoutMs: number;

  /** timeoutMs bounds one wait (connection + statement timeouts of the owner's pool, plus slack). */
  constructor(end: BlockingClientEnd, timeoutMs: number) {
    this.#end = end;
    this.#timeoutMs = timeoutMs;
  }

  exchange(call: Call): Answer {
    const deadline = performance.now() + this.#timeoutMs;
    Atomics.store(this.#end.signal, 0, 0);
    this.#end.port.postMessage(call);
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
        if (answer.seq === call.seq) return answer;
      }
    }
  }

  close(): void {
    this.#end.port.close();
  }
}

// --- pipe: another process (newline-delimited JSON, one call at a time per client) ----

/**
 * Owner side: answer the calls of one client process, read from `calls` (its call fd's
 * other end), on `answers` (its answer fd's other end). A client that dies mid-call
 * closes both; its late answer is dropped.
 */
export function servePipeCalls(calls: Readable, answers: Writable, store: WorldStore): void {
  calls.on('error', () => undefined);
  answers.on('error', () => undefined);
  createInterface({ input: calls, crlfDelay: Infinity }).on('line', (line) => {
    void answerCall(JSON.parse(line) as Call, store).then((answer) => {
      if (answers.writable) answers.write(`${JSON.stringify(answer)}\n`);
    });
  });
}

/**
 * Client side of the pipe: the process's only thread sleeps in read(2) on answerFd.
 * Node's readSync has no timeout, so the OWNER bounds every answer: its pool gives up
 * waiting for or opening a connection after connectionTimeoutMs and on a query after
 * statement_timeout (server) / query_timeout (client), and then answers with the error.
 * If the owner itself is gone, the pipe reaches end-of-file: an error, never a hang.
 */
export class PipeTransport implements BlockingTransport {
  readonly #callFd: number;
  readonly #answerFd: number;
  readonly #chunk = Buffer.allocUnsafe(64 * 1024);
  /** Bytes read past the last complete line (a read may end mid-line or hold several lines). */
  #pending = Buffer.alloc(0);

  constructor(callFd: number, answerFd: number) {
    this.#callFd = callFd;
    this.#answerFd = answerFd;
  }

  exchange(call: Call): Answer {
    const line = Buffer.from(`${JSON.stringify(call)}\n`);
    for (let written = 0; written < line.length;) {
      written += this.#io('send the call', () => writeSync(this.#callFd, line, written));
    }
    for (;;) {
      const answer = JSON.parse(this.#nextLine()) as Answer;
      if (answer.seq === call.seq) return answer; // else a stale answer to a call that failed midway
    }
  }

  #nextLine(): string {
    for (;;) {
      const end = this.#pending.indexOf(0x0a);
      if (end !== -1) {
        const line = this.#pending.toString('utf8', 0, end);
        this.#pending = this.#pending.subarray(end + 1);
        return line;
      }
      // The thread sleeps here, in the kernel, until the owner writes.
      const read = this.#io('read the answer', () => readSync(this.#answerFd, this.#chunk, 0, this.#chunk.length, null));
      if (read === 0) throw new DatabaseUnavailableError('the database owner closed the pipe (it is gone)');
      this.#pending = Buffer.concat([this.#pending, this.#chunk.subarray(0, read)]);
    }
  }

  /** The owner is unreachable (EPIPE, EBADF, ...): the database cannot serve this call. */
  #io(what: string, op: () => number): number {
    try {
      return op();
    } catch (err) {
      throw new DatabaseUnavailableError(`could not ${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    for (const fd of new Set([this.#callFd, this.#answerFd])) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}
