// The public API of @keelson/apiserver. Each module appends its exports here.

export * from './admission/index.js';
export * from './allocators/index.js';
export * from './auth/authn.js';
export * from './auth/bootstrap-policy.js';
export * from './auth/rbac.js';
export * from './auth/rbac-rules.js';
export * from './auth/ssar.js';
export * from './auth/tls.js';
export * from './auth/tokens.js';
export * from './cache/index.js';
export {
  type ApiServerFlags,
  type AuthorizationMode,
  allowAll,
  defaultFlags,
  type EndpointReconcilerType,
  type RunningApiServer,
  startApiServer,
} from './config.js';
export { KUBERNETES_VERSION, versionInfo } from './discovery.js';
export { ApiServerMetrics } from './metrics.js';
export * from './reconcilers/index.js';
export type {
  FieldValidator,
  Patcher,
  PatchRequest,
  PatchType,
  ResourceCatalog,
  RestDeps,
  Selectors,
  TableConvertor,
} from './rest/deps.js';
export { parseResourcePath, type ResourcePath } from './rest/url.js';
export { ApiServer, type ApiServerOptions, INSECURE_USER, type OpenApiSource } from './server.js';
export {
  defaultLifecycleOptions,
  GOAWAY_CHANCE_MAX,
  LifecycleConfigError,
  type LifecycleOptions,
  type PreShutdownHook,
  ServerLifecycle,
  type ShutdownPhase,
  type ShutdownResult,
} from './shutdown.js';
export { decodeContinue, encodeContinue, InvalidContinueError } from './storage/continue.js';
export { EtcdObjectStorage, type EtcdObjectStorageOptions } from './storage/etcd.js';
export * from './types.js';
