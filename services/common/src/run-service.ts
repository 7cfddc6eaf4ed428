// Start-up wrapper for every model's entry: signals are handled from the first moment
// (see shutdown.ts), and a configuration mistake ends the process with one clear line.
import { ConfigError } from './config.ts';
import { handleSignalsFromStart } from './shutdown.ts';

export function runService(start: () => Promise<void>): void {
  handleSignalsFromStart();
  start().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
    } else {
      process.stderr.write(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.exit(1);
  });
}
