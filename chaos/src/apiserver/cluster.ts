// The apiserver suite's cluster: `keelson cluster up` (3 store members, 2 apiservers, the LB) in a temp
// dir on free ports below the ephemeral range. Components are separate processes found by their pid
// files; a signal goes to a PID only while /proc shows it still is that component. Every PID ever
// seen is remembered, so that teardown can kill whatever of this cluster is still alive.
import { createServer } from 'node:net';
import {
  type ClusterIo,
  type ClusterLayout,
  type ComponentPlan,
  clusterDown,
  clusterPaths,
  clusterUp,
  isComponentProcess,
  PORT_SPAN,
  planComponents,
  readLayout,
  readPidFile,
  storeIsLeader,
} from '@keelson/cluster';

/** Below Linux's ephemeral range (32768+), where a restarting component could find its port taken. */
const BASE_PORT_LOW = 20_000;
const BASE_PORT_HIGH = 32_768 - PORT_SPAN;
const BASE_PORT_ATTEMPTS_MAX = 50;

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

/** A base port whose whole PORT_SPAN block is free now; `pick` (seeded by the caller) chooses candidates. */
export async function freeBasePort(pick: (n: number) => number): Promise<number> {
  for (let attempt = 0; attempt < BASE_PORT_ATTEMPTS_MAX; attempt++) {
    const base = BASE_PORT_LOW + pick(BASE_PORT_HIGH - BASE_PORT_LOW);
    const ports = Array.from({ length: PORT_SPAN }, (_, i) => base + i);
    const free = await Promise.all(ports.map(portFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free block of ports found below 32768');
}

export interface ApiClusterOptions {
  readonly dir: string;
  readonly mainScript: string;
  readonly basePort: number;
  readonly readyTimeoutMs: number;
  /** Lines of `cluster up`/`down` (progress board, errors). */
  readonly log: (line: string) => void;
}

export class ApiCluster {
  /** Every PID any `up` reported: the last resort of teardown. */
  private readonly seenPids = new Set<number>();
  private plans: ComponentPlan[] = [];
  private layout: ClusterLayout | undefined;
  private readonly io: ClusterIo;

  constructor(readonly opts: ApiClusterOptions) {
    this.io = { out: opts.log, err: opts.log };
  }

  /** Starts (or restarts what is not running) and returns once every component is healthy. */
  async up(): Promise<void> {
    const { dir, mainScript, basePort, readyTimeoutMs } = this.opts;
    const existing = readLayout(dir);
    const r = await clusterUp(
      existing === undefined
        ? { dir, mainScript, basePort, readyTimeoutMs }
        : { dir, mainScript, readyTimeoutMs },
      this.io,
    );
    for (const pid of Object.values(r.pids)) this.seenPids.add(pid);
    this.layout = readLayout(dir);
    if (this.layout === undefined) throw new Error(`assertion failed: ${dir} has no cluster.json after up`);
    this.plans = planComponents(clusterPaths(dir), this.layout);
  }

  get paths() {
    return clusterPaths(this.opts.dir);
  }

  get lbPort(): number {
    if (this.layout === undefined) throw new Error('assertion failed: the cluster is not up');
    return this.layout.lb.port;
  }

  names(kind: 'store' | 'apiserver'): string[] {
    return this.plans.filter((p) => p.kind === kind).map((p) => p.name);
  }

  private plan(name: string): ComponentPlan {
    const p = this.plans.find((x) => x.name === name);
    if (p === undefined) throw new Error(`assertion failed: no component ${name}`);
    return p;
  }

  /** The component's live PID, or null. */
  pid(name: string): number | null {
    const plan = this.plan(name);
    const pid = readPidFile(plan.pidFile);
    return pid !== null && isComponentProcess(pid, plan) ? pid : null;
  }

  /** Sends a signal to the component; returns its PID, or null when it is not running. */
  signal(name: string, sig: NodeJS.Signals): number | null {
    const pid = this.pid(name);
    if (pid === null) return null;
    this.seenPids.add(pid);
    process.kill(pid, sig);
    return pid;
  }

  /** Waits (bounded) until the component's process is gone. */
  async waitGone(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.pid(name) === null) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.pid(name) === null;
  }

  /** The name of the store member that says it leads, or null. */
  async storeLeader(): Promise<string | null> {
    for (const p of this.plans.filter((x) => x.kind === 'store')) {
      if ((await storeIsLeader(p.ports[0] ?? 0)) === true) return p.name;
    }
    return null;
  }

  /** Resumes every stopped (SIGSTOP) component; a no-op for running ones. */
  continueAll(): void {
    for (const p of this.plans) {
      const pid = this.pid(p.name);
      if (pid !== null) process.kill(pid, 'SIGCONT');
    }
  }

  /** `cluster down`, then SIGKILL any PID of this cluster still alive (only ours: checked by /proc). */
  async teardown(): Promise<void> {
    if (readLayout(this.opts.dir) === undefined) return;
    try {
      this.continueAll();
      await clusterDown({ dir: this.opts.dir, graceMs: 3000 }, this.io);
    } catch (e) {
      this.opts.log(`cluster down failed: ${(e as Error).message}`);
    }
    this.killLeftoversSync();
  }

  killLeftoversSync(): void {
    const layout = readLayout(this.opts.dir);
    const plans = layout === undefined ? this.plans : planComponents(clusterPaths(this.opts.dir), layout);
    for (const plan of plans) {
      const pids = [readPidFile(plan.pidFile), ...this.seenPids].filter((p): p is number => p !== null);
      for (const pid of pids) {
        if (!isComponentProcess(pid, plan)) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  }
}
