// The leader's view of one follower's log, modelled on etcd-io/raft v3.6's tracker.Progress.
import { assert } from '../errors.js';
import type { Inflights } from './inflights.js';

export enum ProgressState {
  /** The leader does not know where the follower's log ends; it sends one append at a time to find out. */
  Probe = 0,
  /** The follower's log is known; appends are streamed optimistically, bounded by the inflights. */
  Replicate = 1,
  /** The follower needs a snapshot; appends stop until it is applied or fails. */
  Snapshot = 2,
}

const STATE_NAMES: Record<ProgressState, string> = {
  [ProgressState.Probe]: 'StateProbe',
  [ProgressState.Replicate]: 'StateReplicate',
  [ProgressState.Snapshot]: 'StateSnapshot',
};

export class Progress {
  /**
   * The highest index known to be in the follower's log (0 when unknown).
   * Invariant: match < next.
   */
  match: number;
  /** The index of the next entry to send; Invariant: match < next. */
  next: number;
  /** The highest commit index the leader sent to the follower; it may lag behind or regress. */
  sentCommit = 0;
  state: ProgressState = ProgressState.Probe;
  /** In Snapshot state, the index of the snapshot in flight; 0 otherwise. */
  pendingSnapshot = 0;
  /** Set when the follower was heard from recently; CheckQuorum reads and clears it. */
  recentActive = false;
  /**
   * Set when the leader should stop sending appends: after a probe in Probe state, or when the
   * inflights are full in Replicate state. Cleared by an acknowledgement or a heartbeat response.
   */
  msgAppFlowPaused = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, inflights: Inflights, isLearner: boolean) {
    assert(Number.isSafeInteger(next) && next > 0, () => `progress next ${next} must be positive`);
    this.match = 0;
    this.next = next;
    this.inflights = inflights;
    this.isLearner = isLearner;
  }

  /** Moves to `state`, forgetting everything tied to the previous one. */
  resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** Falls back to probing, after a rejection, an unreachable report, or a finished snapshot. */
  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      // A snapshot that succeeded (or may have) means the follower has at least its index.
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.assertInvariant();
  }

  /** Starts streaming appends right after what the follower is known to have. */
  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
    this.assertInvariant();
  }

  /** Stops appends until the snapshot at `snapshotIndex` is applied or fails. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.sentCommit = snapshotIndex;
    this.assertInvariant();
  }

  /** Records that an append of `entries` entries totalling `bytes` bytes was sent. */
  sentEntries(entries: number, bytes: number): void {
    assert(entries >= 0, () => `sent ${entries} entries`);
    switch (this.state) {
      case ProgressState.Replicate:
        if (entries > 0) {
          this.next += entries;
          this.inflights.add(this.next - 1, bytes);
        }
        this.msgAppFlowPaused = this.inflights.full();
        break;
      case ProgressState.Probe:
        // One probe at a time: wait for its answer (or a heartbeat response) before sending more.
        if (entries > 0) this.msgAppFlowPaused = true;
        break;
      case ProgressState.Snapshot:
        assert(false, () => `sending append in unhandled state ${STATE_NAMES[this.state]}`);
    }
    this.assertInvariant();
  }

  /** Whether sending commit index `index` tells the follower something new it can act on. */
  canBumpCommit(index: number): boolean {
    // The follower can only commit up to the entries it has been sent (next - 1).
    return index > this.sentCommit && this.sentCommit < this.next - 1;
  }

  sentCommitTo(commit: number): void {
    this.sentCommit = commit;
  }

  /** Records an acknowledgement of index n; false when it tells nothing new (stale or duplicate). */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.msgAppFlowPaused = false;
    this.assertInvariant();
    return true;
  }

  /**
   * Handles a rejection of the append at index `rejected`; `matchHint` is the follower's guess of
   * where the logs agree. False when the rejection is stale and changes nothing.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // A rejection at or below match is stale: match is known to be in the follower's log.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.next - 1);
      this.assertInvariant();
      return true;
    }
    // Probes go one at a time, so a rejection of anything but next-1 answers an older probe.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.msgAppFlowPaused = false;
    this.assertInvariant();
    return true;
  }

  /** Whether appends to this follower should wait; heartbeats are sent regardless. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
      case ProgressState.Replicate:
        return this.msgAppFlowPaused;
      case ProgressState.Snapshot:
        return true;
    }
  }

  /** A copy with its own inflights, for configuration changes that must not touch the original. */
  clone(): Progress {
    const c = new Progress(this.next, this.inflights.clone(), this.isLearner);
    c.match = this.match;
    c.sentCommit = this.sentCommit;
    c.state = this.state;
    c.pendingSnapshot = this.pendingSnapshot;
    c.recentActive = this.recentActive;
    c.msgAppFlowPaused = this.msgAppFlowPaused;
    return c;
  }

  toString(): string {
    let s = `${STATE_NAMES[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) s += ` inflight=${n}${this.inflights.full() ? '[full]' : ''}`;
    return s;
  }

  private assertInvariant(): void {
    assert(this.match < this.next, () => `progress invariant match < next broken: ${this}`);
  }
}
