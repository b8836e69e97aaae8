// Every resource the apiserver serves, with the names discovery publishes and the etcd key
// segments Kubernetes itself uses (so that `etcdctl get --prefix /registry/minions` finds nodes
// just as it does on a real cluster). Subresources that discovery lists as "<plural>/<sub>" are
// described by `subresourcesOf`.

import type { GroupVersionKind, ResourceInfo, SubresourceName, Verb } from './types.js';

export class RegistryAssertionError extends Error {
  readonly code = 'REGISTRY_ASSERTION';
  constructor(message: string) {
    super(message);
    this.name = 'RegistryAssertionError';
  }
}

const ALL_VERBS: Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

interface Spec {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  all?: boolean;
  verbs?: Verb[];
  subresources?: SubresourceName[];
  storageResource?: string;
  storageVersion?: string;
  singular?: string;
}

function resource(s: Spec): ResourceInfo {
  return {
    group: s.group,
    version: s.version,
    kind: s.kind,
    listKind: `${s.kind}List`,
    plural: s.plural,
    singular: s.singular ?? s.kind.toLowerCase(),
    namespaced: s.namespaced,
    shortNames: s.shortNames ?? [],
    categories: s.all ? ['all'] : [],
    verbs: s.verbs ?? ALL_VERBS,
    subresources: s.subresources ?? [],
    storageResource: s.storageResource ?? s.plural,
    storageVersion: s.storageVersion ?? s.version,
  };
}

const core = (s: Omit<Spec, 'group' | 'version'>): ResourceInfo =>
  resource({ group: '', version: 'v1', ...s });

const CORE: ResourceInfo[] = [
  // Namespaces have no deletecollection in Kubernetes (kubectl api-resources lists 7 verbs).
  core({
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: ['status'],
  }),
  core({
    kind: 'Node',
    plural: 'nodes',
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status'],
    storageResource: 'minions',
  }),
  core({
    kind: 'Pod',
    plural: 'pods',
    namespaced: true,
    shortNames: ['po'],
    all: true,
    subresources: ['status', 'binding', 'eviction'],
  }),
  core({
    kind: 'Service',
    plural: 'services',
    namespaced: true,
    shortNames: ['svc'],
    all: true,
    subresources: ['status'],
    storageResource: 'services/specs',
  }),
  core({
    kind: 'Endpoints',
    plural: 'endpoints',
    singular: 'endpoints',
    namespaced: true,
    shortNames: ['ep'],
    storageResource: 'services/endpoints',
  }),
  core({ kind: 'ConfigMap', plural: 'configmaps', namespaced: true, shortNames: ['cm'] }),
  core({ kind: 'Secret', plural: 'secrets', namespaced: true }),
  core({
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    namespaced: true,
    shortNames: ['sa'],
    subresources: ['token'],
  }),
  core({ kind: 'Event', plural: 'events', namespaced: true, shortNames: ['ev'] }),
  core({
    kind: 'ResourceQuota',
    plural: 'resourcequotas',
    namespaced: true,
    shortNames: ['quota'],
    subresources: ['status'],
  }),
  core({ kind: 'LimitRange', plural: 'limitranges', namespaced: true, shortNames: ['limits'] }),
  core({
    kind: 'PersistentVolume',
    plural: 'persistentvolumes',
    namespaced: false,
    shortNames: ['pv'],
    subresources: ['status'],
  }),
  core({
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
    shortNames: ['pvc'],
    subresources: ['status'],
  }),
  core({
    kind: 'ReplicationController',
    plural: 'replicationcontrollers',
    namespaced: true,
    shortNames: ['rc'],
    all: true,
    subresources: ['status', 'scale'],
    storageResource: 'controllers',
  }),
];

const apps = (s: Omit<Spec, 'group' | 'version' | 'namespaced'>): ResourceInfo =>
  resource({ group: 'apps', version: 'v1', namespaced: true, ...s });

const APPS: ResourceInfo[] = [
  apps({
    kind: 'Deployment',
    plural: 'deployments',
    shortNames: ['deploy'],
    all: true,
    subresources: ['status', 'scale'],
  }),
  apps({
    kind: 'ReplicaSet',
    plural: 'replicasets',
    shortNames: ['rs'],
    all: true,
    subresources: ['status', 'scale'],
  }),
  apps({
    kind: 'StatefulSet',
    plural: 'statefulsets',
    shortNames: ['sts'],
    all: true,
    subresources: ['status', 'scale'],
  }),
  apps({ kind: 'DaemonSet', plural: 'daemonsets', shortNames: ['ds'], all: true, subresources: ['status'] }),
  apps({ kind: 'ControllerRevision', plural: 'controllerrevisions' }),
];

const hpa = (version: string): ResourceInfo =>
  resource({
    group: 'autoscaling',
    version,
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
    shortNames: ['hpa'],
    all: true,
    subresources: ['status'],
    // Both versions share one storage, kept as v2 (Kubernetes' storage version since 1.26).
    storageVersion: 'v2',
  });

const OTHERS: ResourceInfo[] = [
  resource({
    group: 'batch',
    version: 'v1',
    kind: 'Job',
    plural: 'jobs',
    namespaced: true,
    all: true,
    subresources: ['status'],
  }),
  resource({
    group: 'batch',
    version: 'v1',
    kind: 'CronJob',
    plural: 'cronjobs',
    namespaced: true,
    shortNames: ['cj'],
    all: true,
    subresources: ['status'],
  }),
  hpa('v2'),
  hpa('v1'),
  resource({
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    plural: 'leases',
    namespaced: true,
  }),
  ...rbac(),
  resource({
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'Ingress',
    plural: 'ingresses',
    namespaced: true,
    shortNames: ['ing'],
    subresources: ['status'],
    storageResource: 'ingress',
  }),
  resource({
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'IngressClass',
    plural: 'ingressclasses',
    namespaced: false,
  }),
  resource({
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    namespaced: true,
    shortNames: ['netpol'],
  }),
  resource({
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    namespaced: true,
  }),
  resource({
    group: 'storage.k8s.io',
    version: 'v1',
    kind: 'StorageClass',
    plural: 'storageclasses',
    namespaced: false,
    shortNames: ['sc'],
  }),
  resource({
    group: 'policy',
    version: 'v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    namespaced: true,
    shortNames: ['pdb'],
    subresources: ['status'],
  }),
  // Not stored: the apiserver answers a review in the response to the create.
  resource({
    group: 'authorization.k8s.io',
    version: 'v1',
    kind: 'SelfSubjectAccessReview',
    plural: 'selfsubjectaccessreviews',
    namespaced: false,
    verbs: ['create'],
    storageResource: '',
  }),
];

function rbac(): ResourceInfo[] {
  const group = 'rbac.authorization.k8s.io';
  return [
    resource({ group, version: 'v1', kind: 'Role', plural: 'roles', namespaced: true }),
    resource({ group, version: 'v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true }),
    resource({ group, version: 'v1', kind: 'ClusterRole', plural: 'clusterroles', namespaced: false }),
    resource({
      group,
      version: 'v1',
      kind: 'ClusterRoleBinding',
      plural: 'clusterrolebindings',
      namespaced: false,
    }),
  ];
}

/** Every served resource, core first, groups in Kubernetes' discovery order. */
export const RESOURCES: readonly ResourceInfo[] = Object.freeze([...CORE, ...APPS, ...OTHERS]);

/** Whether the apiserver keeps objects of this resource in the store. */
export function isStored(info: ResourceInfo): boolean {
  return info.storageResource !== '';
}

// ---------------------------------------------------------------------------------------------
// Subresources as discovery lists them ("pods/status", "deployments/scale", …).

export interface SubresourceInfo {
  /** "pods/status". */
  name: string;
  resource: ResourceInfo;
  subresource: SubresourceName;
  /** The kind the subresource speaks; group/version when it differs from the parent's. */
  kind: string;
  group?: string;
  version?: string;
  verbs: Verb[];
}

function describeSubresource(info: ResourceInfo, sub: SubresourceName): SubresourceInfo {
  const base = { name: `${info.plural}/${sub}`, resource: info, subresource: sub };
  switch (sub) {
    case 'status':
      return { ...base, kind: info.kind, verbs: ['get', 'patch', 'update'] };
    case 'scale':
      return {
        ...base,
        kind: 'Scale',
        group: 'autoscaling',
        version: 'v1',
        verbs: ['get', 'patch', 'update'],
      };
    case 'binding':
      return { ...base, kind: 'Binding', verbs: ['create'] };
    case 'eviction':
      return { ...base, kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] };
    case 'token':
      return {
        ...base,
        kind: 'TokenRequest',
        group: 'authentication.k8s.io',
        version: 'v1',
        verbs: ['create'],
      };
  }
}

export function subresourcesOf(info: ResourceInfo): SubresourceInfo[] {
  return info.subresources.map((sub) => describeSubresource(info, sub));
}

// ---------------------------------------------------------------------------------------------
// Lookups. Built once; the registry is immutable.

const byGVR = new Map<string, ResourceInfo>();
const byGVK = new Map<string, ResourceInfo>();
for (const r of RESOURCES) {
  const gvr = `${r.group}/${r.version}/${r.plural}`;
  const gvk = `${r.group}/${r.version}/${r.kind}`;
  if (byGVR.has(gvr) || byGVK.has(gvk)) throw new RegistryAssertionError(`duplicate resource ${gvr}`);
  byGVR.set(gvr, r);
  byGVK.set(gvk, r);
}

export function findResource(group: string, version: string, plural: string): ResourceInfo | undefined {
  return byGVR.get(`${group}/${version}/${plural}`);
}

export function resourceForKind(gvk: GroupVersionKind): ResourceInfo | undefined {
  return byGVK.get(`${gvk.group}/${gvk.version}/${gvk.kind}`);
}

/** Parses an apiVersion ("v1", "apps/v1") into group and version. */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function apiVersionOf(info: { group: string; version: string }): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

export interface GroupVersions {
  /** "" for the core group. */
  group: string;
  /** Preferred first. */
  versions: string[];
  preferredVersion: string;
}

/** Versions of each group, preferred first (autoscaling: v2 over v1), in registry order. */
export function groupVersions(): GroupVersions[] {
  const out: GroupVersions[] = [];
  for (const r of RESOURCES) {
    let g = out.find((x) => x.group === r.group);
    if (!g) {
      g = { group: r.group, versions: [], preferredVersion: r.version };
      out.push(g);
    }
    if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  return out;
}

/** The resources served in one group/version, in registry order. */
export function resourcesIn(group: string, version: string): ResourceInfo[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}

function preferred(r: ResourceInfo): boolean {
  return groupVersions().find((g) => g.group === r.group)?.preferredVersion === r.version;
}

/**
 * Resolves what a user types (short name, plural, singular or kind, case-insensitive for kinds,
 * optionally "plural.group") to the resource in its group's preferred version.
 */
export function resolveShortName(name: string): ResourceInfo | undefined {
  const lower = name.toLowerCase();
  const dot = lower.indexOf('.');
  const head = dot < 0 ? lower : lower.slice(0, dot);
  const group = dot < 0 ? undefined : lower.slice(dot + 1);
  const matches = RESOURCES.filter(
    (r) =>
      preferred(r) &&
      (group === undefined || r.group === group) &&
      (r.shortNames.includes(head) ||
        r.plural === head ||
        r.singular === head ||
        r.kind.toLowerCase() === head),
  );
  // Short names are unique, so the first match is the answer; core wins ties on plural names.
  return matches[0];
}
