// Preload for a supervisor's command line: `node --import @models/common/signals-at-start src/main.ts`.
// It installs the signal handler of shutdown.ts before node loads the service's modules
// (a second or more on a busy 2-core host), the one stretch of start-up runService cannot
// cover: node is PID 1 in its container, and PID 1 ignores a SIGTERM it has no handler for.
import { isMainThread } from 'node:worker_threads';
import { handleSignalsFromStart } from './shutdown.ts';

// A unit forked with the supervisor's execArgv (it has an IPC channel) keeps its own signal policy.
if (isMainThread && process.send === undefined) handleSignalsFromStart();
