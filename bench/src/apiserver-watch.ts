// Benchmark of the apiserver's watch cache: with a 3-member Keelson store and one apiserver, the time
// from a write's acknowledgement to the last of N concurrent watchers seeing it (with and without the
// cache), and the latency of a LIST of many pods from the cache (resourceVersion=0) and from the store
// (resourceVersion="" with the cache off). Reports figures; asserts nothing. "ack → last watcher" is
// often 0: the store sends the watch event before the txn's answer, so the apiserver has fanned the
// event out before it acknowledges the write; "sent → last watcher" minus "sent → acknowledged" is then
// the comparison that tells the two apart.
//
//   node bench/dist/apiserver-watch.js [--watchers 1000] [--writes 200] [--pods 10000] [--lists 20]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchCluster } from './clusters.js';
import { LatencyHistogram, type LatencyPercentilesMs } from './histogram.js';
import { spawnKeelson } from './keelson-process.js';

export interface ApiserverWatchOptions {
  watchers: number;
  writes: number;
  pods: number;
  lists: number;
}

export interface ApiserverWatchResult {
  options: ApiserverWatchOptions;
  /** Write acknowledged → last watcher saw it, in ms (0 when every watcher saw it before the ack). */
  watchWithCache: LatencyPercentilesMs;
  watchWithoutCache: LatencyPercentilesMs;
  /** Write sent → acknowledged, in ms, while the watchers listen. */
  writeWithCache: LatencyPercentilesMs;
  writeWithoutCache: LatencyPercentilesMs;
  /** Write sent → last watcher saw it, in ms (includes the write itself). */
  watchFromSendWithCache: LatencyPercentilesMs;
  watchFromSendWithoutCache: LatencyPercentilesMs;
  listFromCacheRv0: LatencyPercentilesMs;
  listFromCacheLinearizable: LatencyPercentilesMs;
  listFromStore: LatencyPercentilesMs;
}

type Log = (line: string) => void;

const eventTimeoutMs = 30_000;
const createConcurrency = 32;

interface Apiserver {
  url: string;
  stop(): Promise<void>;
}

/** A real `keelson apiserver` process (AlwaysAllow, loopback HTTP port) with extra CLI flags. */
async function startApiserver(endpoints: string[], extraFlags: string[]): Promise<Apiserver> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-bench-apiserver-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const { child, line } = await spawnKeelson(
      [
        'apiserver',
        `--etcd-servers=${endpoints.map((e) => `http://${e}`).join(',')}`,
        '--secure-port=0',
        '--bind-address=127.0.0.1',
        '--insecure-port=0',
        `--cert-dir=${dir}`,
        '--authorization-mode=AlwaysAllow',
        '--log-level=warn',
        ...extraFlags,
      ],
      '{"securePort"',
    );
    const port = (JSON.parse(line) as { insecurePort: number }).insecurePort;
    const stop = async (): Promise<void> => {
      await child.stop();
      removeDir();
    };
    return { url: `http://127.0.0.1:${port}`, stop };
  } catch (err) {
    removeDir();
    throw err;
  }
}

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300)
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(parsed).slice(0, 300)}`);
  return parsed;
}

const rvOf = (o: Record<string, unknown>): string =>
  String((o.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? '');

const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'bench' } },
  spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }] },
});

interface Sighting {
  seen: number;
  lastMs: number;
  done?: () => void;
}

/** N raw watches; counts, per resourceVersion, how many watchers saw it and when the last one did. */
async function openWatchers(base: string, path: string, count: number) {
  const sightings = new Map<string, Sighting>();
  const requests: ReturnType<typeof request>[] = [];
  let connected = 0;
  const rvPattern = /"resourceVersion":"(\d+)"/;
  const see = (rv: string): void => {
    let s = sightings.get(rv);
    if (s === undefined) {
      s = { seen: 0, lastMs: 0 };
      sightings.set(rv, s);
    }
    s.seen++;
    s.lastMs = performance.now();
    if (s.seen === count) s.done?.();
  };
  await new Promise<void>((resolve, reject) => {
    for (let i = 0; i < count; i++) {
      const req = request(`${base}${path}`, { agent: false }, (res) => {
        if (++connected === count) resolve();
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl = buffered.indexOf('\n');
          while (nl >= 0) {
            const m = rvPattern.exec(buffered.slice(0, nl));
            if (m?.[1] !== undefined) see(m[1]);
            buffered = buffered.slice(nl + 1);
            nl = buffered.indexOf('\n');
          }
        });
      });
      req.on('error', reject);
      req.end();
      requests.push(req);
    }
  });
  return {
    sightings,
    /** Resolves with the time the last watcher saw `rv` (at once if all did already). */
    allSaw: (rv: string) =>
      new Promise<number>((resolve, reject) => {
        const s = sightings.get(rv) ?? { seen: 0, lastMs: 0 };
        sightings.set(rv, s);
        if (s.seen >= count) return resolve(s.lastMs);
        const timer = setTimeout(
          () => reject(new Error(`only ${s.seen}/${count} watchers saw ${rv}`)),
          eventTimeoutMs,
        );
        s.done = () => {
          clearTimeout(timer);
          resolve(s.lastMs);
        };
      }),
    close: () => {
      for (const r of requests) r.destroy();
    },
  };
}

/**
 * A create whose acknowledgement time is taken when the response headers arrive (fetch resolves
 * later, after watch data that arrived meanwhile has been handled).
 */
function timedCreate(base: string, path: string, body: unknown): Promise<{ ackMs: number; rv: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${path}`,
      { method: 'POST', headers: { 'Content-Type': 'application/json' } },
      (res) => {
        const ackMs = performance.now();
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          if (res.statusCode !== 201)
            reject(new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
          else resolve({ ackMs, rv: rvOf(JSON.parse(text) as Record<string, unknown>) });
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

interface WatchLatencies {
  fromAck: LatencyPercentilesMs;
  fromSend: LatencyPercentilesMs;
  write: LatencyPercentilesMs;
}

async function measureWatch(
  base: string,
  ns: string,
  o: ApiserverWatchOptions,
  log: Log,
): Promise<WatchLatencies> {
  await call(base, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
  const from = rvOf(await call(base, 'GET', `/api/v1/namespaces/${ns}/pods`));
  const watchers = await openWatchers(
    base,
    `/api/v1/namespaces/${ns}/pods?watch=1&resourceVersion=${from}`,
    o.watchers,
  );
  log(`${o.watchers} watchers connected to ${base} (namespace ${ns})`);
  const fromAck = new LatencyHistogram();
  const fromSend = new LatencyHistogram();
  const write = new LatencyHistogram();
  try {
    for (let i = 0; i < o.writes; i++) {
      const sentMs = performance.now();
      const { ackMs, rv } = await timedCreate(base, `/api/v1/namespaces/${ns}/pods`, pod(`w-${i}`));
      const lastMs = await watchers.allSaw(rv);
      fromAck.recordMs(Math.max(0, lastMs - ackMs));
      fromSend.recordMs(lastMs - sentMs);
      write.recordMs(ackMs - sentMs);
    }
  } finally {
    watchers.close();
  }
  return {
    fromAck: fromAck.percentilesMs(),
    fromSend: fromSend.percentilesMs(),
    write: write.percentilesMs(),
  };
}

async function createPods(base: string, ns: string, count: number, log: Log): Promise<void> {
  await call(base, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++)
      await call(base, 'POST', `/api/v1/namespaces/${ns}/pods`, pod(`p-${i}`));
  };
  await Promise.all(Array.from({ length: createConcurrency }, worker));
  log(`created ${count} pods in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function measureList(
  base: string,
  path: string,
  lists: number,
  expected: number,
): Promise<LatencyPercentilesMs> {
  const h = new LatencyHistogram();
  for (let i = 0; i < lists; i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}${path}`);
    const body = (await res.json()) as { items?: unknown[] };
    h.recordMs(performance.now() - t0);
    if (body.items?.length !== expected)
      throw new Error(`list ${path} returned ${body.items?.length} items, not ${expected}`);
  }
  return h.percentilesMs();
}

export async function runApiserverWatchBench(
  o: ApiserverWatchOptions,
  log: Log,
): Promise<ApiserverWatchResult> {
  const cluster = await launchCluster({ impl: 'keelson', size: 3 });
  const apiservers: Apiserver[] = [];
  try {
    const cached = await startApiserver(cluster.endpoints, []);
    apiservers.push(cached);
    const uncached = await startApiserver(cluster.endpoints, ['--watch-cache=false']);
    apiservers.push(uncached);
    log('store and apiservers (with and without the watch cache) running');
    const withCache = await measureWatch(cached.url, 'bench-cache', o, log);
    log(`watch with cache: ${JSON.stringify(withCache)}`);
    const withoutCache = await measureWatch(uncached.url, 'bench-nocache', o, log);
    log(`watch without cache: ${JSON.stringify(withoutCache)}`);
    await createPods(cached.url, 'bench-list', o.pods, log);
    const path = '/api/v1/namespaces/bench-list/pods';
    await measureList(cached.url, `${path}?resourceVersion=0`, 1, o.pods);
    await measureList(uncached.url, path, 1, o.pods);
    const listFromCacheRv0 = await measureList(cached.url, `${path}?resourceVersion=0`, o.lists, o.pods);
    const listFromCacheLinearizable = await measureList(cached.url, path, o.lists, o.pods);
    const listFromStore = await measureList(uncached.url, path, o.lists, o.pods);
    return {
      options: o,
      watchWithCache: withCache.fromAck,
      watchWithoutCache: withoutCache.fromAck,
      watchFromSendWithCache: withCache.fromSend,
      watchFromSendWithoutCache: withoutCache.fromSend,
      writeWithCache: withCache.write,
      writeWithoutCache: withoutCache.write,
      listFromCacheRv0,
      listFromCacheLinearizable,
      listFromStore,
    };
  } finally {
    for (const a of apiservers) await a.stop();
    await cluster.stop();
  }
}

export function formatApiserverWatch(r: ApiserverWatchResult): string {
  const row = (name: string, p: LatencyPercentilesMs) =>
    `| ${name} | ${p.p50.toFixed(1)} | ${p.p99.toFixed(1)} | ${p.max.toFixed(1)} |`;
  const o = r.options;
  return [
    '| measurement (ms) | p50 | p99 | max |',
    '|---|---|---|---|',
    row(`write ack → last of ${o.watchers} watchers, watch cache on (${o.writes} writes)`, r.watchWithCache),
    row(`write ack → last of ${o.watchers} watchers, --watch-cache=false`, r.watchWithoutCache),
    row(`write sent → last of ${o.watchers} watchers, watch cache on`, r.watchFromSendWithCache),
    row(`write sent → last of ${o.watchers} watchers, --watch-cache=false`, r.watchFromSendWithoutCache),
    row(`write sent → acknowledged, watch cache on`, r.writeWithCache),
    row(`write sent → acknowledged, --watch-cache=false`, r.writeWithoutCache),
    row(`LIST ${o.pods} pods, RV=0 from the cache (${o.lists} lists)`, r.listFromCacheRv0),
    row(`LIST ${o.pods} pods, RV="" from the cache (linearizable)`, r.listFromCacheLinearizable),
    row(`LIST ${o.pods} pods, RV="" from the store (--watch-cache=false)`, r.listFromStore),
  ].join('\n');
}

export function parseApiserverWatchArgs(argv: string[]): ApiserverWatchOptions {
  const o: ApiserverWatchOptions = { watchers: 1_000, writes: 200, pods: 10_000, lists: 20 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '') as keyof ApiserverWatchOptions;
    const value = Number(argv[i + 1]);
    if (!(name in o) || !Number.isSafeInteger(value) || value <= 0)
      throw new Error(
        `usage: apiserver-watch [--watchers N] [--writes N] [--pods N] [--lists N] (bad: ${argv[i]})`,
      );
    o[name] = value;
  }
  return o;
}

async function main(): Promise<void> {
  const startedMs = performance.now();
  const log: Log = (line) =>
    process.stderr.write(`[${((performance.now() - startedMs) / 1000).toFixed(0).padStart(5)}s] ${line}\n`);
  const o = parseApiserverWatchArgs(process.argv.slice(2));
  const result = await runApiserverWatchBench(o, log);
  const table = formatApiserverWatch(result);
  process.stdout.write(`${table}\n`);
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/:/g, '')
    .replace(/\.\d+Z$/, 'Z');
  writeFileSync(join(dir, `apiserver-watch-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(
        `bench:apiserver-watch failed: ${err instanceof Error ? err.stack : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
