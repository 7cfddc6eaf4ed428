// A node entry that runs a built binary (EXEC_BINARY) in its place, so the shared startService
// helper (which starts `node <entry>`) can start the Go service too: the binary inherits the
// environment and stdio (its "listening" log line included), signals are passed on, and this
// process exits with the binary's code. The benchmark measures the binary's process tree, not
// this wrapper.
import { spawn } from 'node:child_process';

const binary = process.env.EXEC_BINARY;
if (binary === undefined || binary === '') {
  process.stderr.write('exec-entry: EXEC_BINARY (the path of the binary to run) is required\n');
  process.exit(2);
}
const child = spawn(binary, [], { stdio: 'inherit', env: process.env });
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
