// RawNode: the caller's handle on one Raft node (etcd-io/raft's RawNode). The caller drives time
// with tick(), feeds network messages to step(), and loops: if hasReady(), take ready(), persist,
// send, apply, then advance().

import { encodeConfChange } from './confchange/codec.js';
import type { Config } from './config.js';
import { RaftError } from './errors.js';
import { Raft } from './raft.js';
import type { ProgressStatus, Ready, Status } from './ready.js';
import {
  type ConfChange,
  type ConfState,
  EntryType,
  type HardState,
  isLocalMsg,
  isResponseMsg,
  type Message,
  MessageType,
  message,
  type SoftState,
  StateType,
} from './types.js';

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced. Invariant: at most one at a time. */
  private pending: Ready | null = null;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  get id(): number {
    return this.raft.id;
  }

  /** Advances the logical clock by one tick (election and heartbeat timeouts count ticks). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (with a PreVote round first when PreVote is on). */
  campaign(): void {
    this.raft.step(message({ type: MessageType.Hup, from: this.raft.id }));
  }

  /**
   * Starts an election now as a leadership transfer does: no PreVote round, and voters grant it even
   * while they still believe in a leader (the lease is skipped). For an application that knows the
   * leader is gone (its process died) and must not wait an election timeout. Safety is unchanged: a
   * vote still needs an up-to-date log, and the term still rises.
   */
  campaignNow(): void {
    this.raft.hup('transfer');
  }

  /**
   * Proposes data to be appended to the log. A follower forwards it to the leader (unless
   * forwarding is disabled); a refusal throws RaftError('ProposalDropped') naming the leader if known.
   * Acceptance is not commitment: the caller learns of commitment from committed entries.
   */
  propose(data: Uint8Array): void {
    this.raft.step(
      message({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data }],
      }),
    );
  }

  /**
   * Proposes several entries as one message: the leader appends them together and replicates them in
   * one append per follower (what an application that batches its requests wants). Throws like propose.
   */
  proposeMany(data: readonly Uint8Array[]): void {
    if (data.length === 0) return;
    this.raft.step(
      message({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d })),
      }),
    );
  }

  /** Proposes a membership change; apply it with applyConfChange once it is committed. */
  proposeConfChange(cc: ConfChange): void {
    const data = encodeConfChange(cc);
    this.raft.step(
      message({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }],
      }),
    );
  }

  /** Applies a committed membership change; returns the new configuration to store with snapshots. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Feeds a message received from a peer. Proposals a peer forwarded and that we cannot accept
   * are dropped silently, as the peer's client retries; anything else refused throws.
   */
  step(m: Message): void {
    if (isLocalMsg(m.type))
      throw new RaftError('StepLocalMsg', `cannot step raft local message ${MessageType[m.type]}`);
    if (isResponseMsg(m.type) && !this.raft.trk.progress.has(m.from)) {
      throw new RaftError('StepPeerNotFound', `cannot step a response from unknown peer ${m.from}`);
    }
    try {
      this.raft.step(m);
    } catch (err) {
      if (err instanceof RaftError && err.code === 'ProposalDropped') {
        this.raft.logger.debug('dropped forwarded request', {
          id: this.raft.id,
          from: m.from,
          reason: err.message,
        });
        return;
      }
      throw err;
    }
  }

  /**
   * Requests a linearizable read. The answer arrives as a ReadState with the same context in a
   * later Ready: once applied >= its index, reading the state machine is linearizable.
   */
  readIndex(context: Uint8Array): void {
    this.raft.step(
      message({
        type: MessageType.ReadIndex,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data: context }],
      }),
    );
  }

  /** Asks the leader to hand leadership to `transferee`; proposals are refused until it finishes. */
  transferLeader(transferee: number): void {
    this.raft.step(message({ type: MessageType.TransferLeader, from: transferee }));
  }

  /** The transport could not reach `id`; the leader probes it again instead of streaming. */
  reportUnreachable(id: number): void {
    this.raft.step(message({ type: MessageType.Unreachable, from: id }));
  }

  /** Reports whether the snapshot sent to `id` was delivered. */
  reportSnapshot(id: number, ok: boolean): void {
    this.raft.step(message({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardStateFields(hs) && !hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.hasUnstableEntries() || r.raftLog.hasNextEnts()) return true;
    return r.readStates.length > 0;
  }

  /**
   * Removes and returns the heartbeats and heartbeat responses queued since the last ready(), so that a
   * caller whose Ready is held up by a slow disk can still send them: a slow fsync then does not cost
   * the leader its followers. They depend on nothing being persisted (etcd-io/raft sends them at once
   * even with asynchronous storage writes), provided the term and vote they reveal are durable: none are
   * taken while the term or vote differs from the last hard state passed through advance().
   */
  takeHeartbeats(): Message[] {
    const r = this.raft;
    const durable = this.prevHardState;
    if (r.term !== durable.term || r.vote !== durable.vote) return [];
    const taken: Message[] = [];
    const kept: Message[] = [];
    for (const m of r.msgs) {
      if (m.type === MessageType.Heartbeat || m.type === MessageType.HeartbeatResp) taken.push(m);
      else kept.push(m);
    }
    if (taken.length > 0) r.msgs = kept;
    return taken;
  }

  /** What to persist, send and apply now. Call advance() when done, before the next ready(). */
  ready(): Ready {
    if (this.pending !== null) throw new RaftError('InvalidCall', 'ready() called twice without advance()');
    const r = this.raft;
    const ss = r.softState();
    const hs = r.hardState();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState;
    const hardChanged = !hardStateEqual(hs, this.prevHardState);
    const entries = r.raftLog.unstableEntries();
    const rd: Ready = {
      softState: softChanged ? ss : null,
      hardState: hardChanged ? hs : null,
      readStates: r.readStates,
      entries,
      snapshot: r.raftLog.unstable.snapshot,
      committedEntries: r.raftLog.nextEnts(),
      messages: r.msgs,
      // A vote or term must be durable before any message reveals it; so must new entries.
      mustSync:
        entries.length > 0 || hs.vote !== this.prevHardState.vote || hs.term !== this.prevHardState.term,
    };
    if (softChanged) this.prevSoftState = ss;
    r.msgs = [];
    r.readStates = [];
    this.pending = rd;
    return rd;
  }

  /** Acknowledges that the last Ready was persisted, sent and applied. */
  advance(): void {
    const rd = this.pending;
    if (rd === null) throw new RaftError('InvalidCall', 'advance() called without a preceding ready()');
    this.pending = null;
    const r = this.raft;
    if (rd.hardState !== null) this.prevHardState = rd.hardState;
    r.reduceUncommittedSize(rd.committedEntries);
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    const applied = lastCommitted?.index ?? rd.snapshot?.metadata.index ?? 0;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) r.raftLog.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot !== null) r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
    if (applied > 0) r.appliedTo(applied);
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<number, ProgressStatus>();
    if (r.state === StateType.Leader) {
      r.trk.visit((id, pr) => {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count(),
        });
      });
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      progress,
      leadTransferee: r.leadTransferee,
      config: r.trk.confState(),
    };
  }

  /** The leader this node knows of, or 0. Cheaper than status(). */
  get lead(): number {
    return this.raft.lead;
  }

  get state(): StateType {
    return this.raft.state;
  }

  get term(): number {
    return this.raft.term;
  }

  /** Highest log index known committed on this node. */
  get committed(): number {
    return this.raft.raftLog.committed;
  }
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function isEmptyHardStateFields(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}
