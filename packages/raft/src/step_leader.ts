// How a leader handles each message (etcd-io/raft's stepLeader).
import { decodeConfChange } from './confchange/codec.js';
import { ReadOnlyOption } from './config.js';
import { assert, proposalDropped } from './errors.js';
import { VoteResult } from './quorum/index.js';
import { MAX_PENDING_READ_INDEX_MESSAGES, type Raft } from './raft.js';
import { type Progress, ProgressState } from './tracker/index.js';
import { EMPTY_BYTES, type Entry, EntryType, type Message, MessageType, NONE } from './types.js';

export function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Beat:
      r.bcastHeartbeat();
      return;
    case MessageType.CheckQuorum:
      checkQuorum(r);
      return;
    case MessageType.Prop:
      propose(r, m);
      return;
    case MessageType.ReadIndex:
      readIndex(r, m);
      return;
  }
  // Every other message is from a member; messages from unknown nodes are dropped.
  const pr = r.trk.progress.get(m.from);
  if (pr === undefined) {
    r.logger.debug('no progress available for sender', { id: r.id, from: m.from });
    return;
  }
  switch (m.type) {
    case MessageType.AppResp:
      pr.recentActive = true;
      if (m.reject) handleAppendRejection(r, m, pr);
      else handleAppendSuccess(r, m, pr);
      return;
    case MessageType.HeartbeatResp:
      handleHeartbeatResp(r, m, pr);
      return;
    case MessageType.SnapStatus:
      if (pr.state !== ProgressState.Snapshot) return;
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      // Wait for the follower's append response (after success) or a heartbeat interval (after
      // failure) before sending again.
      pr.msgAppFlowPaused = true;
      return;
    case MessageType.Unreachable:
      // Optimistic replication to an unreachable node has probably lost messages: probe again.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      return;
    case MessageType.TransferLeader:
      transferLeader(r, m.from, pr);
      return;
  }
}

function checkQuorum(r: Raft): void {
  if (!r.trk.quorumActive()) {
    // We cannot hear from a quorum: another leader may exist. Step down so that clients stop
    // sending us writes that cannot commit and reads we cannot serve.
    r.logger.warn('stepped down to follower since quorum is not active', { id: r.id, term: r.term });
    r.becomeFollower(r.term, NONE);
  }
  // Mark everyone but ourselves inactive for the next check.
  r.trk.visit((id, p) => {
    if (id !== r.id) p.recentActive = false;
  });
}

function propose(r: Raft, m: Message): void {
  assert(m.entries.length > 0, 'stepped an empty proposal');
  if (!r.trk.progress.has(r.id)) {
    // We were removed from the configuration while leading; a new leader will take over.
    throw proposalDropped('not-in-config', NONE);
  }
  if (r.leadTransferee !== NONE) {
    throw proposalDropped('transfer-in-progress', r.leadTransferee);
  }
  const ents = m.entries.map((e, i) => vetConfChange(r, e, i));
  if (!r.appendEntry(ents)) throw proposalDropped('uncommitted-size-limit', r.id);
  r.bcastAppend();
}

/**
 * Only one conf change may be in flight, and joint configs must be entered and left in order. An
 * invalid conf change is replaced by an empty normal entry rather than refused, so that the other
 * entries of the batch keep their positions.
 */
function vetConfChange(r: Raft, e: Entry, i: number): Entry {
  if (e.type !== EntryType.ConfChange) return e;
  const cc = decodeConfChange(e.data);
  const alreadyPending = r.pendingConfIndex > r.raftLog.applied;
  const alreadyJoint = r.trk.config.voters.isJoint();
  const wantsLeaveJoint = cc.changes.length === 0;
  let failed = '';
  if (alreadyPending) failed = `possible unapplied conf change at index ${r.pendingConfIndex}`;
  else if (alreadyJoint && !wantsLeaveJoint) failed = 'must transition out of joint config first';
  else if (!alreadyJoint && wantsLeaveJoint) failed = 'not in joint state; refusing empty conf change';
  if (failed !== '') {
    r.logger.info('ignoring conf change', { id: r.id, reason: failed });
    return { term: e.term, index: e.index, type: EntryType.Normal, data: EMPTY_BYTES };
  }
  r.pendingConfIndex = r.raftLog.lastIndex() + i + 1;
  return e;
}

function readIndex(r: Raft, m: Message): void {
  if (r.trk.isSingleton()) {
    // The only voter is us: our commit index is linearizable as it stands.
    r.responseToReadIndexReq(m, r.raftLog.committed);
    return;
  }
  if (!r.committedEntryInCurrentTerm()) {
    // A new leader's commit index may lag what the previous leader committed until it commits an
    // entry of its own term; answering now could miss acknowledged writes. Hold the request.
    if (r.pendingReadIndexMessages.length >= MAX_PENDING_READ_INDEX_MESSAGES) {
      throw proposalDropped('read-queue-full', r.id);
    }
    r.pendingReadIndexMessages.push(m);
    return;
  }
  sendReadIndexResponse(r, m);
}

export function sendReadIndexResponse(r: Raft, m: Message): void {
  if (r.readOnlyOption === ReadOnlyOption.LeaseBased) {
    r.responseToReadIndexReq(m, r.raftLog.committed);
    return;
  }
  // Safe: record the commit index now, and answer once a quorum acknowledges a heartbeat that
  // carries this request's context, proving no newer leader had been elected at that time.
  const ctx = m.entries[0]?.data ?? EMPTY_BYTES;
  if (!r.readOnly.addRequest(r.raftLog.committed, m)) {
    r.logger.warn('too many pending read requests; dropping one', { id: r.id });
    return;
  }
  r.readOnly.recvAck(r.id, ctx);
  r.bcastHeartbeatWithCtx(ctx);
}

export function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0) return;
  assert(r.committedEntryInCurrentTerm(), 'pending reads released before the first commit of the term');
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) sendReadIndexResponse(r, m);
}

function handleAppendRejection(r: Raft, m: Message, pr: Progress): void {
  // The follower's hint (its last index, or with logTerm the last index of that term it has)
  // lets us skip a whole term of conflicting entries per round trip instead of one entry.
  let nextProbeIdx = m.rejectHint;
  if (m.logTerm > 0) nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
  if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
    r.logger.debug('decreased progress after rejection', { id: r.id, from: m.from, next: pr.next });
    if (pr.state === ProgressState.Replicate) pr.becomeProbe();
    r.sendAppend(m.from);
  }
}

function handleAppendSuccess(r: Raft, m: Message, pr: Progress): void {
  // A probing follower that confirms an index it already matched can go back to replicating.
  if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe))) return;
  if (pr.state === ProgressState.Probe) {
    pr.becomeReplicate();
  } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= r.raftLog.firstIndex()) {
    // The follower can now be caught up from the log, whatever snapshot it installed.
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === ProgressState.Replicate) {
    pr.inflights.freeLE(m.index);
  }
  if (r.maybeCommit()) {
    // The commit index moved in our term, so held read requests can now be answered.
    releasePendingReadIndexMessages(r);
    r.bcastAppend();
  } else if (r.id !== m.from && pr.canBumpCommit(r.raftLog.committed)) {
    // Tell this follower the commit index now rather than at the next heartbeat.
    r.sendAppend(m.from);
  }
  if (r.id !== m.from) {
    // Freed window slots may allow several size-limited messages at once; bounded by the window.
    for (let i = 0; i < r.trk.maxInflight && r.maybeSendAppend(m.from, false); i++) {}
  }
  if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
    r.logger.info('sent TimeoutNow after log caught up', { id: r.id, to: m.from });
    r.sendTimeoutNow(m.from);
  }
}

function handleHeartbeatResp(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.msgAppFlowPaused = false;
  // An empty append also rescues a follower whose whole window of appends was lost.
  if (pr.match < r.raftLog.lastIndex() || pr.state === ProgressState.Probe) r.sendAppend(m.from);
  if (r.readOnlyOption !== ReadOnlyOption.Safe || m.context.length === 0) return;
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (acks === null || r.trk.config.voters.voteResult(acks) !== VoteResult.Won) return;
  for (const rs of r.readOnly.advance(m.context)) r.responseToReadIndexReq(rs.req, rs.index);
}

function transferLeader(r: Raft, transferee: number, pr: Progress): void {
  if (pr.isLearner) {
    r.logger.debug('ignored transferring leadership to a learner', { id: r.id, to: transferee });
    return;
  }
  if (r.leadTransferee !== NONE) {
    if (r.leadTransferee === transferee) return;
    r.abortLeaderTransfer();
  }
  if (transferee === r.id) return;
  // The transfer must finish within one election timeout, or it is aborted.
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  r.logger.info('starting leadership transfer', { id: r.id, to: transferee });
  if (pr.match === r.raftLog.lastIndex()) r.sendTimeoutNow(transferee);
  else r.sendAppend(transferee);
}
