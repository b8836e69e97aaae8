// The watch cache in real apiserver processes on a real 3-member store: fan-out to many watches,
// linearizable lists served from the cache, versions before the window served by the store, and --watch-cache=false.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../../../test/store/harness.js';
import { type ApiserverProcess, spawnApiserver } from './server-harness.js';

let cluster: Cluster | undefined;
let cached: ApiserverProcess | undefined;
let uncached: ApiserverProcess | undefined;
const dirs = [
  mkdtempSync(join(tmpdir(), 'keelson-cache-a-')),
  mkdtempSync(join(tmpdir(), 'keelson-cache-b-')),
];

beforeAll(async () => {
  cluster = await startCluster({ impl: 'keelson', size: 3, label: 'cache' });
  [cached, uncached] = await Promise.all([
    spawnApiserver(cluster.endpoints, dirs[0] as string, ['--watch-cache-sizes=configmaps#5']),
    spawnApiserver(cluster.endpoints, dirs[1] as string, ['--watch-cache=false']),
  ]);
}, 90_000);
afterAll(async () => {
  await Promise.all([cached?.kill(), uncached?.kill()]);
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}, 30_000);

function url(s: ApiserverProcess | undefined): string {
  if (s === undefined) throw new Error('the apiserver did not start (see beforeAll)');
  return s.url;
}

interface Obj {
  metadata: { name: string; resourceVersion: string };
  items?: Obj[];
  code?: number;
  reason?: string;
  message?: string;
}

async function call(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Obj };
}

interface WatchEvent {
  type: string;
  object: Obj;
}

/** A raw chunked watch: collects events until stop() or the server ends the stream. */
function openWatch(base: string, path: string) {
  const events: WatchEvent[] = [];
  let ended = false;
  let buffered = '';
  const req = request(`${base}${path}`, { agent: false }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() !== '') events.push(JSON.parse(line) as WatchEvent);
        nl = buffered.indexOf('\n');
      }
    });
    res.on('end', () => {
      ended = true;
    });
  });
  req.on('error', () => {
    ended = true;
  });
  req.end();
  return { events, ended: () => ended, stop: () => req.destroy() };
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(base: string, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(label));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const podBody = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

describe('watch cache in a real apiserver', () => {
  it('fans out: 200 concurrent watches on pods see the same ordered events, no gaps, no duplicates', async () => {
    // Proves fan-out from one store watch: every watcher's stream equals the acknowledged writes in order.
    const base = url(cached);
    const list = await call(base, 'GET', '/api/v1/namespaces/default/pods');
    const from = list.body.metadata.resourceVersion;
    const watches = Array.from({ length: 200 }, () =>
      openWatch(base, `/api/v1/namespaces/default/pods?watch=1&resourceVersion=${from}`),
    );
    await new Promise((r) => setTimeout(r, 500));
    const acked: string[] = [];
    for (let i = 0; i < 25; i++) {
      const res = await call(base, 'POST', '/api/v1/namespaces/default/pods', podBody(`fan-${i}`));
      expect(res.status).toBe(201);
      acked.push(res.body.metadata.resourceVersion);
    }
    await until(() => watches.every((w) => w.events.length >= acked.length), 20_000);
    for (const w of watches) {
      expect(w.events.map((e) => e.object.metadata.resourceVersion)).toEqual(acked);
      expect(w.events.every((e) => e.type === 'ADDED')).toBe(true);
      w.stop();
    }
    expect(
      await metric(base, 'apiserver_watch_cache_events_dispatched_total', 'resource="pods"'),
    ).toBeGreaterThanOrEqual(25);
  }, 40_000);

  it('serves list resourceVersion="" from the cache and it sees a write made just before', async () => {
    // Proves linearizable lists from the cache: each list right after a write contains it.
    const base = url(cached);
    const before = await metric(base, 'apiserver_cache_list_total', 'resource_prefix="/pods"');
    for (let i = 0; i < 5; i++) {
      const created = await call(base, 'POST', '/api/v1/namespaces/default/pods', podBody(`lin-${i}`));
      expect(created.status).toBe(201);
      const list = await call(base, 'GET', '/api/v1/namespaces/default/pods');
      const names = (list.body.items ?? []).map((p) => p.metadata.name);
      expect(names).toContain(`lin-${i}`);
      expect(Number(list.body.metadata.resourceVersion)).toBeGreaterThanOrEqual(
        Number(created.body.metadata.resourceVersion),
      );
    }
    // Writes through another apiserver (not this cache's path) are seen too.
    const other = await call(url(uncached), 'POST', '/api/v1/namespaces/default/pods', podBody('lin-other'));
    expect(other.status).toBe(201);
    const list = await call(base, 'GET', '/api/v1/namespaces/default/pods');
    expect((list.body.items ?? []).map((p) => p.metadata.name)).toContain('lin-other');
    expect(
      await metric(base, 'apiserver_cache_list_total', 'resource_prefix="/pods"'),
    ).toBeGreaterThanOrEqual(before + 6);
  }, 30_000);

  it('pages a linearizable list: first page from the cache, the rest from the store at its revision', async () => {
    // Proves cache continue tokens are the store's: pages join into the full list, in order, once each.
    const base = url(cached);
    const full = await call(base, 'GET', '/api/v1/namespaces/default/pods');
    const want = (full.body.items ?? []).map((p) => p.metadata.name);
    expect(want.length).toBeGreaterThan(10);
    const got: string[] = [];
    let cont = '';
    let rv = '';
    for (let page = 0; page < 100; page++) {
      const q = `limit=7${cont === '' ? '' : `&continue=${encodeURIComponent(cont)}`}`;
      const res = await call(base, 'GET', `/api/v1/namespaces/default/pods?${q}`);
      expect(res.status).toBe(200);
      got.push(...(res.body.items ?? []).map((p) => p.metadata.name));
      if (page === 0) rv = res.body.metadata.resourceVersion;
      else expect(res.body.metadata.resourceVersion).toBe(rv);
      cont = (res.body.metadata as { continue?: string }).continue ?? '';
      if (cont === '') break;
    }
    expect(got).toEqual(want);
  }, 20_000);

  it('serves a watch from a version older than the window from the store, which still has it', async () => {
    // Proves the window bound (configmaps#5) costs no relist: the store replays what the window lost.
    const base = url(cached);
    const first = await call(base, 'POST', '/api/v1/namespaces/default/configmaps', {
      metadata: { name: 'old-0' },
      data: {},
    });
    const old = first.body.metadata.resourceVersion;
    for (let i = 1; i < 10; i++)
      await call(base, 'POST', '/api/v1/namespaces/default/configmaps', {
        metadata: { name: `old-${i}` },
        data: {},
      });
    const w = openWatch(base, `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${old}`);
    await until(() => w.events.length >= 9, 10_000);
    w.stop();
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(
      Array.from({ length: 9 }, (_, i) => `ADDED old-${i + 1}`),
    );
  }, 20_000);

  it('with --watch-cache=false serves lists and watches from the store as before', async () => {
    // Proves the store path still works: list RV=0, a watch from an old version replays, no cache metrics.
    const base = url(uncached);
    const list = await call(base, 'GET', '/api/v1/namespaces/default/configmaps?resourceVersion=0');
    expect(list.status).toBe(200);
    const first = (list.body.items ?? []).find((c) => c.metadata.name === 'old-0');
    expect(first).toBeDefined();
    const w = openWatch(
      base,
      `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${first?.metadata.resourceVersion}`,
    );
    await until(() => w.events.length >= 9, 10_000);
    expect(w.events.slice(0, 9).map((e) => e.object.metadata.name)).toEqual(
      Array.from({ length: 9 }, (_, i) => `old-${i + 1}`),
    );
    w.stop();
    expect(await metric(base, 'apiserver_cache_list_total', 'pods')).toBe(0);
  }, 20_000);
});
