import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError, type RaftErrorCode } from '../src/errors.js';
import { MemoryStorage } from '../src/storage.js';
import { type ConfState, EMPTY_BYTES, type Entry, emptyConfState, entrySizeBytes } from '../src/types.js';
import { entriesSizeBytes, limitSize, payloadsSizeBytes } from '../src/util.js';
import { ent, ids, raftErrorCode, snap } from './fixtures.js';

/** A storage compacted at (3, 3) holding entries 4 and 5, like etcd's storage tests. */
function storage345(): MemoryStorage {
  const ms = new MemoryStorage();
  ms.applySnapshot(snap(3, 3));
  ms.append([ent(4, 4), ent(5, 5)]);
  return ms;
}

describe('util', () => {
  it('limitSize keeps the longest prefix within the budget, and at least one entry', () => {
    // Proves the batching rule: a prefix within budget, never empty for a non-empty input.
    const ents = [ent(1, 1, 10), ent(2, 1, 20), ent(3, 1, 30)];
    const sizes = ents.map(entrySizeBytes);
    expect(limitSize(ents, Number.POSITIVE_INFINITY)).toEqual(ents);
    expect(limitSize(ents, 0)).toEqual(ents.slice(0, 1));
    expect(limitSize(ents, sizes[0]! + sizes[1]! - 1)).toEqual(ents.slice(0, 1));
    expect(limitSize(ents, sizes[0]! + sizes[1]!)).toEqual(ents.slice(0, 2));
    expect(limitSize(ents, entriesSizeBytes(ents))).toEqual(ents);
    expect(limitSize([], 0)).toEqual([]);
  });

  it('limitSize returns a fresh array', () => {
    // Proves callers may mutate the result without corrupting the source.
    const ents = [ent(1, 1)];
    expect(limitSize(ents, Number.POSITIVE_INFINITY)).not.toBe(ents);
  });

  it('sizes sum entry and payload sizes', () => {
    // Proves entriesSizeBytes counts the per-entry overhead while payloadsSizeBytes counts data only.
    const ents = [ent(1, 1, 3), ent(2, 1, 4)];
    expect(payloadsSizeBytes(ents)).toBe(7);
    expect(entriesSizeBytes(ents)).toBe(entrySizeBytes(ents[0]!) + entrySizeBytes(ents[1]!));
    expect(entriesSizeBytes([])).toBe(0);
  });

  it('limitSize matches a brute-force prefix search', () => {
    // Proves limitSize against the definition: the longest prefix within budget, but at least one.
    fc.assert(
      fc.property(fc.array(fc.nat(40), { maxLength: 12 }), fc.nat(400), (lens, maxBytes) => {
        const ents = lens.map((len, k) => ent(k + 1, 1, len));
        let best = 0;
        for (let n = 0; n <= ents.length; n++) {
          if (entriesSizeBytes(ents.slice(0, n)) <= maxBytes) best = n;
        }
        if (ents.length > 0) best = Math.max(best, 1);
        expect(limitSize(ents, maxBytes)).toEqual(ents.slice(0, best));
      }),
    );
  });
});

describe('MemoryStorage', () => {
  it('starts empty with a dummy entry at index 0, term 0', () => {
    // Proves a fresh storage looks like an empty log compacted at (0, 0).
    const ms = new MemoryStorage();
    expect(ms.firstIndex()).toBe(1);
    expect(ms.lastIndex()).toBe(0);
    expect(ms.term(0)).toBe(0);
    expect(raftErrorCode(() => ms.term(1))).toBe('Unavailable');
    expect(ms.entries(1, 1, 100)).toEqual([]);
    expect(ms.initialState()).toEqual({
      hardState: { term: 0, vote: 0, commit: 0 },
      confState: emptyConfState(),
    });
    expect(ms.snapshot().metadata.index).toBe(0);
  });

  it('term covers [firstIndex-1, lastIndex]', () => {
    // Proves term() answers for the dummy entry and stored entries and names the failure outside.
    const ms = storage345();
    const cases: [number, number | RaftErrorCode][] = [
      [2, 'Compacted'],
      [3, 3],
      [4, 4],
      [5, 5],
      [6, 'Unavailable'],
    ];
    for (const [i, want] of cases) {
      const got = raftErrorCode(() => ms.term(i));
      if (typeof want === 'number') expect(ms.term(i)).toBe(want);
      else expect(got).toBe(want);
    }
  });

  it('entries returns [lo, hi) within the size limit', () => {
    // Proves entries() bounds, compaction errors and the at-least-one size rule.
    const ms = storage345();
    ms.append([ent(6, 6)]);
    const s = entrySizeBytes(ent(4, 4));
    expect(raftErrorCode(() => ms.entries(2, 6, Infinity))).toBe('Compacted');
    expect(raftErrorCode(() => ms.entries(3, 4, Infinity))).toBe('Compacted');
    expect(ids(ms.entries(4, 5, Infinity))).toEqual([[4, 4]]);
    expect(ids(ms.entries(4, 6, Infinity))).toEqual([
      [4, 4],
      [5, 5],
    ]);
    expect(ids(ms.entries(4, 7, Infinity))).toEqual([
      [4, 4],
      [5, 5],
      [6, 6],
    ]);
    expect(ids(ms.entries(4, 7, 0))).toEqual([[4, 4]]);
    expect(ids(ms.entries(4, 7, 2 * s))).toEqual([
      [4, 4],
      [5, 5],
    ]);
    expect(ids(ms.entries(4, 7, 3 * s - 1))).toEqual([
      [4, 4],
      [5, 5],
    ]);
    expect(raftErrorCode(() => ms.entries(4, 8, Infinity))).toBe('Unavailable');
    expect(() => ms.entries(5, 4, Infinity)).toThrow(AssertionError);
  });

  it('first and last index follow compaction', () => {
    // Proves compact() moves firstIndex and keeps lastIndex and the compacted entry's term.
    const ms = storage345();
    expect([ms.firstIndex(), ms.lastIndex()]).toEqual([4, 5]);
    ms.append([ent(6, 5)]);
    expect(ms.lastIndex()).toBe(6);
    ms.compact(4);
    expect([ms.firstIndex(), ms.lastIndex()]).toEqual([5, 6]);
    expect(ms.term(4)).toBe(4);
    expect(raftErrorCode(() => ms.term(3))).toBe('Compacted');
  });

  it('compact rejects already-compacted indexes and asserts the upper bound', () => {
    // Proves compaction at or below the dummy index is Compacted and beyond lastIndex is a bug.
    for (const i of [2, 3]) expect(raftErrorCode(() => storage345().compact(i))).toBe('Compacted');
    const ms = storage345();
    ms.compact(5);
    expect([ms.firstIndex(), ms.lastIndex(), ms.term(5)]).toEqual([6, 5, 5]);
    expect(() => storage345().compact(6)).toThrow(AssertionError);
  });

  it('createSnapshot records index, term, conf state and data', () => {
    // Proves createSnapshot builds the snapshot from the log and keeps the old ConfState on null.
    const cs: ConfState = { ...emptyConfState(), voters: [1, 2, 3] };
    const data = new Uint8Array([1, 2, 3]);
    const ms = storage345();
    const s4 = ms.createSnapshot(4, cs, data);
    expect(s4).toEqual({ data, metadata: { index: 4, term: 4, confState: cs } });
    expect(ms.snapshot()).toBe(s4);
    const s5 = ms.createSnapshot(5, null, EMPTY_BYTES);
    expect(s5.metadata).toEqual({ index: 5, term: 5, confState: cs });
    expect(ms.initialState().confState).toEqual(cs);
    // Creating a snapshot does not compact: the entries stay readable.
    expect(ms.firstIndex()).toBe(4);
  });

  it('createSnapshot refuses stale indexes and asserts the upper bound', () => {
    // Proves SnapOutOfDate at or below the current snapshot and an assertion beyond lastIndex.
    const ms = storage345();
    expect(raftErrorCode(() => ms.createSnapshot(3, null, EMPTY_BYTES))).toBe('SnapOutOfDate');
    ms.createSnapshot(5, null, EMPTY_BYTES);
    expect(raftErrorCode(() => ms.createSnapshot(4, null, EMPTY_BYTES))).toBe('SnapOutOfDate');
    expect(() => storage345().createSnapshot(6, null, EMPTY_BYTES)).toThrow(AssertionError);
  });

  it('append truncates conflicts, skips compacted entries and refuses gaps', () => {
    // Proves append() against etcd's table: overwrite, extend, ignore compacted, assert on gaps.
    const cases: [Entry[], [number, number][] | 'assert'][] = [
      [
        [ent(1, 1), ent(2, 2)],
        [
          [4, 4],
          [5, 5],
        ],
      ],
      [
        [ent(3, 3), ent(4, 4), ent(5, 5)],
        [
          [4, 4],
          [5, 5],
        ],
      ],
      [
        [ent(3, 3), ent(4, 6), ent(5, 6)],
        [
          [4, 6],
          [5, 6],
        ],
      ],
      [
        [ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 5)],
        [
          [4, 4],
          [5, 5],
          [6, 5],
        ],
      ],
      [[ent(2, 3), ent(3, 3), ent(4, 5)], [[4, 5]]],
      [[ent(4, 5)], [[4, 5]]],
      [
        [ent(6, 5)],
        [
          [4, 4],
          [5, 5],
          [6, 5],
        ],
      ],
      [[ent(7, 5)], 'assert'],
      [[ent(6, 5), ent(8, 5)], 'assert'],
    ];
    for (const [input, want] of cases) {
      const ms = storage345();
      if (want === 'assert') {
        expect(() => ms.append(input)).toThrow(AssertionError);
        continue;
      }
      ms.append(input);
      expect(ids(ms.entries(ms.firstIndex(), ms.lastIndex() + 1, Infinity))).toEqual(want);
      expect(ms.term(3)).toBe(3);
    }
  });

  it('applySnapshot replaces the log and refuses older snapshots', () => {
    // Proves applySnapshot resets the log to the snapshot and rejects one that is not newer.
    const ms = new MemoryStorage();
    ms.append([ent(1, 1), ent(2, 1)]);
    ms.applySnapshot(snap(4, 4));
    expect([ms.firstIndex(), ms.lastIndex(), ms.term(4)]).toEqual([5, 4, 4]);
    expect(ms.snapshot().metadata.index).toBe(4);
    expect(raftErrorCode(() => ms.applySnapshot(snap(3, 3)))).toBe('SnapOutOfDate');
    expect(raftErrorCode(() => ms.applySnapshot(snap(4, 4)))).toBe('SnapOutOfDate');
  });

  it('keeps and returns the hard state', () => {
    // Proves setHardState is what hardState() and initialState() report.
    const ms = new MemoryStorage();
    ms.setHardState({ term: 2, vote: 3, commit: 1 });
    expect(ms.hardState()).toEqual({ term: 2, vote: 3, commit: 1 });
    expect(ms.initialState().hardState).toEqual({ term: 2, vote: 3, commit: 1 });
  });

  it('clone is independent of the original', () => {
    // Proves a clone models a crash image: later writes to either side do not leak to the other.
    const ms = storage345();
    ms.setHardState({ term: 5, vote: 1, commit: 4 });
    const copy = ms.clone();
    ms.append([ent(5, 6), ent(6, 6)]);
    ms.compact(5);
    ms.setHardState({ term: 6, vote: 2, commit: 5 });
    expect([copy.firstIndex(), copy.lastIndex(), copy.term(5)]).toEqual([4, 5, 5]);
    expect(copy.hardState()).toEqual({ term: 5, vote: 1, commit: 4 });
    copy.append([ent(6, 7)]);
    expect(ms.term(6)).toBe(6);
  });

  it('handles large appends without overflowing the stack', () => {
    // Proves append and entries scale to a batch far larger than the argument-spread limit.
    const ms = new MemoryStorage();
    const n = 300_000;
    const ents = Array.from({ length: n }, (_, k) => ent(k + 1, 1));
    ms.append(ents);
    expect(ms.lastIndex()).toBe(n);
    expect(ms.entries(1, n + 1, Infinity).length).toBe(n);
  });
});

// ---- Model-based test: MemoryStorage against a plain array -------------------------------------

/** The reference: byIndex[i] is entry i; indexes at or below dummyIndex are compacted. */
interface StorageModel {
  byIndex: Entry[];
  dummyIndex: number;
  dummyTerm: number;
  snapIndex: number;
}

type StorageOp =
  | { kind: 'append'; back: number; terms: number[]; dataLen: number }
  | { kind: 'appendGap' }
  | { kind: 'compact'; back: number }
  | { kind: 'compactBeyond' }
  | { kind: 'createSnapshot'; back: number }
  | { kind: 'applySnapshot'; ahead: number; term: number }
  | { kind: 'clone' };

const storageOpArb: fc.Arbitrary<StorageOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(8),
      terms: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 6 }),
      dataLen: fc.nat(30),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'appendGap' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.nat(6) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'compactBeyond' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('createSnapshot' as const), back: fc.nat(6) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('applySnapshot' as const),
      ahead: fc.nat(6),
      term: fc.integer({ min: 1, max: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'clone' as const }) },
);

function modelLast(m: StorageModel): number {
  return m.byIndex.length - 1;
}

function modelTerm(m: StorageModel, i: number): number | RaftErrorCode {
  if (i < m.dummyIndex) return 'Compacted';
  if (i > modelLast(m)) return 'Unavailable';
  return i === m.dummyIndex ? m.dummyTerm : m.byIndex[i]!.term;
}

/** Applies op to both, asserting that the storage fails exactly when the model says it must. */
function stepStorage(ms: MemoryStorage, m: StorageModel, op: StorageOp): void {
  const last = modelLast(m);
  switch (op.kind) {
    case 'append': {
      const start = Math.max(1, last + 1 - op.back);
      const ents = op.terms.map((t, k) => ent(start + k, t, op.dataLen));
      ms.append(ents);
      for (const e of ents) {
        if (e.index <= m.dummyIndex) continue;
        m.byIndex.length = Math.min(m.byIndex.length, e.index);
        m.byIndex.push(e);
      }
      return;
    }
    case 'appendGap':
      expect(() => ms.append([ent(last + 2, 1)])).toThrow(AssertionError);
      return;
    case 'compact': {
      const i = last - op.back;
      if (i <= m.dummyIndex) {
        expect(raftErrorCode(() => ms.compact(i))).toBe('Compacted');
        return;
      }
      ms.compact(i);
      m.dummyTerm = m.byIndex[i]!.term;
      m.dummyIndex = i;
      return;
    }
    case 'compactBeyond':
      expect(() => ms.compact(last + 1)).toThrow(AssertionError);
      return;
    case 'createSnapshot': {
      const i = last - op.back;
      if (i <= m.snapIndex) {
        expect(raftErrorCode(() => ms.createSnapshot(i, null, EMPTY_BYTES))).toBe('SnapOutOfDate');
      } else if (i < m.dummyIndex) {
        expect(() => ms.createSnapshot(i, null, EMPTY_BYTES)).toThrow(AssertionError);
      } else {
        const s = ms.createSnapshot(i, null, EMPTY_BYTES);
        expect([s.metadata.index, s.metadata.term]).toEqual([i, modelTerm(m, i)]);
        m.snapIndex = i;
      }
      return;
    }
    case 'applySnapshot': {
      const i = m.snapIndex + op.ahead - 1;
      if (i <= m.snapIndex) {
        expect(raftErrorCode(() => ms.applySnapshot(snap(i, op.term)))).toBe('SnapOutOfDate');
        return;
      }
      ms.applySnapshot(snap(i, op.term));
      m.byIndex = Array.from({ length: i + 1 }, (_, k) => ent(k, 0));
      m.dummyIndex = i;
      m.dummyTerm = op.term;
      m.snapIndex = i;
      return;
    }
    case 'clone':
      return; // Handled by the caller, which keeps the clone and checks it later.
  }
}

function checkStorage(ms: MemoryStorage, m: StorageModel, maxBytes: number): void {
  const last = modelLast(m);
  expect(ms.firstIndex()).toBe(m.dummyIndex + 1);
  expect(ms.lastIndex()).toBe(last);
  expect(ms.snapshot().metadata.index).toBe(m.snapIndex);
  for (let i = Math.max(0, m.dummyIndex - 2); i <= last + 2; i++) {
    const want = modelTerm(m, i);
    if (typeof want === 'number') expect(ms.term(i)).toBe(want);
    else expect(raftErrorCode(() => ms.term(i))).toBe(want);
  }
  for (let lo = Math.max(0, m.dummyIndex - 1); lo <= last + 1; lo++) {
    for (let hi = lo; hi <= last + 2; hi++) {
      const code = raftErrorCode(() => ms.entries(lo, hi, maxBytes));
      if (lo <= m.dummyIndex) expect(code).toBe('Compacted');
      else if (hi > last + 1) expect(code).toBe('Unavailable');
      else expect(ms.entries(lo, hi, maxBytes)).toEqual(limitSize(m.byIndex.slice(lo, hi), maxBytes));
    }
  }
}

function cloneModel(m: StorageModel): StorageModel {
  return { ...m, byIndex: m.byIndex.slice() };
}

describe('MemoryStorage model', () => {
  it('behaves like a plain array with a compaction floor', () => {
    // Proves every MemoryStorage operation sequence matches the array model, clones included.
    fc.assert(
      fc.property(fc.array(storageOpArb, { maxLength: 40 }), fc.nat(200), (ops, maxBytes) => {
        const ms = new MemoryStorage();
        const m: StorageModel = { byIndex: [ent(0, 0)], dummyIndex: 0, dummyTerm: 0, snapIndex: 0 };
        const clones: [MemoryStorage, StorageModel][] = [];
        for (const op of ops) {
          if (op.kind === 'clone') clones.push([ms.clone(), cloneModel(m)]);
          stepStorage(ms, m, op);
          checkStorage(ms, m, maxBytes);
        }
        for (const [c, cm] of clones) checkStorage(c, cm, maxBytes);
      }),
      { numRuns: 300 },
    );
  });
});
