// A cluster of real `keelson store` processes for chaos suites: free loopback ports, a data dir per
// incarnation, member logs appended to files in the results folder, and the faults a nemesis needs —
// kill -9, SIGSTOP/SIGCONT, restart, the fault-injection API, membership changes. It only ever signals
// the PIDs it spawned (stop() kills them all, also after a failure).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdClient, MEMBER_NODE_FLAGS } from '@keelson/store';

export interface ClusterOptions {
  /** Where data dirs go (removed by stop() unless keepData). */
  readonly dataRoot: string;
  /** Where member logs go (kept). */
  readonly logDir: string;
  readonly size?: number;
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
  /** Small, so that snapshots (and their crash points) happen within a short run. */
  readonly snapshotCount?: number;
  readonly snapshotCatchUpEntries?: number;
  /** `keelson`'s main.js; defaults to packages/cli/dist/main.js of this checkout. */
  readonly keelsonMain?: string;
  readonly token?: string;
  /** Passes --enable-fault-injection (default true). */
  readonly faultInjection?: boolean;
}

export type MemberStatus = 'running' | 'paused' | 'stopped' | 'removed';

export interface ChaosMember {
  readonly index: number;
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly logPath: string;
  /** Raft member id (decimal string) once known; changes when the member is removed and re-added. */
  id: string | null;
  dataDir: string;
  /** Incremented per fresh data dir (a re-added member starts empty). */
  generation: number;
  status: MemberStatus;
  proc: ChildProcess | null;
  /** 'new' for the bootstrap members; 'existing' after a re-add. */
  clusterState: 'new' | 'existing';
  lastExit: string | null;
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const defaultMain = join(repoRoot, 'packages/cli/dist/main.js');
const callTimeoutMs = 3000;
const exitWaitMs = 5000;

/** Reserves `count` distinct free loopback ports by holding listeners on port 0 until all are known. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports: number[] = [];
  for (const s of servers) {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = s.address();
    if (addr === null || typeof addr === 'string') throw new Error('assertion failed: no port');
    ports.push(addr.port);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class ChaosCluster {
  readonly members: ChaosMember[] = [];
  readonly heartbeatMs: number;
  readonly electionMs: number;
  private readonly main: string;
  private readonly token: string;
  private readonly admin = new Map<number, EtcdClient>();
  private stopped = false;

  private constructor(
    private readonly opts: ClusterOptions,
    ports: number[],
  ) {
    const size = opts.size ?? 3;
    if (ports.length !== 2 * size) throw new Error('assertion failed: two ports per member');
    this.heartbeatMs = opts.heartbeatMs ?? 50;
    this.electionMs = opts.electionMs ?? 500;
    this.main = opts.keelsonMain ?? defaultMain;
    this.token = opts.token ?? `chaos-${process.pid}-${Date.now()}`;
    for (let i = 0; i < size; i++) {
      const clientPort = ports[2 * i] as number;
      const peerPort = ports[2 * i + 1] as number;
      const name = `m${i + 1}`;
      this.members.push({
        index: i,
        name,
        clientPort,
        peerPort,
        clientUrl: `http://127.0.0.1:${clientPort}`,
        peerUrl: `http://127.0.0.1:${peerPort}`,
        logPath: join(opts.logDir, `${name}.log`),
        id: null,
        dataDir: join(opts.dataRoot, `${name}.0`),
        generation: 0,
        status: 'stopped',
        proc: null,
        clusterState: 'new',
        lastExit: null,
      });
    }
  }

  /** Starts every member and waits until they have a leader and know their ids. */
  static async start(opts: ClusterOptions): Promise<ChaosCluster> {
    if (!existsSync(opts.keelsonMain ?? defaultMain)) {
      throw new Error(`${opts.keelsonMain ?? defaultMain} is missing: run \`npm run build\` first`);
    }
    mkdirSync(opts.dataRoot, { recursive: true });
    mkdirSync(opts.logDir, { recursive: true });
    const c = new ChaosCluster(opts, await freePorts(2 * (opts.size ?? 3)));
    try {
      for (const m of c.members) c.spawn(m.index);
      await c.waitForLeader(20_000);
      await c.refreshIds();
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  get size(): number {
    return this.members.length;
  }

  member(i: number): ChaosMember {
    const m = this.members[i];
    if (m === undefined) throw new Error(`assertion failed: no member ${i}`);
    return m;
  }

  endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** The --initial-cluster of every member not removed (plus `with`). */
  private initialCluster(withIndex: number): string {
    return this.members
      .filter((m) => m.status !== 'removed' || m.index === withIndex)
      .map((m) => `${m.name}=${m.peerUrl}`)
      .join(',');
  }

  /** Spawns member i on its current data dir; its output is appended to its log file. */
  spawn(i: number): void {
    const m = this.member(i);
    if (this.stopped) throw new Error('the cluster is stopped');
    if (m.proc !== null) throw new Error(`assertion failed: ${m.name} is already running`);
    const args = [
      ...MEMBER_NODE_FLAGS,
      this.main,
      'store',
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${this.initialCluster(i)}`,
      `--initial-cluster-state=${m.clusterState}`,
      `--initial-cluster-token=${this.token}`,
      `--heartbeat-interval=${this.heartbeatMs}`,
      `--election-timeout=${this.electionMs}`,
      `--snapshot-count=${this.opts.snapshotCount ?? 300}`,
      `--snapshot-catchup-entries=${this.opts.snapshotCatchUpEntries ?? 100}`,
    ];
    if (this.opts.faultInjection !== false) args.push('--enable-fault-injection');
    const fd = openSync(m.logPath, 'a');
    try {
      const proc = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], detached: false });
      m.proc = proc;
      m.status = 'running';
      proc.once('exit', (code, signal) => {
        if (m.proc === proc) m.proc = null;
        m.lastExit = signal ?? `exit ${code}`;
        if (m.status === 'running' || m.status === 'paused') m.status = 'stopped';
      });
    } finally {
      closeSync(fd);
    }
  }

  /** SIGKILL member i and wait for its exit. */
  async kill(i: number): Promise<void> {
    const m = this.member(i);
    const proc = m.proc;
    if (proc === null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await Promise.race([exited, sleep(exitWaitMs)]);
    if (m.status !== 'removed') m.status = 'stopped';
  }

  pause(i: number): void {
    const m = this.member(i);
    if (m.proc === null || m.status !== 'running') return;
    m.proc.kill('SIGSTOP');
    m.status = 'paused';
  }

  resume(i: number): void {
    const m = this.member(i);
    if (m.proc === null || m.status !== 'paused') return;
    m.proc.kill('SIGCONT');
    m.status = 'running';
  }

  /** Starts a stopped member again on the same data dir. */
  async restart(i: number): Promise<void> {
    const m = this.member(i);
    if (m.proc !== null) await this.kill(i);
    this.spawn(i);
  }

  /** Waits (bounded) until member i's process has exited by itself; true if it did. */
  async waitExit(i: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.member(i).proc !== null && Date.now() < deadline) await sleep(50);
    return this.member(i).proc === null;
  }

  /** A client for member i alone (cached). */
  client(i: number): EtcdClient {
    let c = this.admin.get(i);
    if (c === undefined) {
      c = new EtcdClient({
        endpoints: [this.member(i).clientUrl],
        dialTimeoutMs: 1000,
        requestTimeoutMs: callTimeoutMs,
      });
      this.admin.set(i, c);
    }
    return c;
  }

  running(): ChaosMember[] {
    return this.members.filter((m) => m.status === 'running');
  }

  /** The member every running, reachable member names as leader, as an index; -1 if none or no agreement. */
  async leaderIndex(): Promise<number> {
    const live = this.running();
    const leaders = await Promise.all(
      live.map((m) =>
        this.client(m.index)
          .status()
          .then((s) => s.leader)
          .catch(() => null),
      ),
    );
    const answered = leaders.filter((l): l is string => l !== null && l !== '0');
    if (answered.length === 0 || answered.length * 2 <= this.voterCount()) return -1;
    const first = answered[0] as string;
    if (answered.some((l) => l !== first)) return -1;
    return this.members.findIndex((m) => m.id === first);
  }

  private voterCount(): number {
    return this.members.filter((m) => m.status !== 'removed').length;
  }

  async waitForLeader(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Ids may still be unknown on the first call.
      if (this.members.some((m) => m.id === null && m.status === 'running'))
        await this.refreshIds().catch(() => {});
      const i = await this.leaderIndex();
      if (i >= 0) return i;
      if (Date.now() > deadline) throw new Error(`no leader agreed on within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** Reads the member list from any running member and records each member's id by its peer URL. */
  async refreshIds(): Promise<void> {
    let lastError: unknown = new Error('no running member');
    for (const m of this.running()) {
      try {
        const list = await this.client(m.index).memberList();
        for (const x of this.members) {
          const found = list.members.find((y) => y.peerURLs.includes(x.peerUrl));
          if (found !== undefined) x.id = found.ID;
        }
        return;
      } catch (e) {
        lastError = e;
      }
    }
    throw lastError;
  }

  /** Waits until a PUT through member i succeeds (the member serves and the cluster commits). */
  async waitServing(i: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        await this.client(i).put('chaos/ping', String(i));
        return;
      } catch (e) {
        lastError = e;
        await sleep(200);
      }
    }
    throw new Error(`${this.member(i).name} did not serve within ${timeoutMs} ms: ${String(lastError)}`);
  }

  // ---- fault-injection API ----

  async setFaults(i: number, faults: Record<string, unknown>): Promise<void> {
    await this.faultsRequest(i, 'PUT', JSON.stringify(faults));
  }

  async clearFaults(i: number): Promise<void> {
    await this.faultsRequest(i, 'DELETE');
  }

  private async faultsRequest(i: number, method: string, body?: string): Promise<unknown> {
    const m = this.member(i);
    const res = await fetch(`${m.clientUrl}/debug/faults`, {
      method,
      body,
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(callTimeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} /debug/faults on ${m.name}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  }

  // ---- membership ----

  /** Removes member i through another member, waits for it to stop (killing it if needed), drops its data. */
  async removeMember(i: number): Promise<void> {
    const m = this.member(i);
    if (m.id === null) await this.refreshIds();
    const id = m.id;
    if (id === null) throw new Error(`assertion failed: ${m.name} has no known id`);
    const via = this.running().find((x) => x.index !== i);
    if (via === undefined) throw new Error('no other running member to remove through');
    await this.client(via.index).memberRemove(id);
    m.status = 'removed';
    if (!(await this.waitExit(i, 3000))) await this.kill(i);
    m.status = 'removed';
    m.id = null;
    rmSync(m.dataDir, { recursive: true, force: true });
  }

  /** Adds removed member i back (as a learner if asked) on a fresh data dir and starts it. */
  async addMember(i: number, asLearner: boolean): Promise<void> {
    const m = this.member(i);
    if (m.status !== 'removed') throw new Error(`assertion failed: ${m.name} is not removed`);
    const via = this.running()[0];
    if (via === undefined) throw new Error('no running member to add through');
    const res = await this.client(via.index).memberAdd([m.peerUrl], { isLearner: asLearner });
    m.id = res.member.ID;
    m.generation++;
    m.dataDir = join(this.opts.dataRoot, `${m.name}.${m.generation}`);
    m.clusterState = 'existing';
    m.status = 'stopped';
    this.spawn(i);
  }

  /** Promotes learner i, retrying while it is not yet in sync; bounded. */
  async promote(i: number, timeoutMs: number): Promise<void> {
    const id = this.member(i).id;
    if (id === null) throw new Error('assertion failed: promoting a member with no id');
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      const via = this.running().find((x) => x.index !== i);
      if (via === undefined) break;
      try {
        await this.client(via.index).memberPromote(id);
        return;
      } catch (e) {
        lastError = e;
        await sleep(300);
      }
    }
    throw new Error(`could not promote ${this.member(i).name}: ${String(lastError)}`);
  }

  /** Kills every process this cluster started (SIGCONT first for paused ones) and closes clients. */
  async stop(opts: { keepData?: boolean } = {}): Promise<void> {
    this.stopped = true;
    for (const c of this.admin.values()) c.close();
    this.admin.clear();
    await Promise.all(
      this.members.map(async (m) => {
        if (m.proc === null) return;
        m.proc.kill('SIGCONT');
        await this.kill(m.index);
      }),
    );
    if (opts.keepData !== true) rmSync(this.opts.dataRoot, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit, SIGINT): SIGKILL every live child. */
  killAllSync(): void {
    for (const m of this.members) {
      try {
        m.proc?.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}
