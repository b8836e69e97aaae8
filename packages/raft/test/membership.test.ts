import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  EMPTY_BYTES,
  MemoryStorage,
  MessageType,
  StateType,
} from '@keelson/raft';
import { describe, expect, it } from 'vitest';
import { Cluster, enc } from './harness.js';

const cc = (changes: [ConfChangeType, number][], transition = ConfChangeTransition.Auto): ConfChange => ({
  transition,
  changes: changes.map(([type, nodeId]) => ({ type, nodeId })),
  context: EMPTY_BYTES,
});

describe('membership changes', () => {
  it('adds a voter that catches up by snapshot and then counts toward the quorum', () => {
    // Proves a simple (one-voter) change, applied on commit, and the new node joining.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(1).node.propose(enc('before'));
    c.stabilize();
    c.add(4, new MemoryStorage());
    c.get(1).node.proposeConfChange(cc([[ConfChangeType.AddNode, 4]]));
    c.stabilize();
    c.tickAll(3);
    expect(c.get(1).node.status().config.voters).toEqual([1, 2, 3, 4]);
    expect(c.get(4).node.status().config.voters).toEqual([1, 2, 3, 4]);
    // With 4 voters, 3 acks are needed: cut 2 and 3 off and nothing commits.
    c.partition([2, 3], [1, 4]);
    const committed = c.get(1).node.committed;
    c.get(1).node.propose(enc('needs-three'));
    c.stabilize();
    expect(c.get(1).node.committed).toBe(committed);
    c.heal();
    c.tickAll(2);
    expect(c.appliedData(4)).toContain('needs-three');
  });

  it('enters and leaves a joint configuration explicitly, needing both majorities meanwhile', () => {
    // Proves joint consensus: C_old,new decisions need a majority of each half.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.add(4, new MemoryStorage());
    c.add(5, new MemoryStorage());
    c.get(1).node.proposeConfChange(
      cc(
        [
          [ConfChangeType.AddNode, 4],
          [ConfChangeType.AddNode, 5],
          [ConfChangeType.RemoveNode, 3],
        ],
        ConfChangeTransition.JointExplicit,
      ),
    );
    c.stabilize();
    c.tickAll(3);
    const joint = c.get(1).node.status().config;
    expect(joint.votersOutgoing).toEqual([1, 2, 3]);
    expect(joint.voters).toEqual([1, 2, 4, 5]);
    // Incoming {1,2,4,5} has a majority via 1,2,4, but outgoing {1,2,3} needs 2 of 3: with 2 and 3
    // cut off it has only 1, so nothing commits.
    c.partition([2, 3], [1, 4, 5]);
    const committed = c.get(1).node.committed;
    c.get(1).node.propose(enc('joint-write'));
    c.stabilize();
    expect(c.get(1).node.committed).toBe(committed);
    c.heal();
    c.tickAll(2);
    expect(c.appliedData(1)).toContain('joint-write');
    // Leave the joint config with an empty change.
    c.get(1).node.proposeConfChange(cc([]));
    c.stabilize();
    c.tickAll(2);
    const after = c.get(1).node.status().config;
    expect(after.votersOutgoing).toEqual([]);
    expect(after.voters).toEqual([1, 2, 4, 5]);
  });

  it('leaves an implicit joint configuration automatically', () => {
    // Proves auto-leave: the leader proposes the leaving change once the entering one applies.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.add(4, new MemoryStorage());
    c.get(1).node.proposeConfChange(
      cc([
        [ConfChangeType.AddNode, 4],
        [ConfChangeType.RemoveNode, 2],
      ]),
    );
    c.stabilize();
    c.tickAll(3);
    for (const id of [1, 3, 4]) {
      const conf = c.get(id).node.status().config;
      expect(conf.voters).toEqual([1, 3, 4]);
      expect(conf.votersOutgoing).toEqual([]);
    }
  });

  it('refuses a second conf change while one is pending', () => {
    // Proves one-at-a-time: a conf change proposed before the previous applies becomes a no-op.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.partition([1], [2, 3]);
    c.get(1).node.proposeConfChange(cc([[ConfChangeType.AddLearnerNode, 7]]));
    c.get(1).node.proposeConfChange(cc([[ConfChangeType.AddLearnerNode, 8]]));
    c.heal();
    c.stabilize();
    c.tickAll(2);
    expect(c.get(1).node.status().config.learners).toEqual([7]);
  });

  it('replicates to a learner without counting it for commit, then promotes it', () => {
    // Proves learners: they receive the log, never vote or count, and can become voters.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.add(4, new MemoryStorage());
    c.get(1).node.proposeConfChange(cc([[ConfChangeType.AddLearnerNode, 4]]));
    c.stabilize();
    c.tickAll(3);
    expect(c.get(1).node.status().config.learners).toEqual([4]);
    c.get(1).node.propose(enc('to-learner'));
    c.stabilize();
    expect(c.appliedData(4)).toContain('to-learner');
    // 1 plus learner 4 is not a quorum of {1,2,3}.
    c.partition([2, 3], [1, 4]);
    const committed = c.get(1).node.committed;
    c.get(1).node.propose(enc('no-quorum'));
    c.stabilize();
    expect(c.get(1).node.committed).toBe(committed);
    // A learner never campaigns.
    for (let i = 0; i < 50; i++) c.get(4).node.tick();
    c.stabilize();
    expect(c.get(4).node.state).toBe(StateType.Follower);
    c.heal();
    c.tickAll(2);
    c.get(1).node.proposeConfChange(cc([[ConfChangeType.AddNode, 4]]));
    c.stabilize();
    c.tickAll(2);
    expect(c.get(1).node.status().config.voters).toEqual([1, 2, 3, 4]);
    expect(c.get(1).node.status().config.learners).toEqual([]);
  });

  it('removes the leader itself: it steps down and the rest elect a new leader', () => {
    // Proves leader self-removal and that the remaining configuration stays live.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(1).node.proposeConfChange(cc([[ConfChangeType.RemoveNode, 1]]));
    c.stabilize();
    expect(c.get(1).node.state).not.toBe(StateType.Leader);
    expect(c.get(2).node.status().config.voters).toEqual([2, 3]);
    for (let i = 0; i < 60 && c.leaders().filter((id) => id !== 1).length === 0; i++) c.tickAll();
    const [leader] = c.leaders();
    expect([2, 3]).toContain(leader);
    c.get(leader as number).node.propose(enc('after-removal'));
    c.stabilize();
    expect(c.appliedData(2)).toContain('after-removal');
    expect(c.appliedData(3)).toContain('after-removal');
  });

  it('a survivor learns the leader removed itself even if the leader stepped down before telling it', () => {
    // Proves the vote-rejection commit hint breaks the removed-leader deadlock (found by the simulator).
    const c = new Cluster([1, 2]);
    c.elect(1);
    // From now on 1 gets nothing to 2 past index 3 and no commit notice of index 3: only its
    // answers to votes get through.
    c.filters.push(
      (m) =>
        !(
          m.from === 1 &&
          m.type !== MessageType.VoteResp &&
          m.type !== MessageType.PreVoteResp &&
          (m.entries.some((e) => e.index >= 4) || m.commit >= 3)
        ),
    );
    c.get(1).node.proposeConfChange(cc([[ConfChangeType.RemoveNode, 1]]));
    c.get(1).node.propose(enc('tail'));
    c.stabilize();
    expect(c.get(1).node.state).toBe(StateType.Follower);
    expect(c.get(1).node.status().config.voters).toEqual([2]);
    expect(c.get(2).node.status().config.voters).toEqual([1, 2]);
    for (let i = 0; i < 100 && c.get(2).node.state !== StateType.Leader; i++) c.tickAll();
    expect(c.get(2).node.state).toBe(StateType.Leader);
    expect(c.get(2).node.status().config.voters).toEqual([2]);
  });
});
