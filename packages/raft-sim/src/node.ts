// One simulated node: its disk (a MemoryStorage that survives crashes), its process (a RawNode and
// state machine that a crash throws away), and the fault state the scheduler gives it.
import { type ConfState, emptyConfState, type MemoryStorage, RawNode, type SeededRand } from '@keelson/raft';
import type { ScheduleSpec } from './spec.js';
import { CrashPoint } from './spec.js';
import { IdStateMachine } from './state_machine.js';

/** A ReadState waiting until the node has applied up to its index. */
export interface WaitingRead {
  readonly readId: number;
  readonly index: number;
}

/** A transport report to hand to the node once its current Ready is done. */
export interface DeferredReport {
  readonly kind: 'unreachable' | 'snapshot';
  readonly peer: number;
  readonly ok: boolean;
}

export class SimNode {
  readonly id: number;
  /** The node's disk: what its Readies told it to persist, and its snapshots. */
  readonly storage: MemoryStorage;
  /** The running process; null while crashed or after retirement. */
  raw: RawNode | null = null;
  sm: IdStateMachine = IdStateMachine.empty();
  /** The configuration as of the node's applied index (what it would store in a snapshot). */
  conf: ConfState = emptyConfState();
  paused = false;
  pausedUntil = 0;
  crashedUntil = 0;
  /** Removed from the cluster and shut down for good; ids are never reused. */
  retired = false;
  /** Whether this node was ever in an applied configuration (only such nodes are retired). */
  wasMember = false;
  /** When non-zero, the node crashes at this point of its next Ready. */
  crashArmed: CrashPoint | 0 = 0;
  /**
   * Set when a conf change is applied: the next snapshot must carry the new configuration, or a
   * node that joined with it would refuse every snapshot the leader has (it is not in their ConfState).
   */
  snapshotDue = false;
  waitingReads: WaitingRead[] = [];
  deferred: DeferredReport[] = [];

  constructor(id: number, storage: MemoryStorage) {
    this.id = id;
    this.storage = storage;
  }

  get crashed(): boolean {
    return this.raw === null && !this.retired;
  }

  /** Ticks, takes messages and handles Readies. */
  get running(): boolean {
    return this.raw !== null && !this.paused;
  }

  /** Starts (or restarts) the process on the node's disk; the state machine comes from the snapshot. */
  start(spec: ScheduleSpec, rand: SeededRand): RawNode {
    const snap = this.storage.snapshot();
    this.sm = snap.metadata.index > 0 ? IdStateMachine.fromBytes(snap.data) : IdStateMachine.empty();
    this.conf = snap.metadata.confState;
    this.crashArmed = 0;
    this.snapshotDue = false;
    this.waitingReads = [];
    this.deferred = [];
    this.paused = false;
    this.raw = new RawNode({
      id: this.id,
      electionTick: spec.electionTick,
      heartbeatTick: spec.heartbeatTick,
      storage: this.storage,
      applied: snap.metadata.index,
      checkQuorum: spec.checkQuorum,
      preVote: spec.preVote,
      rand,
      // Small batches and windows make flow control and batching boundaries happen often.
      maxSizePerMsgBytes: 256,
      maxInflightMsgs: 8,
      maxUncommittedEntriesSizeBytes: 512,
      stepDownOnRemoval: true,
    });
    return this.raw;
  }

  /** Throws the process away: everything not on disk is lost. */
  crash(): void {
    this.raw = null;
    this.paused = false;
    this.crashArmed = 0;
    this.waitingReads = [];
    this.deferred = [];
  }
}

export const CRASH_POINT_NAMES: Record<CrashPoint, string> = {
  [CrashPoint.Idle]: 'between readies',
  [CrashPoint.BeforePersist]: 'before persisting a ready',
  [CrashPoint.AfterPersist]: 'after persisting, before sending',
  [CrashPoint.AfterSend]: 'after sending, before applying',
};
