import { StateType } from '@keelson/raft';
import { describe, expect, it } from 'vitest';
import { Cluster, enc } from './harness.js';

describe('smoke', () => {
  it('elects a leader and commits a proposal on all three nodes', () => {
    // Proves the basic path: campaign, win, replicate, commit, apply everywhere.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.get(1).node.state).toBe(StateType.Leader);
    c.get(1).node.propose(enc('hello'));
    c.stabilize();
    for (const id of [1, 2, 3]) expect(c.appliedData(id)).toEqual(['hello']);
  });
});
