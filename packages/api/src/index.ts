// The public API of @keelson/api: resource types, the resource registry and strategies, defaulting,
// validation, selectors, tables, patches and OpenAPI schemas. Each module appends its exports here.

export * from './openapi/field-validation.js';
export * from './openapi/openapi.js';
export * from './openapi/patch-tags.js';
export * from './openapi/schema.js';
export * from './patch/index.js';
export * from './quantity.js';
export * from './registry.js';
export * from './selectors.js';
export * from './status.js';
export {
  applyScale,
  appsStrategies,
  controllerRevisionStrategy,
  DAEMONSET_TEMPLATE_GENERATION,
  daemonSetStrategy,
  defaultDaemonSet,
  defaultDeployment,
  defaultReplicaSet,
  defaultStatefulSet,
  deploymentStrategy,
  isScalableKind,
  replicaSetStrategy,
  ScaleError,
  scaleOf,
  statefulSetStrategy,
  validateLabelSelector,
  validatePositiveIntOrPercent,
  validateScale,
} from './strategy/apps.js';
export {
  autoscalingStrategies,
  convertHpa,
  defaultHpaV2,
  HPA_ANNOTATIONS,
  type HpaVersion,
  hpaV1Strategy,
  hpaV2Strategy,
} from './strategy/autoscaling.js';
export {
  batchStrategies,
  cronJobStrategy,
  defaultCronJob,
  defaultJob,
  generateJobSelector,
  JOB_LABELS,
  jobStrategy,
  parseCronSchedule,
} from './strategy/batch.js';
export { leaseStrategy } from './strategy/coordination.js';
export * from './strategy/core.js';
export { endpointSliceStrategy } from './strategy/discovery.js';
export * from './strategy/generic.js';
// Strategies of the non-core groups, the strategy lookup, scale and HPA conversion helpers.
export { allStrategies, convertVersion, getStrategy } from './strategy/index.js';
export { ingressClassStrategy, ingressStrategy, networkPolicyStrategy } from './strategy/networking.js';
export { podDisruptionBudgetStrategy } from './strategy/policy.js';
export {
  clusterRoleBindingStrategy,
  clusterRoleStrategy,
  RBAC_GROUP,
  roleBindingStrategy,
  roleStrategy,
} from './strategy/rbac.js';
export { storageClassStrategy } from './strategy/storage.js';
export * from './tables/index.js';
export type * from './types.js';
export * as field from './validation/field.js';
export * from './validation/meta.js';
export * from './validation/names.js';
export * from './validation/pod.js';
export * from './validation/quantity.js';
