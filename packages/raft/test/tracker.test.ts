import { describe, expect, it } from 'vitest';
import { JointConfig, MajorityConfig, VoteResult } from '../src/quorum/index.js';
import { Inflights, Progress, ProgressTracker, trackerConfigString } from '../src/tracker/index.js';

/** A tracker with the given voters (incoming, outgoing) and learners, every peer at match 0. */
function tracker(incoming: number[], outgoing: number[] = [], learners: number[] = []): ProgressTracker {
  const t = new ProgressTracker(8, 0);
  t.config = {
    voters: new JointConfig(new MajorityConfig(incoming), new MajorityConfig(outgoing)),
    autoLeave: false,
    learners: new Set(learners),
    learnersNext: new Set(),
  };
  for (const id of new Set([...incoming, ...outgoing, ...learners])) {
    t.progress.set(id, new Progress(1, new Inflights(8, 0), learners.includes(id)));
  }
  return t;
}

function setMatch(t: ProgressTracker, matches: Record<number, number>): void {
  for (const [id, m] of Object.entries(matches)) t.progress.get(Number(id))?.maybeUpdate(m);
}

describe('ProgressTracker', () => {
  it('starts empty', () => {
    // A new tracker has an empty, non-joint config and no peers.
    const t = new ProgressTracker(4, 100);
    expect(t.confState()).toEqual({
      voters: [],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    expect(t.isSingleton()).toBe(false);
    expect(t.maxInflight).toBe(4);
    expect(t.maxInflightBytes).toBe(100);
    expect(trackerConfigString(t.config)).toBe('voters=()');
  });

  it('reports its configuration sorted', () => {
    // confState, voterNodes and learnerNodes list ids in ascending order.
    const t = tracker([3, 1, 2], [5, 1], [9, 7]);
    t.config.learnersNext = new Set([5]);
    t.config.autoLeave = true;
    expect(t.confState()).toEqual({
      voters: [1, 2, 3],
      votersOutgoing: [1, 5],
      learners: [7, 9],
      learnersNext: [5],
      autoLeave: true,
    });
    expect(t.voterNodes()).toEqual([1, 2, 3, 5]);
    expect(t.learnerNodes()).toEqual([7, 9]);
    expect(trackerConfigString(t.config)).toBe(
      'voters=(1 2 3)&&(1 5) learners=(7 9) learners_next=(5) autoleave',
    );
  });

  it('is a singleton only with one voter and no joint config', () => {
    // isSingleton needs exactly one incoming voter and an empty outgoing half; learners do not matter.
    expect(tracker([1]).isSingleton()).toBe(true);
    expect(tracker([1], [], [2]).isSingleton()).toBe(true);
    expect(tracker([1, 2]).isSingleton()).toBe(false);
    expect(tracker([1], [1, 2]).isSingleton()).toBe(false);
  });

  it('commits what a quorum of voters matched, ignoring learners', () => {
    // committed() is the joint quorum index over match; learner progress never counts.
    const t = tracker([1, 2, 3], [], [4, 5]);
    setMatch(t, { 1: 10, 2: 7, 3: 3, 4: 100, 5: 100 });
    expect(t.committed()).toBe(7);
    const j = tracker([1, 2, 3], [3, 4, 5]);
    setMatch(j, { 1: 10, 2: 7, 3: 3, 4: 4, 5: 1 });
    expect(j.committed()).toBe(3);
  });

  it('visits peers in ascending id order, tracking changes to the map', () => {
    // visit() order is deterministic and follows additions, removals and replacement of the map.
    const t = tracker([5, 1, 3]);
    const seen = (): number[] => {
      const ids: number[] = [];
      t.visit((id) => ids.push(id));
      return ids;
    };
    expect(seen()).toEqual([1, 3, 5]);
    t.progress.delete(3);
    t.progress.set(2, new Progress(1, new Inflights(8, 0), false)); // same size, different keys
    expect(seen()).toEqual([1, 2, 5]);
    t.progress.set(9, new Progress(1, new Inflights(8, 0), false));
    expect(seen()).toEqual([1, 2, 5, 9]);
    t.progress = new Map([[4, new Progress(1, new Inflights(8, 0), false)]]);
    expect(seen()).toEqual([4]);
  });

  it('finds a quorum active only among voters', () => {
    // quorumActive counts recently active voters; active learners do not make up a quorum.
    const t = tracker([1, 2, 3], [], [4, 5]);
    const active = (ids: number[]): void => {
      for (const [id, pr] of t.progress) pr.recentActive = ids.includes(id);
    };
    active([1, 4, 5]);
    expect(t.quorumActive()).toBe(false);
    active([1, 2]);
    expect(t.quorumActive()).toBe(true);
    const j = tracker([1, 2, 3], [3, 4, 5]);
    for (const [id, pr] of j.progress) pr.recentActive = [1, 2, 3].includes(id);
    expect(j.quorumActive()).toBe(false); // only 3 of the outgoing half
  });

  it('counts the first vote of each voter', () => {
    // recordVote ignores a peer's later votes; tallyVotes skips learners and decides by quorum.
    const t = tracker([1, 2, 3], [], [4]);
    t.recordVote(1, true);
    t.recordVote(1, false);
    t.recordVote(4, true);
    expect(t.tallyVotes()).toEqual({ granted: 1, rejected: 0, result: VoteResult.Pending });
    t.recordVote(2, false);
    t.recordVote(3, false);
    expect(t.tallyVotes()).toEqual({ granted: 1, rejected: 2, result: VoteResult.Lost });
    t.resetVotes();
    t.recordVote(2, true);
    t.recordVote(3, true);
    expect(t.tallyVotes()).toEqual({ granted: 2, rejected: 0, result: VoteResult.Won });
  });

  it('needs both halves to win a joint election', () => {
    // In a joint config the tally is won only with a majority of each half.
    const t = tracker([1, 2, 3], [3, 4, 5]);
    t.recordVote(1, true);
    t.recordVote(2, true);
    expect(t.tallyVotes().result).toBe(VoteResult.Pending);
    t.recordVote(4, true);
    t.recordVote(5, true);
    expect(t.tallyVotes()).toEqual({ granted: 4, rejected: 0, result: VoteResult.Won });
  });
});
