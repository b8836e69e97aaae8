// The public API of the Raft simulator: specs and seed strings, one run, many runs (soak), and the
// building blocks the tests exercise directly (network, checker, state machine).
export {
  Checker,
  type CheckerStats,
  confKey,
  type DurableLog,
  type Invariant,
  InvariantViolation,
  type Violation,
} from './checker.js';
export { describeConf, describeMessage, type SimEvent, type SimEventKind } from './cluster.js';
export { describeChange, MAX_SIM_NODES } from './faults.js';
export {
  type InFlight,
  linkKey,
  makePartition,
  Network,
  type NetworkRates,
  type Partition,
  type SendOutcome,
} from './network.js';
export { CRASH_POINT_NAMES, SimNode } from './node.js';
export {
  formatFailure,
  LIVENESS_ELECTION_TIMEOUTS,
  type RunOptions,
  type RunResult,
  replayCommand,
  runSimulation,
  runWithTailOnFailure,
  Simulation,
} from './simulation.js';
export { runSoak, type SoakOptions, type SoakProgress, type SoakSummary, soakSpec } from './soak.js';
export {
  ALL_CRASH_POINTS,
  ALL_PARTITION_KINDS,
  baseSpec,
  CrashPoint,
  formatSeedString,
  LIMITS,
  MAX_NODES,
  PartitionKind,
  parseSeedString,
  type ScheduleSpec,
  SPEC_VERSION,
  SpecError,
  soakSeed,
  specFromSeed,
  validateSpec,
} from './spec.js';
export {
  chainHash,
  decodeProposal,
  encodeProposal,
  encodeReadContext,
  entryIdentity,
  IdStateMachine,
  INITIAL_STATE_HASH,
} from './state_machine.js';
export { addStats, emptyStats, type SimStats } from './stats.js';
export { fnvMix, hex32, TRACE_TAIL_LINES, Trace, type TraceMode } from './trace.js';
