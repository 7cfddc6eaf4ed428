// Graceful shutdown: on SIGTERM/SIGINT stop accepting, let in-flight requests finish,
// close the pool, and exit; a hung close still ends within SHUTDOWN_TIMEOUT_MS.
// The handler is installed first thing at start-up (runService), before any pool, unit
// or listener exists: node runs as PID 1 in its container, and PID 1 IGNORES a signal it
// has no handler for, so a SIGTERM during a long start-up (prefork forking 100 workers)
// would otherwise be lost and `docker stop` would wait for its SIGKILL.
import { isMainThread } from 'node:worker_threads';
import type { Logger } from 'pino';

type SignalHandler = (signal: NodeJS.Signals) => void;

/** What a signal does now: exit at once while starting, drain once the model serves. */
let onSignal: SignalHandler = (signal) => {
  // Nothing is served yet, so there is nothing to drain. Units already started go with us:
  // threads end with the process, forked workers exit when their IPC channel closes.
  process.stderr.write(`${signal} during start-up: exiting before serving anything\n`);
  process.exit(0);
};
let installed = false;

/** Routes SIGTERM/SIGINT to the current handler; idempotent. Worker threads get no signals. */
export function handleSignalsFromStart(): void {
  if (installed || !isMainThread) return;
  installed = true;
  const dispatch = (signal: NodeJS.Signals) => onSignal(signal);
  process.on('SIGTERM', dispatch);
  process.on('SIGINT', dispatch);
}

/** The model serves now: a signal drains it through `close`, bounded by `timeoutMs`. */
export function onShutdownSignal(log: Logger, timeoutMs: number, close: (signal: NodeJS.Signals) => Promise<void>): void {
  handleSignalsFromStart();
  let closing = false;
  onSignal = (signal) => {
    if (closing) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    log.info({ signal, timeoutMs }, 'shutting down: draining in-flight requests');
    const deadline = setTimeout(() => {
      // What was still open (sockets, child processes, timers): the lead when a drain hangs.
      log.error({ timeoutMs, openResources: process.getActiveResourcesInfo() }, 'shutdown timed out: exiting with requests still open');
      process.exit(1);
    }, timeoutMs);
    close(signal).then(
      () => {
        clearTimeout(deadline);
        log.info('shutdown complete');
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
}
