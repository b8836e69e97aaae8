import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JointConfig, MajorityConfig, VoteResult } from '../src/quorum/index.js';

/** The dumb reference: the largest candidate index that a majority acknowledged. */
function refCommitted(ids: readonly number[], acks: ReadonlyMap<number, number>): number {
  if (ids.length === 0) return Number.MAX_SAFE_INTEGER;
  const acked = ids.map((id) => acks.get(id) ?? 0);
  let best = 0;
  for (const candidate of acked) {
    const count = acked.filter((a) => a >= candidate).length;
    if (count > ids.length / 2 && candidate > best) best = candidate;
  }
  return best;
}

/** Whether a yes/no assignment of every voter wins a majority (empty config: always). */
function wins(ids: readonly number[], votes: ReadonlyMap<number, boolean>): boolean {
  return ids.length === 0 || ids.filter((id) => votes.get(id) === true).length * 2 > ids.length;
}

/** Brute force: try every completion of the missing votes; Won if all win, Lost if none does. */
function refVoteResult(
  halves: readonly (readonly number[])[],
  votes: ReadonlyMap<number, boolean>,
): VoteResult {
  const missing = [...new Set(halves.flat())].filter((id) => !votes.has(id));
  let won = 0;
  const total = 2 ** missing.length;
  for (let mask = 0; mask < total; mask++) {
    const completed = new Map(votes);
    missing.forEach((id, i) => {
      completed.set(id, ((mask >> i) & 1) === 1);
    });
    if (halves.every((h) => wins(h, completed))) won++;
  }
  if (won === total) return VoteResult.Won;
  if (won === 0) return VoteResult.Lost;
  return VoteResult.Pending;
}

const idsArb = fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { maxLength: 9 });
const acksArb = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 20 })), { maxLength: 14 })
  .map((pairs) => new Map(pairs));
const votesArb = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.boolean()), { maxLength: 12 })
  .map((pairs) => new Map(pairs));

describe('MajorityConfig', () => {
  it('commits MAX_SAFE_INTEGER and wins every vote when empty', () => {
    // An empty config never holds back its joint partner: it commits everything and wins every vote.
    const c = new MajorityConfig();
    expect(c.committedIndex(() => 5)).toBe(Number.MAX_SAFE_INTEGER);
    expect(c.voteResult(new Map())).toBe(VoteResult.Won);
    expect(c.toString()).toBe('()');
  });

  it('commits the index a majority acknowledged', () => {
    // With acks 5, 3, missing the median of (5, 3, 0) is 3: nodes 1 and 2 hold index 3.
    const c = new MajorityConfig([3, 1, 2]);
    const acks = new Map([
      [1, 5],
      [2, 3],
    ]);
    expect(c.committedIndex((id) => acks.get(id))).toBe(3);
    expect(c.slice()).toEqual([1, 2, 3]);
    expect(c.size).toBe(3);
    expect(c.toString()).toBe('(1 2 3)');
  });

  it('needs more than half in even configs', () => {
    // Four voters need three acks: the third-highest ack is what is committed.
    const c = new MajorityConfig([1, 2, 3, 4]);
    const acks = [0, 10, 9, 8, 7];
    expect(c.committedIndex((id) => acks[id])).toBe(8);
  });

  it('decides elections as soon as the outcome is certain', () => {
    // Two yes of three wins; two no of three loses; one yes and nothing else is pending.
    const c = new MajorityConfig([1, 2, 3]);
    expect(c.voteResult(new Map([[1, true]]))).toBe(VoteResult.Pending);
    expect(
      c.voteResult(
        new Map([
          [1, true],
          [2, true],
        ]),
      ),
    ).toBe(VoteResult.Won);
    expect(
      c.voteResult(
        new Map([
          [1, false],
          [3, false],
        ]),
      ),
    ).toBe(VoteResult.Lost);
    expect(c.voteResult(new Map([[9, true]]))).toBe(VoteResult.Pending);
  });

  it('rejects invalid voter ids', () => {
    // Id 0 means "none" and can never be a voter.
    expect(() => new MajorityConfig([0])).toThrow(/invariant/);
  });

  it('commits what the sorting reference commits', () => {
    // committedIndex agrees with the count-acks-per-candidate reference for any voters and acks.
    fc.assert(
      fc.property(idsArb, acksArb, (ids, acks) => {
        const c = new MajorityConfig(ids);
        expect(c.committedIndex((id) => acks.get(id))).toBe(refCommitted(ids, acks));
        // A second call reuses the scratch buffer and must give the same answer.
        expect(c.committedIndex((id) => acks.get(id))).toBe(refCommitted(ids, acks));
      }),
      { numRuns: 500 },
    );
  });

  it('commits like the reference in configs too large for insertion sort', () => {
    // The typed-array sort path (more than 16 voters) agrees with the reference too.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 17, maxLength: 40 }), (acked) => {
        const ids = acked.map((_, i) => i + 1);
        const acks = new Map(acked.map((a, i) => [i + 1, a]));
        expect(new MajorityConfig(ids).committedIndex((id) => acks.get(id))).toBe(refCommitted(ids, acks));
      }),
      { numRuns: 200 },
    );
  });

  it('decides votes like brute force', () => {
    // voteResult agrees with trying every completion of the missing votes.
    fc.assert(
      fc.property(idsArb, votesArb, (ids, votes) => {
        expect(new MajorityConfig(ids).voteResult(votes)).toBe(refVoteResult([ids], votes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('JointConfig', () => {
  it('is joint only with a non-empty outgoing half', () => {
    // A JointConfig with an empty outgoing half behaves as, and prints as, its incoming half.
    const simple = new JointConfig(new MajorityConfig([1, 2]), new MajorityConfig());
    expect(simple.isJoint()).toBe(false);
    expect(simple.toString()).toBe('(1 2)');
    const joint = new JointConfig(new MajorityConfig([1, 2]), new MajorityConfig([2, 3]));
    expect(joint.isJoint()).toBe(true);
    expect(joint.toString()).toBe('(1 2)&&(2 3)');
    expect([...joint.ids()].sort()).toEqual([1, 2, 3]);
  });

  it('commits the minimum of both halves', () => {
    // Joint committedIndex is the smaller of the halves' committed indexes.
    fc.assert(
      fc.property(idsArb, idsArb, acksArb, (inc, out, acks) => {
        const l = (id: number): number | undefined => acks.get(id);
        const j = new JointConfig(new MajorityConfig(inc), new MajorityConfig(out));
        const expected = Math.min(refCommitted(inc, acks), refCommitted(out, acks));
        expect(j.committedIndex(l)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('decides votes like brute force over both halves', () => {
    // Joint voteResult agrees with trying every completion of the missing votes against both halves.
    fc.assert(
      fc.property(idsArb, idsArb, votesArb, (inc, out, votes) => {
        const j = new JointConfig(new MajorityConfig(inc), new MajorityConfig(out));
        expect(j.voteResult(votes)).toBe(refVoteResult([inc, out], votes));
      }),
      { numRuns: 500 },
    );
  });
});
