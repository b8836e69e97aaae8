// Kubernetes' default ClusterRoles and ClusterRoleBindings (plugin/pkg/auth/authorizer/rbac/
// bootstrappolicy), the subset a Keelson apiserver needs: cluster-admin, admin/edit/view with their
// aggregation, discovery, basic-user and public-info-viewer. Every apiserver writes the missing ones
// at start, each with a create-if-absent, so two apiservers starting at once agree.
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '@keelson/api';
import { KeyExistsError, type ObjectStorage } from '../types.js';
import { rbacPrefixes } from './rbac.js';
import { type PolicyRule, RBAC_GROUP, type Subject } from './rbac-rules.js';

const read = ['get', 'list', 'watch'];
const write = ['create', 'update', 'patch', 'delete', 'deletecollection'];
const readWrite = [...read, ...write];

const bootstrapLabels = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const autoupdate = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };
const aggregateToAdmin = 'rbac.authorization.k8s.io/aggregate-to-admin';
const aggregateToEdit = 'rbac.authorization.k8s.io/aggregate-to-edit';
const aggregateToView = 'rbac.authorization.k8s.io/aggregate-to-view';

function rule(verbs: string[], apiGroups: string[], resources: string[]): PolicyRule {
  return { verbs, apiGroups, resources };
}

function urls(verbs: string[], nonResourceURLs: string[]): PolicyRule {
  return { verbs, nonResourceURLs };
}

const aggregateToViewRules: PolicyRule[] = [
  rule(
    read,
    [''],
    [
      'pods',
      'replicationcontrollers',
      'replicationcontrollers/scale',
      'serviceaccounts',
      'services',
      'services/status',
      'endpoints',
      'persistentvolumeclaims',
      'persistentvolumeclaims/status',
      'configmaps',
    ],
  ),
  rule(
    read,
    [''],
    [
      'limitranges',
      'resourcequotas',
      'bindings',
      'events',
      'pods/status',
      'resourcequotas/status',
      'namespaces/status',
      'replicationcontrollers/status',
      'pods/log',
    ],
  ),
  rule(read, [''], ['namespaces']),
  rule(read, ['discovery.k8s.io'], ['endpointslices']),
  rule(
    read,
    ['apps'],
    [
      'controllerrevisions',
      'statefulsets',
      'statefulsets/status',
      'statefulsets/scale',
      'daemonsets',
      'daemonsets/status',
      'deployments',
      'deployments/status',
      'deployments/scale',
      'replicasets',
      'replicasets/status',
      'replicasets/scale',
    ],
  ),
  rule(read, ['autoscaling'], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
  rule(read, ['batch'], ['jobs', 'cronjobs', 'cronjobs/status', 'jobs/status']),
  rule(read, ['policy'], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
  rule(read, ['networking.k8s.io'], ['networkpolicies', 'ingresses', 'ingresses/status']),
];

const aggregateToEditRules: PolicyRule[] = [
  rule(
    read,
    [''],
    ['pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward', 'secrets', 'services/proxy'],
  ),
  rule(['impersonate'], [''], ['serviceaccounts']),
  rule(write, [''], ['pods', 'pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward']),
  rule(['create'], [''], ['pods/eviction']),
  rule(
    write,
    [''],
    [
      'replicationcontrollers',
      'replicationcontrollers/scale',
      'serviceaccounts',
      'services',
      'services/proxy',
      'persistentvolumeclaims',
      'configmaps',
      'secrets',
      'events',
    ],
  ),
  rule(['create'], [''], ['serviceaccounts/token']),
  rule(
    write,
    ['apps'],
    [
      'statefulsets',
      'statefulsets/scale',
      'daemonsets',
      'deployments',
      'deployments/scale',
      'deployments/rollback',
      'replicasets',
      'replicasets/scale',
    ],
  ),
  rule(write, ['autoscaling'], ['horizontalpodautoscalers']),
  rule(write, ['batch'], ['jobs', 'cronjobs']),
  rule(write, ['policy'], ['poddisruptionbudgets']),
  rule(write, ['networking.k8s.io'], ['networkpolicies', 'ingresses']),
  rule(readWrite, ['coordination.k8s.io'], ['leases']),
];

const aggregateToAdminRules: PolicyRule[] = [
  rule(['create'], ['authorization.k8s.io'], ['localsubjectaccessreviews']),
  rule(readWrite, [RBAC_GROUP], ['roles', 'rolebindings']),
];

interface ClusterRoleSpec {
  name: string;
  labels?: Record<string, string>;
  rules?: PolicyRule[];
  aggregateFrom?: string;
}

/**
 * The roles. The aggregated ones (admin, edit, view) are written with the rules the aggregation
 * controller would fill in, so that `kubectl describe clusterrole view` shows them; the authorizer
 * computes aggregation itself on read in any case.
 */
const clusterRoleSpecs: ClusterRoleSpec[] = [
  { name: 'cluster-admin', rules: [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])] },
  {
    name: 'system:discovery',
    rules: [
      urls(
        ['get'],
        [
          '/api',
          '/api/*',
          '/apis',
          '/apis/*',
          '/healthz',
          '/livez',
          '/openapi',
          '/openapi/*',
          '/readyz',
          '/version',
          '/version/',
        ],
      ),
    ],
  },
  {
    name: 'system:basic-user',
    rules: [
      rule(['create'], ['authorization.k8s.io'], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
      rule(['create'], ['authentication.k8s.io'], ['selfsubjectreviews']),
    ],
  },
  {
    name: 'system:public-info-viewer',
    rules: [urls(['get'], ['/healthz', '/livez', '/readyz', '/version', '/version/'])],
  },
  {
    name: 'admin',
    aggregateFrom: aggregateToAdmin,
    rules: [...aggregateToAdminRules, ...aggregateToEditRules, ...aggregateToViewRules],
  },
  {
    name: 'edit',
    labels: { [aggregateToAdmin]: 'true' },
    aggregateFrom: aggregateToEdit,
    rules: [...aggregateToEditRules, ...aggregateToViewRules],
  },
  {
    name: 'view',
    labels: { [aggregateToEdit]: 'true' },
    aggregateFrom: aggregateToView,
    rules: aggregateToViewRules,
  },
  { name: 'system:aggregate-to-admin', labels: { [aggregateToAdmin]: 'true' }, rules: aggregateToAdminRules },
  { name: 'system:aggregate-to-edit', labels: { [aggregateToEdit]: 'true' }, rules: aggregateToEditRules },
  { name: 'system:aggregate-to-view', labels: { [aggregateToView]: 'true' }, rules: aggregateToViewRules },
];

function group(name: string): Subject {
  return { kind: 'Group', apiGroup: RBAC_GROUP, name };
}

const clusterRoleBindingSpecs: { name: string; subjects: Subject[] }[] = [
  { name: 'cluster-admin', subjects: [group('system:masters')] },
  { name: 'system:discovery', subjects: [group('system:authenticated')] },
  { name: 'system:basic-user', subjects: [group('system:authenticated')] },
  {
    name: 'system:public-info-viewer',
    subjects: [group('system:authenticated'), group('system:unauthenticated')],
  },
];

function metadata(name: string, labels: Record<string, string>): KubeObject['metadata'] {
  return {
    name,
    uid: randomUUID(),
    creationTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    labels: { ...bootstrapLabels, ...labels },
    annotations: { ...autoupdate },
  };
}

/** The default ClusterRoles as objects (fresh uids and timestamps on each call). */
export function bootstrapClusterRoles(): KubeObject[] {
  return clusterRoleSpecs.map((spec) => {
    const obj: KubeObject = {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'ClusterRole',
      metadata: metadata(spec.name, spec.labels ?? {}),
    };
    if (spec.aggregateFrom !== undefined) {
      obj.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [spec.aggregateFrom]: 'true' } }] };
    }
    obj.rules = structuredClone(spec.rules ?? []);
    return obj;
  });
}

/** The default ClusterRoleBindings as objects. */
export function bootstrapClusterRoleBindings(): KubeObject[] {
  return clusterRoleBindingSpecs.map((spec) => ({
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: metadata(spec.name, {}),
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: spec.name },
    subjects: structuredClone(spec.subjects),
  }));
}

/**
 * Writes every default role and binding that is missing; leaves existing ones alone (an admin may
 * have changed them). Idempotent, and safe when several apiservers run it at once: each write is a
 * create that fails harmlessly if another apiserver won. Returns the names it created.
 */
export async function ensureBootstrapPolicy(
  storage: ObjectStorage,
  etcdPrefix = '/registry',
): Promise<string[]> {
  const created: string[] = [];
  const prefixes = rbacPrefixes(etcdPrefix);
  const all: [string, KubeObject][] = [
    ...bootstrapClusterRoles().map((o): [string, KubeObject] => [prefixes.clusterroles, o]),
    ...bootstrapClusterRoleBindings().map((o): [string, KubeObject] => [prefixes.clusterrolebindings, o]),
  ];
  for (const [prefix, obj] of all) {
    const name = obj.metadata?.name ?? '';
    const key = `${prefix}${name}`;
    if ((await storage.get(key)) !== undefined) continue;
    try {
      await storage.create(key, obj);
      created.push(`${obj.kind}/${name}`);
    } catch (err) {
      if (!(err instanceof KeyExistsError) && (err as Error | undefined)?.name !== 'KeyExistsError')
        throw err;
    }
  }
  return created;
}
