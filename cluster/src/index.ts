// The public API of @keelson/cluster: a local HA cluster (store members, apiservers, a load
// balancer) launched, supervised by PID and inspected from one directory.
export {
  type ClusterPaths,
  type ComponentKind,
  type ComponentPlan,
  clusterPaths,
  LB_DRAIN_TIMEOUT_MS,
  planComponents,
  SERVING_HOSTS,
} from './components.js';
export {
  clusterDown,
  type DownEntry,
  type DownOptions,
  type DownResult,
  STOP_GRACE_MS_DEFAULT,
} from './down.js';
export { ClusterError, type ClusterErrorCode } from './errors.js';
export {
  apiserverReady,
  type LbBackend,
  lbBackends,
  lbHealth,
  type Probe,
  storeHealth,
  storeIsLeader,
} from './health.js';
export {
  APISERVERS_DEFAULT,
  APISERVERS_MAX,
  type ApiserverLayout,
  BASE_PORT_DEFAULT,
  type ClusterLayout,
  type ClusterVersions,
  type LayoutRequest,
  type LbLayout,
  layoutPorts,
  PORT_SPAN,
  planLayout,
  readLayout,
  STORES_DEFAULT,
  STORES_MAX,
  type StoreMemberLayout,
  writeLayout,
} from './layout.js';
export { ADMIN_USER, serverUrl } from './pki.js';
export { isComponentProcess, matchesIdentity, readCmdline, readPidFile, runningPid } from './procs.js';
export { type ClusterIo, ProgressBoard, type RowState } from './progress.js';
export {
  type ClusterStatus,
  type ComponentHealth,
  type ComponentRole,
  type ComponentStatus,
  clusterStatus,
  formatStatusTable,
} from './status.js';
export {
  clusterUp,
  DIR_DEFAULT,
  READY_TIMEOUT_MS_DEFAULT,
  type UpOptions,
  type UpResult,
  usageLines,
} from './up.js';
