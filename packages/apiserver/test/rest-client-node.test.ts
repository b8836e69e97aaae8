// @kubernetes/client-node against `keelson apiserver`: CRUD through the generated CoreV1Api, and an
// informer (list + watch) that sees adds, updates and deletes made by another client.
import type { CoreV1Api, KubeConfig, V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from './server-harness.js';

let server: RunningServer | undefined;
let api: CoreV1Api;
let kc: KubeConfig;

let makeInformer: typeof import('@kubernetes/client-node')['makeInformer'];

beforeAll(async () => {
  const k8s = await import('@kubernetes/client-node');
  makeInformer = k8s.makeInformer;
  server = await startServer({ impl: 'keelson' });
  kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'keelson', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'test' }],
    contexts: [{ name: 'keelson', cluster: 'keelson', user: 'test' }],
    currentContext: 'keelson',
  });
  api = kc.makeApiClient(k8s.CoreV1Api);
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 30_000);

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('client-node', () => {
  it('creates, reads, lists, replaces, patches and deletes', async () => {
    // Proves the generated client's CRUD calls decode our answers.
    await api.createNamespace({ body: { metadata: { name: 'cn' } } });
    const created = await api.createNamespacedConfigMap({
      namespace: 'cn',
      body: { metadata: { name: 'a' }, data: { k: 'v' } },
    });
    expect(created.metadata?.uid).toBeDefined();
    const read = await api.readNamespacedConfigMap({ namespace: 'cn', name: 'a' });
    expect(read.data).toEqual({ k: 'v' });
    const list = await api.listNamespacedConfigMap({ namespace: 'cn' });
    expect(list.items.map((i) => i.metadata?.name)).toEqual(['a']);
    const replaced = await api.replaceNamespacedConfigMap({
      namespace: 'cn',
      name: 'a',
      body: { ...read, data: { k: 'w' } },
    });
    expect(replaced.data).toEqual({ k: 'w' });
    await expect(
      api.replaceNamespacedConfigMap({ namespace: 'cn', name: 'a', body: { ...read, data: { k: 'x' } } }),
    ).rejects.toMatchObject({ code: 409 });
    await api.deleteNamespacedConfigMap({ namespace: 'cn', name: 'a' });
    await expect(api.readNamespacedConfigMap({ namespace: 'cn', name: 'a' })).rejects.toMatchObject({
      code: 404,
    });
  });

  it('an informer sees adds, updates and deletes', async () => {
    // Proves list + watch as client-node's informer does them.
    await api.createNamespace({ body: { metadata: { name: 'inf' } } });
    await api.createNamespacedConfigMap({ namespace: 'inf', body: { metadata: { name: 'pre' } } });
    const informer = makeInformer<V1ConfigMap>(kc, '/api/v1/namespaces/inf/configmaps', () =>
      api.listNamespacedConfigMap({ namespace: 'inf' }),
    );
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${o.data?.v ?? ''}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    await informer.start();
    try {
      await until('the initial add', () => seen.includes('add pre'));
      await api.createNamespacedConfigMap({
        namespace: 'inf',
        body: { metadata: { name: 'b' }, data: { v: '1' } },
      });
      await until('add b', () => seen.includes('add b'));
      const b = await api.readNamespacedConfigMap({ namespace: 'inf', name: 'b' });
      await api.replaceNamespacedConfigMap({ namespace: 'inf', name: 'b', body: { ...b, data: { v: '2' } } });
      await until('update b', () => seen.includes('update b 2'));
      await api.deleteNamespacedConfigMap({ namespace: 'inf', name: 'b' });
      await until('delete b', () => seen.includes('delete b'));
      expect(informer.list('inf').map((o) => o.metadata?.name)).toEqual(['pre']);
    } finally {
      await informer.stop();
    }
  });
});
