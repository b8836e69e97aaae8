// REST semantics of `keelson apiserver` over fetch, against a real apiserver process on a real store
// (Keelson's 3-member store by default; APISERVER_STORE=etcd runs it on etcd 3.4).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from './server-harness.js';

const impl = process.env.APISERVER_STORE === 'etcd' ? 'etcd' : 'keelson';
let server: RunningServer | undefined;

beforeAll(async () => {
  server = await startServer({ impl });
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 30_000);

function base(): string {
  if (server === undefined) throw new Error('the apiserver did not start (see beforeAll)');
  return server.url;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const init: RequestInit = { method, headers: { 'Content-Type': 'application/json', ...headers } };
  if (body !== undefined)
    init.body = typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body);
  const res = await fetch(`${base()}${path}`, init);
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

function meta(a: Answer): Record<string, unknown> {
  return a.body.metadata as Record<string, unknown>;
}

let nsCounter = 0;
async function namespace(): Promise<string> {
  const name = `t${process.pid}-${++nsCounter}`;
  const res = await call('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  });
  expect(res.status).toBe(201);
  return name;
}

const cm = (name: string, data: Record<string, string> = {}, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels },
  data,
});

/** Reads a watch stream's JSON lines until `count` events arrived or the time is up. */
async function watchEvents(
  path: string,
  count: number,
  during: () => Promise<void> = async () => {},
  timeoutMs = 10_000,
) {
  const ctl = new AbortController();
  const res = await fetch(`${base()}${path}`, { signal: ctl.signal });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const events: { type: string; object: Record<string, unknown> }[] = [];
  let buffered = '';
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const reading = (async () => {
    try {
      while (events.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += Buffer.from(value).toString();
        let nl = buffered.indexOf('\n');
        while (nl >= 0) {
          events.push(JSON.parse(buffered.slice(0, nl)));
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf('\n');
        }
      }
    } catch {
      // Aborted at the deadline: the caller checks what arrived.
    }
  })();
  await during();
  await reading;
  clearTimeout(timer);
  ctl.abort();
  return events;
}

describe(`apiserver REST on ${impl}`, () => {
  it('serves /version, /healthz, /readyz, /metrics and discovery', async () => {
    // Proves the non-resource endpoints kubectl and probes use.
    const v = await call('GET', '/version');
    expect(v.body.gitVersion).toBe('v1.32.0-keelson');
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);
    expect((await fetch(`${base()}/readyz`)).status).toBe(200);
    const api = await call('GET', '/api');
    expect(api.body.kind).toBe('APIVersions');
    const apis = await call('GET', '/apis');
    expect(apis.body.kind).toBe('APIGroupList');
    const agg = await call('GET', '/apis', undefined, {
      Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json',
    });
    expect(agg.headers.get('content-type')).toBe(
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    );
    expect(agg.body.kind).toBe('APIGroupDiscoveryList');
    const v1 = await call('GET', '/api/v1');
    const names = (v1.body.resources as { name: string }[]).map((r) => r.name);
    expect(names).toContain('pods');
    expect(names).toContain('pods/status');
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    expect(metrics).toContain('apiserver_request_total');
    expect(metrics).toContain('apiserver_current_inflight_requests');
  });

  it('creates with uid, creationTimestamp and resourceVersion; a second create is 409 AlreadyExists', async () => {
    // Proves the system fields of create and Kubernetes' AlreadyExists Status.
    const ns = await namespace();
    const created = await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a', { k: 'v' }));
    expect(created.status).toBe(201);
    expect(meta(created).uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(meta(created).creationTimestamp).toMatch(/Z$/);
    expect(meta(created).namespace).toBe(ns);
    expect(Number(meta(created).resourceVersion)).toBeGreaterThan(0);
    const again = await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a'));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      kind: 'Status',
      reason: 'AlreadyExists',
      message: 'configmaps "a" already exists',
    });
    const got = await call('GET', `/api/v1/namespaces/${ns}/configmaps/a`);
    expect(got.body.data).toEqual({ k: 'v' });
    const missing = await call('GET', `/api/v1/namespaces/${ns}/configmaps/nope`);
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('configmaps "nope" not found');
  });

  it('generateName adds five characters from Kubernetes’ alphabet', async () => {
    // Proves generateName.
    const ns = await namespace();
    const res = await call('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { generateName: 'gen-' },
    });
    expect(res.status).toBe(201);
    expect(meta(res).name).toMatch(/^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('a stale resourceVersion is 409 Conflict; an update without one is unconditional', async () => {
    // Proves optimistic concurrency with Kubernetes' message.
    const ns = await namespace();
    const c = await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a', { v: '1' }));
    const rv = meta(c).resourceVersion;
    const u1 = await call('PUT', `/api/v1/namespaces/${ns}/configmaps/a`, {
      ...cm('a', { v: '2' }),
      metadata: { name: 'a', resourceVersion: rv },
    });
    expect(u1.status).toBe(200);
    expect(meta(u1).uid).toBe(meta(c).uid);
    const stale = await call('PUT', `/api/v1/namespaces/${ns}/configmaps/a`, {
      ...cm('a', { v: '3' }),
      metadata: { name: 'a', resourceVersion: rv },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    expect(stale.body.message).toBe(
      'Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again',
    );
    const unconditional = await call('PUT', `/api/v1/namespaces/${ns}/configmaps/a`, cm('a', { v: '4' }));
    expect(unconditional.status).toBe(200);
    expect(unconditional.body.data).toEqual({ v: '4' });
  });

  it('lists with label and field selectors, and pages with limit/continue', async () => {
    // Proves list filtering and consistent pagination.
    const ns = await namespace();
    for (let i = 0; i < 5; i++)
      await call(
        'POST',
        `/api/v1/namespaces/${ns}/configmaps`,
        cm(`c${i}`, {}, { tier: i % 2 === 0 ? 'even' : 'odd' }),
      );
    const even = await call('GET', `/api/v1/namespaces/${ns}/configmaps?labelSelector=tier%3Deven`);
    expect((even.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).toEqual([
      'c0',
      'c2',
      'c4',
    ]);
    const set = await call(
      'GET',
      `/api/v1/namespaces/${ns}/configmaps?labelSelector=${encodeURIComponent('tier in (odd)')}`,
    );
    expect((set.body.items as unknown[]).length).toBe(2);
    const byName = await call('GET', `/api/v1/namespaces/${ns}/configmaps?fieldSelector=metadata.name%3Dc3`);
    expect((byName.body.items as unknown[]).length).toBe(1);
    const page1 = await call('GET', `/api/v1/namespaces/${ns}/configmaps?limit=2`);
    expect((page1.body.items as unknown[]).length).toBe(2);
    const listMeta = meta(page1);
    expect(listMeta.remainingItemCount).toBe(3);
    const page2 = await call(
      'GET',
      `/api/v1/namespaces/${ns}/configmaps?limit=2&continue=${encodeURIComponent(String(listMeta.continue))}`,
    );
    expect((page2.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).toEqual([
      'c2',
      'c3',
    ]);
    expect(meta(page2).resourceVersion).toBe(listMeta.resourceVersion);
    const bad = await call(
      'GET',
      `/api/v1/namespaces/${ns}/configmaps?labelSelector=${encodeURIComponent('a in (')}`,
    );
    expect(bad.status).toBe(400);
    const badField = await call('GET', `/api/v1/namespaces/${ns}/configmaps?fieldSelector=spec.nope%3Dx`);
    expect(badField.status).toBe(400);
  });

  it('watch from a list’s resourceVersion sees changes; from "" it first replays the state', async () => {
    // Proves watch resourceVersion modes.
    const ns = await namespace();
    await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a'));
    const list = await call('GET', `/api/v1/namespaces/${ns}/configmaps`);
    const rv = String(meta(list).resourceVersion);
    const events = await watchEvents(
      `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}`,
      3,
      async () => {
        await call('PUT', `/api/v1/namespaces/${ns}/configmaps/a`, cm('a', { v: '2' }));
        await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('b'));
        await call('DELETE', `/api/v1/namespaces/${ns}/configmaps/a`);
      },
    );
    expect(events.map((e) => e.type)).toEqual(['MODIFIED', 'ADDED', 'DELETED']);
    expect(events[0]?.object.kind).toBe('ConfigMap');
    const replay = await watchEvents(`/api/v1/namespaces/${ns}/configmaps?watch=true`, 1);
    expect(replay[0]?.type).toBe('ADDED');
    expect((replay[0]?.object.metadata as { name: string } | undefined)?.name).toBe('b');
  });

  it('watch from a compacted resourceVersion ends with a 410 Expired ERROR event', async () => {
    // Proves 410 Gone for a compacted version.
    const ns = await namespace();
    const c = await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a'));
    const old = Number(meta(c).resourceVersion) - 1;
    await call('PUT', `/api/v1/namespaces/${ns}/configmaps/a`, cm('a', { v: '2' }));
    const cluster = server?.cluster;
    const status = await cluster?.etcdctl(['endpoint', 'status', '--write-out=json']);
    const revision = (JSON.parse(status?.stdout ?? '[]') as { Status: { header: { revision: number } } }[])[0]
      ?.Status.header.revision;
    await cluster?.etcdctl(['compact', String(revision)]);
    const events = await watchEvents(
      `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${old}`,
      1,
    );
    expect(events[0]?.type).toBe('ERROR');
    expect(events[0]?.object).toMatchObject({ code: 410, reason: 'Expired' });
    expect(String(events[0]?.object.message)).toMatch(/^too old resource version: \d+ \(\d+\)$/);
  });

  it('bookmarks carry the latest resourceVersion and timeoutSeconds ends the watch', async () => {
    // Proves allowWatchBookmarks and timeoutSeconds.
    const ns = await namespace();
    const list = await call('GET', `/api/v1/namespaces/${ns}/configmaps`);
    const rv = Number(meta(list).resourceVersion);
    const started = Date.now();
    const events = await watchEvents(
      `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}&timeoutSeconds=2&allowWatchBookmarks=true`,
      100,
      async () => {},
      15_000,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.every((e) => e.type === 'BOOKMARK')).toBe(true);
    expect(
      Number((events[0]?.object.metadata as { resourceVersion: string } | undefined)?.resourceVersion),
    ).toBeGreaterThanOrEqual(rv);
  });

  it('finalizers hold a deleted object until an update removes them', async () => {
    // Proves deletionTimestamp + finalizers, and deletion by the update that empties them.
    const ns = await namespace();
    await call('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      ...cm('f'),
      metadata: { name: 'f', finalizers: ['example.com/hold'] },
    });
    const del = await call('DELETE', `/api/v1/namespaces/${ns}/configmaps/f`, {
      propagationPolicy: 'Background',
    });
    expect(del.status).toBe(202);
    const held = await call('GET', `/api/v1/namespaces/${ns}/configmaps/f`);
    expect(held.status).toBe(200);
    expect(meta(held).deletionTimestamp).toBeDefined();
    const release = await call(
      'PATCH',
      `/api/v1/namespaces/${ns}/configmaps/f`,
      { metadata: { finalizers: null } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    expect(release.status).toBe(200);
    expect((await call('GET', `/api/v1/namespaces/${ns}/configmaps/f`)).status).toBe(404);
  });

  it('dryRun=All runs everything and writes nothing', async () => {
    // Proves dry runs.
    const ns = await namespace();
    const res = await call('POST', `/api/v1/namespaces/${ns}/configmaps?dryRun=All`, cm('dry'));
    expect(res.status).toBe(201);
    expect((await call('GET', `/api/v1/namespaces/${ns}/configmaps/dry`)).status).toBe(404);
  });

  it('patches: merge, JSON, strategic and server-side apply (which may create)', async () => {
    // Proves every patch type reaches H4's patch module.
    const ns = await namespace();
    await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('p', { a: '1' }));
    const merge = await call(
      'PATCH',
      `/api/v1/namespaces/${ns}/configmaps/p`,
      { data: { b: '2' } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    expect(merge.body.data).toEqual({ a: '1', b: '2' });
    const json = await call(
      'PATCH',
      `/api/v1/namespaces/${ns}/configmaps/p`,
      [{ op: 'remove', path: '/data/a' }],
      { 'Content-Type': 'application/json-patch+json' },
    );
    expect(json.body.data).toEqual({ b: '2' });
    const smp = await call(
      'PATCH',
      `/api/v1/namespaces/${ns}/configmaps/p`,
      { metadata: { labels: { x: 'y' } } },
      { 'Content-Type': 'application/strategic-merge-patch+json' },
    );
    expect((meta(smp).labels as Record<string, string>).x).toBe('y');
    const apply = await call(
      'PATCH',
      `/api/v1/namespaces/${ns}/configmaps/applied?fieldManager=test`,
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n',
      { 'Content-Type': 'application/apply-patch+yaml' },
    );
    expect(apply.status).toBe(201);
    expect((meta(apply).managedFields as { manager: string }[])[0]?.manager).toBe('test');
  });

  it('status and scale subresources change only their part', async () => {
    // Proves the status/main split and autoscaling/v1 Scale.
    const ns = await namespace();
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'd' } },
        template: {
          metadata: { labels: { app: 'd' } },
          spec: { containers: [{ name: 'c', image: 'nginx' }] },
        },
      },
    };
    const created = await call('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, dep);
    expect(created.status).toBe(201);
    expect(meta(created).generation).toBe(1);
    const withStatus = await call('PUT', `/apis/apps/v1/namespaces/${ns}/deployments/d`, {
      ...created.body,
      status: { replicas: 7 },
    });
    expect((withStatus.body.status as { replicas?: number } | undefined)?.replicas).not.toBe(7);
    const status = await call('PUT', `/apis/apps/v1/namespaces/${ns}/deployments/d/status`, {
      ...withStatus.body,
      status: { replicas: 7 },
      spec: { ...dep.spec, replicas: 5 },
    });
    expect((status.body.status as { replicas: number }).replicas).toBe(7);
    expect((status.body.spec as { replicas: number }).replicas).toBe(1);
    const scale = await call('GET', `/apis/apps/v1/namespaces/${ns}/deployments/d/scale`);
    expect(scale.body).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      spec: { replicas: 1 },
      status: { replicas: 7, selector: 'app=d' },
    });
    const scaled = await call(
      'PATCH',
      `/apis/apps/v1/namespaces/${ns}/deployments/d/scale`,
      { spec: { replicas: 3 } },
      { 'Content-Type': 'application/merge-patch+json' },
    );
    expect((scaled.body.spec as { replicas: number }).replicas).toBe(3);
    const after = await call('GET', `/apis/apps/v1/namespaces/${ns}/deployments/d`);
    expect((after.body.spec as { replicas: number }).replicas).toBe(3);
    expect(meta(after).generation).toBe(2);
  });

  it('answers a Table with the resource’s columns when asked', async () => {
    // Proves as=Table output (kubectl get).
    const ns = await namespace();
    await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('t', { a: '1', b: '2' }));
    const res = await call('GET', `/api/v1/namespaces/${ns}/configmaps`, undefined, {
      Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
    });
    expect(res.body.kind).toBe('Table');
    const columns = (res.body.columnDefinitions as { name: string }[]).map((c) => c.name);
    expect(columns[0]).toBe('Name');
    const rows = res.body.rows as { cells: unknown[]; object: { kind: string } }[];
    expect(rows[0]?.cells[0]).toBe('t');
    expect(rows[0]?.object.kind).toBe('PartialObjectMetadata');
  });

  it('bad input is a 4xx Status and writes nothing', async () => {
    // Proves malformed JSON/YAML, kind mismatch, invalid names, 3 MiB, Strict unknown fields.
    const ns = await namespace();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    expect((await call('POST', path, '{"kind": "ConfigMap",')).status).toBe(400);
    expect((await call('POST', path, 'kind: [', { 'Content-Type': 'application/yaml' })).status).toBe(400);
    const mismatch = await call('POST', path, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } });
    expect(mismatch.status).toBe(400);
    const badName = await call('POST', path, cm('Not_Valid'));
    expect(badName.status).toBe(422);
    expect(badName.body.reason).toBe('Invalid');
    const big = await call('POST', path, cm('big', { x: 'y'.repeat(3 * 1024 * 1024 + 10) }));
    expect(big.status).toBe(413);
    const strict = await call('POST', `${path}?fieldValidation=Strict`, { ...cm('s'), bogus: 1 });
    expect(strict.status).toBe(400);
    expect(String(strict.body.message)).toContain('unknown field "bogus"');
    const duplicate = await call(
      'POST',
      `${path}?fieldValidation=Strict`,
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"data":{},"data":{}}',
    );
    expect(duplicate.status).toBe(400);
    expect(String(duplicate.body.message)).toContain('duplicate field "data"');
    const warn = await call('POST', `${path}?fieldValidation=Warn`, { ...cm('w'), bogus: 1 });
    expect(warn.status).toBe(201);
    expect(warn.headers.get('warning')).toContain('unknown field \\"bogus\\"');
    const list = await call('GET', path);
    expect((list.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).toEqual(['w']);
  });

  it('pods/binding sets the node once; pods/eviction honours a PodDisruptionBudget', async () => {
    // Proves the scheduler's binding and eviction's budget check (429 when no disruption is allowed).
    const ns = await namespace();
    const pod = (name: string) => ({
      metadata: { name, labels: { app: 'x' } },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    expect((await call('POST', `/api/v1/namespaces/${ns}/pods`, pod('p1'))).status).toBe(201);
    const bound = await call('POST', `/api/v1/namespaces/${ns}/pods/p1/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'p1' },
      target: { kind: 'Node', name: 'n1' },
    });
    expect(bound.status).toBe(201);
    expect(
      ((await call('GET', `/api/v1/namespaces/${ns}/pods/p1`)).body.spec as { nodeName: string }).nodeName,
    ).toBe('n1');
    const again = await call('POST', `/api/v1/namespaces/${ns}/pods/p1/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'p1' },
      target: { kind: 'Node', name: 'n2' },
    });
    expect(again.status).toBe(409);
    await call('PUT', `/api/v1/namespaces/${ns}/pods/p1/status`, {
      ...(await call('GET', `/api/v1/namespaces/${ns}/pods/p1`)).body,
      status: { phase: 'Running' },
    });
    const pdb = await call('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, {
      metadata: { name: 'b' },
      spec: { minAvailable: 1, selector: { matchLabels: { app: 'x' } } },
    });
    expect(pdb.status).toBe(201);
    const refused = await call('POST', `/api/v1/namespaces/${ns}/pods/p1/eviction`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'p1' },
    });
    expect(refused.status).toBe(429);
    expect(refused.body.message).toBe("Cannot evict pod as it would violate the pod's disruption budget.");
    const live = (await call('GET', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/b`)).body;
    await call('PUT', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/b/status`, {
      ...live,
      status: {
        disruptionsAllowed: 1,
        currentHealthy: 2,
        desiredHealthy: 1,
        expectedPods: 2,
        observedGeneration: 1,
      },
    });
    const evicted = await call('POST', `/api/v1/namespaces/${ns}/pods/p1/eviction`, {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'p1' },
      deleteOptions: { gracePeriodSeconds: 0 },
    });
    expect(evicted.status).toBe(201);
    expect((await call('GET', `/api/v1/namespaces/${ns}/pods/p1`)).status).toBe(404);
  });

  it('a deleted namespace is Terminating until namespaces/finalize removes its finalizer', async () => {
    // Proves the namespace deletion protocol the namespace controller relies on.
    const ns = await namespace();
    expect((await call('DELETE', `/api/v1/namespaces/${ns}`)).status).toBe(202);
    const terminating = await call('GET', `/api/v1/namespaces/${ns}`);
    expect((terminating.body.status as { phase: string }).phase).toBe('Terminating');
    const refused = await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('late'));
    expect(refused.status).toBe(403);
    const fin = await call('PUT', `/api/v1/namespaces/${ns}/finalize`, {
      ...terminating.body,
      spec: { finalizers: [] },
    });
    expect(fin.status).toBe(200);
    expect((await call('GET', `/api/v1/namespaces/${ns}`)).status).toBe(404);
  });

  it('deletecollection deletes what the selector picks', async () => {
    // Proves DELETE on a collection with a label selector.
    const ns = await namespace();
    for (const [name, tier] of [
      ['a', 'x'],
      ['b', 'x'],
      ['c', 'y'],
    ] as const)
      await call('POST', `/api/v1/namespaces/${ns}/configmaps`, cm(name, {}, { tier }));
    const res = await call('DELETE', `/api/v1/namespaces/${ns}/configmaps?labelSelector=tier%3Dx`);
    expect(res.status).toBe(200);
    expect((res.body.items as unknown[]).length).toBe(2);
    const left = await call('GET', `/api/v1/namespaces/${ns}/configmaps`);
    expect((left.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).toEqual(['c']);
    const metrics = await (await fetch(`${base()}/metrics`)).text();
    expect(metrics).toMatch(/apiserver_request_total\{verb="DELETE",resource="configmaps",code="200"\} \d+/);
  });

  it('pods on a node are deleted gracefully; a zero grace period deletes them', async () => {
    // Proves graceful deletion: deletionTimestamp and deletionGracePeriodSeconds until the kubelet's final delete.
    const ns = await namespace();
    const pod = {
      metadata: { name: 'g' },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
    };
    expect((await call('POST', `/api/v1/namespaces/${ns}/pods`, pod)).status).toBe(201);
    const marked = await call('DELETE', `/api/v1/namespaces/${ns}/pods/g`);
    expect(marked.status).toBe(202);
    expect(meta(marked).deletionGracePeriodSeconds).toBe(30);
    expect(meta(marked).deletionTimestamp).toBeDefined();
    expect((await call('GET', `/api/v1/namespaces/${ns}/pods/g`)).status).toBe(200);
    const gone = await call('DELETE', `/api/v1/namespaces/${ns}/pods/g`, { gracePeriodSeconds: 0 });
    expect(gone.status).toBe(200);
    expect((await call('GET', `/api/v1/namespaces/${ns}/pods/g`)).status).toBe(404);
  });

  it('/readyz fails while the store is down and /livez stays up (runs last: it stops the store)', async () => {
    // Proves readiness follows the store.
    const cluster = server?.cluster;
    for (let i = 0; i < (cluster?.members.length ?? 0); i++) await cluster?.kill(i, 'SIGKILL');
    const ready = await fetch(`${base()}/readyz`);
    expect(ready.status).toBe(500);
    expect(await ready.text()).toContain('etcd failed');
    expect((await fetch(`${base()}/livez`)).status).toBe(200);
  });
});
