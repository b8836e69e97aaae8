// Graceful shutdown and rebalancing of one in-process apiserver on a real 1-member etcd: /readyz
// during the shutdown delay, pre-shutdown hooks, watches ended cleanly, watch timeouts from
// --min-request-timeout (drawn by the lifecycle, applied by the watch handler), and --goaway-chance's
// Connection: close.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../../../test/store/harness.js';
import {
  defaultFlags,
  LifecycleConfigError,
  type RunningApiServer,
  ServerLifecycle,
  startApiServer,
} from '../src/index.js';

const testTimeoutMs = 40_000;

let cluster: Cluster;
let dir: string;
const running: RunningApiServer[] = [];

beforeAll(async () => {
  cluster = await startCluster({ impl: 'etcd', size: 1, label: 'shutdown-unit' });
  dir = mkdtempSync(join(tmpdir(), 'keelson-shutdown-unit-'));
}, 60_000);

afterAll(async () => {
  for (const r of running) await r.stop().catch(() => undefined);
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}, 30_000);

async function startOne(): Promise<{ api: RunningApiServer; url: string }> {
  const flags = {
    ...defaultFlags(),
    etcdServers: cluster.endpoints.map((e) => `http://${e}`),
    bindAddress: '127.0.0.1',
    securePort: 0,
    insecurePort: 0,
    certDir: dir,
    authorizationModes: ['AlwaysAllow' as const],
    logLevel: 'warn',
  };
  const api = await startApiServer(flags, pino({ level: 'warn' }).child({ component: 'apiserver' }));
  running.push(api);
  return { api, url: `http://127.0.0.1:${api.server.insecurePort}` };
}

interface OpenWatch {
  headers: Headers;
  lines: string[];
  /** Resolves with how the stream ended: 'clean' (the chunked body finished) or the error's message. */
  ended: Promise<string>;
  endedAtMs: () => number | undefined;
}

/** A client-go-like reader of one watch stream. */
async function openWatch(url: string): Promise<OpenWatch> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const lines: string[] = [];
  let endedAt: number | undefined;
  const decoder = new TextDecoder();
  const ended = (async () => {
    let buffered = '';
    try {
      for (let i = 0; i < 100_000; i++) {
        const { done, value } = await reader.read();
        if (done) return 'clean';
        buffered += decoder.decode(value, { stream: true });
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        lines.push(...parts.filter((l) => l !== ''));
      }
      return 'too many chunks';
    } catch (err) {
      return (err as Error).message;
    } finally {
      endedAt = Date.now();
    }
  })();
  return { headers: res.headers, lines, ended, endedAtMs: () => endedAt };
}

describe('apiserver graceful shutdown (in process)', () => {
  it(
    'fails /readyz with a [-]shutdown line during the delay while serving everything else, then ends watches cleanly',
    async () => {
      // Proves: readyz fails at once, other requests and watches go on for the delay, watches end cleanly after it.
      const { api, url } = await startOne();
      const delayMs = 1_500;
      api.server.configureLifecycle({ shutdownDelayMs: delayMs, shutdownTimeoutMs: 5_000 });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const watch = await openWatch(`${url}/api/v1/namespaces/default/configmaps?watch=true`);
      expect(watch.headers.get('connection')).toBe('close');
      const startedMs = Date.now();
      const done = api.server.shutdown();
      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(500);
      expect(await ready.text()).toContain('[-]shutdown failed');
      expect((await fetch(`${url}/livez`)).status).toBe(200);
      // Writes and reads still succeed during the delay, and the open watch sees the write.
      const created = await fetch(`${url}/api/v1/namespaces/default/configmaps`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'during-delay' } }),
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('connection')).toBe('close');
      const list = await fetch(`${url}/api/v1/namespaces/default/configmaps`);
      expect(list.status).toBe(200);
      expect(watch.endedAtMs()).toBeUndefined();
      const result = await done;
      expect(await watch.ended).toBe('clean');
      expect(watch.endedAtMs() ?? 0).toBeGreaterThanOrEqual(startedMs + delayMs - 50);
      expect(watch.lines.some((l) => l.includes('"during-delay"'))).toBe(true);
      expect(result.watchesEnded).toBe(1);
      expect(result.requestsLeft).toBe(0);
      expect(result.durationMs).toBeLessThan(delayMs + 1_000);
      // Not accepting any more: a new connection is refused.
      await expect(fetch(`${url}/readyz`)).rejects.toThrow();
    },
    testTimeoutMs,
  );

  it(
    'ends a watch without timeoutSeconds within [N, 2N] of --min-request-timeout N, not one with timeoutSeconds',
    async () => {
      // Proves: watches are ended at a random time in [min-request-timeout, 2 × min-request-timeout].
      const { api, url } = await startOne();
      const n = 1;
      api.server.configureLifecycle({ minRequestTimeoutSeconds: n });
      const path = `${url}/api/v1/namespaces/default/configmaps?watch=true`;
      const watches = await Promise.all([openWatch(path), openWatch(path), openWatch(path)]);
      const startedMs = Date.now();
      const withTimeout = await openWatch(`${path}&timeoutSeconds=6`);
      for (const w of watches) expect(await w.ended).toBe('clean');
      for (const w of watches) {
        const lastedMs = (w.endedAtMs() ?? 0) - startedMs;
        expect(lastedMs).toBeGreaterThanOrEqual(n * 1000 - 100);
        expect(lastedMs).toBeLessThanOrEqual(2 * n * 1000 + 500);
      }
      expect(withTimeout.endedAtMs()).toBeUndefined();
      expect(api.server.openWatches).toBe(1);
    },
    testTimeoutMs,
  );

  it(
    'times watches in the watch handler from --min-request-timeout: min × (1 + random), with a last bookmark',
    async () => {
      // Proves: the configured min-request-timeout reaches the watch handler (not only a lifecycle timer).
      const { api, url } = await startOne();
      // 2 × (1 + 0.25) = 2.5 s; the handler sends its last bookmark 1 s before the end.
      api.server.configureLifecycle({ minRequestTimeoutSeconds: 2, random: () => 0.25 });
      const path = `${url}/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true`;
      const startedMs = Date.now();
      // timeoutSeconds=0 means no timeout given, as in kube: it gets the drawn one, not an instant end.
      const [plain, zero] = await Promise.all([openWatch(path), openWatch(`${path}&timeoutSeconds=0`)]);
      for (const w of [plain, zero]) {
        expect(await w.ended).toBe('clean');
        const lastedMs = (w.endedAtMs() ?? 0) - startedMs;
        expect(lastedMs).toBeGreaterThanOrEqual(2_400);
        expect(lastedMs).toBeLessThan(3_200);
        // Only the watch handler sends bookmarks: its timeout was the configured one, not 1800 s.
        expect(w.lines.some((l) => l.includes('"type":"BOOKMARK"'))).toBe(true);
      }
    },
    testTimeoutMs,
  );

  it(
    'runs pre-shutdown hooks as shutdown begins, while still serving, and survives a failing one',
    async () => {
      // Proves: hooks (the endpoint reconciler's RemoveEndpoints) run at ShutdownInitiated; a throw does not stop shutdown.
      const { api, url } = await startOne();
      api.server.configureLifecycle({ shutdownDelayMs: 600, shutdownTimeoutMs: 1_000 });
      let hookRanAtMs: number | undefined;
      let readyzDuringHook: number | undefined;
      api.server.addPreShutdownHook('probe', async () => {
        hookRanAtMs = Date.now();
        readyzDuringHook = (await fetch(`${url}/readyz`)).status;
      });
      api.server.addPreShutdownHook('broken', async () => {
        throw new Error('hook failed on purpose');
      });
      expect(() => api.server.addPreShutdownHook('probe', async () => {})).toThrow(/registered twice/);
      const startedMs = Date.now();
      const result = await api.server.shutdown();
      expect((hookRanAtMs ?? Number.POSITIVE_INFINITY) - startedMs).toBeLessThan(300);
      expect(readyzDuringHook).toBe(500);
      expect(result.durationMs).toBeLessThan(2_000);
    },
    testTimeoutMs,
  );

  it('draws watch timeouts in [min, 2 × min) from the injected random', () => {
    // Proves: watchTimeoutSeconds follows kube's formula and rejects a random outside [0, 1).
    const logger = pino({ level: 'silent' });
    const lifecycle = new ServerLifecycle({ minRequestTimeoutSeconds: 10, random: () => 0 }, logger);
    expect(lifecycle.watchTimeoutSeconds()).toBe(10);
    lifecycle.configure({ random: () => 0.999 });
    expect(lifecycle.watchTimeoutSeconds()).toBeCloseTo(19.99);
    lifecycle.configure({ random: () => 1 });
    expect(() => lifecycle.watchTimeoutSeconds()).toThrow(/assertion failed/);
  });

  it(
    'lets kubectl get -w exit when the apiserver shuts down',
    async () => {
      // Proves: a watch ended by shutdown is a clean end of stream to kubectl, which exits 0 as it does on a timeout.
      const { api, url } = await startOne();
      api.server.configureLifecycle({ shutdownDelayMs: 500, shutdownTimeoutMs: 2_000 });
      await fetch(`${url}/api/v1/namespaces/default/configmaps`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubectl-watched' } }),
      });
      const home = mkdtempSync(join(dir, 'home-'));
      const child = spawn('kubectl', [`--server=${url}`, '-n', 'default', 'get', 'configmaps', '-w'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HOME: home, KUBECONFIG: join(home, 'none') },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      try {
        for (let i = 0; i < 150 && !out.includes('kubectl-watched'); i++)
          await new Promise((r) => setTimeout(r, 100));
        expect(out).toContain('kubectl-watched');
        await api.server.shutdown();
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 5_000))]);
        expect(code, err).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
    testTimeoutMs,
  );

  it(
    'closes connections on --goaway-chance of non-watch responses only',
    async () => {
      // Proves: goaway sends Connection: close by chance on ordinary requests; watches always close theirs.
      const { api, url } = await startOne();
      api.server.configureLifecycle({ goawayChance: 0.02, random: () => 0.01 });
      expect((await fetch(`${url}/api/v1/namespaces`)).headers.get('connection')).toBe('close');
      api.server.configureLifecycle({ goawayChance: 0.02, random: () => 0.5 });
      expect((await fetch(`${url}/api/v1/namespaces`)).headers.get('connection')).toBe('keep-alive');
      api.server.configureLifecycle({ goawayChance: 0 });
      expect((await fetch(`${url}/api/v1/namespaces`)).headers.get('connection')).toBe('keep-alive');
    },
    testTimeoutMs,
  );

  it('rejects a goaway chance above kube-apiserver bound of 0.02', () => {
    // Proves: the lifecycle options are validated as kube validates its flags.
    const logger = pino({ level: 'silent' });
    expect(() => new ServerLifecycle({ goawayChance: 0.03 }, logger)).toThrow(LifecycleConfigError);
    expect(() => new ServerLifecycle({ minRequestTimeoutSeconds: 0 }, logger)).toThrow(LifecycleConfigError);
    expect(() => new ServerLifecycle({ goawayChance: 0.02 }, logger)).not.toThrow();
  });
});
