// The pipe transport of blocking.ts: the caller is another process. It writes the call as a
// line of JSON to one fd and reads the answer from another with readSync, which blocks in
// read(2), as a C worker blocks in recv() on its database socket.
import { closeSync, readSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { DatabaseUnavailableError, type WorldStore } from './db.ts';
import { answerCall, type BlockingAnswer, type BlockingTransport, type BlockingCall } from './blocking.ts';

/**
 * Owner side: answer the calls of one client process, read from `calls` (its call fd's
 * other end), on `answers` (its answer fd's other end). A client that dies mid-call
 * closes both; its late answer is dropped.
 */
export function servePipeCalls(calls: Readable, answers: Writable, store: WorldStore): void {
  calls.on('error', () => undefined);
  answers.on('error', () => undefined);
  createInterface({ input: calls, crlfDelay: Infinity }).on('line', (line) => {
    void answerCall(JSON.parse(line) as BlockingCall, store).then((answer) => {
      if (answers.writable) answers.write(`${JSON.stringify(answer)}\n`);
    });
  });
}

/**
 * Client side of the pipe: the process's only thread sleeps in read(2) on answerFd.
 * Node's readSync has no timeout, so the OWNER bounds every answer: its pool gives up
 * waiting for a connection after connectionTimeoutMs (one still opening goes on, for the
 * next request) and on a query after
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

  exchange(call: BlockingCall): BlockingAnswer {
    const line = Buffer.from(`${JSON.stringify(call)}\n`);
    for (let written = 0; written < line.length;) {
      written += this.#io('send the call', () => writeSync(this.#callFd, line, written));
    }
    for (;;) {
      const answer = JSON.parse(this.#nextLine()) as BlockingAnswer;
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
