// Admission, written once for every model whose supervisor hands connections to units
// (prefork workers, a thread or a process per connection): the entry file accepts paused
// (`net.createServer({ pauseOnConnect: true }, ...)`: not one byte is read here) and
// offers each connection to a unit; when none is free it waits here, paused, in a bounded
// line (like a listen backlog, or Tomcat's acceptCount behind maxThreads) and goes to the
// next unit that is free; beyond the bound it gets a fast 503 with retry-after, and closes.
import { once } from 'node:events';
import type { AddressInfo, Server, Socket } from 'node:net';
import { errorReply } from './reply.ts';
import { writeRawReply } from './http-common.ts';
import type { Identity } from './identity.ts';
import type { Logger } from './logger.ts';
import { listenOptions, type ServiceConfig } from './config.ts';

export interface AdmissionOptions {
  /** Connections that may wait for a unit; beyond: 503. */
  queueMax: number;
  /** Who answers the 503s written here. */
  identity: Identity;
  /** Why a connection is turned away when the line is full (names the bound). */
  overloaded: string;
}

/**
 * Is the client of a queued, paused connection still there? A paused socket reads
 * nothing, so it never notices a reset (RST); the kernel does: a reset socket is CLOSED
 * and getpeername(2) fails, which node shows as `remoteAddress === undefined` (node
 * caches the address only once getpeername succeeded, so nothing may read it earlier).
 * A client that only half-closed (FIN) may still wait for its answer: it is served.
 */
export function clientStillThere(socket: Socket): boolean {
  return !socket.destroyed && socket.remoteAddress !== undefined;
}

export class Admission {
  readonly queueMax: number;
  readonly #options: AdmissionOptions;
  /** Accepted, paused connections waiting for a unit, oldest first. */
  readonly #queue: Socket[] = [];
  #rejected = 0;
  #closing = false;

  constructor(options: AdmissionOptions) {
    this.queueMax = options.queueMax;
    this.#options = options;
  }

  get queued(): number {
    return this.#queue.length;
  }
  /** Connections turned away because the line was full. */
  get rejected(): number {
    return this.#rejected;
  }

  /** A new connection: `hand` gives it to a free unit and says whether it could; else it waits, or gets 503. */
  admit(socket: Socket, hand: (socket: Socket) => boolean): void {
    socket.on('error', () => socket.destroy()); // a client that resets while it waits here
    this.offer(socket, hand);
  }

  /** As admit, for a connection already admitted once (its hand-over to a unit failed). */
  offer(socket: Socket, hand: (socket: Socket) => boolean): void {
    if (this.#closing) this.turnAway(socket, 'shutting_down', 'the service is shutting down');
    else if (hand(socket)) return;
    else if (this.#queue.length < this.queueMax) this.#queue.push(socket);
    else {
      this.#rejected += 1;
      this.turnAway(socket, 'overloaded', this.#options.overloaded);
    }
  }

  /** The oldest waiting connection whose client is still there (the others are closed), if any. */
  next(): Socket | undefined {
    if (this.#closing) return undefined;
    let socket = this.#queue.shift();
    while (socket !== undefined && !clientStillThere(socket)) {
      // its client gave up while waiting
      socket.destroy();
      socket = this.#queue.shift();
    }
    return socket;
  }

  /** Shutdown: every waiting connection and every new one gets 503 shutting_down. */
  close(): void {
    this.#closing = true;
    for (const socket of this.#queue.splice(0)) this.turnAway(socket, 'shutting_down', 'the service is shutting down');
  }

  turnAway(socket: Socket, error: string, why: string): void {
    socket.resume(); // read what the client sent, so closing is a FIN, not a reset that could lose the reply
    writeRawReply(socket, errorReply(503, error, why, { 'retry-after': '1' }), this.#options.identity);
    setTimeout(() => socket.destroy(), 2_000).unref();
  }
}

/**
 * Starts the entry file's accepting server, with the configured listen backlog
 * (LISTEN_BACKLOG), and logs 'listening' with its address and the model's knobs.
 */
export async function listen(server: Server, config: ServiceConfig, log: Logger, knobs: Record<string, unknown>): Promise<AddressInfo> {
  server.listen(listenOptions(config));
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  log.info({ address, ...knobs }, 'listening');
  return address;
}
