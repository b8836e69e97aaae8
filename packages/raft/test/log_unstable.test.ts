import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../src/errors.js';
import { Unstable } from '../src/log_unstable.js';
import { type Logger, silentLogger } from '../src/logger.js';
import { EMPTY_BYTES, type Entry, EntryType, emptyConfState, type Snapshot } from '../src/types.js';

function ent(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: EMPTY_BYTES };
}

function snap(index: number, term: number): Snapshot {
  return { data: EMPTY_BYTES, metadata: { index, term, confState: emptyConfState() } };
}

function unstable(entries: Entry[], offset: number, snapshot: Snapshot | null): Unstable {
  const u = new Unstable(offset, silentLogger);
  u.entries = entries;
  u.snapshot = snapshot;
  return u;
}

function ids(ents: readonly Entry[]): [number, number][] {
  return ents.map((e) => [e.index, e.term]);
}

describe('Unstable', () => {
  it('maybeFirstIndex is known only with a snapshot', () => {
    // Proves the unstable part decides the first index exactly when it holds a snapshot.
    expect(unstable([ent(5, 1)], 5, null).maybeFirstIndex()).toBeUndefined();
    expect(unstable([], 0, null).maybeFirstIndex()).toBeUndefined();
    expect(unstable([ent(5, 1)], 5, snap(4, 1)).maybeFirstIndex()).toBe(5);
    expect(unstable([], 5, snap(4, 1)).maybeFirstIndex()).toBe(5);
  });

  it('maybeLastIndex comes from entries, else the snapshot', () => {
    // Proves the last index prefers the last unstable entry and falls back to the snapshot index.
    expect(unstable([ent(5, 1)], 5, null).maybeLastIndex()).toBe(5);
    expect(unstable([ent(5, 1)], 5, snap(4, 1)).maybeLastIndex()).toBe(5);
    expect(unstable([], 5, snap(4, 1)).maybeLastIndex()).toBe(4);
    expect(unstable([], 0, null).maybeLastIndex()).toBeUndefined();
  });

  it('maybeTerm answers for unstable entries and the snapshot index', () => {
    // Proves maybeTerm covers entries and the snapshot's own index, and nothing else.
    const cases: [Unstable, number, number | undefined][] = [
      [unstable([ent(5, 1)], 5, null), 5, 1],
      [unstable([ent(5, 1)], 5, null), 6, undefined],
      [unstable([ent(5, 1)], 5, null), 4, undefined],
      [unstable([ent(5, 1)], 5, snap(4, 1)), 5, 1],
      [unstable([ent(5, 1)], 5, snap(4, 1)), 6, undefined],
      [unstable([ent(5, 1)], 5, snap(4, 1)), 4, 1],
      [unstable([ent(5, 1)], 5, snap(4, 1)), 3, undefined],
      [unstable([], 5, snap(4, 1)), 5, undefined],
      [unstable([], 5, snap(4, 1)), 4, 1],
      [unstable([], 0, null), 5, undefined],
    ];
    for (const [u, i, want] of cases) expect(u.maybeTerm(i)).toBe(want);
  });

  it('restore replaces everything with the snapshot', () => {
    // Proves restore drops all entries and sets the offset just after the snapshot.
    const u = unstable([ent(5, 1)], 5, snap(4, 1));
    const s = snap(6, 2);
    u.restore(s);
    expect([u.offset, u.entries.length, u.snapshot]).toEqual([7, 0, s]);
  });

  it('stableTo drops a prefix only when index and term match an unstable entry', () => {
    // Proves etcd's stableTo table: mismatched terms and snapshot-covered indexes are ignored.
    const cases: [Unstable, number, number, number, number][] = [
      [unstable([], 0, null), 5, 1, 0, 0],
      [unstable([ent(5, 1)], 5, null), 5, 1, 6, 0],
      [unstable([ent(5, 1), ent(6, 1)], 5, null), 5, 1, 6, 1],
      [unstable([ent(6, 2)], 6, null), 6, 1, 6, 1],
      [unstable([ent(5, 1)], 5, null), 4, 1, 5, 1],
      [unstable([ent(5, 1)], 5, null), 4, 2, 5, 1],
      [unstable([ent(5, 1)], 5, snap(4, 1)), 5, 1, 6, 0],
      [unstable([ent(5, 1), ent(6, 1)], 5, snap(4, 1)), 5, 1, 6, 1],
      [unstable([ent(6, 2)], 6, snap(5, 1)), 6, 1, 6, 1],
      [unstable([ent(5, 1)], 5, snap(4, 1)), 4, 1, 5, 1],
      [unstable([ent(5, 2)], 5, snap(4, 2)), 4, 1, 5, 1],
    ];
    for (const [u, i, t, wantOffset, wantLen] of cases) {
      u.stableTo(i, t);
      expect([u.offset, u.entries.length]).toEqual([wantOffset, wantLen]);
    }
  });

  it('stableTo keeps the remaining entries in a fresh array', () => {
    // Proves the persisted prefix is released rather than kept alive behind the live entries.
    const before = [ent(5, 1), ent(6, 1), ent(7, 1)];
    const u = unstable(before.slice(), 5, null);
    const old = u.entries;
    u.stableTo(5, 1);
    expect(u.entries).not.toBe(old);
    expect(ids(u.entries)).toEqual([
      [6, 1],
      [7, 1],
    ]);
  });

  it('stableSnapTo forgets only the matching snapshot', () => {
    // Proves a persisted snapshot is dropped and a different one is kept.
    const u = unstable([], 5, snap(4, 1));
    u.stableSnapTo(3);
    expect(u.snapshot).not.toBeNull();
    u.stableSnapTo(4);
    expect(u.snapshot).toBeNull();
    u.stableSnapTo(4);
    expect(u.snapshot).toBeNull();
  });

  it('truncateAndAppend appends, replaces or truncates', () => {
    // Proves etcd's truncateAndAppend table: direct append, full replace, truncate then append.
    const cases: [Entry[], number, Entry[], number, [number, number][]][] = [
      [
        [ent(5, 1)],
        5,
        [ent(6, 1), ent(7, 1)],
        5,
        [
          [5, 1],
          [6, 1],
          [7, 1],
        ],
      ],
      [
        [ent(5, 1)],
        5,
        [ent(5, 2), ent(6, 2)],
        5,
        [
          [5, 2],
          [6, 2],
        ],
      ],
      [
        [ent(5, 1)],
        5,
        [ent(4, 2), ent(5, 2), ent(6, 2)],
        4,
        [
          [4, 2],
          [5, 2],
          [6, 2],
        ],
      ],
      [
        [ent(5, 1), ent(6, 1), ent(7, 1)],
        5,
        [ent(6, 2)],
        5,
        [
          [5, 1],
          [6, 2],
        ],
      ],
      [
        [ent(5, 1), ent(6, 1), ent(7, 1)],
        5,
        [ent(7, 2), ent(8, 2)],
        5,
        [
          [5, 1],
          [6, 1],
          [7, 2],
          [8, 2],
        ],
      ],
    ];
    for (const [entries, offset, toAppend, wantOffset, want] of cases) {
      const u = unstable(entries, offset, null);
      u.truncateAndAppend(toAppend);
      expect(u.offset).toBe(wantOffset);
      expect(ids(u.entries)).toEqual(want);
    }
  });

  it('truncateAndAppend refuses gaps and non-contiguous batches', () => {
    // Proves a hole in the log is a bug that is caught at the point of append.
    expect(() => unstable([ent(5, 1)], 5, null).truncateAndAppend([ent(7, 1)])).toThrow(AssertionError);
    expect(() => unstable([ent(5, 1)], 5, null).truncateAndAppend([ent(6, 1), ent(8, 1)])).toThrow(
      AssertionError,
    );
  });

  it('truncateAndAppend does not keep the caller array', () => {
    // Proves later appends cannot mutate an array the caller passed in (it may be a message's).
    const input = [ent(5, 2)];
    const u = unstable([ent(5, 1)], 5, null);
    u.truncateAndAppend(input);
    u.truncateAndAppend([ent(6, 2)]);
    expect(input.length).toBe(1);
  });

  it('truncateAndAppend logs truncations', () => {
    // Proves replacing unstable entries leaves a trace in the injected logger.
    const lines: string[] = [];
    const logger: Logger = { ...silentLogger, info: (msg) => void lines.push(msg) };
    const u = new Unstable(5, logger);
    u.truncateAndAppend([ent(5, 1), ent(6, 1)]);
    u.truncateAndAppend([ent(6, 2)]);
    u.truncateAndAppend([ent(4, 3)]);
    expect(lines).toEqual(['truncate the unstable entries', 'replace the unstable entries']);
  });

  it('slice returns a copy of an in-bounds range and asserts the bounds', () => {
    // Proves slice is a copy (later appends do not change it) and out-of-range slices are bugs.
    const u = unstable([ent(5, 1), ent(6, 1), ent(7, 1)], 5, null);
    const got = u.slice(5, 7);
    u.truncateAndAppend([ent(6, 2)]);
    expect(ids(got)).toEqual([
      [5, 1],
      [6, 1],
    ]);
    expect(u.slice(6, 6)).toEqual([]);
    expect(() => u.slice(4, 6)).toThrow(AssertionError);
    expect(() => u.slice(5, 8)).toThrow(AssertionError);
    expect(() => u.slice(6, 5)).toThrow(AssertionError);
  });
});

// ---- Model-based test: Unstable as the tail of a plain array log -------------------------------

type UnstableOp =
  | { kind: 'append'; back: number; terms: number[] }
  | { kind: 'stable'; back: number; termMatches: boolean }
  | { kind: 'restore'; ahead: number; term: number }
  | { kind: 'stableSnap' };

const unstableOpArb: fc.Arbitrary<UnstableOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(5),
      terms: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('stable' as const),
      back: fc.nat(6),
      termMatches: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('restore' as const),
      ahead: fc.nat(4),
      term: fc.integer({ min: 1, max: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'stableSnap' as const }) },
);

/**
 * The reference: `log` is the whole log by index (log[i] is entry i), and everything below
 * `persistedBelow` has been persisted, so the unstable entries are exactly log[persistedBelow..].
 */
interface UnstableModel {
  log: Entry[];
  persistedBelow: number;
  snapshot: Snapshot | null;
}

function stepUnstable(u: Unstable, m: UnstableModel, op: UnstableOp): void {
  const last = m.log.length - 1;
  switch (op.kind) {
    case 'append': {
      // Appending may rewrite persisted entries too (a new leader overwrites the log's tail).
      const start = Math.max(m.snapshot === null ? 0 : m.snapshot.metadata.index + 1, last + 1 - op.back);
      const ents = op.terms.map((t, k) => ent(start + k, t));
      u.truncateAndAppend(ents);
      m.log.length = start;
      m.log.push(...ents);
      m.persistedBelow = Math.min(m.persistedBelow, start);
      return;
    }
    case 'stable': {
      const i = last - op.back;
      const t = op.termMatches && i >= 0 ? m.log[i]!.term : 99;
      u.stableTo(i, t);
      if (i >= m.persistedBelow && i <= last && m.log[i]!.term === t) m.persistedBelow = i + 1;
      return;
    }
    case 'restore': {
      const s = snap(last + op.ahead, op.term);
      u.restore(s);
      m.log = Array.from({ length: s.metadata.index + 1 }, (_, k) =>
        ent(k, k === s.metadata.index ? op.term : 0),
      );
      m.persistedBelow = s.metadata.index + 1;
      m.snapshot = s;
      return;
    }
    case 'stableSnap':
      if (m.snapshot !== null) u.stableSnapTo(m.snapshot.metadata.index);
      m.snapshot = null;
      return;
  }
}

function checkUnstable(u: Unstable, m: UnstableModel): void {
  const want = m.log.slice(m.persistedBelow);
  expect(u.offset).toBe(m.persistedBelow);
  expect(u.entries).toEqual(want);
  for (const [k, e] of u.entries.entries()) expect(e.index).toBe(u.offset + k);
  expect(u.snapshot).toBe(m.snapshot);
  const wantLast = want.length > 0 ? m.log.length - 1 : m.snapshot?.metadata.index;
  expect(u.maybeLastIndex()).toBe(wantLast);
  for (let i = 0; i <= m.log.length + 1; i++) {
    const inEntries = i >= m.persistedBelow && i < m.log.length;
    const isSnap = m.snapshot !== null && m.snapshot.metadata.index === i;
    const wantTerm = inEntries ? m.log[i]!.term : isSnap ? m.snapshot!.metadata.term : undefined;
    expect(u.maybeTerm(i)).toBe(wantTerm);
  }
  if (want.length > 0) expect(u.slice(u.offset, u.offset + want.length)).toEqual(want);
}

describe('Unstable model', () => {
  it('always holds exactly the unpersisted tail of the log', () => {
    // Proves that appends, truncations, stableTo and restore keep Unstable equal to the model's tail.
    fc.assert(
      fc.property(fc.array(unstableOpArb, { maxLength: 40 }), (ops) => {
        const u = new Unstable(1, silentLogger);
        const m: UnstableModel = { log: [ent(0, 0)], persistedBelow: 1, snapshot: null };
        for (const op of ops) {
          stepUnstable(u, m, op);
          checkUnstable(u, m);
        }
      }),
      { numRuns: 500 },
    );
  });
});
