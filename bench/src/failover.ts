// `keelson bench failover`: how long writes stop when the leader dies (kill -9) or hands over
// (MoveLeader). It launches its own cluster so that it knows the PIDs, keeps a light write load on every
// member (each writer pinned to one member, a short request timeout and an immediate retry on error),
// and measures from the kill (or the MoveLeader call) to the first write that was issued after it and
// acknowledged under a newer Raft term — by a survivor in kill mode. Between rounds the killed member is
// restarted and the cluster waits until it is healthy again.
import { EtcdClient, type PutResult } from '@keelson/store';
import { type BenchCluster, type BenchImpl, launchCluster, sleep } from './clusters.js';

export interface FailoverOptions {
  impl: 'keelson' | 'etcd';
  rounds: number;
  mode: 'kill' | 'transfer';
  clients?: number;
  progress?: (line: string) => void;
}

export interface FailoverResult {
  impl: 'keelson' | 'etcd';
  mode: 'kill' | 'transfer';
  rounds: number;
  gapsMs: number[];
  minMs: number;
  medianMs: number;
  maxMs: number;
}

/** Writers per member unless `clients` says otherwise: a light load that still covers every member. */
const clientsPerMemberDefault = 2;
const clientsMax = 64;
const roundsMax = 1_000;
/**
 * Short, so that a write stuck behind a dead leader is given up and reissued soon: the gap is measured
 * to an ack, and a request that was black-holed can delay the ack by up to this much.
 */
const requestTimeoutMs = 250;
const dialTimeoutMs = 250;
/** A pause after an error, so that a member that answers errors at once is not spun on. */
const retryPauseMs = 2;
/** A failover that has not produced an ack after this long is reported as a failure, not waited for. */
const gapWaitMsMax = 30_000;
const warmAcksMin = 20;
const settleMs = 500;

/** An ack the load saw: which member, when the write was issued and acked, and under which term. */
interface Ack {
  member: number;
  issuedMs: number;
  ackedMs: number;
  term: number;
}

type AckWaiter = { accept: (a: Ack) => boolean; resolve: (a: Ack) => void };

/** Closed-loop writers, each pinned to one member's endpoint, that report every ack to a waiter. */
class WriteLoad {
  private stopped = false;
  private readonly clients: EtcdClient[];
  private readonly loops: Promise<void>[] = [];
  private waiter: AckWaiter | undefined;
  acks = 0;
  errors = 0;

  constructor(endpoints: string[], writers: number) {
    this.clients = endpoints.map((e) => new EtcdClient({ endpoints: [e], dialTimeoutMs, requestTimeoutMs }));
    const value = Buffer.alloc(64, 'f');
    for (let w = 0; w < writers; w++) this.loops.push(this.writer(w, w % endpoints.length, value));
  }

  private async writer(w: number, member: number, value: Buffer): Promise<void> {
    const client = this.clients[member] as EtcdClient;
    for (let i = 0; !this.stopped; i++) {
      const issuedMs = performance.now();
      let res: PutResult;
      try {
        res = await client.put(`bench/failover/w${w}/${i % 16}`, value);
      } catch {
        this.errors++;
        await sleep(retryPauseMs);
        continue;
      }
      this.acks++;
      this.offer({ member, issuedMs, ackedMs: performance.now(), term: res.header.raft_term });
    }
  }

  private offer(a: Ack): void {
    const w = this.waiter;
    if (w === undefined || !w.accept(a)) return;
    this.waiter = undefined;
    w.resolve(a);
  }

  /** The first ack that `accept` takes, or a rejection after timeoutMs. One waiter at a time. */
  firstAck(accept: (a: Ack) => boolean, timeoutMs: number, what: string): Promise<Ack> {
    if (this.waiter !== undefined) throw new Error('WriteLoad: a waiter is already registered');
    return new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no write was acknowledged within ${timeoutMs} ms after ${what}`));
      }, timeoutMs);
      this.waiter = {
        accept,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const c of this.clients) c.close();
  }
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function termOf(cluster: BenchCluster, i: number): Promise<number> {
  const c = new EtcdClient({ endpoints: [cluster.endpoints[i] as string], requestTimeoutMs: 2_000 });
  try {
    return (await c.status()).raftTerm;
  } finally {
    c.close();
  }
}

/** Waits until the load is flowing again after a round (acks arriving), bounded. */
async function warmUp(load: WriteLoad): Promise<void> {
  const start = load.acks;
  const deadline = performance.now() + gapWaitMsMax;
  while (load.acks - start < warmAcksMin) {
    if (performance.now() > deadline) throw new Error('the write load made no progress before the round');
    await sleep(20);
  }
}

/** One kill round: kill -9 the leader, time the first post-kill write acked by a survivor, restart it. */
async function killRound(cluster: BenchCluster, load: WriteLoad): Promise<{ gapMs: number; leader: number }> {
  const leader = await cluster.waitLeader();
  const termBefore = await termOf(cluster, leader);
  await warmUp(load);
  const killMs = performance.now();
  const acked = load.firstAck(
    (a) => a.member !== leader && a.issuedMs >= killMs && a.term > termBefore,
    gapWaitMsMax,
    `kill -9 of the ${cluster.impl} leader`,
  );
  acked.catch(() => {}); // Awaited below; this only keeps an early failure from being unhandled.
  const killed = cluster.kill(leader, 'SIGKILL');
  const ack = await acked;
  await killed;
  await cluster.restart(leader);
  await cluster.waitHealthy();
  return { gapMs: ack.ackedMs - killMs, leader };
}

/** One transfer round: MoveLeader to the next member, time the first write acked under the new term. */
async function transferRound(
  cluster: BenchCluster,
  load: WriteLoad,
): Promise<{ gapMs: number; leader: number }> {
  const leader = await cluster.waitLeader();
  const target = (leader + 1) % cluster.endpoints.length;
  const [termBefore, targetId] = await Promise.all([termOf(cluster, leader), cluster.memberId(target)]);
  await warmUp(load);
  const admin = new EtcdClient({
    endpoints: [cluster.endpoints[leader] as string],
    requestTimeoutMs: 10_000,
  });
  try {
    const moveMs = performance.now();
    const acked = load.firstAck(
      (a) => a.issuedMs >= moveMs && a.term > termBefore,
      gapWaitMsMax,
      `MoveLeader on ${cluster.impl}`,
    );
    acked.catch(() => {}); // Awaited below; this only keeps an early failure from being unhandled.
    const moved = admin.moveLeader(targetId, { endpoint: cluster.endpoints[leader] as string });
    // A failed MoveLeader must fail the round rather than leave the ack wait to time out.
    const [ack] = await Promise.all([acked, moved]);
    await cluster.waitHealthy();
    return { gapMs: ack.ackedMs - moveMs, leader };
  } finally {
    admin.close();
  }
}

export async function runFailover(o: FailoverOptions): Promise<FailoverResult> {
  if (!Number.isInteger(o.rounds) || o.rounds < 1 || o.rounds > roundsMax) {
    throw new Error(`rounds must be an integer in 1..${roundsMax}, not ${o.rounds}`);
  }
  const impl: BenchImpl = o.impl;
  const progress = o.progress ?? (() => {});
  progress(`failover ${o.mode} on ${impl}: launching a 3-member cluster`);
  const cluster = await launchCluster({ impl, size: 3 });
  const writers = Math.min(
    clientsMax,
    Math.max(1, o.clients ?? clientsPerMemberDefault * cluster.endpoints.length),
  );
  const load = new WriteLoad(cluster.endpoints, writers);
  const gapsMs: number[] = [];
  try {
    await sleep(settleMs);
    for (let r = 1; r <= o.rounds; r++) {
      const round = o.mode === 'kill' ? await killRound(cluster, load) : await transferRound(cluster, load);
      gapsMs.push(round.gapMs);
      const verb = o.mode === 'kill' ? 'killed (kill -9)' : 'asked to move leadership';
      progress(
        `failover ${o.mode} on ${impl}: round ${r}/${o.rounds}: leader m${round.leader + 1} ${verb}; ` +
          `first write acked after ${round.gapMs.toFixed(0)} ms`,
      );
    }
  } finally {
    await load.stop();
    await cluster.stop();
  }
  return {
    impl,
    mode: o.mode,
    rounds: o.rounds,
    gapsMs,
    minMs: Math.min(...gapsMs),
    medianMs: median(gapsMs),
    maxMs: Math.max(...gapsMs),
  };
}
