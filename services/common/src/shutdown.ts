// Graceful shutdown: on SIGTERM/SIGINT stop accepting, let in-flight requests finish,
// close the pool, and exit; a hung close still ends within SHUTDOWN_TIMEOUT_MS.
import type { Logger } from 'pino';

export function onShutdownSignal(log: Logger, timeoutMs: number, close: (signal: NodeJS.Signals) => Promise<void>): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
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
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
