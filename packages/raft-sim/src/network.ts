// The simulated network: a bag of messages with delivery times, which drops, duplicates, delays and
// reorders them, and cuts directed links to make partitions. All randomness comes from the injected
// SeededRand, so a run's deliveries are a function of its seed.
import type { Message, SeededRand } from '@keelson/raft';
import { PartitionKind } from './spec.js';

/** Node ids stay below this so that a directed link fits in one number. */
export const MAX_NODE_ID = 1 << 21;

export function linkKey(from: number, to: number): number {
  return from * MAX_NODE_ID + to;
}

export interface InFlight {
  readonly deliverAt: number;
  /** Send order, which breaks ties deterministically before the shuffle. */
  readonly seq: number;
  readonly msg: Message;
}

export interface NetworkRates {
  readonly dropPermille: number;
  readonly dupPermille: number;
  readonly maxDelaySteps: number;
}

/** A set of cut directed links, with the groups it was made from (for tests and narration). */
export interface Partition {
  readonly kind: PartitionKind;
  readonly groups: readonly (readonly number[])[];
  /** The node both halves still reach (Bridge only; 0 otherwise). */
  readonly bridge: number;
  readonly cut: ReadonlySet<number>;
  readonly description: string;
}

export type SendOutcome = 'sent' | 'duplicated' | 'dropped' | 'cut';

/** Upper bound on messages in flight; beyond it the network drops (a full socket buffer). */
export const MAX_IN_FLIGHT = 20_000;

export class Network {
  private queue: InFlight[] = [];
  private seq = 0;
  private partition: Partition | null = null;
  private rates: NetworkRates;
  private readonly rand: SeededRand;

  constructor(rand: SeededRand, rates: NetworkRates) {
    this.rand = rand;
    this.rates = rates;
  }

  setRates(rates: NetworkRates): void {
    this.rates = rates;
  }

  getRates(): NetworkRates {
    return this.rates;
  }

  setPartition(p: Partition | null): void {
    this.partition = p;
  }

  currentPartition(): Partition | null {
    return this.partition;
  }

  isCut(from: number, to: number): boolean {
    return this.partition?.cut.has(linkKey(from, to)) === true;
  }

  get inFlight(): number {
    return this.queue.length;
  }

  /** Puts m on the wire at step `now`; it may be dropped, cut off, or sent twice. */
  send(m: Message, now: number): SendOutcome {
    if (this.isCut(m.from, m.to)) return 'cut';
    if (this.queue.length >= MAX_IN_FLIGHT) return 'dropped';
    const { dropPermille, dupPermille, maxDelaySteps } = this.rates;
    if (dropPermille > 0 && this.rand.intn(1000) < dropPermille) return 'dropped';
    this.enqueue(m, now + this.delay(maxDelaySteps));
    if (dupPermille > 0 && this.rand.intn(1000) < dupPermille) {
      this.enqueue(m, now + this.delay(maxDelaySteps));
      return 'duplicated';
    }
    return 'sent';
  }

  /**
   * Removes and returns, in a random order, the messages due at `now` whose receiver can take them
   * now (`canReceive` false holds a message back, e.g. for a paused node). Messages that a partition
   * now cuts are dropped here too: a cut also loses what was in flight.
   */
  takeDue(now: number, canReceive: (id: number) => boolean, onCut: (m: Message) => void): Message[] {
    const due: Message[] = [];
    const kept: InFlight[] = [];
    for (const f of this.queue) {
      if (f.deliverAt > now || !canReceive(f.msg.to)) kept.push(f);
      else if (this.isCut(f.msg.from, f.msg.to)) onCut(f.msg);
      else due.push(f.msg);
    }
    if (due.length === 0) return due;
    this.queue = kept;
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.rand.intn(i + 1);
      const t = due[i] as Message;
      due[i] = due[j] as Message;
      due[j] = t;
    }
    return due;
  }

  /** Drops everything in flight to or from `id` (used when a node is retired for good). */
  forget(id: number): void {
    this.queue = this.queue.filter((f) => f.msg.to !== id && f.msg.from !== id);
  }

  private delay(maxDelaySteps: number): number {
    return maxDelaySteps > 0 ? this.rand.intn(maxDelaySteps + 1) : 0;
  }

  private enqueue(m: Message, deliverAt: number): void {
    this.queue.push({ deliverAt, seq: this.seq++, msg: m });
  }
}

function shuffled(ids: readonly number[], rand: SeededRand): number[] {
  const a = ids.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = rand.intn(i + 1);
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
  return a;
}

function cutBetween(cut: Set<number>, from: readonly number[], to: readonly number[]): void {
  for (const a of from) for (const b of to) cut.add(linkKey(a, b));
}

const fmt = (g: readonly number[]): string => `{${[...g].sort((x, y) => x - y).join(',')}}`;

/**
 * Builds a partition of `ids` (at least two) of the given kind. `leader` (0 when unknown) steers
 * IsolateLeader and MajorityMinority. Returns null when the kind needs more nodes than there are.
 */
export function makePartition(
  kind: PartitionKind,
  ids: readonly number[],
  leader: number,
  rand: SeededRand,
): Partition | null {
  if (ids.length < 2) return null;
  const cut = new Set<number>();
  const order = shuffled(ids, rand);
  const knownLeader = leader !== 0 && ids.includes(leader) ? leader : 0;
  switch (kind) {
    case PartitionKind.Symmetric:
    case PartitionKind.Asymmetric: {
      const k = 1 + rand.intn(order.length - 1);
      const a = order.slice(0, k);
      const b = order.slice(k);
      cutBetween(cut, a, b);
      if (kind === PartitionKind.Symmetric) {
        cutBetween(cut, b, a);
        return { kind, groups: [a, b], bridge: 0, cut, description: `symmetric ${fmt(a)} | ${fmt(b)}` };
      }
      return { kind, groups: [a, b], bridge: 0, cut, description: `asymmetric ${fmt(a)} -/-> ${fmt(b)}` };
    }
    case PartitionKind.IsolateLeader: {
      const l = knownLeader !== 0 ? knownLeader : (order[0] as number);
      const rest = order.filter((id) => id !== l);
      cutBetween(cut, [l], rest);
      cutBetween(cut, rest, [l]);
      return {
        kind,
        groups: [[l], rest],
        bridge: 0,
        cut,
        description: `isolate leader ${l} from ${fmt(rest)}`,
      };
    }
    case PartitionKind.MajorityMinority: {
      const majoritySize = order.length === 2 ? 1 : Math.floor(order.length / 2) + 1;
      let arranged = order;
      if (knownLeader !== 0) {
        // Put the leader in the minority half the time: that is the case that forces a new election.
        const others = order.filter((id) => id !== knownLeader);
        const leaderInMinority = rand.chance(0.5);
        arranged = leaderInMinority
          ? [...others.slice(0, majoritySize), knownLeader, ...others.slice(majoritySize)]
          : [knownLeader, ...others];
      }
      const major = arranged.slice(0, majoritySize);
      const minor = arranged.slice(majoritySize);
      cutBetween(cut, major, minor);
      cutBetween(cut, minor, major);
      return {
        kind,
        groups: [major, minor],
        bridge: 0,
        cut,
        description: `majority ${fmt(major)} | minority ${fmt(minor)}`,
      };
    }
    case PartitionKind.Bridge: {
      if (order.length < 3) return null;
      const bridge = order[0] as number;
      const rest = order.slice(1);
      const k = 1 + rand.intn(rest.length - 1);
      const a = rest.slice(0, k);
      const b = rest.slice(k);
      cutBetween(cut, a, b);
      cutBetween(cut, b, a);
      return {
        kind,
        groups: [a, b],
        bridge,
        cut,
        description: `bridge ${bridge} between ${fmt(a)} and ${fmt(b)}`,
      };
    }
  }
}
