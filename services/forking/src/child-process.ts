// The parent's side of one child: fork it, hand it the unread socket once it says it is
// ready, count its requests, and clean up when it exits, however it exits (or when fork
// itself failed).
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { serveStats, toChannel, whenExited, type ConnectionUnit, type Logger, type Recorder, type UnitEnd } from '@models/common';
import { isChildMessage, type ParentMessage } from './messages.ts';

export interface ChildContext {
  recorder: Recorder;
  log: Logger;
  env: NodeJS.ProcessEnv;
  childFlags: string[];
  /** Live children, for the evidence; each removes itself when it exits. */
  children: Set<ChildProcess>;
}

export function startChild(socket: Socket, { recorder, log, env, childFlags, children }: ChildContext): ConnectionUnit {
  const child = fork(new URL('./child.ts', import.meta.url), [], { env, execArgv: [...process.execArgv, ...childFlags] });
  children.add(child);
  const requests = serveStats(toChannel(child), recorder);
  // A socket that cannot be handed over (the client reset it meanwhile) ends its child too:
  // a child without a connection would otherwise wait for one forever.
  const send = (message: ParentMessage, handle?: Socket) =>
    child.connected &&
    child.send(message, handle, (err) => {
      if (err === null) return;
      socket.destroy();
      child.disconnect(); // the child exits 0 when its parent's channel closes (it ignores SIGTERM)
    });
  // Hand the socket over once the child listens for it.
  child.on('message', (message) => isChildMessage(message, 'ready') && send({ t: 'connection' }, socket));
  // fork() reports EAGAIN (the pids limit) LATER, as 'error' with no 'exit': a 503 for the client.
  let spawned = false;
  child.once('spawn', () => {
    spawned = true;
  });
  const ended = new Promise<UnitEnd>((resolve) => {
    void whenExited(child).then(resolve);
    child.on('error', (err) => {
      log.error({ err }, spawned ? 'child channel error' : 'could not start a child');
      if (!spawned) resolve('failed_to_start');
    });
  }).then((end) => {
    children.delete(child);
    if (end !== 'failed_to_start') socket.destroy(); // still ours only if the child died before taking it
    recorder.abandoned(requests.openRequests()); // a child that died mid-request
    return end;
  });
  return { ended, drain: () => send({ t: 'drain' }) };
}
