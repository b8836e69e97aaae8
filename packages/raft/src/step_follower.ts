// How followers and (pre-)candidates handle each message (etcd-io/raft's stepFollower and
// stepCandidate), and the follower's side of replication: appends, heartbeats, snapshots.
import { proposalDropped } from './errors.js';
import { VoteResult } from './quorum/index.js';
import type { Raft } from './raft.js';
import { type Message, MessageType, NONE, StateType } from './types.js';

export function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Prop:
      if (r.lead === NONE) throw proposalDropped('no-leader', NONE);
      if (r.cfg.disableProposalForwarding) throw proposalDropped('not-leader', r.lead);
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.App:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return;
    case MessageType.TransferLeader:
      if (r.lead === NONE) {
        r.logger.info('no leader; dropping leader transfer request', { id: r.id, term: r.term });
        return;
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.TimeoutNow:
      // A transfer needs no PreVote: we know the old leader is alive and stepping aside.
      r.logger.info('received TimeoutNow; campaigning to take leadership', { id: r.id, term: r.term });
      r.hup('transfer');
      return;
    case MessageType.ReadIndex:
      if (r.lead === NONE) {
        if (m.from === r.id) throw proposalDropped('no-leader', NONE);
        return;
      }
      r.send({ ...m, to: r.lead });
      return;
    case MessageType.ReadIndexResp:
      if (m.entries.length !== 1) {
        r.logger.error('invalid ReadIndexResp: expected one entry', {
          id: r.id,
          from: m.from,
          n: m.entries.length,
        });
        return;
      }
      r.readStates.push({ index: m.index, requestCtx: (m.entries[0] as { data: Uint8Array }).data });
      return;
  }
}

export function stepCandidate(r: Raft, m: Message): void {
  // A pre-candidate only counts PreVote answers, a candidate only Vote answers: a stale answer of
  // the other kind must not be counted.
  const myVoteResp = r.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
  switch (m.type) {
    case MessageType.Prop:
      throw proposalDropped('no-leader', NONE);
    case MessageType.ReadIndex:
      if (m.from === r.id) throw proposalDropped('no-leader', NONE);
      return;
    case MessageType.App:
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return;
    case MessageType.Heartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case MessageType.Snap:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case MessageType.TimeoutNow:
      r.logger.debug('ignored TimeoutNow while campaigning', { id: r.id, term: r.term });
      return;
  }
  if (m.type !== myVoteResp) return;
  if (m.reject && learnCommitFromRejection(r, m)) return;
  const { granted, rejected, result } = r.poll(m.from, m.type, !m.reject);
  r.logger.debug('tallied votes', { id: r.id, granted, rejected, type: MessageType[m.type] });
  if (result === VoteResult.Won) {
    if (r.state === StateType.PreCandidate) {
      r.campaign('election');
    } else {
      r.becomeLeader();
      r.bcastAppend();
    }
  } else if (result === VoteResult.Lost) {
    // A PreVoteResp carries the pre-candidate's future term; keep our own.
    r.becomeFollower(r.term, NONE);
  }
}

/**
 * A vote rejection may carry the voter's commit index and its term there (see handleVoteRequest).
 * If our log has that entry, our prefix up to it is the voter's, which the voter knows committed.
 */
function learnCommitFromRejection(r: Raft, m: Message): boolean {
  if (m.commit > r.raftLog.committed && r.raftLog.matchTerm(m.commit, m.logTerm)) {
    r.logger.info('learned commit index from a vote rejection', { id: r.id, from: m.from, commit: m.commit });
    r.raftLog.commitTo(m.commit);
    // The newly committed entries may change the configuration this campaign counts votes in
    // (even remove us). Abandon it: apply them as a follower and campaign again after a timeout.
    r.becomeFollower(r.term, NONE);
    return true;
  }
  return false;
}

function handleAppendEntries(r: Raft, m: Message): void {
  if (m.index < r.raftLog.committed) {
    // Everything up to our commit index is settled; tell the leader where we are.
    r.send({ type: MessageType.AppResp, to: m.from, index: r.raftLog.committed });
    return;
  }
  const lastNew = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNew !== null) {
    r.send({ type: MessageType.AppResp, to: m.from, index: lastNew });
    return;
  }
  // Reject with a hint: the largest index at or below the leader's probe whose term is at most
  // the leader's term there, so the leader can skip all entries of conflicting terms at once.
  const probe = Math.min(m.index, r.raftLog.lastIndex());
  const hintIndex = r.raftLog.findConflictByTerm(probe, m.logTerm);
  const hintTerm = r.raftLog.term(hintIndex);
  r.logger.debug('rejected append', {
    id: r.id,
    from: m.from,
    index: m.index,
    logTerm: m.logTerm,
    hintIndex,
  });
  r.send({
    type: MessageType.AppResp,
    to: m.from,
    index: m.index,
    reject: true,
    rejectHint: hintIndex,
    logTerm: hintTerm,
  });
}

function handleHeartbeat(r: Raft, m: Message): void {
  r.raftLog.commitTo(m.commit);
  r.send({ type: MessageType.HeartbeatResp, to: m.from, context: m.context });
}

function handleSnapshot(r: Raft, m: Message): void {
  const s = m.snapshot;
  if (s === null) {
    r.logger.error('snapshot message without a snapshot', { id: r.id, from: m.from });
    return;
  }
  if (r.restoreSnapshot(s)) {
    r.send({ type: MessageType.AppResp, to: m.from, index: r.raftLog.lastIndex() });
  } else {
    r.send({ type: MessageType.AppResp, to: m.from, index: r.raftLog.committed });
  }
}
