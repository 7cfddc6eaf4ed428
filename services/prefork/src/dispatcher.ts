// The idle dispatcher: a connection goes to a worker only when that worker has said it
// is idle, so no worker ever holds more than one connection (node's cluster scheduling
// cannot promise that: a busy worker's libuv accepts and hoards connections).
import type { Socket } from 'node:net';
import { clientStillThere } from '@models/common';

export interface DispatcherHooks<W> {
  /** Give the connection to the (idle) worker. */
  hand(worker: W, socket: Socket): void;
  /** The queue is full: turn the connection away. */
  reject(socket: Socket): void;
}

export class IdleDispatcher<W> {
  readonly queueMax: number;
  readonly #hooks: DispatcherHooks<W>;
  /** Accepted, paused connections waiting for a worker, oldest first. */
  readonly #queue: Socket[] = [];
  /** Workers waiting for a connection, longest-idle first. */
  readonly #idle: W[] = [];

  constructor(queueMax: number, hooks: DispatcherHooks<W>) {
    this.queueMax = queueMax;
    this.#hooks = hooks;
  }

  get queued(): number {
    return this.#queue.length;
  }

  get idleWorkers(): number {
    return this.#idle.length;
  }

  accept(socket: Socket): void {
    const worker = this.#idle.shift();
    if (worker !== undefined) this.#hooks.hand(worker, socket);
    else if (this.#queue.length < this.queueMax) this.#queue.push(socket);
    else this.#hooks.reject(socket);
  }

  workerIdle(worker: W): void {
    let socket = this.#queue.shift();
    while (socket !== undefined && !clientStillThere(socket)) { // its client gave up while waiting
      socket.destroy();
      socket = this.#queue.shift();
    }
    if (socket !== undefined) this.#hooks.hand(worker, socket);
    else if (!this.#idle.includes(worker)) this.#idle.push(worker);
  }

  /** A worker that died or is draining takes no more connections. */
  forget(worker: W): void {
    const at = this.#idle.indexOf(worker);
    if (at !== -1) this.#idle.splice(at, 1);
  }

  /** Empties the queue (at shutdown) and returns what was waiting. */
  takeQueued(): Socket[] {
    return this.#queue.splice(0);
  }
}
