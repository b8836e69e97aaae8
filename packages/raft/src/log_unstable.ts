// The unstable part of the log: entries (and possibly a snapshot) that the core has accepted but the
// caller has not yet persisted to Storage. They are handed out in a Ready and dropped from here once
// the caller reports them stable. Modelled on etcd's raft/log_unstable.go.
import { assert } from './errors.js';
import type { Logger } from './logger.js';
import type { Entry, Snapshot } from './types.js';

export class Unstable {
  /** The incoming snapshot, if any, not yet persisted. */
  snapshot: Snapshot | null = null;
  /**
   * The entries not yet persisted. Owned by Unstable, which mutates it in place: callers must not
   * keep or modify it (use slice() for a copy).
   * Invariant: entries[k].index === offset + k.
   */
  entries: Entry[] = [];
  /** The log index of entries[0]; if there is a snapshot, snapshot.metadata.index + 1. */
  offset: number;
  private readonly logger: Logger;

  constructor(offset: number, logger: Logger) {
    assert(Number.isSafeInteger(offset) && offset >= 0, () => `invalid unstable offset ${offset}`);
    this.offset = offset;
    this.logger = logger;
  }

  /** The first index of the log, if the unstable part decides it (only when it holds a snapshot). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === null ? undefined : this.snapshot.metadata.index + 1;
  }

  /** The last index of the log, if there is at least one unstable entry or a snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length !== 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? undefined : this.snapshot.metadata.index;
  }

  /** The term of entry i if the unstable part knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      const snap = this.snapshot;
      return snap !== null && snap.metadata.index === i ? snap.metadata.term : undefined;
    }
    return this.entries[i - this.offset]?.term;
  }

  /**
   * Marks entries up to i (with term t) as persisted. Ignored when the entry at i has changed term
   * since it was handed out (it was overwritten and the new one still needs persisting), or when i is
   * the snapshot's index rather than an unstable entry's.
   */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined || gt !== t || i < this.offset) return;
    const stableCount = i + 1 - this.offset;
    // Dropping the prefix with a fresh array (rather than keeping an index into the old one) keeps
    // memory bounded by what is really unstable, like etcd's shrinkEntriesArray.
    this.entries = stableCount === this.entries.length ? [] : this.entries.slice(stableCount);
    this.offset = i + 1;
    assert(this.entries.length === 0 || this.entries[0]!.index === this.offset, 'unstable offset drifted');
  }

  /** Forgets the snapshot once the caller has persisted it. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  /** Replaces everything with snapshot s; entries after it arrive later from the leader. */
  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends ents, first dropping any unstable entries at or after ents[0].index (they conflict). */
  truncateAndAppend(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const after = ents[0]!.index;
    const end = this.offset + this.entries.length;
    assert(after <= end, () => `unstable append at ${after} leaves a gap after ${end - 1}`);
    if (after === end) {
      this.pushAll(ents);
    } else if (after <= this.offset) {
      // The log is truncated to before the unstable part: all of it is replaced.
      this.logger.info('replace the unstable entries', { fromIndex: after });
      this.offset = after;
      this.entries = [];
      this.pushAll(ents);
    } else {
      this.logger.info('truncate the unstable entries', { beforeIndex: after });
      this.entries.length = after - this.offset;
      this.pushAll(ents);
    }
  }

  /** A copy of the unstable entries in [lo, hi); the range must lie within them. */
  slice(lo: number, hi: number): Entry[] {
    this.assertInBounds(lo, hi);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  private pushAll(ents: readonly Entry[]): void {
    // A loop, not push(...ents): spreading a large batch would overflow the argument stack.
    let next = this.offset + this.entries.length;
    for (const e of ents) {
      assert(e.index === next++, () => `unstable entries are not contiguous at index ${e.index}`);
      this.entries.push(e);
    }
  }

  private assertInBounds(lo: number, hi: number): void {
    assert(lo <= hi, () => `invalid unstable slice [${lo}, ${hi})`);
    const upper = this.offset + this.entries.length;
    assert(
      lo >= this.offset && hi <= upper,
      () => `unstable slice [${lo}, ${hi}) out of bounds [${this.offset}, ${upper})`,
    );
  }
}
