// RBAC: decisions, aggregation, the 403 messages, the default policy and access reviews, with a
// property test against a brute-force reference over small universes of rules and requests.
import type { KubeObject } from '@keelson/api';
import {
  bootstrapClusterRoles,
  ensureBootstrapPolicy,
  forbiddenError,
  type PolicyRule,
  RbacAuthorizer,
  type RequestAttributes,
  reviewSelf,
  type Subject,
  selfSubjectAccessReview,
  selfSubjectReview,
  selfSubjectRulesReview,
  type UserInfo,
} from '@keelson/apiserver';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage } from './auth-fakes.js';

const seed = process.env.RBAC_FC_SEED !== undefined ? Number(process.env.RBAC_FC_SEED) : Date.now() % 2 ** 31;
const rbacGroup = 'rbac.authorization.k8s.io';

const started: RbacAuthorizer[] = [];
afterEach(() => {
  for (const a of started.splice(0)) a.stop();
});

async function authorizerOn(storage: MemoryStorage): Promise<RbacAuthorizer> {
  const a = new RbacAuthorizer({ storage });
  started.push(a);
  await a.start();
  return a;
}

function role(ns: string, name: string, rules: PolicyRule[]): [string, KubeObject] {
  const kind = ns === '' ? 'ClusterRole' : 'Role';
  const key = ns === '' ? `/registry/clusterroles/${name}` : `/registry/roles/${ns}/${name}`;
  const metadata = ns === '' ? { name } : { name, namespace: ns };
  return [key, { apiVersion: `${rbacGroup}/v1`, kind, metadata, rules }];
}

function binding(
  ns: string,
  name: string,
  roleKind: string,
  roleName: string,
  subjects: Subject[],
): [string, KubeObject] {
  const kind = ns === '' ? 'ClusterRoleBinding' : 'RoleBinding';
  const key = ns === '' ? `/registry/clusterrolebindings/${name}` : `/registry/rolebindings/${ns}/${name}`;
  const metadata = ns === '' ? { name } : { name, namespace: ns };
  return [
    key,
    {
      apiVersion: `${rbacGroup}/v1`,
      kind,
      metadata,
      roleRef: { apiGroup: rbacGroup, kind: roleKind, name: roleName },
      subjects,
    },
  ];
}

function user(username: string, groups: string[] = []): UserInfo {
  return { username, groups: [...groups, 'system:authenticated'] };
}

function resourceAttrs(
  u: UserInfo,
  verb: string,
  resource: string,
  opts: { group?: string; ns?: string; name?: string; sub?: string } = {},
): RequestAttributes {
  return {
    user: u,
    verb,
    resourceRequest: true,
    apiGroup: opts.group ?? '',
    apiVersion: 'v1',
    resource,
    subresource: opts.sub ?? '',
    namespace: opts.ns ?? '',
    name: opts.name ?? '',
    path: '',
  };
}

function pathAttrs(u: UserInfo, verb: string, path: string): RequestAttributes {
  return { ...resourceAttrs(u, verb, ''), resourceRequest: false, path };
}

async function put(storage: MemoryStorage, ...entries: [string, KubeObject][]): Promise<void> {
  for (const [k, o] of entries) await storage.put(k, o);
}

describe('RBAC decisions', () => {
  it('decides a table of requests as Kubernetes does', async () => {
    // Proves rule matching (verbs, groups, subresources, */sub, names, URLs) and binding scopes.
    const storage = new MemoryStorage();
    await put(
      storage,
      role('dev', 'pod-reader', [
        { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'pods/log'] },
      ]),
      role('', 'status-writer', [{ verbs: ['update'], apiGroups: ['*'], resources: ['*/status'] }]),
      role('', 'one-cm', [
        { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['cfg'] },
      ]),
      role('', 'health', [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/logs/*'] }]),
      binding('dev', 'read-pods', 'Role', 'pod-reader', [
        { kind: 'User', apiGroup: rbacGroup, name: 'alice' },
      ]),
      binding('dev', 'sa-status', 'ClusterRole', 'status-writer', [{ kind: 'ServiceAccount', name: 'ctl' }]),
      binding('', 'cm', 'ClusterRole', 'one-cm', [{ kind: 'Group', apiGroup: rbacGroup, name: 'ops' }]),
      binding('', 'health', 'ClusterRole', 'health', [
        { kind: 'Group', apiGroup: rbacGroup, name: 'system:authenticated' },
      ]),
    );
    const a = await authorizerOn(storage);
    const alice = user('alice');
    const ctl = user('system:serviceaccount:dev:ctl', [
      'system:serviceaccounts',
      'system:serviceaccounts:dev',
    ]);
    const ops = user('olga', ['ops']);
    const table: [RequestAttributes, boolean][] = [
      [resourceAttrs(alice, 'list', 'pods', { ns: 'dev' }), true],
      [resourceAttrs(alice, 'get', 'pods', { ns: 'dev', sub: 'log', name: 'p' }), true],
      [resourceAttrs(alice, 'get', 'pods', { ns: 'dev', sub: 'status', name: 'p' }), false],
      [resourceAttrs(alice, 'delete', 'pods', { ns: 'dev', name: 'p' }), false],
      [resourceAttrs(alice, 'list', 'pods', { ns: 'prod' }), false],
      [resourceAttrs(alice, 'list', 'pods'), false],
      [resourceAttrs(alice, 'list', 'pods', { ns: 'dev', group: 'apps' }), false],
      [
        resourceAttrs(ctl, 'update', 'deployments', { ns: 'dev', group: 'apps', sub: 'status', name: 'd' }),
        true,
      ],
      [resourceAttrs(ctl, 'update', 'deployments', { ns: 'dev', group: 'apps', name: 'd' }), false],
      [resourceAttrs(ctl, 'update', 'pods', { ns: 'other', sub: 'status', name: 'p' }), false],
      [resourceAttrs(ops, 'get', 'configmaps', { ns: 'x', name: 'cfg' }), true],
      [resourceAttrs(ops, 'get', 'configmaps', { ns: 'x', name: 'other' }), false],
      [resourceAttrs(ops, 'list', 'configmaps', { ns: 'x' }), false],
      [pathAttrs(alice, 'get', '/healthz'), true],
      [pathAttrs(alice, 'get', '/healthz/etcd'), false],
      [pathAttrs(alice, 'get', '/logs/kube'), true],
      [pathAttrs(alice, 'post', '/logs/kube'), false],
      [
        pathAttrs({ username: 'system:anonymous', groups: ['system:unauthenticated'] }, 'get', '/healthz'),
        false,
      ],
      [
        resourceAttrs({ username: 'root', groups: ['system:masters'] }, 'delete', 'nodes', { name: 'n' }),
        true,
      ],
    ];
    const got = await Promise.all(table.map(async ([attrs]) => (await a.authorize(attrs)).allowed));
    expect(got).toEqual(table.map(([, want]) => want));
  });

  it('explains decisions: who allowed, and missing roles on a denial', async () => {
    // Proves the reasons kube-apiserver gives (shown by SelfSubjectAccessReview and appended to 403s).
    const storage = new MemoryStorage();
    await put(
      storage,
      role('', 'reader', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]),
      binding('ns', 'rb', 'ClusterRole', 'reader', [{ kind: 'ServiceAccount', name: 'sa' }]),
      binding('', 'dangling', 'ClusterRole', 'ghost', [{ kind: 'User', apiGroup: rbacGroup, name: 'bob' }]),
    );
    const a = await authorizerOn(storage);
    const sa = user('system:serviceaccount:ns:sa');
    expect(await a.authorize(resourceAttrs(sa, 'get', 'pods', { ns: 'ns', name: 'p' }))).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by RoleBinding "rb/ns" of ClusterRole "reader" to ServiceAccount "sa/ns"',
    });
    expect(await a.authorize(resourceAttrs(user('bob'), 'get', 'pods', { ns: 'ns' }))).toEqual({
      allowed: false,
      reason: `RBAC: clusterrole.${rbacGroup} "ghost" not found`,
    });
    expect(await a.authorize(resourceAttrs(user('carol'), 'get', 'pods', { ns: 'ns' }))).toEqual({
      allowed: false,
      reason: '',
    });
  });

  it('computes aggregated ClusterRoles transitively when reading', async () => {
    // Proves aggregationRule selectors: admin ← edit ← view, following later label changes too.
    const storage = new MemoryStorage();
    for (const r of bootstrapClusterRoles()) {
      // Drop the precomputed rules of aggregated roles so only aggregation can grant.
      if (r.aggregationRule !== undefined) r.rules = [];
      await storage.put(`/registry/clusterroles/${r.metadata?.name}`, r);
    }
    await put(
      storage,
      binding('team', 'admins', 'ClusterRole', 'admin', [{ kind: 'User', apiGroup: rbacGroup, name: 'ann' }]),
    );
    const a = await authorizerOn(storage);
    const ann = user('ann');
    expect(
      (await a.authorize(resourceAttrs(ann, 'list', 'deployments', { ns: 'team', group: 'apps' }))).allowed,
    ).toBe(true);
    expect(
      (await a.authorize(resourceAttrs(ann, 'create', 'rolebindings', { ns: 'team', group: rbacGroup })))
        .allowed,
    ).toBe(true);
    expect(
      (await a.authorize(resourceAttrs(ann, 'list', 'widgets', { ns: 'team', group: 'example.com' })))
        .allowed,
    ).toBe(false);
    await storage.put(
      ...(role('', 'widget-viewer', [
        { verbs: ['list'], apiGroups: ['example.com'], resources: ['widgets'] },
      ]).map((v, i) =>
        i === 1
          ? {
              ...(v as KubeObject),
              metadata: { name: 'widget-viewer', labels: { [`${rbacGroup}/aggregate-to-view`]: 'true' } },
            }
          : v,
      ) as [string, KubeObject]),
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(
      (await a.authorize(resourceAttrs(ann, 'list', 'widgets', { ns: 'team', group: 'example.com' })))
        .allowed,
    ).toBe(true);
  });

  it('applies every event of a multi-key txn, which share one revision', async () => {
    // Proves events are deduplicated against the list revision only, not the last event's revision.
    const storage = new MemoryStorage();
    await put(storage, role('x', 'r', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]));
    const a = await authorizerOn(storage);
    await storage.putTxn([
      binding('x', 'b1', 'Role', 'r', [{ kind: 'User', apiGroup: rbacGroup, name: 'u1' }]),
      binding('x', 'b2', 'Role', 'r', [{ kind: 'User', apiGroup: rbacGroup, name: 'u2' }]),
    ]);
    await new Promise((r) => setTimeout(r, 10));
    for (const name of ['u1', 'u2']) {
      expect((await a.authorize(resourceAttrs(user(name), 'get', 'pods', { ns: 'x' }))).allowed).toBe(true);
    }
  });

  it('restarts a closed watch and catches up by listing again', async () => {
    // Proves the cache survives a store disconnect: changes made while the watch was down are seen.
    const storage = new MemoryStorage();
    const a = await authorizerOn(storage);
    const attrs = resourceAttrs(user('dan'), 'get', 'pods', { ns: 'x' });
    storage.closeWatches(new Error('store went away'));
    await put(
      storage,
      role('x', 'r', [{ verbs: ['get'], apiGroups: [''], resources: ['pods'] }]),
      binding('x', 'b', 'Role', 'r', [{ kind: 'User', apiGroup: rbacGroup, name: 'dan' }]),
    );
    const deadline = Date.now() + 3_000;
    while (!(await a.authorize(attrs)).allowed && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect((await a.authorize(attrs)).allowed).toBe(true);
    expect(storage.watchCount()).toBe(4);
  });
});

describe('403 messages', () => {
  const sa = { username: 'system:serviceaccount:default:x', groups: [] };
  it.each([
    [
      resourceAttrs(sa, 'list', 'pods', { ns: 'default' }),
      'pods is forbidden: User "system:serviceaccount:default:x" cannot list resource "pods" in API group "" in the namespace "default"',
      { kind: 'pods' },
    ],
    [
      resourceAttrs(sa, 'list', 'nodes'),
      'nodes is forbidden: User "system:serviceaccount:default:x" cannot list resource "nodes" in API group "" at the cluster scope',
      { kind: 'nodes' },
    ],
    [
      resourceAttrs(sa, 'update', 'deployments', { ns: 'prod', group: 'apps', name: 'web', sub: 'scale' }),
      'deployments.apps "web" is forbidden: User "system:serviceaccount:default:x" cannot update resource "deployments/scale" in API group "apps" in the namespace "prod"',
      { kind: 'deployments', group: 'apps', name: 'web' },
    ],
    [
      pathAttrs({ username: 'x', groups: [] }, 'get', '/foo'),
      'forbidden: User "x" cannot get path "/foo"',
      {},
    ],
  ])('formats %#', (attrs, message, details) => {
    // Proves the exact text kubectl prints after "Error from server (Forbidden): ".
    const err = forbiddenError(attrs, '');
    expect(err.code).toBe(403);
    expect(err.reason).toBe('Forbidden');
    expect(err.message).toBe(message);
    expect(err.toStatus().details).toEqual(details);
  });

  it('appends a reason and escapes HTML-looking text', () => {
    // Proves the ": reason" suffix and Kubernetes' sanitizer for <, > and &.
    const err = forbiddenError(
      pathAttrs({ username: '<b>&', groups: [] }, 'get', '/x'),
      'RBAC: role.x "r" not found',
    );
    expect(err.message).toBe(
      'forbidden: User "&lt;b&gt;&amp;" cannot get path "/x": RBAC: role.x "r" not found',
    );
  });
});

describe('bootstrap policy and access reviews', () => {
  it('writes the default policy once, also when two apiservers race, and it grants what Kubernetes grants', async () => {
    // Proves idempotence and create-if-absent under concurrency, and the effect of the defaults.
    const storage = new MemoryStorage();
    const [first, second] = await Promise.all([
      ensureBootstrapPolicy(storage),
      ensureBootstrapPolicy(storage),
    ]);
    expect(first.length + second.length).toBe(14);
    expect(await ensureBootstrapPolicy(storage)).toEqual([]);
    const a = await authorizerOn(storage);
    const anon = { username: 'system:anonymous', groups: ['system:unauthenticated'] };
    const dev = user('dev');
    expect((await a.authorize(pathAttrs(anon, 'get', '/version'))).allowed).toBe(true);
    expect((await a.authorize(pathAttrs(anon, 'get', '/api'))).allowed).toBe(false);
    expect((await a.authorize(pathAttrs(dev, 'get', '/apis/apps/v1'))).allowed).toBe(true);
    expect((await a.authorize(pathAttrs(dev, 'get', '/openapi/v3'))).allowed).toBe(true);
    const ssar = resourceAttrs(dev, 'create', 'selfsubjectaccessreviews', { group: 'authorization.k8s.io' });
    expect((await a.authorize(ssar)).allowed).toBe(true);
    expect((await a.authorize(resourceAttrs(dev, 'list', 'pods', { ns: 'default' }))).allowed).toBe(false);
    const viaToken = user('admin', ['system:masters']);
    expect(
      await reviewSelf(viaToken, { resourceAttributes: { verb: 'delete', resource: 'nodes' } }, a),
    ).toEqual({ allowed: true });
  });

  it('answers SelfSubjectAccessReview and SelfSubjectRulesReview like kube-apiserver', async () => {
    // Proves the review objects `kubectl auth can-i` (and --list) send and read back.
    const storage = new MemoryStorage();
    await ensureBootstrapPolicy(storage);
    await put(
      storage,
      binding('default', 'view', 'ClusterRole', 'view', [{ kind: 'ServiceAccount', name: 'x' }]),
    );
    const a = await authorizerOn(storage);
    const x = user('system:serviceaccount:default:x', [
      'system:serviceaccounts',
      'system:serviceaccounts:default',
    ]);
    const body = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: { resourceAttributes: { namespace: 'default', verb: 'list', resource: 'pods' } },
    };
    const res = await selfSubjectAccessReview(x, body, a);
    expect(res).toMatchObject({ kind: 'SelfSubjectAccessReview', metadata: { creationTimestamp: null } });
    expect(res.status).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by RoleBinding "view/default" of ClusterRole "view" to ServiceAccount "x/default"',
    });
    const no = await selfSubjectAccessReview(
      x,
      { ...body, spec: { resourceAttributes: { namespace: 'default', verb: 'create', resource: 'pods' } } },
      a,
    );
    expect(no.status).toEqual({ allowed: false });
    await expect(selfSubjectAccessReview(x, { ...body, spec: {} }, a)).rejects.toMatchObject({
      code: 422,
      message: expect.stringContaining(
        'exactly one of nonResourceAttributes or resourceAttributes must be specified',
      ),
    });
    const rules = selfSubjectRulesReview(x, { spec: { namespace: 'default' } }, a);
    const status = rules.status as {
      resourceRules: PolicyRule[];
      nonResourceRules: PolicyRule[];
      incomplete: boolean;
    };
    expect(status.incomplete).toBe(false);
    expect(status.resourceRules.some((r) => r.resources?.includes('pods') && r.verbs.includes('list'))).toBe(
      true,
    );
    expect(status.nonResourceRules.some((r) => r.nonResourceURLs?.includes('/api'))).toBe(true);
  });
});

describe('SelfSubjectReview', () => {
  it('returns the authenticated user for kubectl auth whoami', () => {
    // Proves the authentication.k8s.io/v1 shape kubectl reads (status.userInfo).
    const res = selfSubjectReview({
      username: 'admin',
      uid: '1',
      groups: ['system:masters', 'system:authenticated'],
    });
    expect(res).toEqual({
      kind: 'SelfSubjectReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null },
      status: {
        userInfo: { username: 'admin', uid: '1', groups: ['system:masters', 'system:authenticated'] },
      },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The property: the authorizer against a brute-force reference.

const verbs = ['get', 'list', 'create', 'delete'];
const groups = ['', 'apps'];
const combinedResources = ['pods', 'pods/status', 'pods/log', 'deployments', 'deployments/status'];
const names = ['', 'a', 'b'];
const namespaces = ['', 'ns1', 'ns2'];
/** Where roles and bindings live: fewer places than requests go, so that many requests are allowed. */
const policyNamespaces = ['', 'ns1'];
const paths = ['/healthz', '/healthz/x', '/healthy', '/api', '/apis', '/apis/apps'];
const users = ['alice', 'bob', 'system:serviceaccount:ns1:sa', 'system:serviceaccount:ns2:sa'];
const groupNames = ['dev', 'ops', 'system:masters'];

/** Every (verb, group, resource, name) or (verb, path) a rule grants, by enumerating the universes. */
function grants(rule: PolicyRule): Set<string> {
  const out = new Set<string>();
  for (const v of verbs) {
    if (!rule.verbs.includes('*') && !rule.verbs.includes(v)) continue;
    for (const p of paths) {
      const ok = (rule.nonResourceURLs ?? []).some(
        (u) => u === '*' || u === p || (u.endsWith('*') && p.slice(0, u.length - 1) === u.slice(0, -1)),
      );
      if (ok) out.add(`${v} ${p}`);
    }
    for (const g of groups) {
      if (!(rule.apiGroups ?? []).some((x) => x === '*' || x === g)) continue;
      for (const r of combinedResources) {
        const [, sub] = r.split('/');
        const ok = (rule.resources ?? []).some(
          (x) => x === '*' || x === r || (sub !== undefined && x === `*/${sub}`),
        );
        if (!ok) continue;
        for (const n of names) {
          if ((rule.resourceNames ?? []).length === 0 || rule.resourceNames?.includes(n))
            out.add(`${v} ${g} ${r} ${n}`);
        }
      }
    }
  }
  return out;
}

interface Model {
  roles: { ns: string; name: string; rules: PolicyRule[] }[];
  bindings: {
    ns: string;
    name: string;
    roleKind: 'Role' | 'ClusterRole';
    roleName: string;
    subjects: Subject[];
  }[];
}

function referenceAllows(m: Model, u: UserInfo, attrs: RequestAttributes): boolean {
  if (u.groups.includes('system:masters')) return true;
  const want = attrs.resourceRequest
    ? `${attrs.verb} ${attrs.apiGroup} ${attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource} ${attrs.name}`
    : `${attrs.verb} ${attrs.path}`;
  return m.bindings.some((b) => {
    if (b.ns !== '' && b.ns !== attrs.namespace) return false;
    if (b.ns === '' && b.roleKind === 'Role') return false;
    const subjectOk = b.subjects.some((s) =>
      s.kind === 'User'
        ? s.name === u.username
        : s.kind === 'Group'
          ? u.groups.includes(s.name)
          : (s.namespace || b.ns) !== '' &&
            u.username === `system:serviceaccount:${s.namespace || b.ns}:${s.name}`,
    );
    if (!subjectOk) return false;
    const roleNs = b.roleKind === 'Role' ? b.ns : '';
    const r = m.roles.find((x) => x.ns === roleNs && x.name === b.roleName);
    return r?.rules.some((rule) => grants(rule).has(want)) ?? false;
  });
}

const subsetOf = <T>(xs: T[]) => fc.subarray(xs, { minLength: 0 });
const someOf = <T>(xs: T[]) => fc.subarray(xs, { minLength: 1 });
const arbRule: fc.Arbitrary<PolicyRule> = fc.oneof(
  fc.record({
    verbs: someOf([...verbs, '*']),
    apiGroups: someOf([...groups, '*']),
    resources: someOf([...combinedResources, '*', '*/status', '*/log']),
    resourceNames: fc.oneof(fc.constant<string[]>([]), subsetOf(['a', 'b'])),
  }),
  fc.record({
    verbs: someOf([...verbs, '*']),
    nonResourceURLs: someOf(['/healthz', '/healthz*', '/api*', '/apis/*', '*']),
  }),
);
const arbSubject: fc.Arbitrary<Subject> = fc.oneof(
  fc.record({ kind: fc.constant('User'), name: fc.constantFrom(...users) }),
  fc.record({ kind: fc.constant('Group'), name: fc.constantFrom(...groupNames) }),
  fc.record({
    kind: fc.constant('ServiceAccount'),
    name: fc.constant('sa'),
    namespace: fc.constantFrom('', 'ns1', 'ns2'),
  }),
);
const roleNames = ['r1', 'r2'];
const arbModel: fc.Arbitrary<Model> = fc.record({
  roles: fc.array(
    fc.record({
      ns: fc.constantFrom(...policyNamespaces),
      name: fc.constantFrom(...roleNames),
      rules: fc.array(arbRule, { minLength: 1, maxLength: 3 }),
    }),
    { minLength: 2, maxLength: 6 },
  ),
  bindings: fc.array(
    fc.record({
      ns: fc.constantFrom(...policyNamespaces),
      name: fc.constantFrom('b1', 'b2', 'b3'),
      roleKind: fc.constantFrom('Role' as const, 'ClusterRole' as const),
      roleName: fc.constantFrom(...roleNames),
      subjects: fc.array(arbSubject, { minLength: 1, maxLength: 3 }),
    }),
    { minLength: 2, maxLength: 6 },
  ),
});
const arbRequestShape = {
  username: fc.constantFrom(...users),
  groups: subsetOf(groupNames),
  resourceRequest: fc.boolean(),
  verb: fc.constantFrom(...verbs),
  group: fc.constantFrom(...groups),
  resource: fc.constantFrom(...combinedResources),
  name: fc.constantFrom(...names),
  ns: fc.constantFrom(...namespaces),
  path: fc.constantFrom(...paths),
};
const arbRequest = fc.record({
  q: fc.record(arbRequestShape),
  aimed: fc.constantFrom(true, true, true, false),
  picks: fc.array(fc.nat(20), { minLength: 5, maxLength: 5 }),
});

interface Req {
  username: string;
  groups: string[];
  resourceRequest: boolean;
  verb: string;
  group: string;
  resource: string;
  name: string;
  ns: string;
  path: string;
}

/** Picks `xs[i % length]`, or `fallback` for an empty or "*" choice. */
function pick<T>(xs: T[] | undefined, i: number, fallback: T, star?: T): T {
  if (xs === undefined || xs.length === 0) return fallback;
  const x = xs[i % xs.length] as T;
  return x === star ? fallback : x;
}

/**
 * A request aimed at one binding of the model (its subject, a rule of its role), so that many
 * requests are allowed and the comparison exercises the granting paths, not only denials.
 */
function aimedRequest(m: Model, q: Req, picks: number[]): Req {
  const [p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0] = picks;
  const b = m.bindings[p0 % Math.max(m.bindings.length, 1)];
  if (b === undefined) return q;
  const subj = b.subjects[p1 % b.subjects.length] as Subject;
  const out: Req = { ...q, ns: b.ns !== '' ? b.ns : q.ns };
  if (subj.kind === 'User') out.username = subj.name;
  if (subj.kind === 'Group') out.groups = [...new Set([...q.groups, subj.name])];
  if (subj.kind === 'ServiceAccount')
    out.username = `system:serviceaccount:${subj.namespace || b.ns || 'ns1'}:sa`;
  const r = m.roles.find((x) => x.ns === (b.roleKind === 'Role' ? b.ns : '') && x.name === b.roleName);
  const rule = r?.rules[p2 % Math.max(r.rules.length, 1)];
  if (rule === undefined) return out;
  out.verb = pick(rule.verbs, p3, q.verb, '*');
  out.resourceRequest = rule.nonResourceURLs === undefined;
  out.group = pick(rule.apiGroups, p4, q.group, '*');
  const res = pick(rule.resources, p3 + p4, q.resource, '*');
  out.resource = res.startsWith('*/') ? `pods${res.slice(1)}` : res;
  out.name = pick(rule.resourceNames, p4, q.name);
  const url = pick(rule.nonResourceURLs, p3, '*');
  const near = paths.filter((x) => x.startsWith(url.replace(/\*+$/, '')));
  out.path = pick(near, p4, q.path);
  return out;
}

describe('RBAC property', () => {
  it('agrees with a brute-force reference on random policies and requests', async () => {
    // Proves the authorizer (cache + evaluation) equals an enumeration of what each binding grants.
    let decided = 0;
    let allowedByRules = 0;
    await fc.assert(
      fc.asyncProperty(arbModel, fc.array(arbRequest, { minLength: 1, maxLength: 8 }), async (m, reqs) => {
        // Later duplicates of a key replace earlier ones, in the store and in the model alike.
        const dedup = <T extends { ns: string; name: string }>(xs: T[]) => [
          ...new Map(xs.map((x) => [`${x.ns}/${x.name}`, x])).values(),
        ];
        const model: Model = { roles: dedup(m.roles), bindings: dedup(m.bindings) };
        const storage = new MemoryStorage();
        for (const r of model.roles) await put(storage, role(r.ns, r.name, r.rules));
        for (const b of model.bindings)
          await put(storage, binding(b.ns, b.name, b.roleKind, b.roleName, b.subjects));
        const a = new RbacAuthorizer({ storage });
        try {
          await a.start();
          for (const r of reqs) {
            const q = r.aimed ? aimedRequest(model, r.q, r.picks) : r.q;
            const u: UserInfo = { username: q.username, groups: q.groups };
            const [res, sub = ''] = q.resource.split('/');
            const attrs = q.resourceRequest
              ? resourceAttrs(u, q.verb, res ?? '', { group: q.group, ns: q.ns, name: q.name, sub })
              : pathAttrs(u, q.verb, q.path);
            const want = referenceAllows(model, u, attrs);
            expect((await a.authorize(attrs)).allowed).toBe(want);
            if (want && !u.groups.includes('system:masters')) allowedByRules++;
            decided++;
          }
        } finally {
          a.stop();
        }
      }),
      {
        seed,
        numRuns: 300,
        reporter: (out) => {
          if (out.failed)
            throw new Error(
              `RBAC property failed; replay with RBAC_FC_SEED=${seed}\n${fc.defaultReportMessage(out)}`,
            );
        },
      },
    );
    // The comparison means little if nearly everything is denied: require that rules grant often.
    expect(allowedByRules / decided).toBeGreaterThan(0.1);
  });
});
