// Graceful shutdown through a real load balancer: a store, two `keelson apiserver` processes and a
// `keelson lb` in front of them; clients write, read and watch through the balancer while one
// apiserver gets SIGTERM. Kills only the PIDs it started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cluster,
  freePorts,
  sleep,
  startCluster,
  waitFor,
  within,
} from '../../../test/store/harness.js';
import { type LbProcess, spawnLb } from '../../lb/test/process.js';
import { type ApiserverProcess, spawnApiserver } from './server-harness.js';

const shutdownDelayMs = 2_000;
const shutdownTimeoutMs = 10_000;
/** The bound on SIGTERM → exit: the delay, the drain's bound, and the CLI's final teardown. */
const exitBoundMs = shutdownDelayMs + shutdownTimeoutMs + 2_000;
const testTimeoutMs = 90_000;
const apiserverFlags = [
  `--shutdown-delay-duration=${shutdownDelayMs}ms`,
  `--shutdown-timeout=${shutdownTimeoutMs / 1000}s`,
  '--log-level=info',
];

let cluster: Cluster;
let dir: string;
const apiservers: ApiserverProcess[] = [];
let lb: LbProcess | undefined;

beforeAll(async () => {
  cluster = await startCluster({ impl: 'etcd', size: 1, label: 'shutdown-lb' });
  dir = mkdtempSync(join(tmpdir(), 'keelson-shutdown-lb-'));
}, 60_000);

afterAll(async () => {
  lb?.kill();
  for (const a of apiservers) await a.kill().catch(() => undefined);
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}, 30_000);

async function startApiserver(name: string, extraFlags: string[] = []): Promise<ApiserverProcess> {
  const certDir = join(dir, name);
  const a = await spawnApiserver(cluster.endpoints, certDir, [...apiserverFlags, ...extraFlags]);
  apiservers.push(a);
  return a;
}

function exitOf(a: ApiserverProcess): Promise<{ code: number | null; signal: string | null }> {
  if (a.proc.exitCode !== null || a.proc.signalCode !== null)
    return Promise.resolve({ code: a.proc.exitCode, signal: a.proc.signalCode });
  // 'close' comes after the child's stdio has been read to its end, so its logs are complete.
  return new Promise((resolve) => a.proc.once('close', (code, signal) => resolve({ code, signal })));
}

async function registeredWatchers(a: ApiserverProcess): Promise<number> {
  const text = await (await fetch(`${a.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('apiserver_registered_watchers{')) total += Number(line.split(' ').pop());
  return total;
}

interface WatchEvent {
  type: string;
  name: string;
  rv: number;
}

/** A 410 Expired ERROR event: the reflector re-lists. */
class ExpiredError extends Error {}

/**
 * A client-go-like watcher: lists, then watches from the list's resourceVersion and, whenever the
 * stream ends, re-watches from the last resourceVersion it saw (bookmarks included). A failed
 * attempt (no response) is counted and retried after a short backoff; a 410 re-lists, as the
 * reflector does (the listed objects are kept, to check that no write went unseen).
 */
class Watcher {
  readonly events: WatchEvent[] = [];
  /** Objects (name, resourceVersion) of every re-list after a 410. */
  readonly relisted: WatchEvent[] = [];
  failedAttempts = 0;
  relists = 0;
  cleanEnds = 0;
  private lastRv = 0;
  private stopped = false;
  private controller: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly base: string) {}

  async start(): Promise<void> {
    await this.list();
    this.loop = this.run();
  }

  private async list(): Promise<WatchEvent[]> {
    const list = await fetch(`${this.base}/api/v1/namespaces/default/configmaps`);
    if (list.status !== 200) throw new Error(`list answered ${list.status}`);
    const body = (await list.json()) as {
      metadata: { resourceVersion: string };
      items: { metadata: { name: string; resourceVersion: string } }[];
    };
    this.lastRv = Number(body.metadata.resourceVersion);
    return body.items.map((i) => ({
      type: 'LISTED',
      name: i.metadata.name,
      rv: Number(i.metadata.resourceVersion),
    }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller?.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let attempt = 0; attempt < 1_000 && !this.stopped; attempt++) {
      try {
        await this.watchOnce();
        if (!this.stopped) this.cleanEnds++;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof ExpiredError) {
          console.error(`watcher: ${err.message}: re-listing`);
          this.relists++;
          this.relisted.push(...(await this.list()));
          continue;
        }
        this.failedAttempts++;
        console.error(`watcher: attempt failed: ${(err as Error).message}`);
        await sleep(100);
      }
    }
  }

  private async watchOnce(): Promise<void> {
    this.controller = new AbortController();
    const url =
      `${this.base}/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true` +
      `&resourceVersion=${this.lastRv}`;
    const res = await fetch(url, { signal: this.controller.signal });
    if (res.status !== 200) throw new Error(`watch answered ${res.status}`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (let i = 0; i < 1_000_000; i++) {
      const { done, value } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line !== '') this.onEvent(JSON.parse(line));
    }
  }

  private onEvent(e: {
    type: string;
    object: { metadata: { name?: string; resourceVersion: string } };
  }): void {
    if (e.type === 'ERROR') {
      const status = e.object as unknown as { code?: number; message?: string };
      if (status.code === 410) throw new ExpiredError(`410: ${status.message}`);
      throw new Error(`watch ERROR event: ${JSON.stringify(e.object)}`);
    }
    const rv = Number(e.object.metadata.resourceVersion);
    if (e.type !== 'BOOKMARK') this.events.push({ type: e.type, name: e.object.metadata.name ?? '', rv });
    this.lastRv = Math.max(this.lastRv, rv);
  }
}

/** Requests in a loop through the balancer; counts failures (a network error or a 5xx). */
class RequestLoop {
  ok = 0;
  readonly failures: string[] = [];
  readonly written: { name: string; rv: number }[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly base: string,
    private readonly kind: 'write' | 'read',
    private readonly namePrefix = 'cm',
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let i = 0; i < 100_000 && !this.stopped; i++) {
      try {
        if (this.kind === 'write') await this.writeOne(i);
        else await this.readOne();
        this.ok++;
      } catch (err) {
        this.failures.push((err as Error).message);
      }
      await sleep(10);
    }
  }

  private async writeOne(i: number): Promise<void> {
    const name = `${this.namePrefix}-${i}`;
    const res = await fetch(`${this.base}/api/v1/namespaces/default/configmaps`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name },
        data: { i: String(i) },
      }),
    });
    if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
    const obj = (await res.json()) as { metadata: { resourceVersion: string } };
    this.written.push({ name, rv: Number(obj.metadata.resourceVersion) });
  }

  private async readOne(): Promise<void> {
    const res = await fetch(`${this.base}/api/v1/namespaces/default/configmaps?limit=5`);
    if (res.status !== 200) throw new Error(`list: ${res.status}`);
    await res.arrayBuffer();
  }
}

describe('apiserver graceful shutdown behind keelson lb', () => {
  it(
    'moves watches and requests to the other apiserver without a failed request, a missed or a duplicated event',
    async () => {
      // Proves: SIGTERM on an apiserver behind the LB ends its watches cleanly, clients continue through the other one, it exits 0 in bound.
      const a = await startApiserver('a');
      const b = await startApiserver('b');
      const port = (u: string) => new URL(u).port;
      lb = await spawnLb([
        '--listen=127.0.0.1:0',
        `--backend=127.0.0.1:${port(a.url)}`,
        `--backend=127.0.0.1:${port(b.url)}`,
        '--health-scheme=http',
        '--health-interval-ms=500',
        '--fall=2',
        '--rise=2',
        '--log-level=warn',
      ]);
      const admin = `http://${lb.admin}`;
      await waitFor(
        'both apiservers healthy in the balancer',
        async () => {
          const backends = (await (await fetch(`${admin}/backends`)).json()) as { healthy: boolean }[];
          return backends.length === 2 && backends.every((x) => x.healthy);
        },
        15_000,
      );
      const base = `http://${lb.listen}`;
      // Watchers until at least one watches through apiserver a (round robin alternates backends).
      const watchers: Watcher[] = [];
      for (let i = 0; i < 8 && (watchers.length < 2 || (await registeredWatchers(a)) === 0); i++) {
        const w = new Watcher(base);
        await w.start();
        watchers.push(w);
        await sleep(200);
      }
      const watchersOnA = await registeredWatchers(a);
      expect(watchersOnA).toBeGreaterThan(0);
      const writer = new RequestLoop(base, 'write');
      const reader = new RequestLoop(base, 'read');
      writer.start();
      reader.start();
      await sleep(1_000);

      const sigtermAtMs = Date.now();
      a.proc.kill('SIGTERM');
      const exit = await within(exitOf(a), exitBoundMs + 5_000, 'apiserver a exiting');
      const exitedAfterMs = Date.now() - sigtermAtMs;
      // Keep the clients going on apiserver b for a while after the switch.
      await sleep(1_500);
      await writer.stop();
      await reader.stop();

      const lastRv = Math.max(...writer.written.map((w) => w.rv));
      await waitFor(
        'every watcher to see the last write',
        () => watchers.every((w) => w.events.some((e) => e.rv >= lastRv)),
        10_000,
      );
      for (const w of watchers) await w.stop();

      const logs = a.logs();
      console.log(
        `a exited ${JSON.stringify(exit)} ${exitedAfterMs} ms after SIGTERM; writes ${writer.ok} ` +
          `(failed ${writer.failures.length}), reads ${reader.ok} (failed ${reader.failures.length}); ` +
          `watchers ${watchers.length} (on a: ${watchersOnA}), clean ends ${watchers.map((w) => w.cleanEnds)}, ` +
          `failed attempts ${watchers.map((w) => w.failedAttempts)}`,
      );
      expect(exit).toEqual({ code: 0, signal: null });
      expect(exitedAfterMs).toBeGreaterThanOrEqual(shutdownDelayMs);
      expect(exitedAfterMs).toBeLessThan(exitBoundMs);
      for (const phase of [
        'ShutdownInitiated',
        'AfterShutdownDelayDuration',
        'NotAcceptingNewRequest',
        'InFlightRequestsDrained',
        'Stopped',
      ])
        expect(logs).toContain(`"phase":"${phase}"`);
      expect(logs).toContain('"component":"apiserver"');
      // Zero failures: the balancer drops a within fall × interval (~1 s) of /readyz failing, before a
      // stops accepting (2 s); every response a sends after SIGTERM closes its connection, and a
      // closes a connection only after finishing its response, so no request meets a closed socket.
      expect(writer.failures).toEqual([]);
      expect(reader.failures).toEqual([]);
      expect(writer.ok).toBeGreaterThan(20);
      const expected = writer.written.map((w) => w.rv);
      for (const w of watchers) {
        expect(w.failedAttempts).toBe(0);
        const added = w.events.filter((e) => e.type === 'ADDED').map((e) => e.rv);
        // Ordered, no duplicates, none missing: exactly the writes, in order.
        expect(added).toEqual(expected);
      }
      expect(watchers.reduce((n, w) => n + w.cleanEnds, 0)).toBeGreaterThanOrEqual(watchersOnA);
    },
    testTimeoutMs,
  );

  it(
    'spreads watchers over an apiserver that comes back, through watch timeouts, without a gap',
    async () => {
      // Proves: with --min-request-timeout N, watches end within [N, 2N] and re-watch through the LB, so a returning apiserver gets watchers.
      const [portD] = await freePorts(1);
      const rebalance = ['--min-request-timeout=1'];
      const e = await startApiserver('e', rebalance);
      const lb2 = await spawnLb([
        '--listen=127.0.0.1:0',
        `--backend=127.0.0.1:${portD}`,
        `--backend=127.0.0.1:${new URL(e.url).port}`,
        '--health-scheme=http',
        '--health-interval-ms=200',
        '--fall=2',
        '--rise=2',
        '--log-level=warn',
      ]);
      try {
        const base = `http://${lb2.listen}`;
        const watchers: Watcher[] = [];
        for (let i = 0; i < 4; i++) {
          const w = new Watcher(base);
          await w.start();
          watchers.push(w);
        }
        await waitFor('watchers on e', async () => (await registeredWatchers(e)) === 4, 10_000);
        const d = await startApiserver('d', [...rebalance, `--insecure-port=${portD}`]);
        await waitFor(
          'd healthy in the balancer',
          async () => {
            const backends = (await (await fetch(`http://${lb2.admin}/backends`)).json()) as {
              healthy: boolean;
            }[];
            return backends.every((x) => x.healthy);
          },
          10_000,
        );
        // Writes start once d serves: a watch resuming on d from a version older than d's watch
        // cache answers 410 (a gap the watch cache owns, reported separately), not what this test is about.
        const writer = new RequestLoop(base, 'write', 'rebalance');
        writer.start();
        // Within about 2N after d is healthy again, every watch has ended once and re-watched,
        // alternating between the two apiservers.
        await waitFor(
          'watchers on both apiservers',
          async () => (await registeredWatchers(d)) > 0 && (await registeredWatchers(e)) > 0,
          15_000,
        );
        await writer.stop();
        const lastRv = Math.max(...writer.written.map((w) => w.rv));
        await waitFor(
          'every watcher to see the last write',
          () => watchers.every((w) => w.events.some((ev) => ev.rv >= lastRv)),
          10_000,
        );
        for (const w of watchers) await w.stop();
        expect(writer.failures).toEqual([]);
        // Watchers reach d only by re-watching after a timeout: at least one watch ended cleanly.
        expect(watchers.reduce((n, w) => n + w.cleanEnds, 0)).toBeGreaterThan(0);
        const relists = watchers.map((w) => w.relists);
        console.log(
          `rebalance: clean ends ${watchers.map((w) => w.cleanEnds)}, relists after 410 ${relists}`,
        );
        for (const w of watchers) {
          expect(w.failedAttempts).toBe(0);
          const added = w.events.filter((ev) => ev.type === 'ADDED').map((ev) => ev.rv);
          // No duplicate and in order; none missing: every write came as an event or in a re-list.
          expect(added).toEqual([...new Set(added)].sort((x, y) => x - y));
          const seen = new Set([...added, ...w.relisted.map((ev) => ev.rv)]);
          expect(writer.written.filter((x) => !seen.has(x.rv))).toEqual([]);
          if (w.relists === 0) expect(added).toEqual(writer.written.map((x) => x.rv));
        }
      } finally {
        lb2.kill();
      }
    },
    testTimeoutMs,
  );

  it(
    'exits at once on a second SIGTERM during the shutdown delay',
    async () => {
      // Proves: a second signal during graceful shutdown ends the process without waiting for the delay.
      const c = await startApiserver('c');
      c.proc.kill('SIGTERM');
      await sleep(300);
      const second = Date.now();
      c.proc.kill('SIGTERM');
      const exit = await within(exitOf(c), 5_000, 'apiserver c exiting');
      expect(Date.now() - second).toBeLessThan(1_000);
      expect(exit, c.logs()).toEqual({ code: 1, signal: null });
      expect(c.logs()).toContain('exiting at once');
    },
    testTimeoutMs,
  );
});
