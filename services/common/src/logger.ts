// Structured JSON logs (pino), one line per event, level from LOG_LEVEL.
import { pino, type Logger } from 'pino';
import { threadId } from 'node:worker_threads';

export type { Logger };

export function createLogger(level: string, model: string): Logger {
  return pino({ level, base: { model, pid: process.pid, threadId } });
}
