// Builds the Go service (services/goroutines) once per test process, so the shared
// suite and the Go model's own tests start the same binary a user builds.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceCommand } from './service.ts';

const GO_SERVICE_DIR = fileURLToPath(new URL('../../goroutines/', import.meta.url));
let built: ServiceCommand | undefined;

/** `go build` in services/goroutines into a temporary directory (removed at exit); the command to run it. */
export function buildGoService(): ServiceCommand {
  if (built !== undefined) return built;
  const dir = mkdtempSync(join(tmpdir(), 'goroutines-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const binary = join(dir, 'goroutines');
  const run = spawnSync('go', ['build', '-o', binary, '.'], { cwd: GO_SERVICE_DIR, encoding: 'utf8', timeout: 600_000 });
  if (run.error !== undefined && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('go is not on PATH: the goroutines service is built with Go 1.26 (`go build` in services/goroutines)');
  }
  if (run.status !== 0) throw new Error(`go build in ${GO_SERVICE_DIR} failed: ${(run.stderr || String(run.error)).trim()}`);
  built = { command: binary, args: [] };
  return built;
}
