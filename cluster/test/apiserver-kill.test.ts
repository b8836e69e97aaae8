// Issue 7, done-when 2: with `keelson cluster up`'s default topology (3 store members, 2 apiservers, the
// LB), kill -9 each apiserver in turn while a writer creates, updates and deletes configmaps through
// the LB, `kubectl get -w` and a @kubernetes/client-node informer watch them, and kubectl is run right
// after each kill. Only the PIDs this file started (the cluster's components, kubectl) are signalled.
//
// What kubectl users see, found by this test and asserted in it: `kubectl get -w` does not re-watch.
// When the apiserver holding its watch dies, the LB closes the connection and kubectl exits 0 with
// nothing on stderr, as if the watch had simply ended. A user resumes without losing events with
// `kubectl get --raw '/api/v1/namespaces/<ns>/configmaps?watch=1&resourceVersion=<last seen>'`,
// which is what this test does; client-node's informer re-watches from its last resourceVersion
// itself on a clean close and, after an error, when restarted from its 'error' handler (client-node's
// documented pattern).
//
// Also found: kubectl (client-go) retries a GET after a connection reset, 1 s later, so kubectl alone
// would hide an LB that drops connections to a dead backend. The writer (client-node, which never
// retries) and the LB's own counters are what catch that here. Bounds: beforeAll 30 s + tests 45 + 15
// + 15 s + afterAll 15 s keep the whole file under 120 s; a normal run takes about 25 s.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  type ClusterIo,
  clusterDown,
  clusterPaths,
  clusterUp,
  isComponentProcess,
  lbBackends,
  planComponents,
  readLayout,
  readPidFile,
  type UpResult,
} from '@keelson/cluster';
import type { CoreV1Api, Informer, KubeConfig, ObjectCache, V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeBasePort, killLeftovers, sleep } from './harness.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainScript = join(repoRoot, 'packages/cli/dist/main.js');
const readyTimeoutMs = 20_000;
const kubectlTimeoutMs = 10_000;
const ns = 'kill-test';
const apiservers = ['apiserver-1', 'apiserver-2'] as const;
/** Pause between the writer's operations: about 25 writes/s, enough to land writes in every gap. */
const writePauseMs = 30;
const writerOpsMax = 5_000;
const writeTimeoutMs = 10_000;
const watchRestartsMax = 20;
const informerRestartDelayMs = 100;
/** How long the writer goes on after a kill, and after a restart, before the next step. */
const writeAfterKillMs = 1_500;
const writeAfterRestartMs = 1_000;
const seed = Number(process.env.KEELSON_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));

const log: string[] = [];
const io: ClusterIo = { out: (l) => log.push(l), err: (l) => log.push(l) };
let dir = '';
let up: UpResult | undefined;
const seenPids = new Set<number>();
let k8s: typeof import('@kubernetes/client-node');
let kc: KubeConfig;
let api: CoreV1Api;

// ---------------------------------------------------------------------------------------------
// Cluster plumbing (the same approach as cluster.test.ts: a random free port block below the
// ephemeral range, a temp dir, and a last-resort kill that checks each PID's command line).

function remember(result: UpResult): UpResult {
  for (const pid of Object.values(result.pids)) seenPids.add(pid);
  return result;
}

/** Whether `pid` has exited (gone, or a zombie not yet reaped): its listening socket is closed. */
function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

interface KubectlResult {
  readonly args: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly startedMs: number;
  readonly durationMs: number;
}

function kubectl(args: string[]): Promise<KubectlResult> {
  const startedMs = Date.now();
  return new Promise((resolve) => {
    execFile(
      'kubectl',
      args,
      { env: { ...process.env, KUBECONFIG: clusterPaths(dir).kubeconfig }, timeout: kubectlTimeoutMs },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ args, code, stdout, stderr, startedMs, durationMs: Date.now() - startedMs });
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------
// What the watchers saw and what the writer was told, reduced to (type, name, resourceVersion).

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface SeenEvent {
  readonly type: EventType;
  readonly name: string;
  readonly rv: number;
}

interface Ack {
  readonly type: EventType;
  readonly name: string;
  /** Undefined only for kubectl's delete, which prints no resourceVersion. */
  readonly rv: number | undefined;
  readonly by: 'writer' | 'kubectl';
}

function rvOf(obj: { metadata?: { resourceVersion?: string } } | undefined): number {
  const rv = Number(obj?.metadata?.resourceVersion);
  if (!Number.isSafeInteger(rv) || rv <= 0) throw new Error(`no resourceVersion in ${JSON.stringify(obj)}`);
  return rv;
}

/** mulberry32: a seeded generator, so a failing run's operation sequence can be replayed. */
function seededRandom(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------------
// The writer: creates, replaces (with a resourceVersion precondition) and deletes configmaps through
// the LB, one request at a time. A failed request's outcome is unknown, so that object is never
// touched again; the final LIST decides what it became.

class Writer {
  readonly acks: Ack[] = [];
  readonly failures: { atMs: number; op: string; name: string; error: string }[] = [];
  private readonly live = new Map<string, number>();
  private readonly uncertain = new Set<string>();
  private readonly random = seededRandom(seed);
  private nextId = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let i = 0; i < writerOpsMax && !this.stopped; i++) {
      await this.step();
      await sleep(writePauseMs);
    }
  }

  private async step(): Promise<void> {
    const names = [...this.live.keys()];
    const r = this.random();
    const name = names[Math.floor(this.random() * names.length)];
    if (name === undefined || names.length < 4 || r < 0.35)
      return this.attempt('ADDED', `cm-${this.nextId++}`);
    return this.attempt(r < 0.8 ? 'MODIFIED' : 'DELETED', name);
  }

  private async attempt(type: EventType, name: string): Promise<void> {
    try {
      const rv = await withTimeout(this.request(type, name), writeTimeoutMs);
      this.acks.push({ type, name, rv, by: 'writer' });
      if (type === 'DELETED') this.live.delete(name);
      else this.live.set(name, rv);
    } catch (err) {
      this.failures.push({ atMs: Date.now(), op: type, name, error: (err as Error).message });
      this.live.delete(name);
      this.uncertain.add(name);
    }
  }

  private async request(type: EventType, name: string): Promise<number> {
    if (type === 'ADDED') {
      const body = { metadata: { name }, data: { v: '0' } };
      return rvOf(await api.createNamespacedConfigMap({ namespace: ns, body }));
    }
    if (type === 'MODIFIED') {
      const rv = String(this.live.get(name));
      const body = { metadata: { name, resourceVersion: rv }, data: { v: String(this.nextId++) } };
      return rvOf(await api.replaceNamespacedConfigMap({ namespace: ns, name, body }));
    }
    // The apiserver answers a delete with the deleted object at the deletion's resourceVersion.
    return rvOf(await api.deleteNamespacedConfigMap({ namespace: ns, name }));
  }
}

// ---------------------------------------------------------------------------------------------
// The informer, restarted from its 'error' handler as client-node's README shows. It keeps its
// resourceVersion across a restart, so it re-watches from there; a relist would mean events were
// collapsed, so relists are counted.

class InformerRecorder {
  readonly events: SeenEvent[] = [];
  readonly errors: { atMs: number; error: string }[] = [];
  listCalls = 0;
  connects = 0;
  private stopped = false;
  readonly informer: Informer<V1ConfigMap> & ObjectCache<V1ConfigMap>;

  constructor() {
    this.informer = k8s.makeInformer<V1ConfigMap>(kc, `/api/v1/namespaces/${ns}/configmaps`, () => {
      this.listCalls++;
      return api.listNamespacedConfigMap({ namespace: ns });
    });
    const record = (type: EventType) => (o: V1ConfigMap) =>
      this.events.push({ type, name: o.metadata?.name ?? '?', rv: rvOf(o) });
    this.informer.on('add', record('ADDED'));
    this.informer.on('update', record('MODIFIED'));
    this.informer.on('delete', record('DELETED'));
    this.informer.on('connect', () => this.connects++);
    this.informer.on('error', (err: unknown) => {
      this.errors.push({ atMs: Date.now(), error: String((err as Error)?.message ?? err) });
      if (this.stopped || this.errors.length > watchRestartsMax) return;
      setTimeout(() => {
        if (!this.stopped) void this.informer.start().catch(() => {});
      }, informerRestartDelayMs);
    });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer.stop();
  }

  /** name → resourceVersion of the informer's cache. */
  cache(): Map<string, number> {
    return new Map(this.informer.list(ns).map((o) => [o.metadata?.name ?? '?', rvOf(o)]));
  }
}

// ---------------------------------------------------------------------------------------------
// kubectl's watch: `kubectl get -w` first; whenever a kubectl watch process ends before the test
// stops it, the watch is resumed from the last resourceVersion seen with `kubectl get --raw`.

interface WatchExit {
  readonly command: 'get -w' | 'get --raw';
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
  readonly atMs: number;
  readonly lastRv: number;
}

class KubectlWatch {
  readonly events: SeenEvent[] = [];
  readonly exits: WatchExit[] = [];
  /** Lines that were neither an event nor a bookmark (a 410 ERROR event, say). */
  readonly unexpected: string[] = [];
  private child: ChildProcess | undefined;
  private stopped = false;

  start(): void {
    const template = '{.type} {.object.metadata.name} {.object.metadata.resourceVersion}{"\\n"}';
    this.run('get -w', [
      'get',
      'configmaps',
      '-n',
      ns,
      '--watch',
      '--output-watch-events',
      '-o',
      `jsonpath=${template}`,
    ]);
  }

  lastRv(): number {
    return this.events.at(-1)?.rv ?? 0;
  }

  stop(): void {
    this.stopped = true;
    const pid = this.child?.pid;
    if (pid !== undefined && this.child?.exitCode === null) process.kill(pid, 'SIGTERM');
  }

  private run(command: WatchExit['command'], args: string[]): void {
    const child = spawn('kubectl', args, {
      env: { ...process.env, KUBECONFIG: clusterPaths(dir).kubeconfig },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    createInterface(child.stdout).on('line', (line) =>
      command === 'get -w' ? this.onTemplateLine(line) : this.onRawLine(line),
    );
    child.once('exit', (code, signal) => {
      this.exits.push({
        command,
        code,
        signal,
        stderr: stderr.trim(),
        atMs: Date.now(),
        lastRv: this.lastRv(),
      });
      if (this.stopped || this.exits.length > watchRestartsMax) return;
      const path = `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${this.lastRv()}`;
      setTimeout(() => this.stopped || this.run('get --raw', ['get', '--raw', path]), 100);
    });
  }

  private onTemplateLine(line: string): void {
    const [type, name, rv] = line.trim().split(' ');
    if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
      this.events.push({ type, name: name ?? '?', rv: Number(rv) });
    } else if (line.trim() !== '') this.unexpected.push(line);
  }

  private onRawLine(line: string): void {
    if (line.trim() === '') return;
    try {
      const e = JSON.parse(line) as {
        type?: string;
        object?: { metadata?: { name?: string; resourceVersion?: string } };
      };
      if (e.type === 'BOOKMARK') return;
      if (e.type === 'ADDED' || e.type === 'MODIFIED' || e.type === 'DELETED') {
        this.events.push({ type: e.type, name: e.object?.metadata?.name ?? '?', rv: rvOf(e.object) });
        return;
      }
    } catch {
      // Recorded below: a line cut by the kill, or not JSON at all.
    }
    this.unexpected.push(line);
  }
}

// ---------------------------------------------------------------------------------------------
// One kill: SIGKILL the apiserver, wait until it is gone, then run kubectl at once.

interface KillReport {
  readonly apiserver: string;
  readonly killedAtMs: number;
  readonly goneAfterMs: number;
  /** When the LB's /backends first showed it unhealthy (-1: not within the bound). */
  readonly detectedAfterMs: number;
  readonly kubectl: KubectlResult[];
  /** Connections the LB sent to the dead apiserver and moved to the other one. */
  readonly movedConnections: number;
  /** Client connections the LB closed for want of a backend. */
  readonly droppedConnections: number;
  readonly restartedAfterMs: number;
}

interface LbCounters {
  /** keelson_lb_backend_connect_failures_total by backend address. */
  readonly connectFailures: ReadonlyMap<string, number>;
  /** keelson_lb_connections_refused_total{reason="no_backend"}. */
  readonly noBackend: number;
}

async function lbCounters(): Promise<LbCounters> {
  const adminPort = readLayout(dir)?.lb.adminPort ?? 0;
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const connectFailures = new Map<string, number>();
  for (const m of text.matchAll(/^keelson_lb_backend_connect_failures_total\{backend="([^"]+)"\} (\d+)/gm)) {
    connectFailures.set(m[1] as string, Number(m[2]));
  }
  const noBackend = /^keelson_lb_connections_refused_total\{reason="no_backend"\} (\d+)/m.exec(text)?.[1];
  return { connectFailures, noBackend: Number(noBackend ?? 0) };
}

function apiserverAddress(name: string): string {
  const a = readLayout(dir)?.apiservers.find((s) => s.name === name);
  return `127.0.0.1:${a?.securePort ?? 0}`;
}

/** Polls the LB's /backends until `address` is marked unhealthy; the time since `sinceMs`, or -1. */
async function detection(address: string, sinceMs: number): Promise<number> {
  const adminPort = readLayout(dir)?.lb.adminPort ?? 0;
  for (let i = 0; i < 100; i++) {
    const backends = await lbBackends(adminPort);
    if (backends?.some((b) => b.address === address && !b.healthy)) return Date.now() - sinceMs;
    await sleep(25);
  }
  return -1;
}

/** One round: kill -9, kubectl at once, writes go on, then `up` restarts it and the LB takes it back. */
async function killAndRestart(round: number, name: string, acks: Ack[]): Promise<KillReport> {
  const address = apiserverAddress(name);
  const before = await lbCounters();
  const { killedAtMs, goneAfterMs } = await killApiserver(name);
  const detected = detection(address, killedAtMs);
  const results = await kubectlAfterKill(round, acks);
  const after = await lbCounters();
  const detectedAfterMs = await detected;
  await sleep(writeAfterKillMs);
  const t0 = Date.now();
  await restartAndRejoin(name);
  return {
    apiserver: name,
    killedAtMs,
    goneAfterMs,
    detectedAfterMs,
    kubectl: results,
    movedConnections: (after.connectFailures.get(address) ?? 0) - (before.connectFailures.get(address) ?? 0),
    droppedConnections: after.noBackend - before.noBackend,
    restartedAfterMs: Date.now() - t0,
  };
}

async function killApiserver(name: string): Promise<{ killedAtMs: number; goneAfterMs: number }> {
  const layout = readLayout(dir) ?? expect.fail('no cluster.json');
  const plan = planComponents(clusterPaths(dir), layout).find((p) => p.name === name);
  const pid = plan === undefined ? null : readPidFile(plan.pidFile);
  expect(pid !== null && plan !== undefined && isComponentProcess(pid, plan), `${name} runs`).toBe(true);
  const killedAtMs = Date.now();
  process.kill(pid as number, 'SIGKILL');
  await until(`${name} (pid ${pid}) to exit`, () => processGone(pid as number), 5_000);
  return { killedAtMs, goneAfterMs: Date.now() - killedAtMs };
}

/** kubectl right after a kill: reads, and a create/get/delete in the watched namespace. */
async function kubectlAfterKill(round: number, acks: Ack[]): Promise<KubectlResult[]> {
  const name = `kubectl-${round}`;
  const results: KubectlResult[] = [];
  const run = async (args: string[]): Promise<KubectlResult> => {
    const r = await kubectl(args);
    results.push(r);
    return r;
  };
  await run(['get', 'namespaces', '-o', 'name']);
  const created = await run([
    ...['create', 'configmap', name, '-n', ns, '--from-literal=k=v'],
    ...['-o', 'jsonpath={.metadata.resourceVersion}'],
  ]);
  if (created.code === 0) acks.push({ type: 'ADDED', name, rv: Number(created.stdout), by: 'kubectl' });
  await run(['get', 'configmap', name, '-n', ns, '-o', 'jsonpath={.metadata.resourceVersion}']);
  const deleted = await run(['delete', 'configmap', name, '-n', ns, '--wait=false']);
  if (deleted.code === 0) acks.push({ type: 'DELETED', name, rv: undefined, by: 'kubectl' });
  await run(['get', 'configmaps', '-n', ns, '-o', 'name']);
  return results;
}

/** `up` again restarts what is down; then the LB must have put it back in rotation. */
async function restartAndRejoin(name: string): Promise<void> {
  const again = remember(await clusterUp({ dir, mainScript, readyTimeoutMs }, io));
  expect(again.started).toEqual([name]);
  const adminPort = readLayout(dir)?.lb.adminPort ?? 0;
  await until(
    `the LB to report both apiservers healthy after restarting ${name}`,
    async () => (await lbBackends(adminPort))?.every((b) => b.healthy) === true,
    10_000,
  );
}

// ---------------------------------------------------------------------------------------------

/** One line per kill and per watcher, for the log of a run (passing or not). */
function summary(): string {
  const lines = [`seed ${seed}`];
  for (const k of kills) {
    const slowestMs = Math.max(...k.kubectl.map((r) => r.durationMs));
    lines.push(
      `${k.apiserver}: gone after ${k.goneAfterMs} ms, out of the LB after ${k.detectedAfterMs} ms; ` +
        `${k.kubectl.filter((r) => r.code === 0).length}/${k.kubectl.length} kubectl ok (slowest ` +
        `${slowestMs} ms); LB moved ${k.movedConnections} connections, dropped ${k.droppedConnections}; ` +
        `back in rotation ${k.restartedAfterMs} ms after the restart began`,
    );
  }
  lines.push(
    `writer: ${writer?.acks.length ?? 0} acknowledged, failures ${JSON.stringify(writer?.failures ?? [])}`,
    `informer: ${informer?.events.length ?? 0} events, ${informer?.listCalls ?? 0} lists, ` +
      `${informer?.connects ?? 0} watches, errors ${JSON.stringify(informer?.errors ?? [])}`,
    `kubectl watch: ${watch?.events.length ?? 0} events, exits ${JSON.stringify(watch?.exits ?? [])}`,
  );
  return lines.join('\n');
}

const kills: KillReport[] = [];
let writer: Writer | undefined;
let informer: InformerRecorder | undefined;
let watch: KubectlWatch | undefined;

beforeAll(async () => {
  if (!existsSync(join(repoRoot, 'packages/cli/dist/lb.js'))) {
    throw new Error(`${mainScript} (with \`keelson lb\`) is missing: run \`npm run build\` first`);
  }
  k8s = await import('@kubernetes/client-node');
  dir = mkdtempSync(join(tmpdir(), 'keelson-kill-'));
  const basePort = await freeBasePort();
  try {
    up = remember(await clusterUp({ dir, basePort, mainScript, readyTimeoutMs }, io));
  } catch (err) {
    console.error(log.join('\n'));
    throw err;
  }
  kc = new k8s.KubeConfig();
  kc.loadFromFile(up.kubeconfig);
  api = kc.makeApiClient(k8s.CoreV1Api);
}, 30_000);

afterAll(async () => {
  console.info(summary());
  watch?.stop();
  await informer?.stop();
  await writer?.stop();
  if (dir === '') return;
  try {
    await clusterDown({ dir, graceMs: 3000 }, io);
  } catch (err) {
    console.error(`cluster down failed: ${(err as Error).message}`);
  }
  killLeftovers(dir, seenPids);
  if (process.env.KEEP_CLUSTER_DIRS === undefined) rmSync(dir, { recursive: true, force: true });
}, 15_000);

describe('kill -9 of either apiserver behind the LB', () => {
  it('kubectl run right after each kill succeeds while the writer keeps writing', async () => {
    // Proves the LB moves connections past a dead apiserver at once: kubectl and every write not in flight succeed.
    expect((await kubectl(['create', 'namespace', ns])).stderr).toBe('');
    const marker = await kubectl(['create', 'configmap', 'marker', '-n', ns, '-o', 'name']);
    expect(marker.stderr).toBe('');
    informer = new InformerRecorder();
    await informer.start();
    watch = new KubectlWatch();
    watch.start();
    // Both watchers hold the marker (from their LIST) before the first write: nothing after is missed.
    await until(
      'the informer and kubectl get -w to list the marker',
      () =>
        informer?.events.some((e) => e.name === 'marker') === true &&
        watch?.events.some((e) => e.name === 'marker') === true,
      10_000,
    );
    writer = new Writer();
    writer.start();
    await sleep(writeAfterRestartMs);
    for (const [round, name] of apiservers.entries()) {
      kills.push(await killAndRestart(round, name, writer.acks));
      await sleep(writeAfterRestartMs);
    }
    await writer.stop();
    const failed = kills.flatMap((k) => k.kubectl.filter((r) => r.code !== 0 || r.stderr !== ''));
    expect(failed, `seed ${seed}: kubectl failures after a kill`).toEqual([]);
    expect(kills.flatMap((k) => k.kubectl)).toHaveLength(10);
    // The LB met the dead apiserver before its checks caught up, moved those connections, and dropped none.
    expect(kills.reduce((n, k) => n + k.movedConnections, 0)).toBeGreaterThan(0);
    expect(kills.map((k) => k.droppedConnections)).toEqual([0, 0]);
    // Out of rotation within a second (fall 2 × 500 ms), plus slack for polling on a busy machine.
    for (const k of kills) expect(k.detectedAfterMs).toBeGreaterThanOrEqual(0);
    for (const k of kills) expect(k.detectedAfterMs).toBeLessThan(1_500);
    // The writer's one request in flight may fail at a kill; any other failure means a client was stuck.
    const stray = writer.failures.filter(
      (f) => !kills.some((k) => f.atMs >= k.killedAtMs && f.atMs < k.killedAtMs + 3_000),
    );
    expect(stray, JSON.stringify(writer.failures)).toEqual([]);
    expect(writer.failures.length, JSON.stringify(writer.failures)).toBeLessThanOrEqual(apiservers.length);
    expect(writer.acks.filter((a) => a.by === 'writer').length).toBeGreaterThan(50);
  }, 45_000);

  it('the informer missed no event and its cache equals a fresh LIST', async () => {
    // Proves client-node's informer, re-watching from its last resourceVersion, saw every acknowledged write.
    const inf = informer ?? expect.fail('the first test did not start the informer');
    const acks = writer?.acks ?? [];
    const list = await api.listNamespacedConfigMap({ namespace: ns });
    const listed = new Map(list.items.map((o) => [o.metadata?.name ?? '?', rvOf(o)]));
    const lastAckRv = Math.max(...acks.map((a) => a.rv ?? 0));
    await until(
      'the informer to reach the last acknowledged write',
      () => (inf.events.at(-1)?.rv ?? 0) >= lastAckRv,
      8_000,
    );
    await until('the informer cache to equal the LIST', () => sameMap(inf.cache(), listed), 4_000).catch(
      () => {},
    );
    expect(inf.cache()).toEqual(listed);
    expect(missing(acks, inf.events), `seed ${seed}: acknowledged writes the informer never saw`).toEqual([]);
    expect(orderViolations(inf.events)).toEqual([]);
    // A relist would have collapsed events; the informer must have resumed from its resourceVersion.
    expect(inf.listCalls).toBe(1);
    // Its watch was cut at least once (both apiservers died), so the resume path really ran.
    expect(inf.connects).toBeGreaterThanOrEqual(2);
  }, 15_000);

  it('kubectl get -w exits when its apiserver dies; resumed from its last resourceVersion it misses nothing', async () => {
    // Proves what kubectl users see (get -w ends with exit 0) and that a resume from the last RV loses no event.
    const w = watch ?? expect.fail('the first test did not start kubectl get -w');
    const inf = informer ?? expect.fail('no informer');
    const acks = writer?.acks ?? [];
    const lastRv = Math.max(...acks.map((a) => a.rv ?? 0), inf.events.at(-1)?.rv ?? 0);
    await until(
      'kubectl to reach the informer and the last acknowledged write',
      () => w.lastRv() >= lastRv,
      10_000,
    );
    w.stop();
    const first = w.exits[0] ?? expect.fail('kubectl get -w never ended although both apiservers died');
    expect(first.command).toBe('get -w');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    // It ended because an apiserver died: within a few seconds of one of the kills.
    expect(kills.some((k) => first.atMs >= k.killedAtMs && first.atMs - k.killedAtMs < 5_000)).toBe(true);
    expect(w.unexpected).toEqual([]);
    expect(missing(acks, w.events), `seed ${seed}: acknowledged writes kubectl never printed`).toEqual([]);
    expect(orderViolations(w.events)).toEqual([]);
    // Two independent watchers of one namespace must have seen the very same history.
    expect(w.events).toEqual(inf.events);
  }, 15_000);
});

function sameMap(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

/** Acknowledged writes with no matching event (same type and name, and same resourceVersion when known). */
function missing(acks: readonly Ack[], events: readonly SeenEvent[]): Ack[] {
  const seen = new Set(events.map((e) => `${e.type} ${e.name} ${e.rv}`));
  return acks.filter((a) =>
    a.rv === undefined
      ? !events.some((e) => e.type === a.type && e.name === a.name)
      : !seen.has(`${a.type} ${a.name} ${a.rv}`),
  );
}

/** Events whose resourceVersion does not increase strictly (out of order, or a duplicate). */
function orderViolations(events: readonly SeenEvent[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < events.length; i++) {
    const prev = events[i - 1] as SeenEvent;
    const e = events[i] as SeenEvent;
    if (e.rv <= prev.rv)
      out.push(`#${i} ${e.type} ${e.name}@${e.rv} after ${prev.type} ${prev.name}@${prev.rv}`);
  }
  return out;
}
