// What the master and a worker say to each other over the worker's IPC channel (the
// same channel also carries the worker's request statistics, see RemoteStats).

/** The worker's two pipes to the master's pool (after stdin/out/err and IPC): calls out, answers in. */
export const CALL_FD = 4;
export const ANSWER_FD = 5;

/** Worker → master: "I hold no connection; give me the next one." Also sent once when ready. */
export const IDLE = { t: 'prefork.idle' } as const;
/** Master → worker, with the socket as the handle: "this connection is yours until it closes." */
export const CONNECTION = { t: 'prefork.connection' } as const;
/** Master → worker: "finish the current request, close the connection, exit." */
export const DRAIN = { t: 'prefork.drain' } as const;

export function isMessage<M extends { t: string }>(message: unknown, kind: M): message is M {
  return typeof message === 'object' && message !== null && (message as { t?: unknown }).t === kind.t;
}
