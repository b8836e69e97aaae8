// The durable side of the log, as the Raft core sees it: a read-only view of what the caller has
// persisted. The core never writes to Storage; the caller appends what each Ready says to persist.
// MemoryStorage is the in-memory implementation used by tests and the simulator (etcd's MemoryStorage).
import { assert, RaftError } from './errors.js';
import {
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  emptyConfState,
  type HardState,
  type Snapshot,
} from './types.js';
import { limitSizeCount } from './util.js';

export interface Storage {
  /** The persisted hard state and the configuration of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [lo, hi), at most maxSizeBytes in total (but at least one). Throws Compacted if
   * lo <= firstIndex()-1 (the snapshot index), Unavailable if hi > lastIndex()+1. Returns a fresh
   * array that the caller owns and may extend (the entries themselves are shared and immutable).
   */
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[];
  /**
   * Term of entry i; i may be firstIndex()-1 (the snapshot's term). Throws Compacted if
   * i < firstIndex()-1, Unavailable if i > lastIndex().
   */
  term(i: number): number;
  lastIndex(): number;
  /** The index of the first entry still available; entries before it were compacted into a snapshot. */
  firstIndex(): number;
  /** The most recent snapshot (may throw SnapshotTemporarilyUnavailable). */
  snapshot(): Snapshot;
}

function compacted(i: number, firstIndex: number): RaftError {
  return new RaftError(
    'Compacted',
    `log index ${i} is compacted (first available index is ${firstIndex}); send a snapshot instead`,
    { index: i },
  );
}

function unavailable(i: number, lastIndex: number): RaftError {
  return new RaftError('Unavailable', `log index ${i} is beyond the last index ${lastIndex}`, { index: i });
}

/** The entry that stands in for the compacted prefix: it records only an index and a term. */
function dummyEntry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: EMPTY_BYTES };
}

const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };

export class MemoryStorage implements Storage {
  private currentHardState: HardState = EMPTY_HARD_STATE;
  private currentSnapshot: Snapshot = {
    data: EMPTY_BYTES,
    metadata: { confState: emptyConfState(), index: 0, term: 0 },
  };
  // Invariant: ents is non-empty and contiguous; ents[0] is a dummy entry holding the index and
  // term of the last compaction point, so ents[i] has log index ents[0].index + i. Snapshot and
  // compaction are independent (as in etcd): the snapshot index may be on either side of ents[0].
  private ents: Entry[] = [dummyEntry(0, 0)];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.currentHardState, confState: this.currentSnapshot.metadata.confState };
  }

  hardState(): HardState {
    return this.currentHardState;
  }

  setHardState(hs: HardState): void {
    this.currentHardState = hs;
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    assert(lo <= hi, () => `invalid storage slice [${lo}, ${hi})`);
    const offset = this.dummyIndex();
    if (lo <= offset) throw compacted(lo, offset + 1);
    if (hi > this.lastIndex() + 1) throw unavailable(hi - 1, this.lastIndex());
    const start = lo - offset;
    const count = limitSizeCount(this.ents, start, hi - offset, maxSizeBytes);
    return this.ents.slice(start, start + count);
  }

  term(i: number): number {
    const offset = this.dummyIndex();
    if (i < offset) throw compacted(i, offset + 1);
    const e = this.ents[i - offset];
    if (e === undefined) throw unavailable(i, this.lastIndex());
    return e.term;
  }

  lastIndex(): number {
    return this.dummyIndex() + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.dummyIndex() + 1;
  }

  snapshot(): Snapshot {
    return this.currentSnapshot;
  }

  /** Replaces the whole log with snap; the caller persists a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    const current = this.currentSnapshot.metadata.index;
    if (snap.metadata.index <= current) {
      throw new RaftError(
        'SnapOutOfDate',
        `snapshot at index ${snap.metadata.index} is not newer than the current snapshot at ${current}`,
        { index: snap.metadata.index },
      );
    }
    this.currentSnapshot = snap;
    this.ents = [dummyEntry(snap.metadata.index, snap.metadata.term)];
  }

  /**
   * Records a snapshot of the state machine at index i (which the caller has applied). It does not
   * compact the log: call compact() for that, possibly later, to keep entries for slow followers.
   */
  createSnapshot(i: number, cs: ConfState | null, data: Uint8Array): Snapshot {
    const current = this.currentSnapshot.metadata;
    if (i <= current.index) {
      throw new RaftError(
        'SnapOutOfDate',
        `cannot create a snapshot at index ${i}: the current snapshot is at ${current.index}`,
        { index: i },
      );
    }
    const offset = this.dummyIndex();
    assert(i <= this.lastIndex(), () => `snapshot index ${i} is beyond the last index ${this.lastIndex()}`);
    // Compacting past the snapshot index is allowed (etcd allows it), so i may already be compacted.
    assert(i >= offset, () => `snapshot index ${i} is below the compaction point ${offset}`);
    const term = this.ents[i - offset]!.term;
    this.currentSnapshot = {
      data,
      metadata: { confState: cs ?? current.confState, index: i, term },
    };
    return this.currentSnapshot;
  }

  /** Discards entries up to and including compactIndex; its term is kept in the dummy entry. */
  compact(compactIndex: number): void {
    const offset = this.dummyIndex();
    if (compactIndex <= offset) throw compacted(compactIndex, offset + 1);
    assert(
      compactIndex <= this.lastIndex(),
      () => `compact index ${compactIndex} is beyond the last index ${this.lastIndex()}`,
    );
    const i = compactIndex - offset;
    const kept = this.ents.slice(i);
    kept[0] = dummyEntry(compactIndex, kept[0]!.term);
    this.ents = kept;
  }

  /**
   * Persists entries, which must be contiguous and must not leave a gap after lastIndex(). Any
   * existing suffix from entries[0].index on is replaced; the part already compacted is ignored.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    assertContiguous(entries);
    const firstNew = entries[0]!.index;
    const first = this.firstIndex();
    if (firstNew + entries.length - 1 < first) return; // All of it is compacted already.
    assert(
      firstNew <= this.lastIndex() + 1,
      () => `missing log entries: last index is ${this.lastIndex()}, appending at ${firstNew}`,
    );
    const skip = Math.max(0, first - firstNew);
    // Truncate the conflicting suffix in place; entries() hands out copies, so nobody aliases ents.
    this.ents.length = firstNew + skip - this.dummyIndex();
    for (let k = skip; k < entries.length; k++) this.ents.push(entries[k]!);
  }

  /** A copy whose later changes do not affect this one (entries are immutable, so they are shared). */
  clone(): MemoryStorage {
    const copy = new MemoryStorage();
    copy.currentHardState = this.currentHardState;
    copy.currentSnapshot = this.currentSnapshot;
    copy.ents = this.ents.slice();
    return copy;
  }

  private dummyIndex(): number {
    return this.ents[0]!.index;
  }
}

function assertContiguous(entries: readonly Entry[]): void {
  const first = entries[0]!.index;
  for (let k = 1; k < entries.length; k++) {
    assert(entries[k]!.index === first + k, () => `entries to append are not contiguous at position ${k}`);
  }
}
