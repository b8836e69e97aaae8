// The public API of the Raft core. Everything a caller needs is exported here; nothing else in
// this package is part of its contract.

export { decodeConfChange, encodeConfChange } from './confchange/codec.js';
export { type Config, DEFAULTS, ReadOnlyOption } from './config.js';
export {
  AssertionError,
  assert,
  type DropReason,
  RaftError,
  type RaftErrorCode,
  type RaftErrorDetails,
} from './errors.js';
export { type Logger, silentLogger } from './logger.js';
export { type Rand, SeededRand } from './rand.js';
export { RawNode } from './rawnode.js';
export type { ProgressStatus, Ready, Status } from './ready.js';
export { MemoryStorage, type Storage } from './storage.js';
export { ProgressState } from './tracker/progress.js';
export * from './types.js';
