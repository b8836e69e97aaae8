import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  MemoryStorage,
  type Message,
  MessageType,
  message,
  StateType,
} from '@keelson/raft';
import {
  Checker,
  chainHash,
  encodeProposal,
  encodeReadContext,
  entryIdentity,
  IdStateMachine,
  INITIAL_STATE_HASH,
  type Invariant,
  InvariantViolation,
} from '@keelson/raft-sim';
import { beforeEach, describe, expect, it } from 'vitest';

// Synthetic histories fed straight to the Checker: each invariant must catch its violation (the
// checker has teeth) and must stay quiet on a correct history (it has no false alarms).

const conf = (voters: number[]): ConfState => ({
  voters,
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});
const ent = (index: number, term: number, id: number): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: id === 0 ? new Uint8Array(0) : encodeProposal(id),
});
const hs = (term: number, commit = 0, vote = 0): HardState => ({ term, vote, commit });

/** A small cluster of checker-visible nodes whose disks are MemoryStorages, driven like the simulator. */
class Harness {
  readonly checker = new Checker();
  readonly disks = new Map<number, MemoryStorage>();
  readonly sms = new Map<number, IdStateMachine>();

  constructor(ids: number[]) {
    this.checker.bootstrap(1, 1, INITIAL_STATE_HASH);
    for (const id of ids) {
      const s = new MemoryStorage();
      s.applySnapshot({
        data: IdStateMachine.bootstrapBytes(),
        metadata: { index: 1, term: 1, confState: conf(ids) },
      });
      this.disks.set(id, s);
      this.sms.set(id, IdStateMachine.fromBytes(IdStateMachine.bootstrapBytes()));
      this.checker.addNode(id, s, 1, INITIAL_STATE_HASH);
    }
  }

  disk(id: number): MemoryStorage {
    return this.disks.get(id)!;
  }

  /** One Ready of node id: role change, entries and hard state persisted, in the simulator's order. */
  ready(id: number, r: { role?: StateType; entries?: Entry[]; hs?: HardState; conf?: ConfState }): void {
    const c = this.checker;
    c.beginReady(id, r.role ?? null, r.hs ?? null);
    if (r.entries !== undefined && r.entries.length > 0) {
      c.beforeEntriesPersist(id, r.entries);
      this.disk(id).append(r.entries);
    }
    if (r.hs !== undefined) this.disk(id).setHardState(r.hs);
    c.afterPersist(id, r.hs ?? null, r.conf ?? conf([...this.disks.keys()]));
  }

  /** Applies entries [from, to] of node id's disk to its state machine. */
  apply(id: number, from: number, to: number): void {
    const sm = this.sms.get(id)!;
    for (const e of this.disk(id).entries(from, to + 1, Number.POSITIVE_INFINITY)) {
      const ident = entryIdentity(e);
      sm.apply(e.index, ident);
      this.checker.onApply(id, e.index, e.term, ident, sm.hash);
    }
  }
}

function expectViolation(invariant: Invariant, fn: () => void): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a ${invariant} violation`).toBeInstanceOf(InvariantViolation);
  expect((caught as InvariantViolation).violation.invariant).toBe(invariant);
}

describe('Checker', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness([1, 2, 3]);
  });

  /** Node 1 leads term 2 and commits entries 2..3 with node 2's help. */
  function healthyTerm2(): void {
    h.ready(1, { role: StateType.Leader, hs: hs(2, 0, 1), entries: [ent(2, 2, 0), ent(3, 2, 7)] });
    h.ready(2, { hs: hs(2, 0, 1), entries: [ent(2, 2, 0), ent(3, 2, 7)] });
    h.ready(1, { hs: hs(2, 3, 1) });
    h.apply(1, 2, 3);
    h.ready(2, { hs: hs(2, 3, 1) });
    h.apply(2, 2, 3);
  }

  // Proves a correct history raises nothing: the checks have no false alarms on the common path.
  it('accepts a correct history', () => {
    healthyTerm2();
    expect(h.checker.violation).toBeNull();
    expect(h.checker.commitIndex).toBe(3);
    expect(h.checker.stats.checks).toBeGreaterThan(5);
  });

  // Proves Election Safety catches two leaders in one term, seen through their role changes.
  it('catches two leaders in one term (roles)', () => {
    h.ready(1, { role: StateType.Leader, hs: hs(2, 0, 1) });
    expectViolation('ElectionSafety', () => h.ready(2, { role: StateType.Leader, hs: hs(2, 0, 2) }));
  });

  // Proves Election Safety also catches a second leader that only shows itself through its messages.
  it('catches two leaders in one term (leader-only messages)', () => {
    const app = (from: number): Message => message({ type: MessageType.App, from, to: 3, term: 4 });
    h.checker.onSend(app(1));
    h.checker.onSend(message({ type: MessageType.AppResp, from: 2, to: 1, term: 4 }));
    expectViolation('ElectionSafety', () => h.checker.onSend(app(2)));
  });

  // Proves Leader Append-Only catches a leader that rewrites entries of its own log.
  it('catches a leader truncating its log', () => {
    h.ready(1, { role: StateType.Leader, hs: hs(2, 0, 1), entries: [ent(2, 2, 0), ent(3, 2, 7)] });
    expectViolation('LeaderAppendOnly', () => h.ready(1, { entries: [ent(3, 2, 8)] }));
  });

  // Proves Leader Append-Only catches a leader appending an entry of a term other than its own.
  it('catches a leader appending an entry of a foreign term', () => {
    h.ready(1, { role: StateType.Leader, hs: hs(3, 0, 1), entries: [ent(2, 3, 0)] });
    expectViolation('LeaderAppendOnly', () => h.ready(1, { entries: [ent(3, 2, 9)] }));
  });

  // Proves Log Matching catches two different entries with the same index and term.
  it('catches two entries with the same index and term', () => {
    h.ready(1, { hs: hs(2), entries: [ent(2, 2, 5)] });
    expectViolation('LogMatching', () => h.ready(2, { hs: hs(2), entries: [ent(2, 2, 6)] }));
  });

  // Proves Log Matching catches equal (index, term) entries whose predecessors differ.
  it('catches equal entries with different predecessors', () => {
    h.ready(1, { hs: hs(3), entries: [ent(2, 2, 5), ent(3, 3, 6)] });
    expectViolation('LogMatching', () => h.ready(2, { hs: hs(3), entries: [ent(2, 3, 9), ent(3, 3, 6)] }));
  });

  // Proves the checker catches a log whose terms go down.
  it('catches a log whose terms decrease', () => {
    expectViolation('LogMatching', () => h.ready(1, { hs: hs(3), entries: [ent(2, 3, 5), ent(3, 2, 6)] }));
  });

  // Proves Leader Completeness catches a new leader that lacks an entry committed in an earlier term.
  it('catches a leader missing a committed entry', () => {
    healthyTerm2();
    // Node 3 never got entries 2..3 yet wins term 3.
    expectViolation('LeaderCompleteness', () => h.ready(3, { role: StateType.Leader, hs: hs(3, 1, 3) }));
  });

  // Proves State Machine Safety catches two nodes applying different entries at the same index.
  it('catches a divergent applied sequence', () => {
    h.ready(1, { hs: hs(2, 2), entries: [ent(2, 2, 5)] });
    h.apply(1, 2, 2);
    h.ready(2, { hs: hs(2, 2), entries: [ent(2, 2, 5)] });
    // Node 2's state machine applies another payload at index 2 than node 1's did.
    const sm = IdStateMachine.fromBytes(IdStateMachine.bootstrapBytes());
    sm.apply(2, 6);
    expectViolation('StateMachineSafety', () => h.checker.onApply(2, 2, 2, 6, sm.hash));
  });

  // Proves State Machine Safety catches a state machine whose hash differs at the same index.
  it('catches a state machine that differs at the same index', () => {
    healthyTerm2();
    const bogus = chainHash(INITIAL_STATE_HASH, 2, 99);
    expectViolation('StateMachineSafety', () => h.checker.onRestore(3, 2, 2, bogus));
  });

  // Proves State Machine Safety catches entries applied out of order (a skipped index).
  it('catches an applied gap', () => {
    healthyTerm2();
    h.ready(3, { hs: hs(2, 3), entries: [ent(2, 2, 0), ent(3, 2, 7)] });
    expectViolation('StateMachineSafety', () => h.checker.onApply(3, 3, 2, 7, 0));
  });

  // Proves the checker catches a committed entry that is later reported with another term (rewritten).
  it('catches a rewritten committed entry', () => {
    healthyTerm2();
    // Node 3 reports commit 3 over a log whose entry 3 has another term.
    expectViolation('StateMachineSafety', () =>
      h.ready(3, { hs: hs(3, 3), entries: [ent(2, 2, 0), ent(3, 3, 7)] }),
    );
  });

  // Proves Durability catches a node that truncates a committed entry it durably held.
  it('catches the truncation of a held committed entry', () => {
    healthyTerm2();
    expectViolation('Durability', () => h.ready(2, { hs: hs(4, 3), entries: [ent(3, 4, 8)] }));
  });

  // Proves Durability catches a commit index that goes backwards.
  it('catches a commit index that goes back', () => {
    healthyTerm2();
    expectViolation('Durability', () => h.ready(1, { hs: hs(2, 2, 1) }));
  });

  // Proves Durability catches a leader that commits an entry no quorum has on disk.
  it('catches a commit without a durable quorum', () => {
    h.ready(1, { role: StateType.Leader, hs: hs(2, 0, 1), entries: [ent(2, 2, 0), ent(3, 2, 7)] });
    // Only the leader holds 2..3, yet it commits them in a 3-voter configuration.
    expectViolation('Durability', () => h.ready(1, { hs: hs(2, 3, 1), conf: conf([1, 2, 3]) }));
  });

  // Proves the ReadIndex check catches a read answered below a commit index known before it began.
  it('catches a stale read', () => {
    healthyTerm2();
    h.checker.onReadIssued(2, 42);
    expectViolation('ReadIndex', () =>
      h.checker.onReadState(2, { index: 2, requestCtx: encodeReadContext(42) }),
    );
  });

  // Proves a read answered at or above the commit index at its start passes.
  it('accepts a fresh read', () => {
    healthyTerm2();
    h.checker.onReadIssued(2, 43);
    expect(h.checker.onReadState(2, { index: 3, requestCtx: encodeReadContext(43) })).toBe(43);
  });

  // Proves ConfigAgreement catches two nodes computing different configurations from one entry.
  it('catches disagreeing conf change results', () => {
    h.checker.onConfApplied(1, 5, conf([1, 2]));
    expectViolation('ConfigAgreement', () => h.checker.onConfApplied(2, 5, conf([1, 3])));
  });

  // Proves a restart that lost the durable commit index is caught.
  it('catches a restart that lost the commit index', () => {
    healthyTerm2();
    const wiped = new MemoryStorage();
    wiped.applySnapshot({
      data: IdStateMachine.bootstrapBytes(),
      metadata: { index: 1, term: 1, confState: conf([1, 2, 3]) },
    });
    expectViolation('Durability', () => h.checker.addNode(2, wiped, 1, INITIAL_STATE_HASH));
  });

  // Proves a restart whose disk lost committed entries it had held is caught.
  it('catches a restart that lost committed entries', () => {
    healthyTerm2();
    const torn = new MemoryStorage();
    torn.applySnapshot({
      data: IdStateMachine.bootstrapBytes(),
      metadata: { index: 1, term: 1, confState: conf([1, 2, 3]) },
    });
    torn.append([ent(2, 2, 0)]);
    torn.setHardState(hs(2, 3, 1));
    expectViolation('Durability', () => h.checker.addNode(2, torn, 1, INITIAL_STATE_HASH));
  });

  // Proves only the first violation is kept even if more are thrown.
  it('keeps the first violation', () => {
    h.ready(1, { role: StateType.Leader, hs: hs(2, 0, 1) });
    expectViolation('ElectionSafety', () => h.ready(2, { role: StateType.Leader, hs: hs(2, 0, 2) }));
    expectViolation('ReadIndex', () => h.checker.report('ReadIndex', 0, 'later'));
    expect(h.checker.violation?.invariant).toBe('ElectionSafety');
  });
});
