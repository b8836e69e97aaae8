// NamespaceLifecycle, LimitRanger, ServiceAccount, DefaultTolerationSeconds and the plugin chain,
// each against objects in a real single-member store.
import type { KubeObject } from '@keelson/api';
import {
  ADMISSION_PLUGIN_ORDER,
  AdmissionOptionsError,
  defaultAdmissionPlugins,
  defaultTolerationSeconds,
  ensureDefaultServiceAccount,
  LIMIT_RANGER_ANNOTATION,
  limitRanger,
  namespaceLifecycle,
  type ObjectStorage,
  serviceAccountAdmission,
} from '@keelson/apiserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdmissionStore,
  context,
  namespace,
  pod,
  rejection,
  request,
  runAdmission,
  seed,
  startAdmissionStore,
} from './admission-harness.js';

let store: AdmissionStore | undefined;
let storage: ObjectStorage;

beforeAll(async () => {
  store = await startAdmissionStore('admission-plugins');
  storage = store.connect();
  await seed(storage, 'namespaces', namespace('apps'));
  await seed(storage, 'namespaces', namespace('dying', 'Terminating'));
  await seed(storage, 'serviceaccounts', { metadata: { name: 'default', namespace: 'apps' } });
  await seed(storage, 'serviceaccounts', {
    metadata: { name: 'quiet', namespace: 'apps' },
    automountServiceAccountToken: false,
    imagePullSecrets: [{ name: 'regcred' }],
  });
}, 90_000);

afterAll(async () => {
  await store?.stop();
}, 30_000);

describe('NamespaceLifecycle', () => {
  const plugin = () => namespaceLifecycle({ cacheTtlMs: 60_000 });

  it('refuses content in a missing namespace with 404', async () => {
    // Proves creates into a namespace that does not exist answer `namespaces "x" not found`.
    const err = await rejection(() =>
      runAdmission([plugin()], request('CREATE', 'pods', 'nope', pod('nope', 'p')), context(storage)),
    );
    expect(err).toMatchObject({ code: 404, reason: 'NotFound', message: 'namespaces "nope" not found' });
  });

  it('refuses new content in a terminating namespace with 403', async () => {
    // Proves the Kubernetes message and that only creates are refused there.
    const p = plugin();
    const err = await rejection(() =>
      runAdmission([p], request('CREATE', 'pods', 'dying', pod('dying', 'p')), context(storage)),
    );
    expect(err).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message:
        'pods "p" is forbidden: unable to create new content in namespace dying because it is being terminated',
    });
    await runAdmission(
      [p],
      request('UPDATE', 'pods', 'dying', pod('dying', 'p'), pod('dying', 'p')),
      context(storage),
    );
    await runAdmission(
      [p],
      request('DELETE', 'pods', 'dying', undefined, pod('dying', 'p')),
      context(storage),
    );
  });

  it('allows a create right after the namespace is created, even after a miss', async () => {
    // Proves misses are read live, so a fresh namespace is usable at once by every apiserver.
    const p = plugin();
    const first = await rejection(() =>
      runAdmission(
        [p],
        request('CREATE', 'configmaps', 'fresh', { metadata: { name: 'c', namespace: 'fresh' } }),
        context(storage),
      ),
    );
    expect(first.code).toBe(404);
    await seed(storage, 'namespaces', namespace('fresh'));
    await runAdmission(
      [p],
      request('CREATE', 'configmaps', 'fresh', { metadata: { name: 'c', namespace: 'fresh' } }),
      context(storage),
    );
  });

  it('trusts a namespace seen Active only for the cache TTL', async () => {
    // Proves the cache bounds staleness: after the TTL a terminating namespace is read live and refused.
    let nowMs = 0;
    const p = namespaceLifecycle({ cacheTtlMs: 1_000, nowMs: () => nowMs });
    const cm = (name: string) =>
      request('CREATE', 'configmaps', 'ttl', { metadata: { name, namespace: 'ttl' } });
    const stored = await seed(storage, 'namespaces', namespace('ttl'));
    await runAdmission([p], cm('a'), context(storage));
    await storage.update('/registry/namespaces/ttl', namespace('ttl', 'Terminating'), stored.modRevision);
    nowMs = 500;
    await runAdmission([p], cm('b'), context(storage));
    nowMs = 1_500;
    const err = await rejection(() => runAdmission([p], cm('c'), context(storage)));
    expect(err.code).toBe(403);
  });

  it('refuses deleting the immortal namespaces', async () => {
    // Proves default, kube-system and kube-public can never be deleted, while others can.
    for (const name of ['default', 'kube-system', 'kube-public']) {
      const err = await rejection(() =>
        runAdmission(
          [plugin()],
          { ...request('DELETE', 'namespaces', '', undefined, namespace(name)), name },
          context(storage),
        ),
      );
      expect(err).toMatchObject({
        code: 403,
        message: `namespaces "${name}" is forbidden: this namespace may not be deleted`,
      });
    }
    await runAdmission(
      [plugin()],
      { ...request('DELETE', 'namespaces', '', undefined, namespace('apps')), name: 'apps' },
      context(storage),
    );
  });

  it('exempts namespaces themselves and cluster-scoped objects', async () => {
    // Proves creating a namespace, or a cluster-scoped object, never needs a namespace to exist.
    await runAdmission(
      [plugin()],
      request('CREATE', 'namespaces', '', namespace('brand-new')),
      context(storage),
    );
    await runAdmission(
      [plugin()],
      request('CREATE', 'nodes', '', { metadata: { name: 'n1' } }),
      context(storage),
    );
  });
});

describe('LimitRanger', () => {
  beforeAll(async () => {
    await seed(storage, 'namespaces', namespace('limited'));
    await seed(storage, 'limitranges', {
      metadata: { name: 'lr', namespace: 'limited' },
      spec: {
        limits: [
          {
            type: 'Container',
            default: { cpu: '300m', memory: '128Mi' },
            defaultRequest: { cpu: '100m' },
            max: { cpu: '500m' },
            min: { memory: '64Mi' },
            maxLimitRequestRatio: { cpu: '4' },
          },
          { type: 'Pod', max: { memory: '1Gi' } },
          { type: 'PersistentVolumeClaim', min: { storage: '1Gi' }, max: { storage: '10Gi' } },
        ],
      },
    });
  });

  it('applies container defaults on create and records them', async () => {
    // Proves default limits and requests fill only what is missing, with Kubernetes' annotation.
    const obj = pod('limited', 'p', {
      containers: [
        { name: 'a', image: 'x' },
        { name: 'b', image: 'x', resources: { limits: { cpu: '200m' } } },
      ],
    });
    await runAdmission([limitRanger()], request('CREATE', 'pods', 'limited', obj), context(storage));
    const [a, b] = (obj.spec as { containers: KubeObject[] }).containers;
    expect(a?.resources).toEqual({
      limits: { cpu: '300m', memory: '128Mi' },
      requests: { cpu: '100m', memory: '128Mi' },
    });
    expect(b?.resources).toEqual({
      limits: { cpu: '200m', memory: '128Mi' },
      requests: { cpu: '100m', memory: '128Mi' },
    });
    expect(obj.metadata?.annotations?.[LIMIT_RANGER_ANNOTATION]).toBe(
      'LimitRanger plugin set: cpu, memory request for container a; cpu, memory limit for container a; ' +
        'cpu, memory request for container b; memory limit for container b',
    );
  });

  it('refuses a container over max with the Kubernetes message', async () => {
    // Proves bounds are checked after defaulting with `maximum cpu usage per Container is 500m, but limit is 1`.
    const resources = { limits: { cpu: '1' }, requests: { cpu: '500m' } };
    const obj = pod('limited', 'big', { containers: [{ name: 'a', image: 'x', resources }] });
    const err = await rejection(() =>
      runAdmission([limitRanger()], request('CREATE', 'pods', 'limited', obj), context(storage)),
    );
    expect(err).toMatchObject({
      code: 403,
      message: 'pods "big" is forbidden: maximum cpu usage per Container is 500m, but limit is 1',
    });
  });

  it('aggregates several violations and checks ratio, min and pod totals', async () => {
    // Proves every violated bound of the LimitRange is reported, as utilerrors.NewAggregate prints them.
    const obj = pod('limited', 'bad', {
      containers: [
        {
          name: 'a',
          image: 'x',
          resources: { requests: { cpu: '100m', memory: '32Mi' }, limits: { cpu: '500m', memory: '600Mi' } },
        },
        {
          name: 'b',
          image: 'x',
          resources: { requests: { cpu: '100m', memory: '600Mi' }, limits: { cpu: '100m', memory: '600Mi' } },
        },
      ],
    });
    const err = await rejection(() =>
      runAdmission([limitRanger()], request('CREATE', 'pods', 'limited', obj), context(storage)),
    );
    expect(err.message).toBe(
      'pods "bad" is forbidden: [minimum memory usage per Container is 64Mi, but request is 32Mi, ' +
        'cpu max limit to request ratio per Container is 4, but provided ratio is 5.000000, ' +
        'maximum memory usage per Pod is 1Gi, but limit is 1200Mi]',
    );
  });

  it('checks claims against PersistentVolumeClaim bounds', async () => {
    // Proves storage requests outside [min, max] are refused and pod updates are not re-checked.
    const claim = (size: string) => ({
      metadata: { name: 'c', namespace: 'limited' },
      spec: { resources: { requests: { storage: size } } },
    });
    const err = await rejection(() =>
      runAdmission(
        [limitRanger()],
        request('CREATE', 'persistentvolumeclaims', 'limited', claim('20Gi')),
        context(storage),
      ),
    );
    expect(err.message).toBe(
      'persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi',
    );
    await runAdmission(
      [limitRanger()],
      request('CREATE', 'persistentvolumeclaims', 'limited', claim('5Gi')),
      context(storage),
    );
    const big = pod('limited', 'big', {
      containers: [{ name: 'a', image: 'x', resources: { limits: { cpu: '1' } } }],
    });
    await runAdmission([limitRanger()], request('UPDATE', 'pods', 'limited', big, big), context(storage));
  });
});

describe('ServiceAccount', () => {
  const letters = [0, 1, 2, 3, 4];
  const plugin = () => serviceAccountAdmission({ randomIndex: () => letters.shift() ?? 0 });

  it('defaults to "default" and mounts the projected token volume in every container', async () => {
    // Proves the kube-api-access volume and mounts are exactly Kubernetes' shape.
    const obj = pod('apps', 'p', {
      initContainers: [{ name: 'init', image: 'x' }],
      containers: [
        { name: 'a', image: 'x' },
        { name: 'b', image: 'x', volumeMounts: [{ name: 'data', mountPath: '/data' }] },
      ],
    });
    await runAdmission([plugin()], request('CREATE', 'pods', 'apps', obj), context(storage));
    const spec = obj.spec as Record<string, KubeObject[] | string>;
    expect(spec.serviceAccountName).toBe('default');
    const volumes = spec.volumes as KubeObject[];
    expect(volumes).toHaveLength(1);
    expect(volumes[0]).toEqual({
      name: 'kube-api-access-bcdfg',
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          {
            downwardAPI: {
              items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
            },
          },
        ],
      },
    });
    const mount = {
      name: 'kube-api-access-bcdfg',
      readOnly: true,
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
    };
    for (const list of ['initContainers', 'containers'] as const) {
      for (const c of spec[list] as KubeObject[]) expect(c.volumeMounts).toContainEqual(mount);
    }
    expect((spec.containers as KubeObject[])[1]?.volumeMounts).toHaveLength(2);
  });

  it('ensureDefaultServiceAccount creates the account once, after which pods are admitted', async () => {
    // Proves the stand-in for the ServiceAccount controller is idempotent and unblocks pod creates.
    await seed(storage, 'namespaces', namespace('nosa'));
    const before = await rejection(() =>
      runAdmission([plugin()], request('CREATE', 'pods', 'nosa', pod('nosa', 'p')), context(storage)),
    );
    expect(before.code).toBe(403);
    expect(await ensureDefaultServiceAccount(storage, 'nosa')).toBe(true);
    expect(await ensureDefaultServiceAccount(storage, 'nosa')).toBe(false);
    await runAdmission([plugin()], request('CREATE', 'pods', 'nosa', pod('nosa', 'p')), context(storage));
  });

  it('refuses a pod whose service account does not exist', async () => {
    // Proves the 403 message of a missing account.
    const err = await rejection(() =>
      runAdmission(
        [plugin()],
        request('CREATE', 'pods', 'apps', pod('apps', 'p', { serviceAccountName: 'ghost' })),
        context(storage),
      ),
    );
    expect(err).toMatchObject({
      code: 403,
      message:
        'pods "p" is forbidden: error looking up service account apps/ghost: serviceaccount "ghost" not found',
    });
  });

  it('honours automountServiceAccountToken on the account and on the pod, and copies pull secrets', async () => {
    // Proves opting out (account or pod) mounts nothing, and the pod opt-in wins over the account.
    const quiet = pod('apps', 'q', { serviceAccountName: 'quiet' });
    await runAdmission([plugin()], request('CREATE', 'pods', 'apps', quiet), context(storage));
    expect((quiet.spec as KubeObject).volumes).toBeUndefined();
    expect((quiet.spec as KubeObject).imagePullSecrets).toEqual([{ name: 'regcred' }]);
    const off = pod('apps', 'o', { automountServiceAccountToken: false });
    await runAdmission([plugin()], request('CREATE', 'pods', 'apps', off), context(storage));
    expect((off.spec as KubeObject).volumes).toBeUndefined();
    const on = pod('apps', 'n', { serviceAccountName: 'quiet', automountServiceAccountToken: true });
    await runAdmission([plugin()], request('CREATE', 'pods', 'apps', on), context(storage));
    expect(((on.spec as KubeObject).volumes as KubeObject[])[0]?.name).toMatch(
      /^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/,
    );
  });
});

describe('DefaultTolerationSeconds', () => {
  it('adds the not-ready and unreachable tolerations unless already tolerated', async () => {
    // Proves the 300 s NoExecute tolerations and that an existing wildcard toleration suppresses them.
    const plain = pod('apps', 'p');
    await runAdmission(
      [defaultTolerationSeconds()],
      request('CREATE', 'pods', 'apps', plain),
      context(storage),
    );
    expect((plain.spec as KubeObject).tolerations).toEqual([
      {
        key: 'node.kubernetes.io/not-ready',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 300,
      },
      {
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 300,
      },
    ]);
    const own = pod('apps', 'o', {
      tolerations: [
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 10,
        },
      ],
    });
    await runAdmission(
      [defaultTolerationSeconds()],
      request('CREATE', 'pods', 'apps', own),
      context(storage),
    );
    expect((own.spec as KubeObject).tolerations).toHaveLength(2);
    const all = pod('apps', 'a', { tolerations: [{ operator: 'Exists' }] });
    await runAdmission(
      [defaultTolerationSeconds()],
      request('CREATE', 'pods', 'apps', all),
      context(storage),
    );
    expect((all.spec as KubeObject).tolerations).toEqual([{ operator: 'Exists' }]);
  });
});

describe('defaultAdmissionPlugins', () => {
  it('builds the chain in kube-apiserver order and honours enable/disable by name', () => {
    // Proves order, disabling, and that unknown names are configuration errors.
    expect(defaultAdmissionPlugins().map((p) => p.name)).toEqual([...ADMISSION_PLUGIN_ORDER]);
    expect(ADMISSION_PLUGIN_ORDER[0]).toBe('NamespaceLifecycle');
    expect(ADMISSION_PLUGIN_ORDER.at(-1)).toBe('ResourceQuota');
    const names = defaultAdmissionPlugins({ disable: ['LimitRanger', 'ResourceQuota'] }).map((p) => p.name);
    expect(names).toEqual([
      'NamespaceLifecycle',
      'ServiceAccount',
      'DefaultTolerationSeconds',
      'ServiceAllocation',
    ]);
    expect(() => defaultAdmissionPlugins({ disable: ['NoSuchPlugin'] })).toThrow(AdmissionOptionsError);
  });

  it('runs the whole chain on a pod', async () => {
    // Proves the plugins compose: namespace checked, account mounted, tolerations added.
    const obj = pod('apps', 'chain');
    await runAdmission(defaultAdmissionPlugins(), request('CREATE', 'pods', 'apps', obj), context(storage));
    const spec = obj.spec as KubeObject;
    expect(spec.serviceAccountName).toBe('default');
    expect(spec.tolerations).toHaveLength(2);
    expect(spec.volumes).toHaveLength(1);
  });
});
