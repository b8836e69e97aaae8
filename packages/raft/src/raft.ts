// The Raft state machine (etcd-io/raft's `raft` struct). Roles are behaviour, not subclasses: the
// step and tick functions are swapped by becomeFollower / becomePreCandidate / becomeCandidate /
// becomeLeader. Nothing here performs I/O: outgoing messages accumulate in `msgs` and the log's
// unstable tail, and RawNode hands them to the caller in a Ready.

import { encodeConfChange } from './confchange/codec.js';
import { Changer, confChangeEnterJoint, confChangeLeaveJoint, restore } from './confchange/index.js';
import { type Config, type ReadOnlyOption, type ResolvedConfig, resolveConfig } from './config.js';
import { AssertionError, assert, RaftError } from './errors.js';
import { RaftLog } from './log.js';
import type { Logger } from './logger.js';
import { VoteResult } from './quorum/index.js';
import { ReadOnly } from './read_only.js';
import { stepCandidate, stepFollower } from './step_follower.js';
import { stepLeader } from './step_leader.js';
import { Inflights, Progress, ProgressTracker, type TrackerConfig } from './tracker/index.js';
import {
  type ConfChange,
  ConfChangeTransition,
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  message,
  NONE,
  type ReadState,
  type Snapshot,
  type SoftState,
  StateType,
  voteRespMsgType,
} from './types.js';
import { payloadsSizeBytes } from './util.js';

export type CampaignType = 'pre-election' | 'election' | 'transfer';

/** The vote context that marks a campaign started by leadership transfer (it may break a lease). */
export const CAMPAIGN_TRANSFER: Uint8Array = new TextEncoder().encode('CampaignTransfer');

/** Pending ReadIndex requests a new leader holds until it commits an entry of its term. */
export const MAX_PENDING_READ_INDEX_MESSAGES = 4096;

type StepFn = (r: Raft, m: Message) => void;

export class Raft {
  readonly id: number;
  readonly cfg: ResolvedConfig;
  readonly logger: Logger;

  term = 0;
  vote = NONE;
  readonly raftLog: RaftLog;
  trk: ProgressTracker;
  state: StateType = StateType.Follower;
  /** Whether this node is a learner in the current configuration (it never campaigns). */
  isLearner = false;
  /** Messages produced since the last Ready; the caller sends them after persisting. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  lead = NONE;
  /** The member leadership is being transferred to, or NONE. Proposals are refused meanwhile. */
  leadTransferee = NONE;
  /**
   * Only one configuration change may be pending (in the log, not yet applied). Invariant: a new
   * one is accepted only when pendingConfIndex <= applied.
   */
  pendingConfIndex = 0;
  /** Payload bytes of the uncommitted tail of the leader's log. Invariant: <= maxUncommitted (but the first entry). */
  uncommittedSizeBytes = 0;
  readOnly: ReadOnly;
  pendingReadIndexMessages: Message[] = [];

  /** Ticks since the last election timeout (follower, candidate) or quorum check (leader). */
  electionElapsed = 0;
  /** Ticks since the last heartbeat (leader only). */
  heartbeatElapsed = 0;
  /** Randomized in [electionTick, 2 * electionTick) on every reset, so that split votes resolve. */
  randomizedElectionTimeout = 0;

  private tickFn: () => void;
  stepFn: StepFn;

  constructor(config: Config) {
    const c = resolveConfig(config);
    this.cfg = c;
    this.id = c.id;
    this.logger = c.logger;
    this.raftLog = new RaftLog(c.storage, c.logger, c.maxCommittedSizePerReadyBytes);
    this.readOnly = new ReadOnly();
    this.trk = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);
    this.tickFn = () => this.tickElection();
    this.stepFn = stepFollower;

    const { hardState, confState } = c.storage.initialState();
    const { config: trkConfig, progress } = restore(
      new Changer(this.trk, this.raftLog.lastIndex()),
      confState,
    );
    assertConfStatesEquivalent(confState, this.switchToConfig(trkConfig, progress));
    if (!(hardState.term === 0 && hardState.vote === 0 && hardState.commit === 0)) this.loadState(hardState);
    if (c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.logger.info('raft node started', {
      id: this.id,
      term: this.term,
      commit: this.raftLog.committed,
      applied: this.raftLog.applied,
      lastIndex: this.raftLog.lastIndex(),
      voters: this.trk.voterNodes(),
    });
  }

  get readOnlyOption(): ReadOnlyOption {
    return this.cfg.readOnlyOption;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // ---- sending ----

  /** Queues a message, stamping `from` and (for all but votes, proposals and reads) the term. */
  send(fields: Partial<Message> & Pick<Message, 'type' | 'to'>): void {
    const t = fields.type;
    let term = fields.term ?? 0;
    if (
      t === MessageType.Vote ||
      t === MessageType.VoteResp ||
      t === MessageType.PreVote ||
      t === MessageType.PreVoteResp
    ) {
      // Vote messages carry the term they are for: a PreVote asks for a future term, and a
      // response to it echoes the candidate's term when granted.
      assert(term !== 0, () => `term should be set when sending ${MessageType[t]}`);
    } else {
      assert(term === 0, () => `term should not be set when sending ${MessageType[t]} (was ${term})`);
      // Proposals and read requests are forwarded as local messages and carry no term.
      if (t !== MessageType.Prop && t !== MessageType.ReadIndex) term = this.term;
    }
    this.msgs.push(message(fields, fields.from ?? this.id, term));
  }

  /** Sends an append (possibly empty, to carry the commit index) or a snapshot to `to`. */
  sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends the entries the follower is missing, limited by the per-message size and the in-flight
   * window. Returns false when nothing was sent (paused, or nothing new and sendIfEmpty is false).
   */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.raftLog.term(prevIndex);
      ents = pr.inflights.full() ? [] : this.raftLog.entries(pr.next, this.cfg.maxSizePerMsgBytes);
    } catch (err) {
      // The entries the follower needs were compacted away: only a snapshot can catch it up.
      if (err instanceof RaftError && err.code === 'Compacted') return this.maybeSendSnapshot(to, pr);
      throw err;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: MessageType.App,
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.raftLog.committed,
    });
    pr.sentEntries(ents.length, payloadsSizeBytes(ents));
    pr.sentCommitTo(this.raftLog.committed);
    return true;
  }

  private maybeSendSnapshot(to: number, pr: Progress): boolean {
    // A follower that has not been heard from recently is probably down; do not waste a snapshot.
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (err) {
      if (err instanceof RaftError && err.code === 'SnapshotTemporarilyUnavailable') return false;
      throw err;
    }
    assert(snapshot.metadata.index > 0, 'need a non-empty snapshot to catch up a follower');
    pr.becomeSnapshot(snapshot.metadata.index);
    this.logger.debug('sent snapshot', { to, index: snapshot.metadata.index, term: snapshot.metadata.term });
    this.send({ type: MessageType.Snap, to, snapshot });
    return true;
  }

  sendHeartbeat(to: number, context: Uint8Array): void {
    const pr = this.trk.progress.get(to);
    if (pr === undefined) return;
    // Never tell a follower to commit past what it is known to have: it may not have those
    // entries, and committing them would break the log's invariant.
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send({ type: MessageType.Heartbeat, to, commit, context });
    pr.sentCommitTo(commit);
  }

  bcastAppend(): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx() ?? EMPTY_BYTES);
  }

  bcastHeartbeatWithCtx(context: Uint8Array): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, context);
    });
  }

  sendTimeoutNow(to: number): void {
    this.send({ type: MessageType.TimeoutNow, to });
  }

  // ---- log ----

  /** Leader only: appends entries at the current term. Returns false if the uncommitted bound refuses them. */
  appendEntry(es: readonly Pick<Entry, 'type' | 'data'>[]): boolean {
    const li = this.raftLog.lastIndex();
    const ents: Entry[] = es.map((e, i) => ({
      term: this.term,
      index: li + 1 + i,
      type: e.type,
      data: e.data,
    }));
    if (!this.increaseUncommittedSize(ents)) {
      this.logger.warn(
        'appending new entries to log would exceed uncommitted entry size limit; dropping proposal',
        {
          id: this.id,
        },
      );
      return false;
    }
    const last = this.raftLog.append(ents);
    // The leader counts its own log as acknowledged: RawNode's contract makes the caller persist
    // these entries before it sends the messages that could let a follower ack them.
    this.trk.progress.get(this.id)?.maybeUpdate(last);
    this.maybeCommit();
    return true;
  }

  /** Advances the commit index to what a quorum holds, if that entry is of the current term. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnOutOfRange(this.raftLog.committed) === this.term;
  }

  private increaseUncommittedSize(ents: readonly Entry[]): boolean {
    const s = payloadsSizeBytes(ents);
    const max = this.cfg.maxUncommittedEntriesSizeBytes;
    // The first entry is always accepted, even if larger than the bound, so a large proposal
    // cannot be refused forever.
    if (max > 0 && this.uncommittedSizeBytes > 0 && s > 0 && this.uncommittedSizeBytes + s > max)
      return false;
    this.uncommittedSizeBytes += s;
    return true;
  }

  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.state !== StateType.Leader) return;
    const s = payloadsSizeBytes(ents);
    // The tail may include entries appended by an earlier leader that this count never saw.
    this.uncommittedSizeBytes = s > this.uncommittedSizeBytes ? 0 : this.uncommittedSizeBytes - s;
  }

  /** Marks entries up to `index` applied; a leader in an auto-leave joint config proposes to leave it. */
  appliedTo(index: number): void {
    const newApplied = Math.max(index, this.raftLog.applied);
    this.raftLog.appliedTo(newApplied);
    if (this.trk.config.autoLeave && newApplied >= this.pendingConfIndex && this.state === StateType.Leader) {
      const leave: ConfChange = { transition: ConfChangeTransition.Auto, changes: [], context: EMPTY_BYTES };
      try {
        this.step(
          message({
            type: MessageType.Prop,
            from: this.id,
            entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(leave) }],
          }),
        );
        this.logger.info('initiating automatic transition out of joint configuration', { id: this.id });
      } catch (err) {
        // A transfer in progress refuses it; the next applied entry tries again.
        if (!(err instanceof RaftError && err.code === 'ProposalDropped')) throw err;
      }
    }
  }

  // ---- roles ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const fresh = new Progress(
        last + 1,
        new Inflights(this.trk.maxInflight, this.trk.maxInflightBytes),
        pr.isLearner,
      );
      if (id === this.id) fresh.match = last;
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSizeBytes = 0;
    this.readOnly.reset();
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.Follower;
    this.logger.debug('became follower', { id: this.id, term: this.term, lead });
  }

  becomeCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.logger.debug('became candidate', { id: this.id, term: this.term });
  }

  becomePreCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither its term nor its vote: a failed pre-election must leave no
    // trace, which is the whole point of PreVote (a partitioned node does not disrupt on return).
    this.stepFn = stepCandidate;
    this.trk.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
    this.logger.debug('became pre-candidate', { id: this.id, term: this.term });
  }

  becomeLeader(): void {
    assert(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id);
    assert(self !== undefined, 'a leader must be in its own configuration');
    // The leader's own log is always up to date; it replicates to itself optimistically.
    self.becomeReplicate();
    self.recentActive = true;
    // Conservatively treat the whole tail as possibly holding a conf change: no new one is
    // accepted until everything this leader inherited is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    const ok = this.appendEntry([{ type: EntryType.Normal, data: EMPTY_BYTES }]);
    assert(ok, 'empty entry was dropped');
    // The empty entry does not count against the uncommitted bound.
    this.uncommittedSizeBytes = 0;
    this.readOnly.reset();
    this.logger.info('became leader', { id: this.id, term: this.term });
  }

  // ---- ticks ----

  tick(): void {
    this.tickFn();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(message({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout has failed: accept proposals again.
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.Beat, from: this.id }));
    }
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTick + this.cfg.rand.intn(this.cfg.electionTick);
  }

  /** Whether this node may become leader: a voter with no snapshot waiting to be applied. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  // ---- elections ----

  hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) {
      this.logger.warn('is unpromotable and can not campaign', { id: this.id });
      return;
    }
    // A node must not lead before it knows the configuration it would lead: campaigning with a
    // committed but unapplied conf change could let two disjoint majorities elect leaders.
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn('cannot campaign: there are unapplied configuration changes', { id: this.id });
      return;
    }
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    const log = this.raftLog;
    if (log.applied >= log.committed) return false;
    // Scan in bounded pages so that a long unapplied tail cannot allocate unboundedly.
    let lo = Math.max(log.applied + 1, log.firstIndex());
    const hi = log.committed + 1;
    while (lo < hi) {
      const page = log.slice(lo, hi, this.cfg.maxCommittedSizePerReadyBytes);
      assert(page.length > 0, 'empty page while scanning for conf changes');
      for (const e of page) if (e.type === EntryType.ConfChange) return true;
      lo += page.length;
    }
    return false;
  }

  campaign(t: CampaignType): void {
    let term: number;
    let voteMsg: MessageType;
    if (t === 'pre-election') {
      this.becomePreCandidate();
      voteMsg = MessageType.PreVote;
      // A PreVote asks for the term a real election would use, without taking it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.Vote;
      term = this.term;
    }
    const { result } = this.poll(this.id, voteRespMsgType(voteMsg), true);
    if (result === VoteResult.Won) {
      // Winning on one's own vote means a single-voter cluster.
      if (t === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const context = t === 'transfer' ? CAMPAIGN_TRANSFER : EMPTY_BYTES;
    for (const id of this.trk.voterNodes()) {
      if (id === this.id) continue;
      this.logger.debug('sent vote request', { id: this.id, to: id, term, type: MessageType[voteMsg] });
      this.send({
        type: voteMsg,
        to: id,
        term,
        index: this.raftLog.lastIndex(),
        logTerm: this.raftLog.lastTerm(),
        context,
      });
    }
  }

  poll(
    id: number,
    t: MessageType,
    granted: boolean,
  ): { granted: number; rejected: number; result: VoteResult } {
    this.logger.debug(granted ? 'received vote' : 'received rejection', {
      id: this.id,
      from: id,
      type: MessageType[t],
    });
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes();
  }

  // ---- the step entry point ----

  /** Feeds one message to the state machine. Refused proposals throw RaftError('ProposalDropped'). */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message (or a forwarded proposal / read request).
    } else if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.cfg.preVote ? 'pre-election' : 'election');
        return;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return;
      default:
        this.stepFn(this, m);
    }
  }

  /** Handles the term of a message from a later term; returns false if the message is ignored. */
  private stepHigherTerm(m: Message): boolean {
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
      const inLease =
        this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTick;
      if (!force && inLease) {
        // While we hear from a leader within the minimum election timeout, a vote request comes
        // from a node that cannot have lost contact with it for long: refuse to be disrupted.
        this.logger.debug('ignored vote request within lease', { id: this.id, from: m.from, term: m.term });
        return false;
      }
    }
    if (m.type === MessageType.PreVote) {
      // Never change our term in response to a PreVote.
    } else if (m.type === MessageType.PreVoteResp && !m.reject) {
      // A granted PreVote echoes the future term we asked for; we take it only on winning.
    } else {
      const lead =
        m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap
          ? m.from
          : NONE;
      this.logger.debug('received message with higher term', { id: this.id, from: m.from, term: m.term });
      this.becomeFollower(m.term, lead);
    }
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if (
      (this.cfg.checkQuorum || this.cfg.preVote) &&
      (m.type === MessageType.Heartbeat || m.type === MessageType.App)
    ) {
      // A stale leader (e.g. after a partition heals) learns our term from this response and
      // steps down; without it, CheckQuorum/PreVote could leave it stuck forever.
      this.send({ type: MessageType.AppResp, to: m.from });
    } else if (m.type === MessageType.PreVote || m.type === MessageType.Vote) {
      // Reject with our term so that a (pre-)candidate with a stale term learns ours (Raft §5.1).
      // etcd ignores a stale Vote; the simulator found the deadlock that causes without PreVote:
      // the only node able to win sat at an old term, and no node of a newer term ever wrote to it.
      this.send({ type: voteRespMsgType(m.type), to: m.from, term: this.term, reject: true });
    }
    // Anything else from an older term is ignored.
  }

  private handleVoteRequest(m: Message): void {
    // We can vote if this is a repeat of a vote we cast, if we have not voted and know no leader
    // in this term, or if this is a PreVote for a future term.
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === MessageType.PreVote && m.term > this.term);
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      this.logger.debug('cast vote', { id: this.id, for: m.from, term: m.term, type: MessageType[m.type] });
      // A granted response carries the candidate's term, which for a PreVote is a future term.
      this.send({ type: voteRespMsgType(m.type), to: m.from, term: m.term });
      if (m.type === MessageType.Vote) {
        // Only real votes are recorded (and persisted through the HardState).
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      // Keelson extension (not in etcd): the rejection carries our commit index, capped at the
      // candidate's last index, and our term there. A candidate whose log has that same entry
      // holds, by Log Matching, exactly our prefix up to it, all of it committed, so it may commit
      // it. This breaks a deadlock etcd has: after a leader removes itself, a survivor holding the
      // removal entry may not know it committed, so it still needs the removed node's vote, which
      // the removed node (longer log, never campaigning) refuses forever.
      const hintIndex = Math.min(this.raftLog.committed, m.index);
      this.send({
        type: voteRespMsgType(m.type),
        to: m.from,
        term: this.term,
        reject: true,
        commit: hintIndex,
        logTerm: this.raftLog.zeroTermOnOutOfRange(hintIndex),
      });
    }
  }

  // ---- configuration ----

  applyConfChange(cc: ConfChange): ConfState {
    const changer = new Changer(this.trk, this.raftLog.lastIndex());
    let next: { config: TrackerConfig; progress: Map<number, Progress> };
    if (confChangeLeaveJoint(cc)) next = changer.leaveJoint();
    else {
      const { autoLeave, ok } = confChangeEnterJoint(cc);
      next = ok ? changer.enterJoint(autoLeave, cc.changes) : changer.simple(cc.changes);
    }
    return this.switchToConfig(next.config, next.progress);
  }

  switchToConfig(config: TrackerConfig, progress: Map<number, Progress>): ConfState {
    this.trk.config = config;
    this.trk.progress = progress;
    const cs = this.trk.confState();
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr?.isLearner === true;
    if ((pr === undefined || this.isLearner) && this.state === StateType.Leader) {
      // This leader was removed (or demoted): it must not go on leading a configuration that
      // does not include it.
      if (this.cfg.stepDownOnRemoval) {
        this.logger.info('leader removed from the configuration; stepping down', { id: this.id });
        this.becomeFollower(this.term, NONE);
      }
      return cs;
    }
    if ((this.state === StateType.Candidate || this.state === StateType.PreCandidate) && !this.promotable()) {
      // A campaign for a configuration that no longer has us as a voter must not be won.
      this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.state !== StateType.Leader || cs.voters.length === 0) return cs;
    if (this.maybeCommit()) {
      // The new configuration may let more entries commit: tell everyone.
      this.bcastAppend();
    } else {
      // Probe newly added members at once rather than waiting for the next heartbeat.
      this.trk.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== NONE && !this.trk.config.voters.ids().has(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    return cs;
  }

  /**
   * Installs a snapshot sent by the leader. Returns false if it was ignored (stale, or we already
   * have its last entry).
   */
  restoreSnapshot(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    // A snapshot at or below the commit index holds nothing new, and installing it would move the
    // commit index backwards.
    if (index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      // Defense in depth: should never happen; refuse rather than corrupt.
      this.logger.warn('attempted to restore snapshot while not a follower; stepping down', { id: this.id });
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const ids = [...confState.voters, ...confState.learners, ...confState.votersOutgoing];
    if (!ids.includes(this.id)) {
      this.logger.warn('attempted to restore snapshot that does not include this node; ignoring', {
        id: this.id,
      });
      return false;
    }
    if (this.raftLog.matchTerm(index, term)) {
      // We already have the snapshot's last entry: fast-forward the commit index instead.
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(s);
    this.trk = new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes);
    const { config, progress } = restore(new Changer(this.trk, this.raftLog.lastIndex()), confState);
    assertConfStatesEquivalent(confState, this.switchToConfig(config, progress));
    this.logger.info('restored snapshot', { id: this.id, index, term });
    return true;
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new AssertionError(
        `hard state commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---- read index ----

  /** Answers a read request at `readIndex`: locally as a ReadState, or to the follower that asked. */
  responseToReadIndexReq(req: Message, readIndex: number): void {
    const ctx = req.entries[0]?.data ?? EMPTY_BYTES;
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: ctx });
      return;
    }
    this.send({ type: MessageType.ReadIndexResp, to: req.from, index: readIndex, entries: req.entries });
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function assertConfStatesEquivalent(a: ConfState, b: ConfState): void {
  const norm = (cs: ConfState): string =>
    JSON.stringify(
      [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext].map((x) => [...x].sort((p, q) => p - q)),
    );
  assert(norm(a) === norm(b), () => `conf states differ after restore: ${norm(a)} vs ${norm(b)}`);
}
