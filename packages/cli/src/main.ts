#!/usr/bin/env node
// The `keelson` executable.
import { processIo } from './io.js';
import { runCli } from './program.js';

if (process.argv[2] === 'store') {
  // Loaded only when asked for: the store pulls in gRPC and LevelDB, which `keelson sim` does not need.
  const { runStoreCli } = await import('./store.js');
  // Exit at once: a stopped member may leave sockets and timers behind that are not worth waiting for.
  process.exit(await runStoreCli(process.argv, processIo()));
}
process.exitCode = await runCli(process.argv, processIo());
