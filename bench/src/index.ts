// The public API of @keelson/bench: the load generators behind `keelson bench`.

export {
  type ApiserverCreatesOptions,
  type ApiserverCreatesResult,
  type ApiserverCreatesRow,
  CreatesBenchError,
  formatApiserverCreates,
  parseApiserverCreatesArgs,
  runApiserverCreates,
} from './apiserver-creates.js';
export { freePorts } from './clusters.js';
export { type FailoverOptions, type FailoverResult, runFailover } from './failover.js';
export { LatencyHistogram, type LatencyPercentilesMs } from './histogram.js';
export {
  errorKey,
  KV_CLIENTS,
  KV_OPS,
  type KvClient,
  type KvOp,
  type KvOptions,
  type KvResult,
  progressLine,
  runKv,
  validateKvOptions,
} from './kv.js';
