// The admission chain in kube-apiserver's order (AllOrderedPlugins of 1.32, restricted to the
// plugins Keelson has), enabled and disabled by name as --enable-admission-plugins and
// --disable-admission-plugins do. Mutating phases run in this order, then validating phases.

import {
  SERVICE_ALLOCATION,
  type ServiceAllocationOptions,
  serviceAllocation,
} from '../allocators/services.js';
import type { AdmissionPlugin } from '../types.js';
import {
  DEFAULT_TOLERATION_SECONDS,
  type DefaultTolerationSecondsOptions,
  defaultTolerationSeconds,
} from './default-toleration-seconds.js';
import { LIMIT_RANGER, limitRanger } from './limit-ranger.js';
import {
  NAMESPACE_LIFECYCLE,
  type NamespaceLifecycleOptions,
  namespaceLifecycle,
} from './namespace-lifecycle.js';
import { RESOURCE_QUOTA, resourceQuota } from './resource-quota.js';
import { SERVICE_ACCOUNT, type ServiceAccountOptions, serviceAccountAdmission } from './service-account.js';

export class AdmissionOptionsError extends Error {
  readonly code = 'ADMISSION_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'AdmissionOptionsError';
  }
}

export interface DefaultAdmissionOptions {
  /** --etcd-prefix ("/registry"). */
  etcdPrefix?: string;
  /** --enable-admission-plugins: names to turn on besides the defaults (all Keelson's are on by default). */
  enable?: string[];
  /** --disable-admission-plugins. */
  disable?: string[];
  namespaceLifecycle?: NamespaceLifecycleOptions;
  serviceAccount?: ServiceAccountOptions;
  defaultTolerationSeconds?: DefaultTolerationSecondsOptions;
  /** ClusterIP and NodePort allocation (--service-cluster-ip-range, --service-node-port-range). */
  services?: ServiceAllocationOptions;
  nowMs?: () => number;
}

/** Kubernetes' order. ServiceAllocation is not an admission plugin in Kubernetes but runs last among the mutators here. */
export const ADMISSION_PLUGIN_ORDER: readonly string[] = [
  NAMESPACE_LIFECYCLE,
  LIMIT_RANGER,
  SERVICE_ACCOUNT,
  DEFAULT_TOLERATION_SECONDS,
  SERVICE_ALLOCATION,
  RESOURCE_QUOTA,
];

export function defaultAdmissionPlugins(opts: DefaultAdmissionOptions = {}): AdmissionPlugin[] {
  const disabled = new Set(opts.disable ?? []);
  for (const name of [...disabled, ...(opts.enable ?? [])]) {
    if (!ADMISSION_PLUGIN_ORDER.includes(name)) {
      throw new AdmissionOptionsError(
        `unknown admission plugin ${name}; known plugins: ${ADMISSION_PLUGIN_ORDER.join(', ')}`,
      );
    }
  }
  for (const name of opts.enable ?? []) {
    if (disabled.has(name))
      throw new AdmissionOptionsError(`admission plugin ${name} is both enabled and disabled`);
  }
  const etcdPrefix = opts.etcdPrefix ?? '/registry';
  const build: Record<string, () => AdmissionPlugin> = {
    [NAMESPACE_LIFECYCLE]: () => namespaceLifecycle({ etcdPrefix, ...opts.namespaceLifecycle }),
    [LIMIT_RANGER]: () => limitRanger({ etcdPrefix }),
    [SERVICE_ACCOUNT]: () => serviceAccountAdmission({ etcdPrefix, ...opts.serviceAccount }),
    [DEFAULT_TOLERATION_SECONDS]: () => defaultTolerationSeconds(opts.defaultTolerationSeconds),
    [SERVICE_ALLOCATION]: () => serviceAllocation({ etcdPrefix, ...opts.services }),
    [RESOURCE_QUOTA]: () =>
      resourceQuota(opts.nowMs === undefined ? { etcdPrefix } : { etcdPrefix, nowMs: opts.nowMs }),
  };
  return ADMISSION_PLUGIN_ORDER.filter((name) => !disabled.has(name)).map((name) => {
    const make = build[name];
    if (make === undefined) throw new Error(`assertion failed: no constructor for ${name}`);
    return make();
  });
}

export * from './default-toleration-seconds.js';
export { admissionForbidden, aggregateMessage, forbiddenFor } from './errors.js';
export * from './limit-ranger.js';
export * from './namespace-lifecycle.js';
export * from './resource-quota.js';
export * from './service-account.js';
