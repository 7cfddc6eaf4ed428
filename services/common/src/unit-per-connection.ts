// Supervisor side of thread-per-connection and process-per-connection: the main thread
// only accepts (paused: not one byte is read here), starts a NEW unit for each
// connection and hands it the socket; the unit serves that connection and ends when it
// closes. With a limit on live units, further connections wait here, paused, in a
// bounded queue (like a listen backlog, or Tomcat's acceptCount behind maxThreads) and
// get the next unit that ends; beyond the queue bound they get a fast 503 and are closed.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorReply } from './reply.ts';
import { writeRawReply } from './http-common.ts';
import type { Identity } from './identity.ts';

/** How a unit ended: it exited 0, it died (non-zero code, a signal, out of memory), or it never started (fork EAGAIN...). */
export type UnitEnd = 'ended' | 'crashed' | 'failed_to_start';

/** One thread or process that serves one connection. */
export interface ConnectionUnit {
  /** Shutdown: finish the request in flight, close the connection, end. */
  drain(): void;
  /** Resolves when the unit has ended, however it ended; should never reject (a rejection counts as 'crashed'). */
  ended: Promise<UnitEnd>;
}

/**
 * Resolves when a thread or process has exited, whatever it emitted before. Not
 * `events.once(unit, 'exit')`: that REJECTS when the unit emits 'error' first (a thread
 * out of memory, a child whose channel failed), and the recovery after it never runs.
 */
export function whenExited(unit: { once(event: 'exit', listener: (code: number | null, signal?: string | null) => void): unknown }): Promise<UnitEnd> {
  return new Promise((resolve) => unit.once('exit', (code, signal) => resolve(code === 0 && (signal ?? null) === null ? 'ended' : 'crashed')));
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

export interface UnitPerConnectionOptions {
  /** Most units alive at once; null for no bound (the classic model). */
  limit: number | null;
  /** Connections that may wait for a unit when `limit` units are alive; beyond: 503. */
  queueMax: number;
  /** Who answers the 503s written here. */
  identity: Identity;
  /** Start a new unit and hand it the (paused) socket. */
  start(socket: Socket): ConnectionUnit;
}

export class UnitPerConnection {
  readonly #options: UnitPerConnectionOptions;
  readonly #alive = new Set<ConnectionUnit>();
  /** Accepted, paused connections waiting for a unit to end, oldest first. */
  readonly #queue: Socket[] = [];
  readonly #server: Server;
  #started = 0;
  #rejected = 0;
  #crashed = 0;
  #closing = false;

  constructor(options: UnitPerConnectionOptions) {
    this.#options = options;
    this.#server = createServer({ pauseOnConnect: true }, (socket) => {
      socket.on('error', () => socket.destroy()); // a client that resets while it waits here
      this.#accept(socket);
    });
  }

  get alive(): number { return this.#alive.size; }
  get started(): number { return this.#started; }
  get queued(): number { return this.#queue.length; }
  get rejected(): number { return this.#rejected; }
  /** Units that exited with an error (a non-zero code, a signal, out of memory). */
  get crashed(): number { return this.#crashed; }

  async listen(host: string, port: number): Promise<AddressInfo> {
    this.#server.listen({ host, port });
    await once(this.#server, 'listening');
    return this.#server.address() as AddressInfo;
  }

  /** Stop accepting, turn the waiting connections away, drain every unit and wait for all to end. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#server.close();
    for (const socket of this.#queue.splice(0)) this.#turnAway(socket, 'shutting_down', 'the service is shutting down');
    const units = [...this.#alive];
    for (const unit of units) unit.drain();
    await Promise.all(units.map((unit) => unit.ended));
  }

  #accept(socket: Socket): void {
    const { limit, queueMax } = this.#options;
    if (this.#closing) this.#turnAway(socket, 'shutting_down', 'the service is shutting down');
    else if (limit === null || this.#alive.size < limit) this.#start(socket);
    else if (this.#queue.length < queueMax) this.#queue.push(socket);
    else {
      this.#rejected += 1;
      this.#turnAway(socket, 'overloaded', `all ${limit} units are busy and ${queueMax} connections are waiting`);
    }
  }

  #start(socket: Socket): void {
    let unit: ConnectionUnit;
    try {
      unit = this.#options.start(socket);
    } catch {
      this.#startFailed(socket);
      return;
    }
    this.#started += 1;
    this.#alive.add(unit);
    void unit.ended.catch((): UnitEnd => 'crashed').then((end) => {
      this.#alive.delete(unit);
      if (end === 'crashed') this.#crashed += 1;
      if (end === 'failed_to_start') {
        this.#started -= 1;
        if (!socket.destroyed) this.#startFailed(socket);
      }
      if (this.#closing) return;
      let next = this.#queue.shift();
      while (next !== undefined && !clientStillThere(next)) { // its client gave up while waiting
        next.destroy();
        next = this.#queue.shift();
      }
      if (next !== undefined) this.#start(next);
    });
  }

  /** The fork or thread failed (synchronously, or later like fork's EAGAIN): a 503 the client can retry. */
  #startFailed(socket: Socket): void {
    this.#turnAway(socket, 'unit_start_failed', 'no thread or process could be started for this connection');
  }

  #turnAway(socket: Socket, error: string, why: string): void {
    socket.resume(); // read what the client sent, so closing is a FIN, not a reset that could lose the reply
    writeRawReply(socket, errorReply(503, error, why, { 'retry-after': '1' }), this.#options.identity);
    setTimeout(() => socket.destroy(), 2_000).unref();
  }
}

/**
 * The environment for a new unit, with node's on-disk compile cache: a unit started per
 * connection then loads already type-stripped, compiled modules instead of redoing that
 * work every time (a big share of its start-up time). NODE_COMPILE_CACHE chooses the
 * directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off (node reads both).
 */
export function unitEnv(model: string): NodeJS.ProcessEnv {
  return { ...process.env, NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), `${model}-compile-cache`) };
}
