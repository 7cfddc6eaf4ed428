// Who answered: stamped on every response so a client can see the model at work.
import { threadId } from 'node:worker_threads';

export interface Identity {
  model: string;
  pid: number;
  threadId: number;
  headers: Readonly<Record<string, string>>;
}

/** Computed once per unit: pid and threadId never change for a process or thread. */
export function identify(model: string): Identity {
  return {
    model,
    pid: process.pid,
    threadId,
    headers: { 'x-model': model, 'x-pid': String(process.pid), 'x-thread-id': String(threadId) },
  };
}
