// The public API of the CLI package: the program and its commands, for tests and embedding.
export { DEMO_SEED, demo, demoSpec } from './demo.js';
export { count, describeSpec, describeStats, duration } from './format.js';
export { type Io, memoryIo, processIo } from './io.js';
export { buildProgram, runCli } from './program.js';
export { type SimRunOptions, type SoakCommandOptions, simRun, simSoak } from './sim.js';
