import { MessageType, RaftError, ReadOnlyOption, StateType } from '@keelson/raft';
import { describe, expect, it } from 'vitest';
import { Cluster, enc } from './harness.js';

describe('ReadIndex', () => {
  it('the leader answers only after a heartbeat round confirms its leadership', () => {
    // Proves Safe ReadIndex: no answer before a quorum acks a heartbeat carrying the context.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(1).node.propose(enc('w1'));
    c.stabilize();
    const leader = c.get(1);
    leader.node.readIndex(enc('r1'));
    c.handleReady(leader);
    expect(leader.readStates).toEqual([]);
    const beats = c.mailbox.filter((m) => m.type === MessageType.Heartbeat);
    expect(beats).toHaveLength(2);
    for (const b of beats) expect(new TextDecoder().decode(b.context)).toBe('r1');
    c.stabilize();
    expect(leader.readStates).toEqual([{ index: leader.node.committed, ctx: 'r1' }]);
  });

  it('a deposed leader cut off from the quorum never answers a read', () => {
    // Proves reads cannot be served by a stale leader (the heartbeat round fails).
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.partition([1], [2, 3]);
    // Only the majority side ticks, so 1 still believes it leads when the read arrives.
    for (let i = 0; i < 60 && !c.leaders().some((id) => id !== 1); i++) {
      c.get(2).node.tick();
      c.get(3).node.tick();
      c.stabilize();
    }
    const [newLeader] = c.leaders().filter((id) => id !== 1);
    c.get(newLeader as number).node.propose(enc('new-leader-write'));
    c.stabilize();
    expect(c.get(1).node.state).toBe(StateType.Leader);
    c.get(1).node.readIndex(enc('stale'));
    c.stabilize();
    expect(c.get(1).readStates).toEqual([]);
  });

  it('a follower asks the leader for the read index', () => {
    // Proves follower reads: the index comes from the leader and covers its commits.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    for (let i = 0; i < 3; i++) c.get(1).node.propose(enc(`w${i}`));
    c.stabilize();
    c.get(3).node.readIndex(enc('from-follower'));
    c.stabilize();
    expect(c.get(3).readStates).toEqual([{ index: c.get(1).node.committed, ctx: 'from-follower' }]);
    expect(c.sentOfType(MessageType.ReadIndex).some((m) => m.from === 3 && m.to === 1)).toBe(true);
    expect(c.sentOfType(MessageType.ReadIndexResp).some((m) => m.to === 3)).toBe(true);
  });

  it('a new leader holds reads until it commits an entry of its own term', () => {
    // Proves a new leader's read index is never below what the previous leader committed.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(1).node.propose(enc('w'));
    c.stabilize();
    // 2 wins (by transfer), but its empty entry is not allowed to reach anyone yet.
    c.filters.push((m) => !(m.from === 2 && m.type === MessageType.App));
    c.get(1).node.transferLeader(2);
    c.stabilize();
    expect(c.get(2).node.state).toBe(StateType.Leader);
    c.get(2).node.readIndex(enc('early'));
    c.stabilize();
    expect(c.get(2).readStates).toEqual([]);
    c.heal();
    c.tickAll(2);
    expect(c.get(2).readStates).toHaveLength(1);
    expect(c.get(2).readStates[0]?.index).toBeGreaterThanOrEqual(c.get(1).node.committed);
  });

  it('a single-voter cluster answers at once', () => {
    // Proves the singleton shortcut needs no round trip.
    const c = new Cluster([1]);
    c.elect(1);
    c.get(1).node.readIndex(enc('solo'));
    c.stabilize();
    expect(c.get(1).readStates).toEqual([{ index: c.get(1).node.committed, ctx: 'solo' }]);
  });

  it('a node with no leader refuses a read with a clear error', () => {
    // Proves reads without a leader fail fast rather than hang.
    const c = new Cluster([1, 2, 3]);
    expect(() => c.get(1).node.readIndex(enc('x'))).toThrow(/no leader/);
  });

  it('lease-based reads answer without a round trip', () => {
    // Proves the LeaseBased option (requires CheckQuorum) skips the heartbeat round.
    const c = new Cluster([1, 2, 3], { readOnlyOption: ReadOnlyOption.LeaseBased, checkQuorum: true });
    c.elect(1);
    c.get(1).node.readIndex(enc('lease'));
    c.handleReady(c.get(1));
    expect(c.get(1).readStates).toHaveLength(1);
    expect(() => new Cluster([1], { readOnlyOption: ReadOnlyOption.LeaseBased, checkQuorum: false })).toThrow(
      RaftError,
    );
  });
});
