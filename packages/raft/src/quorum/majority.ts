// Majority quorums, modelled on etcd-io/raft's quorum package: the commit index and the election
// outcome of one set of voters.
import { assert } from '../errors.js';

export enum VoteResult {
  /** Neither won nor lost yet: the outcome depends on votes still missing. */
  Pending = 1,
  /** A majority can no longer be reached, whatever the missing votes turn out to be. */
  Lost = 2,
  /** A majority voted yes. */
  Won = 3,
}

/** The highest log index that node `id` has acknowledged, or undefined when it has not said. */
export type AckedIndexer = (id: number) => number | undefined;

/** Below this size an insertion sort beats the typed-array sort and allocates nothing. */
const INSERTION_SORT_MAX = 16;

/** An immutable set of voters that decides by simple majority. */
export class MajorityConfig {
  readonly ids: ReadonlySet<number>;
  /** The ids in ascending order, computed once because configs change rarely and are read often. */
  private readonly sorted: readonly number[];
  /**
   * Reused by committedIndex, which runs on every append response; a Float64Array holds every
   * safe integer exactly. Safe because JS is single-threaded and committedIndex never re-enters.
   */
  private readonly scratch: Float64Array;

  constructor(ids: Iterable<number> = []) {
    const set = new Set<number>(ids);
    for (const id of set) assert(Number.isSafeInteger(id) && id > 0, () => `bad voter id ${id}`);
    this.ids = set;
    this.sorted = [...set].sort((a, b) => a - b);
    this.scratch = new Float64Array(set.size);
  }

  get size(): number {
    return this.sorted.length;
  }

  /**
   * The largest index acknowledged by a majority (a missing ack counts as 0). An empty config
   * returns Number.MAX_SAFE_INTEGER so that a joint config with an empty half is decided by the other.
   */
  committedIndex(l: AckedIndexer): number {
    const n = this.sorted.length;
    if (n === 0) return Number.MAX_SAFE_INTEGER;
    const acked = this.scratch;
    for (let i = 0; i < n; i++) acked[i] = l(this.sorted[i] as number) ?? 0;
    if (n <= INSERTION_SORT_MAX) insertionSort(acked);
    else acked.sort();
    // Ascending order: the entry at n - quorum is acknowledged by itself and everyone above it,
    // which is exactly a quorum of nodes.
    const index = acked[n - quorumSize(n)] as number;
    assert(index >= 0, 'acked index is negative');
    return index;
  }

  /** Won when a majority said yes, Lost when a majority can no longer be reached, else Pending. */
  voteResult(votes: ReadonlyMap<number, boolean>): VoteResult {
    const n = this.sorted.length;
    // An empty config wins every vote, so that a joint config with an empty half is decided by the other.
    if (n === 0) return VoteResult.Won;
    let yes = 0;
    let missing = 0;
    for (const id of this.sorted) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) yes++;
    }
    const q = quorumSize(n);
    if (yes >= q) return VoteResult.Won;
    if (yes + missing >= q) return VoteResult.Pending;
    return VoteResult.Lost;
  }

  /** The voter ids in ascending order (a fresh array the caller may keep). */
  slice(): number[] {
    return this.sorted.slice();
  }

  toString(): string {
    return `(${this.sorted.join(' ')})`;
  }
}

/** The number of votes that make a majority of n voters. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

function insertionSort(a: Float64Array): void {
  for (let i = 1; i < a.length; i++) {
    const v = a[i] as number;
    let j = i - 1;
    while (j >= 0 && (a[j] as number) > v) {
      a[j + 1] = a[j] as number;
      j--;
    }
    a[j + 1] = v;
  }
}
