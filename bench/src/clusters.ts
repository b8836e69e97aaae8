// Launches a 3-member store cluster for the benchmarks — Keelson's `store` command or etcd 3.4 itself —
// on loopback with free ports and a temp dir, both with exactly etcd's flag names and, unless the caller
// says otherwise, each implementation's own default timings (a fair race leaves the defaults alone).
// It knows the PIDs it started, so failover benchmarks can kill -9 the leader; it kills only those, also
// when the process exits or is interrupted.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdClient, MEMBER_NODE_FLAGS } from '@keelson/store';

export type BenchImpl = 'keelson' | 'etcd';
export type BenchSignal = 'SIGKILL' | 'SIGTERM';

export interface LaunchOptions {
  impl: BenchImpl;
  /** Members; 3 unless given (1..7). */
  size?: number;
  /** Parent of the cluster's temp dir (os.tmpdir() unless given). */
  dir?: string;
  /** --heartbeat-interval; the implementation's default unless given. */
  heartbeatMs?: number;
  /** --election-timeout; the implementation's default unless given. */
  electionMs?: number;
  extraFlags?: string[];
  /** How long launchCluster waits for every member to be healthy (default 45 s). */
  startTimeoutMs?: number;
}

export interface BenchCluster {
  readonly impl: BenchImpl;
  readonly dir: string;
  /** Client endpoints by member index ("127.0.0.1:port"). */
  readonly endpoints: string[];
  /** PID of each member's current process, undefined while it is down. */
  readonly pids: Array<number | undefined>;
  isRunning(i: number): boolean;
  /** Sends `signal` (SIGKILL unless given) to member i and waits (bounded) until it has exited. */
  kill(i: number, signal?: BenchSignal): Promise<void>;
  /** Starts member i again on the same data dir (stopping it first if it runs) and waits until it serves. */
  restart(i: number): Promise<void>;
  /** The index of the member every running member names as leader, or -1 when they do not agree. */
  leaderIndex(): Promise<number>;
  /** Waits (bounded) until the running members agree on a leader; returns its index. */
  waitLeader(timeoutMs?: number): Promise<number>;
  /** Member i's id as a decimal string (as EtcdClient reports ids). */
  memberId(i: number): Promise<string>;
  /** Resolves once every running member answers a linearizable get (a read through the leader). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  logTail(i: number, lines?: number): string;
  /** Kills every member it started and removes the temp dir (kept when KEEP_BENCH_DIRS is set). */
  stop(): Promise<void>;
}

interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logPath: string;
  proc: ChildProcess | undefined;
  lastExit: string | undefined;
  /** Learned once from Maintenance Status; a member keeps its id across restarts on the same data dir. */
  id: string | undefined;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const keelsonMain = join(repoRoot, 'packages/cli/dist/main.js');
export const etcdBin = '/usr/bin/etcd';
const exitWaitMs = 10_000;
const serveWaitMs = 30_000;
const healthyWaitMsDefault = 45_000;
const pollMs = 100;
const sizeMax = 7;

/** Every PID any cluster in this process started, so that an exiting or interrupted run still reaps them. */
const startedPids = new Set<number>();
let reaperInstalled = false;

function reapAll(): void {
  for (const pid of startedPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  startedPids.clear();
}

function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', reapAll);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      reapAll();
      process.exit(code);
    });
  }
}

/** Ports this process has handed out, oldest first; none is handed out again while it is listed. */
const handedOut = new Set<number>();
const handedOutMax = 4096;

/**
 * Reserves `count` distinct free loopback ports by holding listeners on port 0 until all are known. A
 * port an earlier call returned is skipped (its listener stays bound meanwhile, so the kernel offers
 * another): two calls in a row could otherwise return the same port, since the first caller may not
 * have bound it yet.
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    // Bounded: at most count + 256 listeners, each a fresh port while the others are held.
    for (let tries = 0; ports.length < count; tries++) {
      if (tries >= count + 256) throw new Error(`no ${count} free loopback ports in ${tries} tries`);
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      held.push(server);
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('listener has no port');
      if (!handedOut.has(address.port)) ports.push(address.port);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  for (const port of ports) {
    handedOut.add(port);
    if (handedOut.size > handedOutMax) handedOut.delete(handedOut.values().next().value as number);
  }
  return ports;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true; throws naming `what` (and the last error) after timeoutMs. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = pollMs,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (performance.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
}

/** Fails with what to do when the binary a cluster needs is missing. */
export function assertImplPresent(impl: BenchImpl): void {
  if (impl === 'etcd' && !existsSync(etcdBin)) {
    throw new Error(`${etcdBin} is missing: install it with \`apt-get install etcd-server\``);
  }
  if (impl === 'keelson' && !existsSync(keelsonMain)) {
    throw new Error(`${keelsonMain} is missing: run \`npm run build\` first`);
  }
}

function memberFlags(m: Member, initialCluster: string, token: string, o: LaunchOptions): string[] {
  const clientUrl = `http://127.0.0.1:${m.clientPort}`;
  const peerUrl = `http://127.0.0.1:${m.peerPort}`;
  const timings = [
    ...(o.heartbeatMs === undefined ? [] : ['--heartbeat-interval', String(o.heartbeatMs)]),
    ...(o.electionMs === undefined ? [] : ['--election-timeout', String(o.electionMs)]),
  ];
  return [
    '--name',
    m.name,
    '--data-dir',
    m.dataDir,
    '--listen-client-urls',
    clientUrl,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    initialCluster,
    '--initial-cluster-state',
    'new',
    '--initial-cluster-token',
    token,
    ...timings,
    ...(o.extraFlags ?? []),
  ];
}

function tailOf(path: string, lines: number): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8')
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

/** One single-endpoint client per call, so that an answer is known to come from that member. */
async function withClient<T>(endpoint: string, fn: (c: EtcdClient) => Promise<T>): Promise<T> {
  const client = new EtcdClient({ endpoints: [endpoint], dialTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export async function launchCluster(o: LaunchOptions): Promise<BenchCluster> {
  const size = o.size ?? 3;
  if (!Number.isInteger(size) || size < 1 || size > sizeMax) {
    throw new Error(`cluster size ${size} out of range 1..${sizeMax}`);
  }
  assertImplPresent(o.impl);
  installReaper();
  const parent = o.dir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, `keelson-bench-${o.impl}-`));
  const token = `bench-${o.impl}-${process.pid}-${Date.now()}`;
  const ports = await freePorts(2 * size);
  const members: Member[] = Array.from({ length: size }, (_, i) => ({
    name: `m${i + 1}`,
    clientPort: ports[2 * i] as number,
    peerPort: ports[2 * i + 1] as number,
    dataDir: join(dir, `m${i + 1}.data`),
    logPath: join(dir, `m${i + 1}.log`),
    proc: undefined,
    lastExit: undefined,
    id: undefined,
  }));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const endpoints = members.map((m) => `127.0.0.1:${m.clientPort}`);

  const member = (i: number): Member => {
    const m = members[i];
    if (m === undefined) throw new Error(`no member ${i} (cluster has ${members.length})`);
    return m;
  };
  const running = (): number[] => members.flatMap((m, i) => (m.proc === undefined ? [] : [i]));

  function start(i: number): void {
    const m = member(i);
    if (m.proc !== undefined) throw new Error(`member ${m.name} already runs (pid ${m.proc.pid})`);
    const flags = memberFlags(m, initialCluster, token, o);
    const [cmd, args] =
      o.impl === 'etcd'
        ? [etcdBin, flags]
        : [process.execPath, [...MEMBER_NODE_FLAGS, keelsonMain, 'store', ...flags]];
    const logFd = openSync(m.logPath, 'a');
    const proc = spawn(cmd, args, { cwd: repoRoot, stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    if (proc.pid === undefined) throw new Error(`failed to spawn ${cmd} for ${m.name}`);
    const pid = proc.pid;
    startedPids.add(pid);
    m.proc = proc;
    m.lastExit = undefined;
    proc.once('exit', (code, signal) => {
      startedPids.delete(pid);
      m.lastExit = signal ?? `code ${code}`;
      if (m.proc === proc) m.proc = undefined;
    });
  }

  async function kill(i: number, signal: BenchSignal = 'SIGKILL'): Promise<void> {
    const proc = member(i).proc;
    if (proc === undefined) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), exitWaitMs);
    await exited;
    clearTimeout(timer);
  }

  async function memberId(i: number): Promise<string> {
    const m = member(i);
    if (m.id === undefined) {
      const status = await withClient(endpoints[i] as string, (c) => c.status());
      m.id = status.header.member_id;
    }
    return m.id;
  }

  async function waitServing(i: number): Promise<void> {
    const m = member(i);
    await waitFor(
      `${m.name} (${o.impl}) to answer Status`,
      async () => {
        if (m.proc === undefined) {
          throw new Error(`${m.name} exited (${m.lastExit}); log ${m.logPath}:\n${tailOf(m.logPath, 20)}`);
        }
        await memberId(i);
        return true;
      },
      serveWaitMs,
    );
  }

  async function restart(i: number): Promise<void> {
    await kill(i, 'SIGTERM');
    start(i);
    await waitServing(i);
  }

  async function leaderIndex(): Promise<number> {
    const up = running();
    if (up.length === 0) return -1;
    const statuses = await Promise.all(
      up.map((i) => withClient(endpoints[i] as string, (c) => c.status()).catch(() => undefined)),
    );
    const leaders = new Set(statuses.map((s) => s?.leader ?? 'unreachable'));
    if (leaders.size !== 1) return -1;
    const leader = statuses.find(
      (s) => s !== undefined && s.leader !== '0' && s.header.member_id === s.leader,
    );
    if (leader === undefined) return -1;
    const at = up[statuses.indexOf(leader)] as number;
    member(at).id = leader.header.member_id;
    return at;
  }

  async function waitLeader(timeoutMs = healthyWaitMsDefault): Promise<number> {
    let leader = -1;
    await waitFor(
      `the ${o.impl} members to agree on a leader`,
      async () => {
        leader = await leaderIndex();
        return leader >= 0;
      },
      timeoutMs,
    );
    return leader;
  }

  async function healthy(): Promise<boolean> {
    const up = running();
    if (up.length === 0) throw new Error('no member is running');
    for (const i of up) {
      if (member(i).proc === undefined) throw new Error(`${member(i).name} exited (${member(i).lastExit})`);
    }
    // etcdctl endpoint health does the same: a linearizable get of "health" through each member.
    await Promise.all(up.map((i) => withClient(endpoints[i] as string, (c) => c.get('health'))));
    return true;
  }

  async function waitHealthy(timeoutMs = healthyWaitMsDefault): Promise<void> {
    await waitFor(`every running ${o.impl} member to be healthy`, healthy, timeoutMs, 200);
  }

  let stopped = false;
  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await Promise.all(members.map((_, i) => kill(i, 'SIGKILL')));
    if (process.env.KEEP_BENCH_DIRS !== undefined) return;
    rmSync(dir, { recursive: true, force: true });
  }

  const cluster: BenchCluster = {
    impl: o.impl,
    dir,
    endpoints,
    get pids() {
      return members.map((m) => m.proc?.pid);
    },
    isRunning: (i) => member(i).proc !== undefined,
    kill,
    restart,
    leaderIndex,
    waitLeader,
    memberId,
    waitHealthy,
    logTail: (i, lines = 30) => tailOf(member(i).logPath, lines),
    stop,
  };
  try {
    for (let i = 0; i < size; i++) start(i);
    await waitHealthy(o.startTimeoutMs ?? healthyWaitMsDefault);
  } catch (err) {
    const tails = members.map((m, i) => `----- ${m.name} (${o.impl}):\n${cluster.logTail(i, 15)}`).join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${tails}`);
  }
  return cluster;
}
