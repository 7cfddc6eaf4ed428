// Start-up wrapper: a configuration mistake ends the process with one clear line.
import { ConfigError } from './config.ts';

export function runService(start: () => Promise<void>): void {
  start().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
    } else {
      process.stderr.write(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  });
}
