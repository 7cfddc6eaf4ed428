// Starts a model service as a real child process (the same `node src/main.ts` a user
// runs, or a built binary such as the Go service) and finds its port from its
// "listening" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface RunningService {
  url: string;
  child: ChildProcess;
  /** Everything the service printed, for assertion messages. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A program and its arguments. */
export interface ServiceCommand {
  command: string;
  args: readonly string[];
}

/**
 * What to start: a Node model's main.ts (run with this node), a command, or a function
 * that gives the command when the service is first started (e.g. after building it).
 */
export type ServiceTarget = string | ServiceCommand | (() => ServiceCommand);

export function serviceCommand(target: ServiceTarget): ServiceCommand {
  if (typeof target === 'string') return { command: process.execPath, args: [target] };
  return typeof target === 'function' ? target() : target;
}

export async function startService(target: ServiceTarget, env: Record<string, string>, timeoutMs = 30_000): Promise<RunningService> {
  const { command, args } = serviceCommand(target);
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const port = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; address?: { port?: number } };
        if (entry.msg === 'listening' && entry.address?.port) resolve(entry.address.port);
      } catch {
        // not a JSON log line
      }
    });
    createInterface({ input: child.stderr }).on('line', (line) => lines.push(line));
    void exited.then(({ code }) => reject(new Error(`service exited (code ${code}) before listening:\n${lines.join('\n')}`)));
    setTimeout(() => reject(new Error(`service did not listen within ${timeoutMs} ms:\n${lines.join('\n')}`)), timeoutMs).unref();
  });
  try {
    const url = `http://127.0.0.1:${await port}`;
    return {
      url,
      child,
      output: () => lines.join('\n'),
      exited,
      async stop(signal = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}
