// ResourceQuota end to end: 50 concurrent pod creates, spread over two apiserver processes on one
// store, against a quota of 10 pods create exactly 10 (the usage charge commits in each write's txn).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiserverProcess, type RunningServer, spawnApiserver, startServer } from './server-harness.js';

let server: RunningServer | undefined;
let second: ApiserverProcess | undefined;

beforeAll(async () => {
  server = await startServer({ impl: 'keelson' });
  second = await spawnApiserver(server.cluster.endpoints, server.dir);
}, 120_000);
afterAll(async () => {
  await second?.kill();
  await server?.stop();
}, 30_000);

async function post(
  base: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('quota under concurrency', () => {
  it('50 concurrent pod creates against a quota of 10 pods create exactly 10', async () => {
    // Proves quota usage is checked and charged atomically across apiservers.
    const a = server?.url ?? '';
    const b = second?.url ?? '';
    expect((await post(a, '/api/v1/namespaces', { metadata: { name: 'quota' } })).status).toBe(201);
    // The namespace's "default" ServiceAccount comes with it (the apiserver makes it until the
    // controller-manager does): creating it again is a conflict.
    expect(
      (await post(a, '/api/v1/namespaces/quota/serviceaccounts', { metadata: { name: 'default' } })).status,
    ).toBe(409);
    const q = await post(a, '/api/v1/namespaces/quota/resourcequotas', {
      metadata: { name: 'pods' },
      spec: { hard: { pods: '10' } },
    });
    expect(q.status).toBe(201);
    const pod = (i: number) => ({
      metadata: { name: `p${i}` },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        post(i % 2 === 0 ? a : b, '/api/v1/namespaces/quota/pods', pod(i)),
      ),
    );
    const created = results.filter((r) => r.status === 201).length;
    const refused = results.filter((r) => r.status === 403);
    expect(created).toBe(10);
    expect(refused).toHaveLength(40);
    expect(String(refused[0]?.body.message)).toContain('exceeded quota: pods');
    const list = (await (await fetch(`${a}/api/v1/namespaces/quota/pods`)).json()) as { items: unknown[] };
    expect(list.items).toHaveLength(10);
  });
});
