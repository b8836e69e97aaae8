// Launches a real multi-member store cluster — Keelson's `store` command or etcd itself, with exactly
// etcd's flags — on loopback with free ports and a temp dir, and drives it with etcdctl. The same tests
// run against both, so that etcd (STORE_IMPL=etcd) stays the reference for every expectation.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MEMBER_NODE_FLAGS } from '@keelson/store';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { freePorts } from '../util/ports.js';

export type StoreImpl = 'etcd' | 'keelson';
export type KillSignal = 'SIGKILL' | 'SIGTERM';

export interface ClusterOptions {
  impl?: StoreImpl;
  size?: number;
  snapshotCount?: number;
  extraFlags?: string[];
  /** Prefix of the temp dir and of the member names' cluster token, to tell runs apart in logs. */
  label?: string;
}

export interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** The data dir the member is started on; tests may point it elsewhere before start(i). */
  dataDir: string;
  readonly logPath: string;
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  proc: ChildProcess | undefined;
  /** Exit code (or signal name) of the last incarnation once it has exited. */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

export interface EtcdctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface EtcdctlOptions {
  stdin?: string | Buffer;
  /** Endpoints ("127.0.0.1:port"); all running members' client URLs when omitted. */
  endpoints?: string[];
  timeoutMs?: number;
}

export interface Cluster {
  readonly impl: StoreImpl;
  readonly dir: string;
  readonly clusterToken: string;
  readonly members: Member[];
  /** Client endpoints of every member ever started, by index ("127.0.0.1:port"). */
  readonly endpoints: string[];
  start(i: number): void;
  kill(i: number, signal: KillSignal): Promise<void>;
  restart(i: number): Promise<void>;
  isRunning(i: number): boolean;
  /** Resolves once member i answers `endpoint status`, rejects if it exits first or the deadline passes. */
  waitServing(i: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every running member reports healthy (a committed proposal through each). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** `etcdctl member add`, then spawns the new member with --initial-cluster-state existing. */
  addMember(name: string): Promise<number>;
  /** `etcdctl member remove` for member i, then waits (bounded) for it to exit, killing it if needed. */
  removeMember(i: number): Promise<void>;
  /** Index of the member that every running member agrees is the leader, or -1. */
  leaderIndex(): Promise<number>;
  /** Waits (bounded) until the running members agree on a leader; returns its index. */
  waitForLeader(timeoutMs?: number): Promise<number>;
  memberIdHex(i: number): Promise<string>;
  etcdctl(args: string[], options?: EtcdctlOptions): Promise<EtcdctlResult>;
  logTail(i: number, lines?: number): string;
  printLogTails(lines?: number): void;
  stop(): Promise<void>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const keelsonMain = join(repoRoot, 'packages/cli/dist/main.js');
const etcdBin = '/usr/bin/etcd';
const etcdctlTimeoutMsDefault = 20_000;
const exitWaitMsMax = 10_000;
const outputBytesMax = 64 * 1024 * 1024;

export function storeImplFromEnv(): StoreImpl {
  const impl = process.env.STORE_IMPL ?? 'keelson';
  if (impl !== 'etcd' && impl !== 'keelson')
    throw new Error(`STORE_IMPL must be etcd or keelson, not ${impl}`);
  return impl;
}

/** Fails loudly (never skips) when a binary the tests need is missing. */
export function assertToolsPresent(impl: StoreImpl): void {
  const probe = spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      'etcdctl not found on PATH: install it (apt-get install etcd-client) — these tests need it',
    );
  }
  if (impl === 'etcd' && !existsSync(etcdBin)) throw new Error(`STORE_IMPL=etcd but ${etcdBin} is missing`);
  if (impl === 'keelson' && !existsSync(keelsonMain)) {
    throw new Error(`${keelsonMain} is missing: run \`npm run build\` first (or set STORE_IMPL=etcd)`);
  }
}

/** Reserves `count` distinct free loopback ports by holding listeners on port 0 until all are known. */

/**
 * Parses etcdctl's JSON, whose uint64 ids do not fit a double: integers of 16 or more digits become
 * strings so that member ids compare exactly.
 */
export function parseJsonLossless(text: string): unknown {
  return JSON.parse(text.replace(/([:[,]\s*)(\d{16,})(?=\s*[,}\]])/g, '$1"$2"'));
}

export { freePorts };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every intervalMs until it returns true; throws with `what` after timeoutMs. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
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

/** Rejects if `promise` does not settle within timeoutMs (clients that retry forever stay bounded). */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function runEtcdctl(args: string[], options: EtcdctlOptions & { endpoints: string[] }) {
  const timeoutMs = options.timeoutMs ?? etcdctlTimeoutMsDefault;
  return new Promise<EtcdctlResult>((resolve, reject) => {
    const child = spawn('etcdctl', [`--endpoints=${options.endpoints.join(',')}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    child.stdout.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes <= outputBytesMax) out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run etcdctl (is it installed?): ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      const timedOut = signal === 'SIGKILL' ? `\n[harness] etcdctl killed after ${timeoutMs} ms` : '';
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: stderr + timedOut });
    });
    child.stdin.on('error', () => {
      // etcdctl may exit before reading all of stdin (e.g. on a usage error); the exit code tells.
    });
    // A command that exits before reading its stdin closes the pipe: EPIPE is its business, not ours.
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}

/** Every PID any cluster in this process started, so that a crashing test run still reaps them. */
const startedPids = new Set<number>();
process.once('exit', () => {
  for (const pid of startedPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

function memberCommand(impl: StoreImpl, m: Member, token: string, opts: ClusterOptions): [string, string[]] {
  const flags = [
    '--name',
    m.name,
    '--data-dir',
    m.dataDir,
    '--listen-client-urls',
    m.clientUrl,
    '--advertise-client-urls',
    m.clientUrl,
    '--listen-peer-urls',
    m.peerUrl,
    '--initial-advertise-peer-urls',
    m.peerUrl,
    '--initial-cluster',
    m.initialCluster,
    '--initial-cluster-state',
    m.initialClusterState,
    '--initial-cluster-token',
    token,
    '--heartbeat-interval',
    '100',
    '--election-timeout',
    '1000',
    '--snapshot-count',
    String(opts.snapshotCount ?? 10_000),
    ...(opts.extraFlags ?? []),
  ];
  return impl === 'etcd'
    ? [etcdBin, flags]
    : [process.execPath, [...MEMBER_NODE_FLAGS, keelsonMain, 'store', ...flags]];
}

async function newMember(dir: string, name: string): Promise<Member> {
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  return {
    name,
    clientPort,
    peerPort,
    clientUrl: `http://127.0.0.1:${clientPort}`,
    peerUrl: `http://127.0.0.1:${peerPort}`,
    dataDir: join(dir, `${name}.data`),
    logPath: join(dir, `${name}.log`),
    initialCluster: '',
    initialClusterState: 'new',
    proc: undefined,
    lastExit: undefined,
  };
}

function tailOf(path: string, lines: number): string {
  if (!existsSync(path)) return '(no log)';
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const impl = options.impl ?? storeImplFromEnv();
  const size = options.size ?? 3;
  if (size < 1 || size > 7) throw new Error(`cluster size ${size} out of range 1..7`);
  assertToolsPresent(impl);
  const label = options.label ?? 'store';
  const dir = mkdtempSync(join(tmpdir(), `keelson-${label}-${impl}-`));
  const clusterToken = `${label}-${process.pid}-${Date.now()}`;
  const members: Member[] = [];
  for (let i = 0; i < size; i++) members.push(await newMember(dir, `n${i + 1}`));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  for (const m of members) m.initialCluster = initialCluster;

  const member = (i: number): Member => {
    const m = members[i];
    if (m === undefined) throw new Error(`no member ${i} (cluster has ${members.length})`);
    return m;
  };
  const isRunning = (i: number) => member(i).proc !== undefined;
  const runningEndpoints = () =>
    members.filter((m) => m.proc !== undefined).map((m) => `127.0.0.1:${m.clientPort}`);

  function start(i: number): void {
    const m = member(i);
    if (m.proc !== undefined) throw new Error(`member ${m.name} is already running (pid ${m.proc.pid})`);
    const [cmd, args] = memberCommand(impl, m, clusterToken, options);
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
      m.lastExit = { code, signal };
      if (m.proc === proc) m.proc = undefined;
    });
  }

  async function kill(i: number, signal: KillSignal): Promise<void> {
    const proc = member(i).proc;
    if (proc === undefined) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), exitWaitMsMax);
    await exited;
    clearTimeout(timer);
  }

  async function waitServing(i: number, timeoutMs = 20_000): Promise<void> {
    const m = member(i);
    await waitFor(
      `${m.name} to serve endpoint status`,
      async () => {
        if (m.proc === undefined) {
          throw new Error(`${m.name} exited (${JSON.stringify(m.lastExit)}):\n${tailOf(m.logPath, 20)}`);
        }
        const r = await runEtcdctl(['endpoint', 'status', '--command-timeout=2s'], {
          endpoints: [`127.0.0.1:${m.clientPort}`],
          timeoutMs: 5_000,
        });
        return r.code === 0;
      },
      timeoutMs,
      250,
    );
  }

  async function waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'every running member to be healthy',
      async () => {
        const r = await runEtcdctl(['endpoint', 'health', '--command-timeout=3s'], {
          endpoints: runningEndpoints(),
          timeoutMs: 8_000,
        });
        return r.code === 0;
      },
      timeoutMs,
      300,
    );
  }

  async function restart(i: number): Promise<void> {
    await kill(i, 'SIGTERM');
    start(i);
    await waitServing(i);
  }

  async function etcdctl(args: string[], opts: EtcdctlOptions = {}): Promise<EtcdctlResult> {
    return runEtcdctl(args, { ...opts, endpoints: opts.endpoints ?? runningEndpoints() });
  }

  async function memberIdHex(i: number): Promise<string> {
    const m = member(i);
    const r = await etcdctl(['member', 'list', '-w', 'json']);
    if (r.code !== 0) throw new Error(`member list failed: ${r.stderr}`);
    const list = parseJsonLossless(r.stdout) as {
      members?: { ID: string; name?: string; peerURLs?: string[] }[];
    };
    const found = (list.members ?? []).find((x) => (x.peerURLs ?? []).includes(m.peerUrl));
    if (found === undefined) throw new Error(`${m.name} (${m.peerUrl}) is not in the member list`);
    return BigInt(found.ID).toString(16);
  }

  async function addMember(name: string): Promise<number> {
    const m = await newMember(dir, name);
    // etcd refuses reconfiguration until its members have been connected for a few seconds
    // ("unhealthy cluster"), so a young cluster is given a bounded number of retries.
    let r = await etcdctl(['member', 'add', name, `--peer-urls=${m.peerUrl}`]);
    for (let attempt = 0; attempt < 20 && r.code !== 0 && r.stderr.includes('unhealthy cluster'); attempt++) {
      await sleep(500);
      r = await etcdctl(['member', 'add', name, `--peer-urls=${m.peerUrl}`]);
    }
    if (r.code !== 0) throw new Error(`member add ${name} failed (${r.code}): ${r.stderr}`);
    const initial = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(r.stdout)?.[1];
    if (initial === undefined) throw new Error(`member add printed no ETCD_INITIAL_CLUSTER:\n${r.stdout}`);
    m.initialCluster = initial;
    m.initialClusterState = 'existing';
    members.push(m);
    const i = members.length - 1;
    start(i);
    return i;
  }

  async function removeMember(i: number): Promise<void> {
    const id = await memberIdHex(i);
    const others = members.filter((_, j) => j !== i && member(j).proc !== undefined);
    const r = await runEtcdctl(['member', 'remove', id], {
      endpoints: others.map((m) => `127.0.0.1:${m.clientPort}`),
    });
    if (r.code !== 0) throw new Error(`member remove ${id} failed (${r.code}): ${r.stderr}`);
    const proc = member(i).proc;
    if (proc === undefined) return;
    // etcd stops a removed member by itself; give it a moment, then make sure.
    await waitFor(`${member(i).name} to exit after removal`, () => member(i).proc === undefined, 5_000).catch(
      () => kill(i, 'SIGKILL'),
    );
  }

  async function leaderIndex(): Promise<number> {
    const r = await etcdctl(['endpoint', 'status', '-w', 'json', '--command-timeout=3s'], {
      timeoutMs: 8_000,
    });
    if (r.code !== 0 && r.stdout.trim() === '') return -1;
    type Status = { Endpoint: string; Status: { header: { member_id: string }; leader: string } };
    const statuses = parseJsonLossless(r.stdout) as Status[];
    const leaders = new Set(statuses.map((s) => String(s.Status.leader)));
    if (leaders.size !== 1) return -1;
    const leader = statuses.find((s) => String(s.Status.header.member_id) === String(s.Status.leader));
    if (leader === undefined) return -1;
    return members.findIndex((m) => `127.0.0.1:${m.clientPort}` === leader.Endpoint);
  }

  async function waitForLeader(timeoutMs = 15_000): Promise<number> {
    let leader = -1;
    await waitFor(
      'the members to agree on a leader',
      async () => {
        leader = await leaderIndex();
        return leader >= 0;
      },
      timeoutMs,
    );
    return leader;
  }

  function logTail(i: number, lines = 30): string {
    return tailOf(member(i).logPath, lines);
  }

  let failureSeen = false;
  function printLogTails(lines = 30): void {
    failureSeen = true;
    for (let i = 0; i < members.length; i++) {
      console.error(`----- ${member(i).name} (${impl}) log tail: ${member(i).logPath}\n${logTail(i, lines)}`);
    }
  }

  let stopped = false;
  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await Promise.all(members.map((_, i) => kill(i, 'SIGKILL')));
    // Keep the logs of a run that failed (printed tails point at them); a passing run leaves nothing.
    if (failureSeen || process.env.KEEP_STORE_DIRS !== undefined) {
      console.error(`[harness] kept ${dir} for inspection`);
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  }

  const cluster: Cluster = {
    impl,
    dir,
    clusterToken,
    members,
    get endpoints() {
      return members.map((m) => `127.0.0.1:${m.clientPort}`);
    },
    start,
    kill,
    restart,
    isRunning,
    waitServing,
    waitHealthy,
    addMember,
    removeMember,
    leaderIndex,
    waitForLeader,
    memberIdHex,
    etcdctl,
    logTail,
    printLogTails,
    stop,
  };
  try {
    for (let i = 0; i < size; i++) start(i);
    await waitHealthy(45_000);
  } catch (err) {
    printLogTails();
    await stop();
    throw err;
  }
  return cluster;
}

/**
 * Registers the usual hooks for a test file that shares one cluster: start it before all tests, print
 * every member's log tail when a test fails, and kill what it started after all (even on failure).
 */
export function useCluster(options: ClusterOptions): () => Cluster {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster(options);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => cluster?.printLogTails());
  });
  return () => {
    if (cluster === undefined) throw new Error('cluster did not start (see beforeAll error)');
    return cluster;
  };
}
