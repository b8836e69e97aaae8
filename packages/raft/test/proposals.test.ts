import { MessageType, RaftError, StateType } from '@keelson/raft';
import { describe, expect, it } from 'vitest';
import { Cluster, enc } from './harness.js';

function catchErr(f: () => void): RaftError {
  try {
    f();
  } catch (err) {
    if (err instanceof RaftError) return err;
    throw err;
  }
  throw new Error('expected a RaftError');
}

describe('proposals', () => {
  it('a follower forwards a proposal to the leader, which commits it', () => {
    // Proves proposal forwarding.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(3).node.propose(enc('via-follower'));
    c.stabilize();
    for (const id of [1, 2, 3]) expect(c.appliedData(id)).toEqual(['via-follower']);
  });

  it('proposeMany replicates a batch in one append per follower, from the leader or a follower', () => {
    // Proves a batch travels as one message (one MsgApp per follower) and commits in order everywhere.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const before = c.sentOfType(MessageType.App).length;
    c.get(1).node.proposeMany([enc('a'), enc('b'), enc('c')]);
    c.stabilize();
    const apps = c
      .sentOfType(MessageType.App)
      .slice(before)
      .filter((m) => m.entries.length > 0);
    expect(apps.map((m) => m.entries.length)).toEqual([3, 3]);
    c.get(3).node.proposeMany([enc('d'), enc('e')]);
    c.stabilize();
    for (const id of [1, 2, 3]) expect(c.appliedData(id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const err = catchErr(() => new Cluster([1, 2, 3]).get(2).node.proposeMany([enc('x')]));
    expect(err.details.reason).toBe('no-leader');
  });

  it('with forwarding disabled, a follower says "not leader; leader is X"', () => {
    // Proves the clear refusal naming the leader.
    const c = new Cluster([1, 2, 3], { disableProposalForwarding: true });
    c.elect(1);
    const err = catchErr(() => c.get(2).node.propose(enc('x')));
    expect(err.code).toBe('ProposalDropped');
    expect(err.details).toMatchObject({ reason: 'not-leader', leader: 1 });
    expect(err.message).toMatch(/not leader; leader is 1/);
  });

  it('a node that knows no leader refuses with "no leader"', () => {
    // Proves proposals without a leader fail fast instead of vanishing.
    const c = new Cluster([1, 2, 3]);
    const err = catchErr(() => c.get(2).node.propose(enc('x')));
    expect(err.details.reason).toBe('no-leader');
    expect(err.message).toMatch(/leader unknown/);
  });

  it('bounds the uncommitted log: proposals beyond it are refused, then accepted after commits', () => {
    // Proves the uncommitted-size bound refuses instead of queueing forever.
    const c = new Cluster([1, 2, 3], { maxUncommittedEntriesSizeBytes: 1000 });
    c.elect(1);
    c.partition([1], [2, 3]);
    let accepted = 0;
    let refused: RaftError | undefined;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      try {
        c.get(1).node.propose(enc('y'.repeat(100)));
        accepted++;
      } catch (err) {
        refused = err as RaftError;
      }
    }
    expect(accepted).toBe(10);
    expect(refused?.details.reason).toBe('uncommitted-size-limit');
    c.heal();
    c.tickAll(2);
    expect(c.get(1).node.state).toBe(StateType.Leader);
    expect(c.appliedData(2)).toHaveLength(10);
    c.get(1).node.propose(enc('z'.repeat(100)));
    c.stabilize();
    expect(c.appliedData(2)).toHaveLength(11);
  });

  it('rejects calls that break the Ready contract', () => {
    // Proves API misuse is a typed error, not silent corruption.
    const c = new Cluster([1]);
    expect(() => c.get(1).node.advance()).toThrow(/without a preceding ready/);
    c.get(1).node.campaign();
    c.get(1).node.ready();
    expect(() => c.get(1).node.ready()).toThrow(/twice/);
  });
});
