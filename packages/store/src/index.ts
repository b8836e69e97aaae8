// The public API of @keelson/store: start a member, talk to any etcd v3 endpoint, and the shared
// types and errors. Everything else in this package is internal.

export type { StoreBackend, WatchHandle, WatchSink } from './api/backend.js';
export type * as EtcdTypes from './api/types.js';
export * from './client.js';
export {
  ConfigError,
  defaultMemberConfig,
  type Env,
  formatInitialCluster,
  loadMemberConfig,
  type MemberConfig,
  memberConfigFromOptions,
  memberConfigWarnings,
  parseInitialCluster,
  STORE_FLAGS,
  validateMemberConfig,
} from './config.js';
export { EtcdError, type EtcdErrorCode, GrpcCode, isEtcdError } from './errors.js';
export {
  flag as H2Flag,
  frameHeaderBytes as H2FrameHeaderBytes,
  frameType as H2FrameType,
  H2Code,
  http2ClientPreface,
  setting as H2Setting,
  windowDefault as H2WindowDefault,
  windowMax as H2WindowMax,
} from './grpc/h2conn.js';
export {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
  HpackIndexingEncoder,
  Http2FramingError,
} from './grpc/hpack.js';
export { componentLogger, createLogger } from './log.js';
export { computeClusterId, computeMemberId, idHex } from './member/ids.js';
export { ETCD_VERSION } from './member/member.js';
export { MEMBER_NODE_FLAGS } from './member/node_flags.js';
export { type RunningMember, startMember } from './member/start.js';
export { createHttpHandler, StoreMetrics } from './metrics.js';
export { DataDirError } from './storage/disk.js';
