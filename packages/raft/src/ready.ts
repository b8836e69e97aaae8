// What RawNode hands the caller. The caller must, in this order: persist `snapshot`, `entries` and
// `hardState` (a sync write when `mustSync`), then send `messages`, then apply `snapshot` and
// `committedEntries` to its state machine, and only then call advance().
import type { ProgressState } from './tracker/progress.js';
import type { ConfState, Entry, HardState, Message, ReadState, Snapshot, SoftState } from './types.js';

export interface Ready {
  /** Present only when the leader or role changed since the last Ready. */
  readonly softState: SoftState | null;
  /** Present only when term, vote or commit changed since the last Ready: persist it. */
  readonly hardState: HardState | null;
  /** Answers to ReadIndex requests, in request order. */
  readonly readStates: readonly ReadState[];
  /** Entries to persist before sending messages. */
  readonly entries: readonly Entry[];
  /** A snapshot to persist and apply (it replaces the state machine). */
  readonly snapshot: Snapshot | null;
  /** Entries committed by a quorum, to apply in order. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send once entries and hardState are durable. */
  readonly messages: readonly Message[];
  /** Whether entries or hardState must reach disk with a sync write. */
  readonly mustSync: boolean;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly inflight: number;
}

export interface Status {
  readonly id: number;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  /** Replication progress of every member; only on the leader (empty otherwise). */
  readonly progress: ReadonlyMap<number, ProgressStatus>;
  readonly leadTransferee: number;
  readonly config: ConfState;
}
