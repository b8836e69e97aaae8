#!/usr/bin/env node
// The `keelson` executable.
import { processIo } from './io.js';
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv, processIo());
