import { formatFailure, parseSeedString, runWithTailOnFailure } from '@keelson/raft-sim';
import { describe, expect, it } from 'vitest';

// Seeds that once broke the Raft core, pinned forever: each must pass. While a bug is open its test
// fails with the violation, the seed string and the replay command. (All three bugs below are fixed
// in the core; later simulator changes moved some of these seeds onto other paths, so they now
// serve as regression schedules around the same features.)

describe('pinned seeds', () => {
  const seeds: [string, string][] = [
    [
      // A leader that removes itself (leaving a joint config {12}&&{5}) steps down as soon as it
      // applies the change; its commit notice went out only as empty appends at an optimistic index
      // the followers rejected, so node 12 (the only voter left) never learns the change committed,
      // still needs node 5's vote, and node 5 refuses (longer log) and never campaigns. No faults
      // needed beyond one step of delay: the fast-check shrink of the volume test.
      'leader removes itself, survivors never learn the commit (no network faults)',
      'v1-s0-n1-t2000-e10-h1-d0-u0-y1-p0-k1-c0-x1-z0-m12-l1-a32-r907-q143-f3',
    ],
    [
      // The same hole with a simple removal of the leader from {1,2} during an asymmetric partition.
      'leader removes itself under an asymmetric partition',
      'v1-s1b250789-n1-t2000-e10-h2-d60-u36-y5-p29-k3-c9-x11-z4-m19-l1-a0-r1124-q0-f1',
    ],
    [
      // A candidate in the outgoing half of a joint config learns the commit index from a vote
      // rejection (the commit-hint extension), applies the leave-joint entry that drops it, stays a
      // candidate, and wins the remaining votes of the new config: becomeLeader asserts that "a
      // leader must be in its own configuration".
      'candidate removed by a conf change it applies mid-election becomes leader',
      'v1-s4b6f0701-n4-t2000-e5-h3-d10-u21-y4-p18-k18-c11-x3-z0-m15-l8-a0-r54-q391-f1',
    ],
    [
      // Without PreVote, a stale Vote was ignored (as etcd does): the only node able to win sat at
      // an old term, no node of a newer term ever wrote to it, and it never learned it was stale.
      'candidate stuck at a stale term that no newer node contacts (PreVote off)',
      'v1-s89088ffd-n3-t2000-e10-h1-d77-u33-y0-p13-k16-c9-x12-z2-m21-l2-a32-r1447-q0-f0',
    ],
  ];
  for (const [what, seed] of seeds) {
    // Proves the core regains a leader and commits after the heal in this once-failing schedule.
    it(`${what}: ${seed}`, () => {
      const r = runWithTailOnFailure(parseSeedString(seed));
      expect(r.ok, `\n${formatFailure(r, 40)}`).toBe(true);
    });
  }
});
