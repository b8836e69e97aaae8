// ResourceQuota admission against a real store: Kubernetes' messages, usage recomputed from stored
// objects, status.used charged in the write's txn, release on delete, and no overshoot under
// concurrent creates through several storage clients (several apiservers).
import type { KubeObject } from '@keelson/api';
import { type ObjectStorage, resourceQuota } from '@keelson/apiserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdmissionStore,
  admitAndCreate,
  admitAndDelete,
  admitAndUpdate,
  context,
  pod,
  rejection,
  request,
  runAdmission,
  startAdmissionStore,
} from './admission-harness.js';

let store: AdmissionStore | undefined;
let storage: ObjectStorage;
const quota = () => [resourceQuota()];

beforeAll(async () => {
  store = await startAdmissionStore('admission-quota');
  storage = store.connect();
}, 90_000);

afterAll(async () => {
  await store?.stop();
}, 30_000);

function quotaObject(
  namespace: string,
  name: string,
  hard: Record<string, string>,
  extra: Record<string, unknown> = {},
): KubeObject {
  return { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name, namespace }, spec: { hard, ...extra } };
}

async function readQuota(namespace: string, name: string): Promise<KubeObject> {
  const stored = await storage.get(`/registry/resourcequotas/${namespace}/${name}`);
  if (stored === undefined) throw new Error(`quota ${namespace}/${name} missing`);
  return stored.obj;
}

async function podCount(namespace: string): Promise<number> {
  return (await storage.list(`/registry/pods/${namespace}/`, { limit: 0 })).items.length;
}

function withCpu(p: KubeObject, request: string, limit?: string): KubeObject {
  const resources: Record<string, unknown> = { requests: { cpu: request } };
  if (limit !== undefined) resources.limits = { cpu: limit };
  (p.spec as { containers: Record<string, unknown>[] }).containers[0]!.resources = resources;
  return p;
}

describe('ResourceQuota', () => {
  it('charges pods, refuses over hard with the Kubernetes message, and mirrors status.hard', async () => {
    // Proves the count quota, the exact 403 message, and status written with each charge.
    await admitAndCreate(
      quota(),
      storage,
      'resourcequotas',
      quotaObject('q1', 'q', { pods: '2', 'count/pods': '5' }),
    );
    const created = await readQuota('q1', 'q');
    expect(created.status).toEqual({
      hard: { pods: '2', 'count/pods': '5' },
      used: { pods: '0', 'count/pods': '0' },
    });
    await admitAndCreate(quota(), storage, 'pods', pod('q1', 'p1'));
    await admitAndCreate(quota(), storage, 'pods', pod('q1', 'p2'));
    const err = await rejection(() => admitAndCreate(quota(), storage, 'pods', pod('q1', 'p3')));
    expect(err).toMatchObject({
      code: 403,
      reason: 'Forbidden',
      message: 'pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2',
    });
    expect((await readQuota('q1', 'q')).status).toEqual({
      hard: { pods: '2', 'count/pods': '5' },
      used: { pods: '2', 'count/pods': '2' },
    });
  });

  it('releases usage on delete, in status and for the next create', async () => {
    // Proves deletes give capacity back (usage is recomputed) and refresh status.used.
    await admitAndDelete(quota(), storage, 'pods', 'q1', 'p1');
    expect((await readQuota('q1', 'q')).status).toMatchObject({ used: { pods: '1', 'count/pods': '1' } });
    await admitAndCreate(quota(), storage, 'pods', pod('q1', 'p3'));
    expect(await podCount('q1')).toBe(2);
  });

  it('does not charge terminal pods for "pods" but does for count/pods', async () => {
    // Proves QuotaV1Pod: Succeeded/Failed pods free their pods and compute usage.
    await admitAndCreate(
      quota(),
      storage,
      'resourcequotas',
      quotaObject('q2', 'q', { pods: '1', 'count/pods': '2' }),
    );
    const done = pod('q2', 'done');
    done.status = { phase: 'Succeeded' };
    await admitAndCreate(quota(), storage, 'pods', done);
    await admitAndCreate(quota(), storage, 'pods', pod('q2', 'live'));
    const err = await rejection(() => admitAndCreate(quota(), storage, 'pods', pod('q2', 'more')));
    expect(err.message).toBe(
      'pods "more" is forbidden: exceeded quota: q, requested: count/pods=1,pods=1, used: count/pods=2,pods=1, limited: count/pods=2,pods=1',
    );
  });

  it('sums compute requests and limits and requires them to be specified', async () => {
    // Proves requests.cpu/limits.cpu arithmetic in quantities and the "must specify" constraint.
    await admitAndCreate(
      quota(),
      storage,
      'resourcequotas',
      quotaObject('q3', 'compute', { 'requests.cpu': '1', 'limits.cpu': '2' }),
    );
    await admitAndCreate(quota(), storage, 'pods', withCpu(pod('q3', 'a'), '600m', '1'));
    const over = await rejection(() =>
      admitAndCreate(quota(), storage, 'pods', withCpu(pod('q3', 'b'), '600m', '1')),
    );
    expect(over.message).toBe(
      'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1',
    );
    const bare = await rejection(() => admitAndCreate(quota(), storage, 'pods', pod('q3', 'c')));
    expect(bare.message).toBe(
      'pods "c" is forbidden: failed quota: compute: must specify limits.cpu for: app; requests.cpu for: app',
    );
    await admitAndCreate(quota(), storage, 'pods', withCpu(pod('q3', 'd'), '400m', '1'));
    expect((await readQuota('q3', 'compute')).status).toMatchObject({
      used: { 'requests.cpu': '1', 'limits.cpu': '2' },
    });
  });

  it('counts services, node ports and load balancers, also on type changes', async () => {
    // Proves the service evaluator and that updates which raise usage are checked.
    const svc = (name: string, type: string, ports = 1): KubeObject => ({
      metadata: { name, namespace: 'q4' },
      spec: { type, ports: Array.from({ length: ports }, (_, i) => ({ port: 80 + i })) },
    });
    await admitAndCreate(
      quota(),
      storage,
      'resourcequotas',
      quotaObject('q4', 'svc', { services: '3', 'services.nodeports': '2', 'services.loadbalancers': '0' }),
    );
    const lb = await rejection(() => admitAndCreate(quota(), storage, 'services', svc('lb', 'LoadBalancer')));
    expect(lb.message).toBe(
      'services "lb" is forbidden: exceeded quota: svc, requested: services.loadbalancers=1, used: services.loadbalancers=0, limited: services.loadbalancers=0',
    );
    await admitAndCreate(quota(), storage, 'services', svc('np', 'NodePort', 2));
    await admitAndCreate(quota(), storage, 'services', svc('plain', 'ClusterIP'));
    const upd = await rejection(() =>
      admitAndUpdate(
        quota(),
        storage,
        'services',
        (o) => ((o.spec as Record<string, unknown>).type = 'NodePort'),
        'q4',
        'plain',
      ),
    );
    expect(upd.message).toBe(
      'services "plain" is forbidden: exceeded quota: svc, requested: services.nodeports=1, used: services.nodeports=2, limited: services.nodeports=2',
    );
  });

  it('counts object kinds by legacy name and by count/<resource>.<group>', async () => {
    // Proves the generic object-count evaluator, including other API groups.
    await admitAndCreate(
      quota(),
      storage,
      'resourcequotas',
      quotaObject('q5', 'objs', { configmaps: '1', 'count/secrets': '1' }),
    );
    await admitAndCreate(quota(), storage, 'configmaps', { metadata: { name: 'a', namespace: 'q5' } });
    const cm = await rejection(() =>
      admitAndCreate(quota(), storage, 'configmaps', { metadata: { name: 'b', namespace: 'q5' } }),
    );
    expect(cm.message).toBe(
      'configmaps "b" is forbidden: exceeded quota: objs, requested: configmaps=1, used: configmaps=1, limited: configmaps=1',
    );
    await admitAndCreate(quota(), storage, 'secrets', { metadata: { name: 's', namespace: 'q5' } });
    const s = await rejection(() =>
      admitAndCreate(quota(), storage, 'secrets', { metadata: { name: 't', namespace: 'q5' } }),
    );
    expect(s.code).toBe(403);
    // A quota created after the objects starts with their usage.
    await admitAndCreate(
      quota(),
      storage,
      'resourcequotas',
      quotaObject('q5', 'later', { 'count/configmaps': '10', resourcequotas: '5' }),
    );
    expect((await readQuota('q5', 'later')).status).toEqual({
      hard: { 'count/configmaps': '10', resourcequotas: '5' },
      used: { 'count/configmaps': '1', resourcequotas: '2' },
    });
  });

  it('honours BestEffort scopes: only matching pods are charged', async () => {
    // Proves a scoped quota ignores pods outside its scope.
    await admitAndCreate(
      quota(),
      storage,
      'resourcequotas',
      quotaObject('q6', 'be', { pods: '1' }, { scopes: ['BestEffort'] }),
    );
    await admitAndCreate(quota(), storage, 'pods', pod('q6', 'be1'));
    await admitAndCreate(quota(), storage, 'pods', withCpu(pod('q6', 'burst'), '100m'));
    const err = await rejection(() => admitAndCreate(quota(), storage, 'pods', pod('q6', 'be2')));
    expect(err.message).toContain('exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1');
  });

  it('never admits more than hard under 50 concurrent creates through five clients', async () => {
    // Proves the compare on the quota's mod_revision serialises charges: exactly 10 of 50 pods are stored.
    const clients = Array.from({ length: 5 }, () => store!.connect());
    await admitAndCreate(quota(), storage, 'resourcequotas', quotaObject('race', 'q', { pods: '10' }));
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        admitAndCreate(quota(), clients[i % clients.length]!, 'pods', pod('race', `p${i}`)),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    // The race was real: some creates lost the compare and were re-admitted.
    expect(
      Math.max(...ok.map((r) => (r as PromiseFulfilledResult<{ attempts: number }>).value.attempts)),
    ).toBeGreaterThan(1);
    const refused = results
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason as { code?: number });
    expect(ok).toHaveLength(10);
    expect(refused.every((e) => e.code === 403)).toBe(true);
    expect(await podCount('race')).toBe(10);
    expect((await readQuota('race', 'q')).status).toMatchObject({ used: { pods: '10' } });
  }, 60_000);

  it('ignores subresources', async () => {
    // Proves status writes are neither checked nor charged.
    const req = request('UPDATE', 'pods', 'q1', pod('q1', 'p2'), pod('q1', 'p2'));
    const ctx = context(storage);
    await runAdmission(quota(), { ...req, subresource: 'status' }, ctx);
    expect(ctx.extras).toEqual({ compares: [], puts: [] });
  });
});
