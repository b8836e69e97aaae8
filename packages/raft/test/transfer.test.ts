import { RaftError, StateType } from '@keelson/raft';
import { describe, expect, it } from 'vitest';
import { Cluster, enc } from './harness.js';

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date follower with TimeoutNow', () => {
    // Proves transferLeader: the transferee campaigns at once and wins, even inside the lease.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(1).node.transferLeader(2);
    c.stabilize();
    expect(c.get(2).node.state).toBe(StateType.Leader);
    expect(c.get(1).node.state).toBe(StateType.Follower);
    expect(c.get(1).node.lead).toBe(2);
  });

  it('catches a lagging transferee up first, then transfers', () => {
    // Proves the leader replicates to the transferee before sending TimeoutNow.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.partition([3], [1, 2]);
    for (let i = 0; i < 5; i++) c.get(1).node.propose(enc(`t${i}`));
    c.stabilize();
    c.heal();
    c.get(1).node.transferLeader(3);
    c.stabilize();
    expect(c.get(3).node.state).toBe(StateType.Leader);
    expect(c.appliedData(3)).toHaveLength(5);
  });

  it('refuses proposals while a transfer is in progress, and aborts it after an election timeout', () => {
    // Proves proposals are refused during a transfer and that a stuck transfer ends.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.partition([3], [1, 2]);
    c.get(1).node.transferLeader(3);
    c.stabilize();
    let err: unknown;
    try {
      c.get(1).node.propose(enc('during'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RaftError);
    expect((err as RaftError).details.reason).toBe('transfer-in-progress');
    for (let i = 0; i < 25; i++) {
      c.get(1).node.tick();
      c.get(2).node.tick();
      c.stabilize();
    }
    expect(c.get(1).node.state).toBe(StateType.Leader);
    expect(c.get(1).node.status().leadTransferee).toBe(0);
    c.get(1).node.propose(enc('after'));
    c.stabilize();
    expect(c.appliedData(2)).toContain('after');
  });

  it('a follower asked to transfer forwards the request to the leader', () => {
    // Proves transferLeader works from any node.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(2).node.transferLeader(3);
    c.stabilize();
    expect(c.get(3).node.state).toBe(StateType.Leader);
  });
});
