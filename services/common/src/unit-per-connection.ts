// Supervisor side of thread-per-connection and process-per-connection: the entry file
// accepts (paused: not one byte is read here) and offers each connection here; a NEW unit
// is started for it and handed the socket; the unit serves that connection and ends when
// it closes. With a limit on live units, further connections wait in the shared
// Admission line and get the next unit that ends; beyond its bound, a fast 503.
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admission } from './admission.ts';
import { identify } from './identity.ts';
import { Recorder, type ModelDescription } from './stats.ts';

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
export function whenExited(unit: {
  once(event: 'exit', listener: (code: number | null, signal?: string | null) => void): unknown;
}): Promise<UnitEnd> {
  return new Promise((resolve) =>
    unit.once('exit', (code, signal) => resolve(code === 0 && (signal ?? null) === null ? 'ended' : 'crashed')),
  );
}

/** A thread or a process (for /model, and the 503 that names the bound). */
export type ConnectionUnitKind = 'thread' | 'process';

export interface UnitPerConnectionOptions {
  /** Most units alive at once; null for no bound (the classic model). */
  limit: number | null;
  /** Connections that may wait (in the shared Admission line) when `limit` units are alive; beyond: 503. */
  queueMax: number;
  /** Start a new unit and hand it the (paused) socket; the unit reports its requests to `recorder`. */
  start(socket: Socket, recorder: Recorder): ConnectionUnit;
  /** What only the entry file knows, for /model: its pids, its pools, anything extra. */
  evidence(): Pick<ModelDescription, 'pids' | 'db'> & { extra?: Record<string, unknown> };
}

export class UnitPerConnection {
  /** The service's request counts and /model evidence: the units, the waiting line, and the entry file's own. */
  readonly #recorder: Recorder;
  readonly #unitKind: ConnectionUnitKind;
  readonly #options: UnitPerConnectionOptions;
  readonly #admission: Admission;
  readonly #alive = new Set<ConnectionUnit>();
  #started = 0;
  #crashed = 0;
  #closing = false;

  /** `model` answers the 503s written while a connection waits for a unit; `unitKind` is what each connection gets. */
  constructor(model: string, unitKind: ConnectionUnitKind, options: UnitPerConnectionOptions) {
    this.#unitKind = unitKind;
    this.#options = options;
    const { limit, queueMax } = options;
    const unitsName = unitKind === 'thread' ? 'threads' : 'processes';
    this.#admission = new Admission({
      queueMax,
      identity: identify(model),
      overloaded: `all ${limit} ${unitsName} are busy and ${queueMax} connections are waiting`,
    });
    this.#recorder = new Recorder(model, () => this.#describe());
  }

  /**
   * For /model: the units (what they are, alive, started, the bound), the waiting line and
   * the units that died, with what only the entry file knows (its pids, pools, extra).
   */
  #describe(): ModelDescription {
    const admission = this.#admission;
    const own = this.#options.evidence();
    return {
      unitKind: this.#unitKind,
      unitsAlive: this.#alive.size,
      unitsStarted: this.#started,
      unitsLimit: this.#options.limit,
      pids: own.pids,
      db: own.db,
      extra: {
        queued: admission.queued,
        queueMax: admission.queueMax,
        rejected503: admission.rejected,
        unitsCrashed: this.#crashed,
        ...own.extra,
      },
    };
  }

  /** A new connection from the entry file's server: a unit now if the limit allows, else it waits. */
  accept(socket: Socket): void {
    this.#admission.admit(socket, (s) => {
      const { limit } = this.#options;
      if (limit !== null && this.#alive.size >= limit) return false;
      this.#start(s);
      return true;
    });
  }

  /** Shutdown: stop accepting on the entry file's server, turn the waiting connections away, drain every unit, wait for all to end. */
  async close(server: Server): Promise<void> {
    server.close();
    this.#closing = true;
    this.#admission.close();
    const units = [...this.#alive];
    for (const unit of units) unit.drain();
    await Promise.all(units.map((unit) => unit.ended));
  }

  #start(socket: Socket): void {
    let unit: ConnectionUnit;
    try {
      unit = this.#options.start(socket, this.#recorder);
    } catch {
      this.#startFailed(socket);
      return;
    }
    this.#started += 1;
    this.#alive.add(unit);
    void unit.ended
      .catch((): UnitEnd => 'crashed')
      .then((end) => {
        this.#alive.delete(unit);
        if (end === 'crashed') this.#crashed += 1;
        if (end === 'failed_to_start') {
          this.#started -= 1;
          if (!socket.destroyed) this.#startFailed(socket);
        }
        if (this.#closing) return;
        const next = this.#admission.next(); // skips connections whose client gave up
        if (next !== undefined) this.#start(next);
      });
  }

  /** The fork or thread failed (synchronously, or later like fork's EAGAIN): a 503 the client can retry. */
  #startFailed(socket: Socket): void {
    this.#admission.turnAway(socket, 'unit_start_failed', 'no thread or process could be started for this connection');
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
