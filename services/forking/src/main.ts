// Process-per-request: the parent accepts each connection, forks a NEW child process for
// it and hands it the socket; the child serves that connection (keep-alive included),
// opening its own database connection like a CGI program, and exits when it closes.
// Node reaps every child that exits; a child whose parent is gone exits too. MAX_PROCS
// bounds live children (0 = unbounded, the classic model); at the bound, connections
// wait in the parent (QUEUE_MAX), beyond that they get a fast 503.
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import {
  Recorder, UnitPerConnection, createLogger, identify, loadConfig, onShutdownSignal, readInt, runService,
  serveStats, toChannel, unitEnv,
} from '@models/common';
import { isChildMessage, type ParentMessage } from './messages.ts';

const MODEL = 'forking';

runService(async () => {
  // One connection per child (it runs one query at a time); Apache's 5 s keep-alive.
  const config = loadConfig(process.env, { dbPoolMax: 1, keepAliveTimeoutMs: 5_000 });
  const maxProcs = readInt(process.env, 'MAX_PROCS', { default: 0, min: 0, max: 100_000 });
  const queueMax = readInt(process.env, 'QUEUE_MAX', { default: 1_024, min: 0, max: 100_000 });
  const childFlags = (process.env.CHILD_NODE_OPTIONS ?? '').split(/\s+/).filter((flag) => flag !== '');
  const env = unitEnv(MODEL);
  const log = createLogger(config.logLevel, MODEL);
  const children = new Set<ChildProcess>();

  const processes: UnitPerConnection = new UnitPerConnection({
    limit: maxProcs === 0 ? null : maxProcs, queueMax, identity: identify(MODEL),
    start(socket: Socket) {
      const child = fork(new URL('./child.ts', import.meta.url), [], { env, execArgv: [...process.execArgv, ...childFlags] });
      children.add(child);
      const requests = serveStats(toChannel(child), recorder);
      // A socket that cannot be handed over (the client reset it meanwhile) ends its child too:
      // a child without a connection would otherwise wait for one forever.
      const send = (message: ParentMessage, handle?: Socket) => child.connected && child.send(message, handle, (err) => {
        if (err === null) return;
        socket.destroy();
        child.kill();
      });
      // Hand the socket over once the child listens for it.
      child.on('message', (message) => isChildMessage(message, 'ready') && send({ t: 'connection', config }, socket));
      const ended = new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.once('error', (err) => { log.error({ err }, 'could not start a child'); resolve(); });
      }).then(() => {
        children.delete(child);
        socket.destroy(); // still ours only if the child died before taking it
        recorder.abandoned(requests.openRequests()); // a child that died mid-request
      });
      return { ended, drain: () => send({ t: 'drain' }) };
    },
  });
  const recorder: Recorder = new Recorder(MODEL, () => ({
    unitKind: 'process', unitsAlive: processes.alive, unitsStarted: processes.started, unitsLimit: maxProcs === 0 ? null : maxProcs,
    pids: [process.pid, ...[...children].flatMap((child) => (child.pid === undefined ? [] : [child.pid]))],
    db: { delayMs: config.dbDelayMs, poolMaxPerUnit: config.db.poolMax, pools: children.size },
    extra: { queued: processes.queued, queueMax, rejected503: processes.rejected, childFlags },
  }));

  const address = await processes.listen(config.host, config.port);
  log.info({ address, maxProcs, queueMax, poolMaxPerChild: config.db.poolMax, childFlags }, 'listening');

  onShutdownSignal(log, config.shutdownTimeoutMs, async () => {
    await processes.close(); // stop accepting; each child finishes its request, closes, exits, is reaped
  });
});
