// The endpoint reconciler of the kubernetes Service (--endpoint-reconciler-type=lease).
export {
  type DesiredSlice,
  desiredSlices,
  desiredSubsets,
  type EndpointSubset,
  EndpointsAdapter,
  type EndpointsAdapterOptions,
  EndpointsReconcileError,
  type EndpointsReconcileErrorCode,
  endpointSliceObject,
  endpointsObject,
  KUBERNETES_SERVICE_NAME,
  KUBERNETES_SERVICE_NAMESPACE,
  LABEL_SERVICE_NAME,
  LABEL_SKIP_MIRROR,
  type SyncResult,
} from './endpoints-adapter.js';
export {
  LeaseEndpointReconciler,
  type LeaseEndpointReconcilerOptions,
  reconcileIntervalMsFor,
} from './lease-endpoint-reconciler.js';
export {
  MASTER_LEASE_TTL_SECONDS_DEFAULT,
  type MasterAddress,
  MasterLeases,
  type MasterLeasesOptions,
  masterLeaseKey,
  masterLeasesPrefix,
  masterLeaseValue,
  parseMasterLease,
} from './master-leases.js';
