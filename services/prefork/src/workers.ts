// The master's side of the worker processes: fork them, answer their blocking database
// calls on their pipes, hear when each is idle, replace one that dies (releasing the
// requests it still had open), and drain them at shutdown.
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { servePipeCalls, serveStats, toChannel, whenExited, type Logger, type Recorder, type WorldStore } from '@models/common';
import { ANSWER_FD, CALL_FD, CONNECTION, DRAIN, IDLE, isMessage } from './messages.ts';

// stdin/out/err shared with the master, the IPC channel (fd 3), then the two database pipes.
const STDIO = ['inherit', 'inherit', 'inherit', 'ipc', 'pipe', 'pipe'] as const;

export interface PreforkWorker {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Has said idle at least once (it is up). */
  ready: boolean;
  busy: boolean;
  openRequests(): number;
}

export interface WorkerPoolOptions {
  entry: URL;
  execArgv: string[];
  compileCacheDir: string | null;
  size: number;
  recorder: Recorder;
  /** The master's pool: every worker's blocking calls run on it. */
  store: WorldStore;
  log: Logger;
  onIdle(worker: PreforkWorker): void;
  onGone(worker: PreforkWorker): void;
}

export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #workers = new Set<PreforkWorker>();
  #started = 0;
  #draining = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  get alive(): number {
    return this.#workers.size;
  }

  get started(): number {
    return this.#started;
  }

  get busy(): number {
    let busy = 0;
    for (const worker of this.#workers) if (worker.busy) busy += 1;
    return busy;
  }

  pids(): number[] {
    return [...this.#workers].map((worker) => worker.pid);
  }

  /** Starts every worker; resolves when all are ready, rejects if one dies first. */
  async start(): Promise<void> {
    // One first, so it fills the compile cache the others then start from.
    await this.#spawn();
    await Promise.all(Array.from({ length: this.#options.size - 1 }, () => this.#spawn()));
  }

  /** The socket leaves the master (its handle here is closed once sent). */
  hand(worker: PreforkWorker, socket: Socket, requeue: (socket: Socket) => void): void {
    worker.busy = true;
    worker.child.send(CONNECTION, socket, (err) => {
      if (err === null) return;
      // The worker died between saying idle and now: the connection goes back in line.
      this.#options.log.warn({ pid: worker.pid, err }, 'handing a connection to a worker failed');
      if (!socket.destroyed) requeue(socket);
    });
  }

  /** Each worker finishes its request and closes its connection; resolves when all exited. */
  async drain(): Promise<void> {
    this.#draining = true;
    await Promise.all(
      [...this.#workers].map(async (worker) => {
        const exited = whenExited(worker.child); // not once(): it rejects on an 'error' first
        if (worker.child.connected) worker.child.send(DRAIN);
        await exited;
      }),
    );
  }

  #spawn(): Promise<PreforkWorker> {
    const { entry, execArgv, compileCacheDir, recorder, store, log } = this.#options;
    const env = compileCacheDir === null ? process.env : { ...process.env, NODE_COMPILE_CACHE: compileCacheDir };
    const child = fork(entry, [], { execArgv, env, stdio: [...STDIO] });
    const pipes = child.stdio as unknown as Record<number, Readable & Writable>;
    servePipeCalls(pipes[CALL_FD]!, pipes[ANSWER_FD]!, store);
    const stats = serveStats(toChannel(child), recorder);
    const worker: PreforkWorker = { child, pid: child.pid ?? 0, ready: false, busy: false, openRequests: () => stats.openRequests() };
    this.#workers.add(worker);
    this.#started += 1;
    return new Promise((resolve, reject) => {
      child.on('error', (err) => log.warn({ pid: worker.pid, err }, 'worker channel error'));
      child.on('message', (message) => {
        if (!isMessage(message, IDLE)) return;
        worker.busy = false;
        if (!worker.ready) {
          worker.ready = true;
          resolve(worker);
        }
        if (!this.#draining) this.#options.onIdle(worker);
      });
      child.on('exit', (code, signal) => {
        this.#workers.delete(worker);
        this.#options.onGone(worker);
        const abandoned = worker.openRequests();
        recorder.abandoned(abandoned);
        if (!worker.ready) {
          reject(new Error(`worker ${worker.pid} exited (code ${code}, signal ${signal}) before it was ready`));
          return;
        }
        if (this.#draining) return;
        log.warn({ pid: worker.pid, code, signal, abandoned }, 'worker died: starting a replacement');
        this.#spawn().catch((err: unknown) => log.error({ err }, 'replacement worker failed to start'));
      });
    });
  }
}
