// The Atomics transport of blocking.ts: the caller is a thread of the same process. It
// posts the call on a MessagePort and sleeps in Atomics.wait on shared memory; the owner's
// event loop answers and wakes it.
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { DatabaseUnavailableError, type WorldStore } from './db.ts';
import { answerCall, type BlockingAnswer, type BlockingTransport, type BlockingCall } from './blocking.ts';

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
  port.on('message', (call: BlockingCall) => {
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

  exchange(call: BlockingCall): BlockingAnswer {
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
        const answer = received.message as BlockingAnswer;
        if (answer.seq === call.seq) return answer;
      }
    }
  }

  close(): void {
    this.#end.port.close();
  }
}
