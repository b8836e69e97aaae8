// The Raft log as the core sees it: the persisted prefix in Storage followed by the unstable suffix
// not yet persisted, plus the commit and apply cursors. Modelled on etcd's raft/log.go (v3.5).
import { AssertionError, assert, RaftError } from './errors.js';
import { Unstable } from './log_unstable.js';
import type { Logger } from './logger.js';
import type { Storage } from './storage.js';
import { type Entry, isEmptySnapshot, type Snapshot } from './types.js';
import { countWithinBytes, entriesSizeBytes, isUnlimitedBytes, limitSizeCount } from './util.js';

export class RaftLog {
  /** The entries persisted since the last snapshot. */
  readonly storage: Storage;
  /** The entries and snapshot not yet persisted; the caller persists them from a Ready. */
  readonly unstable: Unstable;
  /**
   * The highest index known to be stored on a quorum.
   * Invariant: applied <= committed <= lastIndex(); committed never decreases.
   */
  committed: number;
  /**
   * The highest index the application has applied to its state machine.
   * Invariant: applied <= committed.
   */
  applied: number;
  /** Upper bound on the byte size of the committed entries returned by one nextEnts() call. */
  readonly maxNextEntsSizeBytes: number;
  private readonly logger: Logger;

  constructor(storage: Storage, logger: Logger, maxNextEntsSizeBytes: number) {
    this.storage = storage;
    this.logger = logger;
    this.maxNextEntsSizeBytes = maxNextEntsSizeBytes;
    this.unstable = new Unstable(storage.lastIndex() + 1, logger);
    // Everything up to the last compaction is committed and applied, by definition of a snapshot.
    this.committed = storage.firstIndex() - 1;
    this.applied = this.committed;
  }

  toString(): string {
    return (
      `committed=${this.committed}, applied=${this.applied}, ` +
      `unstable.offset=${this.unstable.offset}, len(unstable.entries)=${this.unstable.entries.length}`
    );
  }

  /**
   * Appends ents from a leader's append message whose preceding entry is (index, logTerm).
   * Returns the index of the last new entry, or null when the log does not contain that entry.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastNewIndex = index + ents.length;
    const conflictIndex = this.findConflict(ents);
    if (conflictIndex !== 0) {
      // Committed entries are on a quorum; a leader that disagrees with them is a safety bug.
      assert(
        conflictIndex > this.committed,
        () => `entry ${conflictIndex} conflicts with a committed entry (committed ${this.committed})`,
      );
      this.append(ents.slice(conflictIndex - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  /** Appends ents to the unstable log, replacing any entries from ents[0].index on; returns lastIndex(). */
  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, () => `append after ${after} is below committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of ents that is not in the log with the same term: either a
   * conflicting entry or the first new one. 0 when the log already holds all of ents.
   * ents must be contiguous.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (this.matchTerm(e.index, e.term)) continue;
      if (e.index <= this.lastIndex()) {
        this.logger.info('found conflict', {
          index: e.index,
          existingTerm: this.zeroTermOnOutOfRange(e.index),
          conflictingTerm: e.term,
        });
      }
      return e.index;
    }
    return 0;
  }

  /**
   * The largest index j <= index whose term is <= term: a hint for where a rejected append may
   * match, which lets a leader skip a whole term of conflicting entries per round trip. The search
   * stops at firstIndex()-1, whose term is the snapshot's and which is committed everywhere.
   */
  findConflictByTerm(index: number, term: number): number {
    const lastIndex = this.lastIndex();
    if (index > lastIndex) {
      // Such calls should not happen, but recovering is straightforward.
      this.logger.warn('findConflictByTerm index out of range', { index, lastIndex });
      return index;
    }
    const lowest = this.firstIndex() - 1;
    while (index > lowest && this.termInRange(index) > term) index--;
    return index;
  }

  /** A copy of the entries not yet persisted (empty if none). */
  unstableEntries(): Entry[] {
    return this.unstable.entries.length === 0 ? [] : this.unstable.entries.slice();
  }

  /** True when there are unstable entries, without copying them. */
  hasUnstableEntries(): boolean {
    return this.unstable.entries.length !== 0;
  }

  /** Committed entries not yet applied, from after the snapshot on, bounded by maxNextEntsSizeBytes. */
  nextEnts(): Entry[] {
    const lo = this.nextApplyIndex();
    if (this.committed < lo) return [];
    return this.slice(lo, this.committed + 1, this.maxNextEntsSizeBytes);
  }

  /** True when nextEnts() would return entries; cheap (no slicing). */
  hasNextEnts(): boolean {
    return this.committed >= this.nextApplyIndex();
  }

  /** True when a snapshot received from a leader waits to be persisted and applied. */
  hasPendingSnapshot(): boolean {
    return !isEmptySnapshot(this.unstable.snapshot);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Advances the commit index; it never decreases. */
  commitTo(tocommit: number): void {
    if (tocommit <= this.committed) return;
    assert(
      tocommit <= this.lastIndex(),
      () =>
        `commit index ${tocommit} is out of range [lastIndex ${this.lastIndex()}]; ` +
        'was the raft log corrupted, truncated, or lost?',
    );
    this.committed = tocommit;
  }

  /** Records that the application applied entries up to i; 0 means "nothing new". */
  appliedTo(i: number): void {
    if (i === 0) return;
    assert(
      i <= this.committed && i >= this.applied,
      () => `applied index ${i} is out of range [prevApplied ${this.applied}, committed ${this.committed}]`,
    );
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    return this.termInRange(this.lastIndex());
  }

  /** The term of entry i. Throws Compacted below firstIndex()-1 and Unavailable above lastIndex(). */
  term(i: number): number {
    const t = this.termOrUndefined(i);
    if (t !== undefined) return t;
    const first = this.firstIndex();
    if (i < first - 1) throw compactedError(i, first);
    throw new RaftError('Unavailable', `log index ${i} is beyond the last index ${this.lastIndex()}`, {
      index: i,
    });
  }

  /** term(i), or 0 when i is out of the log's range. */
  zeroTermOnOutOfRange(i: number): number {
    return this.termOrUndefined(i) ?? 0;
  }

  /** The entries from i on, at most maxSizeBytes (but at least one); [] if i > lastIndex(). */
  entries(i: number, maxSizeBytes: number): Entry[] {
    const last = this.lastIndex();
    if (i > last) return [];
    return this.slice(i, last + 1, maxSizeBytes);
  }

  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Number.POSITIVE_INFINITY);
  }

  /**
   * Whether a log ending at (lasti, term) is at least as up to date as this one (Raft §5.4.1):
   * a later last term wins; with equal last terms, the longer log wins.
   */
  isUpToDate(lasti: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && lasti >= this.lastIndex());
  }

  /** Whether the log holds entry i with the given term; false when i is out of range. */
  matchTerm(i: number, term: number): boolean {
    const t = this.termOrUndefined(i);
    return t !== undefined && t === term;
  }

  /**
   * Commits up to maxIndex (an index stored on a quorum) only if that entry is from `term`, the
   * leader's current term. Raft §5.4.2: a leader must not commit entries from earlier terms by
   * counting replicas; they become committed indirectly once a current-term entry is.
   */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.zeroTermOnOutOfRange(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  /** Resets the log to snapshot s, which the caller will persist and apply. */
  restore(s: Snapshot): void {
    const { index, term } = s.metadata;
    this.logger.info('log starts to restore snapshot', { log: this.toString(), index, term });
    assert(index >= this.committed, () => `snapshot ${index} would move committed ${this.committed} back`);
    this.committed = index;
    this.unstable.restore(s);
  }

  /**
   * Entries in [lo, hi), from storage then the unstable part, at most maxSizeBytes (but at least
   * one). Throws Compacted if lo < firstIndex(); other out-of-range arguments are bugs.
   */
  slice(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const offset = this.unstable.offset;
    if (hi <= offset) return this.storageEntries(lo, hi, maxSizeBytes);
    if (lo >= offset) {
      return this.unstable.slice(
        lo,
        lo + limitSizeCount(this.unstable.entries, lo - offset, hi - offset, maxSizeBytes),
      );
    }
    const stored = this.storageEntries(lo, offset, maxSizeBytes);
    if (stored.length < offset - lo) return stored; // The size limit was reached in storage.
    // Spend what is left of the budget on the unstable part; stored is non-empty, so 0 is fine.
    const budgetBytes = isUnlimitedBytes(maxSizeBytes)
      ? maxSizeBytes
      : maxSizeBytes - entriesSizeBytes(stored);
    const n = countWithinBytes(this.unstable.entries, 0, hi - offset, budgetBytes);
    for (let k = 0; k < n; k++) stored.push(this.unstable.entries[k]!);
    return stored;
  }

  /** storage.entries, where Unavailable is a bug: the core asks only for what it knows is stored. */
  private storageEntries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    try {
      return this.storage.entries(lo, hi, maxSizeBytes);
    } catch (err) {
      if (err instanceof RaftError && err.code === 'Unavailable') {
        throw new AssertionError(`entries [${lo}, ${hi}) are unavailable from storage`);
      }
      throw err;
    }
  }

  private checkOutOfBounds(lo: number, hi: number): void {
    assert(lo <= hi, () => `invalid slice [${lo}, ${hi})`);
    const first = this.firstIndex();
    if (lo < first) throw compactedError(lo, first);
    const last = this.lastIndex();
    assert(hi <= last + 1, () => `slice [${lo}, ${hi}) out of bounds [${first}, ${last}]`);
  }

  private nextApplyIndex(): number {
    return Math.max(this.applied + 1, this.firstIndex());
  }

  /** The term of i for i known to be in [firstIndex()-1, lastIndex()]. */
  private termInRange(i: number): number {
    const t = this.termOrUndefined(i);
    assert(t !== undefined, () => `term of index ${i} unavailable within the log's range`);
    return t;
  }

  /**
   * The term of entry i, or undefined outside [firstIndex()-1, lastIndex()]. The hot path of
   * term lookups: range checks first, so that the common misses do not pay for an exception.
   */
  private termOrUndefined(i: number): number | undefined {
    // The valid range starts at the dummy entry: the index (and term) of the last snapshot.
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof RaftError && (err.code === 'Compacted' || err.code === 'Unavailable')) {
        return undefined;
      }
      throw err;
    }
  }
}

function compactedError(i: number, firstIndex: number): RaftError {
  return new RaftError(
    'Compacted',
    `log index ${i} is compacted (first available index is ${firstIndex}); a snapshot is needed`,
    { index: i },
  );
}
