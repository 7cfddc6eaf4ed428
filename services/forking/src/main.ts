// Process-per-request: the parent accepts each connection, forks a NEW child process for
// it and hands it the socket; the child serves that connection (keep-alive included),
// opening its own database connection like a CGI program, and exits when it closes.
// Node reaps every child that exits; a child whose parent is gone exits too. MAX_PROCS
// bounds live children (0 = unbounded, the classic model); at the bound, connections
// wait in the parent (QUEUE_MAX), beyond that they get a fast 503.
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { UnitPerConnection, createLogger, listen, onShutdownSignal, runService, unitEnv } from '@models/common';
import { startChild } from './child-process.ts';
import { MODEL, loadForkingSettings } from './settings.ts';

runService(async () => {
  const { config, maxProcs, queueMax, childFlags } = loadForkingSettings(process.env);
  const log = createLogger(config.logLevel, MODEL);
  const env = unitEnv(MODEL); // the children read their settings from it, as the parent did
  const children = new Set<ChildProcess>();
  const processes = new UnitPerConnection(MODEL, 'process', {
    limit: maxProcs,
    queueMax,
    start: (socket, recorder) => startChild(socket, { recorder, log, env, childFlags, children }),
    evidence: () => ({
      pids: [process.pid, ...[...children].flatMap((child) => (child.pid === undefined ? [] : [child.pid]))],
      db: { delayMs: config.dbDelayMs, poolMaxPerUnit: config.db.poolMax, pools: children.size },
      extra: { childFlags },
    }),
  });

  // accept -> a new process for this connection
  const server = createServer({ pauseOnConnect: true }, (socket) => processes.accept(socket));
  await listen(server, config, log, { maxProcs, queueMax, poolMaxPerChild: config.db.poolMax, childFlags });

  // stop accepting; each child finishes its request, closes, exits, is reaped
  onShutdownSignal(log, config.shutdownTimeoutMs, () => processes.close(server));
});
