import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertConfigInvariants,
  Changer,
  type ConfigAndProgress,
  confChangeEnterJoint,
  confChangeLeaveJoint,
  confStatesEquivalent,
  decodeConfChange,
  encodeConfChange,
  restore,
  toConfChangeSingles,
} from '../src/confchange/index.js';
import { RaftError } from '../src/errors.js';
import { ProgressTracker } from '../src/tracker/index.js';
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  EMPTY_BYTES,
} from '../src/types.js';

const add = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.AddNode, nodeId });
const learner = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.AddLearnerNode, nodeId });
const remove = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.RemoveNode, nodeId });

/** Makes `next` the tracker's current configuration, as the leader does once a change is applied. */
function adopt(t: ProgressTracker, next: ConfigAndProgress): void {
  t.config = next.config;
  t.progress = next.progress;
}

/** A tracker holding the voters and learners given, built through simple changes. */
function trackerWith(voters: number[], learners: number[] = [], lastIndex = 10): ProgressTracker {
  const t = new ProgressTracker(4, 0);
  for (const id of voters) adopt(t, new Changer(t, lastIndex).simple([add(id)]));
  for (const id of learners) adopt(t, new Changer(t, lastIndex).simple([learner(id)]));
  return t;
}

function csOf(next: ConfigAndProgress): ConfState {
  const t = new ProgressTracker(4, 0);
  adopt(t, next);
  return t.confState();
}

function expectInvalid(f: () => unknown, message?: string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RaftError);
    expect((e as RaftError).code).toBe('InvalidConfChange');
    if (message !== undefined) expect((e as RaftError).message).toBe(message);
    return;
  }
  expect.unreachable('expected an InvalidConfChange error');
}

describe('Changer.simple', () => {
  it('adds a first voter to the empty config with fresh progress', () => {
    // A new peer is probed from max(lastIndex, 1), counts as recently active and has match 0.
    for (const lastIndex of [0, 7]) {
      const t = new ProgressTracker(4, 0);
      const next = new Changer(t, lastIndex).simple([add(1)]);
      expect(csOf(next).voters).toEqual([1]);
      const pr = next.progress.get(1);
      expect(pr?.next).toBe(Math.max(lastIndex, 1));
      expect(pr?.match).toBe(0);
      expect(pr?.recentActive).toBe(true);
      expect(pr?.isLearner).toBe(false);
      expect(pr?.inflights.capacity).toBe(4);
    }
  });

  it('allows one voter change plus any learner changes', () => {
    // A simple change may alter one voter; learners do not affect quorums.
    const t = trackerWith([1, 2, 3]);
    const next = new Changer(t, 10).simple([add(4), learner(5), learner(6)]);
    expect(csOf(next)).toMatchObject({ voters: [1, 2, 3, 4], learners: [5, 6] });
    expectInvalid(
      () => new Changer(t, 10).simple([add(4), add(5)]),
      'more than one voter changed without entering joint config',
    );
    expectInvalid(() => new Changer(t, 10).simple([remove(1), remove(2)]));
  });

  it('promotes and demotes one node at a time', () => {
    // Learner to voter and voter to learner each change one voter and keep the node's progress.
    const t = trackerWith([1, 2], [3]);
    t.progress.get(3)?.maybeUpdate(8);
    const promoted = new Changer(t, 10).simple([add(3)]);
    expect(csOf(promoted)).toMatchObject({ voters: [1, 2, 3], learners: [] });
    expect(promoted.progress.get(3)?.match).toBe(8);
    expect(promoted.progress.get(3)?.isLearner).toBe(false);
    adopt(t, promoted);
    const demoted = new Changer(t, 10).simple([learner(1)]);
    expect(csOf(demoted)).toMatchObject({ voters: [2, 3], learners: [1] });
    expect(demoted.progress.get(1)?.isLearner).toBe(true);
  });

  it('never removes the last voter', () => {
    // A config without voters can elect no one; removing or demoting the last voter is refused.
    const t = trackerWith([1], [2]);
    expectInvalid(() => new Changer(t, 10).simple([remove(1)]), 'removed all voters');
    expectInvalid(() => new Changer(t, 10).simple([learner(1)]), 'removed all voters');
  });

  it('ignores vetoed changes and no-op removals', () => {
    // Node id 0 marks a change the application vetoed; removing an unknown node changes nothing.
    const t = trackerWith([1, 2]);
    const next = new Changer(t, 10).simple([add(0), remove(9)]);
    expect(csOf(next)).toEqual(t.confState());
  });

  it('refuses unknown change types and invalid ids', () => {
    // Malformed input is an InvalidConfChange error, not a crash.
    const t = trackerWith([1]);
    expectInvalid(() => new Changer(t, 10).simple([{ type: 2 as ConfChangeType, nodeId: 2 }]));
    expectInvalid(() => new Changer(t, 10).simple([add(-1)]));
    expectInvalid(() => new Changer(t, 10).simple([add(1.5)]));
  });

  it('refuses to run in a joint config', () => {
    // While joint, only leaving the joint config is allowed.
    const t = trackerWith([1, 2]);
    adopt(t, new Changer(t, 10).enterJoint(false, [add(3)]));
    expectInvalid(
      () => new Changer(t, 10).simple([add(4)]),
      "can't apply simple config change in joint config",
    );
  });
});

describe('Changer.enterJoint and leaveJoint', () => {
  it('replaces several voters through a joint config', () => {
    // Entering joint keeps the old voters as the outgoing half; leaving drops them and their progress.
    const t = trackerWith([1, 2, 3]);
    const joint = new Changer(t, 10).enterJoint(true, [remove(1), remove(2), add(4), add(5)]);
    expect(csOf(joint)).toEqual({
      voters: [3, 4, 5],
      votersOutgoing: [1, 2, 3],
      learners: [],
      learnersNext: [],
      autoLeave: true,
    });
    expect([...joint.progress.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    adopt(t, joint);
    const left = new Changer(t, 10).leaveJoint();
    expect(csOf(left)).toEqual({
      voters: [3, 4, 5],
      votersOutgoing: [],
      learners: [],
      learnersNext: [],
      autoLeave: false,
    });
    expect([...left.progress.keys()].sort()).toEqual([3, 4, 5]);
  });

  it('stages demoted voters in learnersNext until the joint config is left', () => {
    // A voter demoted while joint is still an outgoing voter, so it waits in learnersNext.
    const t = trackerWith([1, 2, 3], [4]);
    const joint = new Changer(t, 10).enterJoint(false, [learner(3), add(4), learner(5)]);
    expect(csOf(joint)).toEqual({
      voters: [1, 2, 4],
      votersOutgoing: [1, 2, 3],
      learners: [5],
      learnersNext: [3],
      autoLeave: false,
    });
    expect(joint.progress.get(3)?.isLearner).toBe(false);
    adopt(t, joint);
    const left = new Changer(t, 10).leaveJoint();
    expect(csOf(left)).toMatchObject({ voters: [1, 2, 4], learners: [3, 5], learnersNext: [] });
    expect(left.progress.get(3)?.isLearner).toBe(true);
  });

  it('refuses joint transitions that make no sense', () => {
    // etcd's errors: no joint config from zero voters, none twice, no leaving a simple config.
    const empty = new ProgressTracker(4, 0);
    expectInvalid(
      () => new Changer(empty, 0).enterJoint(false, [add(1)]),
      "can't make a zero-voter config joint",
    );
    const t = trackerWith([1, 2]);
    expectInvalid(() => new Changer(t, 10).leaveJoint(), "can't leave a non-joint config");
    expectInvalid(() => new Changer(t, 10).enterJoint(false, [remove(1), remove(2)]), 'removed all voters');
    adopt(t, new Changer(t, 10).enterJoint(false, []));
    expect(t.config.voters.isJoint()).toBe(true);
    expectInvalid(() => new Changer(t, 10).enterJoint(false, [add(3)]), 'config is already joint');
  });

  it('never mutates the tracker it reads', () => {
    // The tracker's config, progress map and Progress objects are unchanged until the caller adopts.
    const t = trackerWith([1, 2, 3], [4]);
    const before = t.confState();
    const progressBefore = new Map(t.progress);
    const joint = new Changer(t, 10).enterJoint(false, [add(4), learner(1), remove(2)]);
    expect(t.confState()).toEqual(before);
    expect(t.progress).toEqual(progressBefore);
    expect(t.progress.get(4)?.isLearner).toBe(true);
    expect(joint.progress.get(4)?.isLearner).toBe(false);
    // Untouched peers keep their Progress object, so references held elsewhere stay live.
    expect(joint.progress.get(3)).toBe(t.progress.get(3));
  });
});

describe('confChangeEnterJoint and confChangeLeaveJoint', () => {
  const cc = (
    transition: ConfChangeTransition,
    changes: ConfChangeSingle[],
    context = EMPTY_BYTES,
  ): ConfChange => ({
    transition,
    changes,
    context,
  });

  it('uses a joint config for several changes or an explicit transition', () => {
    // One change with Auto is simple; more changes, or a joint transition, enter a joint config.
    expect(confChangeEnterJoint(cc(ConfChangeTransition.Auto, [add(1)]))).toEqual({
      autoLeave: false,
      ok: false,
    });
    expect(confChangeEnterJoint(cc(ConfChangeTransition.Auto, []))).toEqual({ autoLeave: false, ok: false });
    expect(confChangeEnterJoint(cc(ConfChangeTransition.Auto, [add(1), add(2)]))).toEqual({
      autoLeave: true,
      ok: true,
    });
    expect(confChangeEnterJoint(cc(ConfChangeTransition.JointImplicit, [add(1)]))).toEqual({
      autoLeave: true,
      ok: true,
    });
    expect(confChangeEnterJoint(cc(ConfChangeTransition.JointExplicit, [add(1)]))).toEqual({
      autoLeave: false,
      ok: true,
    });
  });

  it('reads an empty Auto change as leave-joint, whatever its context', () => {
    // As in etcd, the context is ignored: it may carry a caller's tracking id.
    expect(confChangeLeaveJoint(cc(ConfChangeTransition.Auto, []))).toBe(true);
    expect(confChangeLeaveJoint(cc(ConfChangeTransition.Auto, [], new Uint8Array([1])))).toBe(true);
    expect(confChangeLeaveJoint(cc(ConfChangeTransition.Auto, [add(1)]))).toBe(false);
    expect(confChangeLeaveJoint(cc(ConfChangeTransition.JointExplicit, []))).toBe(false);
  });
});

describe('restore', () => {
  it('rebuilds the joint config of the etcd example', () => {
    // voters=(1 2 3) learners=(5) outgoing=(1 2 4 6) learnersNext=(4) survives a restore.
    const cs: ConfState = {
      voters: [1, 2, 3],
      learners: [5],
      votersOutgoing: [1, 2, 4, 6],
      learnersNext: [4],
      autoLeave: true,
    };
    const { outgoing, incoming } = toConfChangeSingles(cs);
    expect(outgoing).toEqual([add(1), add(2), add(4), add(6)]);
    expect(incoming).toEqual([
      remove(1),
      remove(2),
      remove(4),
      remove(6),
      add(1),
      add(2),
      add(3),
      learner(5),
      learner(4),
    ]);
    const next = restore(new Changer(new ProgressTracker(4, 0), 20), cs);
    expect(csOf(next)).toEqual(cs);
    expect(next.progress.get(6)?.next).toBe(20);
  });

  it('rebuilds simple and empty configs', () => {
    // A non-joint ConfState restores through simple changes; an empty one gives the empty config.
    const cs: ConfState = {
      voters: [1, 2, 3],
      learners: [4],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    expect(csOf(restore(new Changer(new ProgressTracker(4, 0), 5), cs))).toEqual(cs);
    const none: ConfState = { ...cs, voters: [], learners: [] };
    const empty = restore(new Changer(new ProgressTracker(4, 0), 5), none);
    expect(csOf(empty)).toEqual(none);
    expect(empty.progress.size).toBe(0);
  });

  it('ignores the configuration the changer holds', () => {
    // The result depends on the ConfState alone, with fresh progress for every peer.
    const t = trackerWith([7, 8]);
    t.progress.get(7)?.maybeUpdate(9);
    const cs: ConfState = {
      voters: [7],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    const next = restore(new Changer(t, 12), cs);
    expect(csOf(next)).toEqual(cs);
    expect(next.progress.get(7)?.match).toBe(0);
    expect(t.confState().voters).toEqual([7, 8]);
  });

  it('refuses a ConfState that is not a valid configuration', () => {
    // A node that is both voter and learner, or learners without voters, cannot be restored.
    const base: ConfState = {
      voters: [1],
      learners: [1],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    expectInvalid(() => restore(new Changer(new ProgressTracker(4, 0), 1), base));
    expectInvalid(() =>
      restore(new Changer(new ProgressTracker(4, 0), 1), { ...base, voters: [], learners: [2] }),
    );
  });

  it('compares ConfStates regardless of order', () => {
    // confStatesEquivalent ignores the order of ids but not their sets or autoLeave.
    const a: ConfState = {
      voters: [2, 1],
      learners: [3],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    expect(confStatesEquivalent(a, { ...a, voters: [1, 2] })).toBe(true);
    expect(confStatesEquivalent(a, { ...a, voters: [1] })).toBe(false);
    expect(confStatesEquivalent(a, { ...a, autoLeave: true })).toBe(false);
  });
});

// ---- Property tests against a brute-force model of sets ----

interface ModelConfig {
  incoming: Set<number>;
  outgoing: Set<number>;
  learners: Set<number>;
  learnersNext: Set<number>;
  autoLeave: boolean;
}

type Command =
  | { kind: 'simple'; ccs: ConfChangeSingle[] }
  | { kind: 'enter'; autoLeave: boolean; ccs: ConfChangeSingle[] }
  | { kind: 'leave' };

/** Each node's role after ccs: the last change naming it wins (add: voter, learner: learner, remove: gone). */
function roles(m: ModelConfig, ccs: readonly ConfChangeSingle[]): Map<number, 'voter' | 'learner'> {
  const r = new Map<number, 'voter' | 'learner'>();
  for (const id of m.incoming) r.set(id, 'voter');
  for (const id of [...m.learners, ...m.learnersNext]) r.set(id, 'learner');
  for (const cc of ccs) {
    if (cc.nodeId === 0) continue;
    if (cc.type === ConfChangeType.AddNode) r.set(cc.nodeId, 'voter');
    else if (cc.type === ConfChangeType.AddLearnerNode) r.set(cc.nodeId, 'learner');
    else r.delete(cc.nodeId);
  }
  return r;
}

function idsWith(r: Map<number, 'voter' | 'learner'>, role: 'voter' | 'learner'): number[] {
  return [...r].filter(([, v]) => v === role).map(([id]) => id);
}

/** The model's next config, or null when the change must be refused. */
function modelStep(m: ModelConfig, cmd: Command): ModelConfig | null {
  const joint = m.outgoing.size > 0;
  if (cmd.kind === 'leave') {
    if (!joint) return null;
    const learners = new Set([...m.learners, ...m.learnersNext]);
    return { incoming: m.incoming, outgoing: new Set(), learners, learnersNext: new Set(), autoLeave: false };
  }
  if (joint) return null;
  if (cmd.kind === 'enter' && m.incoming.size === 0) return null;
  const r = roles(m, cmd.ccs);
  const incoming = new Set(idsWith(r, 'voter'));
  if (incoming.size === 0) return null;
  if (cmd.kind === 'simple') {
    const changed =
      [...incoming].filter((id) => !m.incoming.has(id)).length +
      [...m.incoming].filter((id) => !incoming.has(id)).length;
    if (changed > 1) return null;
    return {
      incoming,
      outgoing: new Set(),
      learners: new Set(idsWith(r, 'learner')),
      learnersNext: new Set(),
      autoLeave: false,
    };
  }
  const learnerIds = idsWith(r, 'learner');
  return {
    incoming,
    outgoing: new Set(m.incoming),
    learners: new Set(learnerIds.filter((id) => !m.incoming.has(id))),
    learnersNext: new Set(learnerIds.filter((id) => m.incoming.has(id))),
    autoLeave: cmd.autoLeave,
  };
}

/** Ids whose Progress the change must create anew: added after being absent or dropped. */
function freshIds(t: ProgressTracker, cmd: Command): Set<number> {
  const fresh = new Set<number>();
  if (cmd.kind === 'leave') return fresh;
  const has = new Set(t.progress.keys());
  for (const cc of cmd.ccs) {
    if (cc.nodeId === 0) continue;
    if (cc.type === ConfChangeType.RemoveNode) {
      // Removal keeps the Progress of an outgoing voter (none: enterJoint's outgoing is the old incoming).
      const outgoing = cmd.kind === 'enter' ? t.config.voters.incoming.ids : t.config.voters.outgoing.ids;
      if (!outgoing.has(cc.nodeId)) {
        has.delete(cc.nodeId);
        fresh.delete(cc.nodeId);
      }
    } else if (!has.has(cc.nodeId)) {
      has.add(cc.nodeId);
      fresh.add(cc.nodeId);
    }
  }
  return fresh;
}

function sorted(s: Iterable<number>): number[] {
  return [...s].sort((a, b) => a - b);
}

function modelConfState(m: ModelConfig): ConfState {
  return {
    voters: sorted(m.incoming),
    votersOutgoing: sorted(m.outgoing),
    learners: sorted(m.learners),
    learnersNext: sorted(m.learnersNext),
    autoLeave: m.autoLeave,
  };
}

const singleArb: fc.Arbitrary<ConfChangeSingle> = fc.record({
  type: fc.constantFrom(ConfChangeType.AddNode, ConfChangeType.AddLearnerNode, ConfChangeType.RemoveNode),
  // Id 0 (a vetoed change) now and then; few ids so that changes meet the same nodes again.
  nodeId: fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 5 }), weight: 9 },
    { arbitrary: fc.constant(0), weight: 1 },
  ),
});
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('simple' as const),
      ccs: fc.array(singleArb, { minLength: 1, maxLength: 1 }),
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('simple' as const),
      ccs: fc.array(singleArb, { minLength: 2, maxLength: 3 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('enter' as const),
      autoLeave: fc.boolean(),
      ccs: fc.array(singleArb, { maxLength: 5 }),
    }),
    weight: 3,
  },
  { arbitrary: fc.constant({ kind: 'leave' as const }), weight: 1 },
);

function run(t: ProgressTracker, cmd: Command, lastIndex: number): ConfigAndProgress {
  const c = new Changer(t, lastIndex);
  if (cmd.kind === 'simple') return c.simple(cmd.ccs);
  if (cmd.kind === 'enter') return c.enterJoint(cmd.autoLeave, cmd.ccs);
  return c.leaveJoint();
}

describe('confchange properties', () => {
  it('matches the set model, keeps invariants and restores from its ConfState', () => {
    // Random change sequences agree with a brute-force set model, refuse what the model refuses,
    // keep every invariant, preserve existing progress, and restore(confState()) gives the same config.
    fc.assert(
      fc.property(fc.array(fc.tuple(commandArb, fc.nat(30)), { maxLength: 40, size: 'max' }), (steps) => {
        const t = new ProgressTracker(4, 0);
        let model: ModelConfig = {
          incoming: new Set(),
          outgoing: new Set(),
          learners: new Set(),
          learnersNext: new Set(),
          autoLeave: false,
        };
        for (const [generated, lastIndex] of steps) {
          // Mostly leave a joint config promptly, as a leader would, so that most steps can succeed.
          const cmd: Command = model.outgoing.size > 0 && lastIndex % 3 !== 0 ? { kind: 'leave' } : generated;
          // Give every peer a distinct match so that preserved progress is recognisable.
          for (const [id, pr] of t.progress) pr.maybeUpdate(pr.match + id);
          const before = t.confState();
          const want = modelStep(model, cmd);
          if (want === null) {
            expectInvalid(() => run(t, cmd, lastIndex));
            expect(t.confState()).toEqual(before);
            continue;
          }
          const fresh = freshIds(t, cmd);
          const next = run(t, cmd, lastIndex);
          expect(t.confState()).toEqual(before);
          assertConfigInvariants(next.config, next.progress);
          expect(csOf(next)).toEqual(modelConfState(want));
          const members = new Set([
            ...want.incoming,
            ...want.outgoing,
            ...want.learners,
            ...want.learnersNext,
          ]);
          expect(sorted(next.progress.keys())).toEqual(sorted(members));
          for (const [id, pr] of next.progress) {
            expect(pr.isLearner).toBe(want.learners.has(id));
            if (fresh.has(id)) {
              expect(pr.match).toBe(0);
              expect(pr.next).toBe(Math.max(lastIndex, 1));
              expect(pr.recentActive).toBe(true);
            } else {
              expect(pr.match).toBe(t.progress.get(id)?.match);
            }
          }
          adopt(t, next);
          model = want;
          const restored = restore(new Changer(new ProgressTracker(4, 0), lastIndex), t.confState());
          expect(csOf(restored)).toEqual(t.confState());
          assertConfigInvariants(restored.config, restored.progress);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('codec', () => {
  const ccArb: fc.Arbitrary<ConfChange> = fc.record({
    transition: fc.constantFrom(
      ConfChangeTransition.Auto,
      ConfChangeTransition.JointImplicit,
      ConfChangeTransition.JointExplicit,
    ),
    changes: fc.array(
      fc.record({
        type: fc.constantFrom(
          ConfChangeType.AddNode,
          ConfChangeType.RemoveNode,
          ConfChangeType.AddLearnerNode,
        ),
        nodeId: fc.oneof(fc.nat(300), fc.maxSafeNat()),
      }),
      { maxLength: 6 },
    ),
    context: fc.uint8Array({ maxLength: 24 }),
  });

  function expectDecodeOk(b: Uint8Array): void {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(b);
    } catch (e) {
      expect(e).toBeInstanceOf(RaftError);
      expect((e as RaftError).code).toBe('InvalidConfChange');
      return;
    }
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
  }

  it('round-trips every ConfChange', () => {
    // decode(encode(cc)) equals cc for any valid ConfChange, including node ids up to 2^53 - 1.
    fc.assert(
      fc.property(ccArb, (cc) => {
        expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
      }),
      { numRuns: 1000 },
    );
  });

  it('encodes the leave-joint change as no bytes', () => {
    // The empty ConfChange has an empty encoding, so an auto-leave proposal has no payload.
    const leave: ConfChange = { transition: ConfChangeTransition.Auto, changes: [], context: EMPTY_BYTES };
    expect(encodeConfChange(leave).length).toBe(0);
    expect(decodeConfChange(new Uint8Array(0))).toEqual(leave);
    expect(encodeConfChange({ ...leave, changes: [add(1)] })).toEqual(new Uint8Array([1, 0, 1, 0, 1, 0]));
  });

  it('refuses malformed bytes with InvalidConfChange', () => {
    // Wrong version, truncation, bad enums, oversized counts or varints and trailing bytes all throw.
    const bad = [
      [2],
      [1],
      [1, 0, 1, 0],
      [1, 9, 0, 0],
      [1, 0, 1, 2, 1, 0],
      [1, 0, 50, 0, 1, 0],
      [1, 0, 0, 0, 7],
      [1, 0, 0, 2, 7],
      [1, 0, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0],
      [1, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0],
    ];
    for (const b of bad) expectInvalid(() => decodeConfChange(new Uint8Array(b)));
  });

  it('refuses to encode invalid changes', () => {
    // Negative, fractional or unsafe node ids and unknown enums never reach the log.
    const base: ConfChange = { transition: ConfChangeTransition.Auto, changes: [], context: EMPTY_BYTES };
    expectInvalid(() => encodeConfChange({ ...base, changes: [add(-1)] }));
    expectInvalid(() => encodeConfChange({ ...base, changes: [add(0.5)] }));
    expectInvalid(() => encodeConfChange({ ...base, changes: [add(2 ** 53)] }));
    expectInvalid(() => encodeConfChange({ ...base, changes: [{ type: 2 as ConfChangeType, nodeId: 1 }] }));
    expectInvalid(() => encodeConfChange({ ...base, transition: 7 as ConfChangeTransition }));
  });

  it('decodes garbage to an error or a valid change, never a crash', () => {
    // Random and corrupted encodings either throw InvalidConfChange or decode to a re-encodable change.
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), expectDecodeOk), { numRuns: 1000 });
    fc.assert(
      fc.property(ccArb, fc.nat(), fc.nat(255), fc.nat(), (cc, at, byte, cut) => {
        const b = encodeConfChange(cc);
        if (b.length === 0) return;
        const flipped = b.slice();
        flipped[at % b.length] = byte;
        expectDecodeOk(flipped);
        expectDecodeOk(b.subarray(0, cut % b.length));
      }),
      { numRuns: 1000 },
    );
  });
});
