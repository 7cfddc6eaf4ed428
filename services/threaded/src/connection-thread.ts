// The main thread's side of one connection thread: start it with its end of a blocking
// link to the shared pool, move the unread socket into it (Node 24 can), count its
// requests, and clean up when it exits, however it exits.
import type { Socket } from 'node:net';
import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import {
  createBlockingLink,
  serveBlockingCalls,
  serveStats,
  toChannel,
  whenExited,
  type ConnectionUnit,
  type Logger,
  type Recorder,
  type WorldStore,
} from '@models/common';
import type { ThreadData } from './thread.ts';

export interface ThreadContext {
  store: WorldStore;
  recorder: Recorder;
  log: Logger;
  resourceLimits: ResourceLimits;
  env: NodeJS.ProcessEnv;
}

export function startConnectionThread(socket: Socket, { store, recorder, log, resourceLimits, env }: ThreadContext): ConnectionUnit {
  const link = createBlockingLink();
  serveBlockingCalls(link.server, link.client.signal, store);
  const data: ThreadData = { end: link.client };
  let thread: Worker;
  try {
    thread = new Worker(new URL('./thread.ts', import.meta.url), {
      workerData: data,
      transferList: [link.client.port],
      resourceLimits,
      env,
    });
  } catch (err) {
    link.server.close(); // both ends: the client end never left this thread
    link.client.port.close();
    throw err;
  }
  const requests = serveStats(toChannel(thread), recorder);
  thread.on('error', (err) => log.error({ err, threadId: thread.threadId }, 'connection thread failed'));
  thread.postMessage({ socket }, [socket as unknown as TransferListItem]);
  // Exited, whatever it emitted first ('error' for a thread out of memory or that threw).
  const ended = whenExited(thread).then((end) => {
    link.server.close();
    recorder.abandoned(requests.openRequests()); // a thread that died mid-request
    return end;
  });
  return { ended, drain: () => thread.postMessage({ t: 'drain' }) };
}
