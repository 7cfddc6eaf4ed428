// The idle dispatcher: a connection goes to a worker only when that worker has said it
// is idle, so no worker ever holds more than one connection (node's cluster scheduling
// cannot promise that: a busy worker's libuv accepts and hoards connections). The line
// of connections waiting for a worker is the shared Admission.
import type { Socket } from 'node:net';
import type { Admission } from '@models/common';

export class IdleDispatcher<W> {
  readonly #admission: Admission;
  readonly #hand: (worker: W, socket: Socket) => void;
  /** Workers waiting for a connection, longest-idle first. */
  readonly #idle: W[] = [];

  /** `hand` gives the connection to the (idle) worker. */
  constructor(admission: Admission, hand: (worker: W, socket: Socket) => void) {
    this.#admission = admission;
    this.#hand = hand;
  }

  get idleWorkers(): number {
    return this.#idle.length;
  }

  /** A new connection from the entry file's server. */
  accept(socket: Socket): void {
    this.#admission.admit(socket, (s) => this.#toIdleWorker(s));
  }

  /** A connection whose hand-over failed (the worker died meanwhile): to the next idle worker, or back in line. */
  retry(socket: Socket): void {
    this.#admission.offer(socket, (s) => this.#toIdleWorker(s));
  }

  workerIdle(worker: W): void {
    const socket = this.#admission.next();
    if (socket !== undefined) this.#hand(worker, socket);
    else if (!this.#idle.includes(worker)) this.#idle.push(worker);
  }

  /** A worker that died or is draining takes no more connections. */
  forget(worker: W): void {
    const at = this.#idle.indexOf(worker);
    if (at !== -1) this.#idle.splice(at, 1);
  }

  #toIdleWorker(socket: Socket): boolean {
    const worker = this.#idle.shift();
    if (worker === undefined) return false;
    this.#hand(worker, socket);
    return true;
  }
}
