// The command-line entry of the runner's scripts: main() runs only when the file is the one
// node was started with (not when a test imports it), and its result is the exit code.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when the module at `moduleUrl` is the script node was started with. */
export function isEntry(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && existsSync(script) && fileURLToPath(moduleUrl) === resolve(script);
}

/** Runs `main` when the module is the entry; a thrown error is one line naming `what`, and exit 1. */
export function runAsEntry(moduleUrl: string, what: string, main: () => Promise<number>): void {
  if (!isEntry(moduleUrl)) return;
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`${what} could not run: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
