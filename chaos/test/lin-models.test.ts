// The models' sequential semantics step by step, the power-set construction for nondeterministic
// models, and the checker's partitioning, pruning and time budget.
import {
  casRegisterModel,
  checkHistory,
  type HistoryOp,
  historyModels,
  type KvState,
  kvModel,
  type NondeterministicModel,
  parseHistory,
  powerSetModel,
  registerModel,
} from '@keelson/chaos';
import { describe, expect, it } from 'vitest';

let nextId = 0;
function op(f: string, value: unknown, result: unknown, extra: Partial<HistoryOp> = {}): HistoryOp {
  const info = extra.outcome === 'info';
  return {
    id: nextId++,
    process: 1,
    f,
    key: 'k',
    value,
    result: info ? undefined : result,
    outcome: 'ok',
    callNs: 0,
    returnNs: info ? Number.POSITIVE_INFINITY : 1,
    revision: undefined,
    version: undefined,
    line: 1,
    ...extra,
  };
}
const info = { outcome: 'info' as const };

describe('register models', () => {
  // Proves reads must match the value, writes set it, and values compare as JSON (key order aside).
  it('steps reads and writes', () => {
    expect(registerModel.init()).toBeNull();
    expect(registerModel.step(null, op('read', null, null))).toBeNull();
    expect(registerModel.step(null, op('read', null, 1))).toBeUndefined();
    expect(registerModel.step(null, op('write', { a: 1, b: 2 }, null))).toEqual({ a: 1, b: 2 });
    expect(registerModel.step({ a: 1, b: 2 }, op('read', null, { b: 2, a: 1 }))).toEqual({ a: 1, b: 2 });
    expect(registerModel.equal({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(registerModel.hash!({ a: 1, b: 2 })).toBe(registerModel.hash!({ b: 2, a: 1 }));
    expect(registerModel.validate!(op('cas', [1, 2], null))).toMatch(/no operation "cas"/);
  });

  // Proves an ok cas needs the expected value, and an unknown-outcome cas changes nothing on a mismatch.
  it('steps cas', () => {
    expect(casRegisterModel.step(0, op('cas', [0, 1], null))).toBe(1);
    expect(casRegisterModel.step(5, op('cas', [0, 1], null))).toBeUndefined();
    expect(casRegisterModel.step(0, op('cas', [0, 1], null, info))).toBe(1);
    expect(casRegisterModel.step(5, op('cas', [0, 1], null, info))).toBe(5);
    expect(casRegisterModel.validate!(op('cas', 3, null))).toMatch(/\[expected, new\]/);
  });

  // Proves pruning drops only unknown-outcome writes whose value nobody observed.
  it('prunes unobserved unknown-outcome writes', () => {
    const ops = [
      op('write', 1, null, info),
      op('write', 2, null, info),
      op('read', null, 2),
      op('cas', [3, 4], null, info),
    ];
    expect(casRegisterModel.prune!(ops).map((o) => o.value)).toEqual([2, null]);
  });
});

describe('kv model', () => {
  const s0 = kvModel.init();

  // Proves puts count versions and need rising revisions; gets check value, version and mod revision.
  it('tracks versions and revisions', () => {
    const s1 = kvModel.step(s0, op('put', 'x', null, { revision: 3 }))!;
    expect(s1).toEqual({ value: 'x', version: 1, revision: 3, revisionExact: true });
    expect(kvModel.step(s1, op('put', 'y', null, { revision: 3 }))).toBeUndefined();
    expect(kvModel.step(s1, op('get', null, 'x', { revision: 3, version: 1 }))).toBe(s1);
    expect(kvModel.step(s1, op('get', null, 'x', { revision: 4 }))).toBeUndefined();
    expect(kvModel.step(s1, op('get', null, 'x', { version: 2 }))).toBeUndefined();
    expect(kvModel.step(s1, op('get', null, 'y'))).toBeUndefined();
  });

  // Proves a write of unknown revision leaves a lower bound that a later get pins.
  it('pins an unknown revision from a get', () => {
    const s1 = kvModel.step(s0, op('put', 'x', null, { revision: 3 }))!;
    const s2 = kvModel.step(s1, op('put', 'y', null, info))!;
    expect(s2).toEqual({ value: 'y', version: 2, revision: 3, revisionExact: false });
    expect(kvModel.step(s2, op('get', null, 'y', { revision: 3 }))).toBeUndefined();
    expect(kvModel.step(s2, op('get', null, 'y', { revision: 9 }))).toEqual({
      ...s2,
      revision: 9,
      revisionExact: true,
    });
  });

  // Proves delete resets the key, checks its count, and deleting a missing key writes nothing.
  it('steps delete', () => {
    const s1 = kvModel.step(s0, op('put', 'x', null, { revision: 3 }))!;
    expect(kvModel.step(s1, op('delete', null, 1, { revision: 4 }))).toEqual({
      value: null,
      version: 0,
      revision: 4,
      revisionExact: true,
    });
    expect(kvModel.step(s1, op('delete', null, 0))).toBeUndefined();
    expect(kvModel.step(s0, op('delete', null, 0, { revision: 9 }))).toBe(s0);
    expect(kvModel.step(s0, op('delete', null, 1))).toBeUndefined();
  });

  // Proves a txn succeeds exactly when the value matches, and a failed one's revision is bounded below.
  it('steps txn', () => {
    const s1: KvState = kvModel.step(s0, op('put', 'x', null, { revision: 3 }))!;
    const t = (expect: unknown, succeeded: boolean, extra: Partial<HistoryOp> = {}) =>
      op('txn', { expect, new: 'z' }, { succeeded }, extra);
    expect(kvModel.step(s1, t('x', true))?.value).toBe('z');
    expect(kvModel.step(s1, t('x', false))).toBeUndefined();
    expect(kvModel.step(s1, t('q', false, { revision: 3 }))).toBe(s1);
    expect(kvModel.step(s1, t('q', false, { revision: 2 }))).toBeUndefined();
    expect(kvModel.step(s0, t(null, true))?.value).toBe('z');
    expect(kvModel.step(s1, t('q', true, info))).toBe(s1);
    expect(kvModel.validate!(op('txn', { new: 'z' }, { succeeded: true }))).toMatch(/"expect"/);
    expect(kvModel.validate!(op('txn', { expect: null, new: 'z' }, true))).toMatch(/"succeeded"/);
    expect(kvModel.validate!(op('put', null, null))).toMatch(/non-null/);
  });
});

describe('powerSetModel', () => {
  // A register whose unknown-outcome write both does and does not happen, as a nondeterministic model.
  const nd: NondeterministicModel<unknown, HistoryOp> = {
    name: 'nd-register',
    init: () => [null],
    step: (s, o) => {
      if (o.f === 'write') return o.outcome === 'info' ? [s, o.value] : [o.value];
      return o.outcome === 'info' || s === o.result ? [s] : [];
    },
    equal: (a, b) => a === b,
    hash: (s) => (s === null ? 0 : Number(s)),
  };
  const model = powerSetModel(nd);

  // Proves the set of states follows every branch and a step is rejected only when no branch survives.
  it('tracks sets of states', () => {
    const s1 = model.step(model.init(), op('write', 1, null))!;
    const s2 = model.step(s1, op('write', 2, null, info))!;
    expect([...s2].sort()).toEqual([1, 2]);
    expect(model.step(s2, op('read', null, 1))).toEqual([1]);
    expect(model.step(s2, op('read', null, 3))).toBeUndefined();
    expect(model.equal([1, 2], [2, 1])).toBe(true);
    expect(model.hash!([1, 2])).toBe(model.hash!([2, 1]));
  });

  // Proves the checker runs a power-set model like any other.
  it('checks histories', () => {
    const text = [
      '{"process":1,"type":"invoke","f":"write","value":1,"time":0}',
      '{"process":1,"type":"ok","f":"write","value":1,"time":1}',
      '{"process":1,"type":"invoke","f":"read","time":2}',
      '{"process":1,"type":"ok","f":"read","value":5,"time":3}',
    ].join('\n');
    expect(checkHistory(model, parseHistory(text).ops).verdict).toBe('not linearizable');
  });
});

describe('checkHistory', () => {
  // Proves a history whose search cannot finish in the budget is "unknown", not a guess.
  it('ends in unknown when the time budget runs out', () => {
    const lines: string[] = [];
    for (let p = 0; p < 40; p++) {
      lines.push(`{"process":${p},"type":"invoke","f":"write","value":${p},"time":0}`);
      lines.push(`{"process":${p},"type":"ok","f":"write","value":${p},"time":1000}`);
    }
    lines.push(
      '{"process":99,"type":"invoke","f":"read","time":2000}',
      '{"process":99,"type":"ok","f":"read","value":999,"time":2001}',
    );
    const r = checkHistory(registerModel, parseHistory(lines.join('\n')).ops, { timeoutMs: 100 });
    expect(r.verdict).toBe('unknown');
    expect(r.partitions[0]!.unknownReason).toBe('timeout');
    expect(r.failures).toEqual([]);
  });

  // Proves the memo's memory bound also ends in unknown.
  it('ends in unknown when the memo is full', () => {
    const lines: string[] = [];
    for (let p = 0; p < 20; p++) {
      lines.push(`{"process":${p},"type":"invoke","f":"write","value":${p},"time":0}`);
      lines.push(`{"process":${p},"type":"ok","f":"write","value":${p},"time":1000}`);
    }
    lines.push(
      '{"process":99,"type":"invoke","f":"read","time":2000}',
      '{"process":99,"type":"ok","f":"read","value":999,"time":2001}',
    );
    const r = checkHistory(registerModel, parseHistory(lines.join('\n')).ops, { memoBytesMax: 100_000 });
    expect(r.verdict).toBe('unknown');
    expect(r.partitions[0]!.unknownReason).toBe('memory');
  });

  // Proves "not linearizable" on one key wins over "unknown" on another.
  it('combines partition verdicts', () => {
    const lines: string[] = [];
    for (let p = 0; p < 40; p++) {
      lines.push(`{"process":${p},"type":"invoke","f":"write","key":"a","value":${p},"time":0}`);
      lines.push(`{"process":${p},"type":"ok","f":"write","key":"a","value":${p},"time":1000}`);
    }
    lines.push(
      '{"process":99,"type":"invoke","f":"read","key":"a","time":2000}',
      '{"process":99,"type":"ok","f":"read","key":"a","value":999,"time":2001}',
      '{"process":98,"type":"invoke","f":"read","key":"b","time":2000}',
      '{"process":98,"type":"ok","f":"read","key":"b","value":7,"time":2001}',
    );
    const r = checkHistory(historyModels.register, parseHistory(lines.join('\n')).ops, { timeoutMs: 100 });
    expect(r.partitions.map((p) => p.verdict)).toEqual(['unknown', 'not linearizable']);
    expect(r.verdict).toBe('not linearizable');
  });

  // Proves unknown-outcome reads are dropped before the search (they constrain nothing).
  it('drops unknown-outcome reads', () => {
    const ops = [op('write', 1, null), op('read', null, null, info)];
    expect(checkHistory(registerModel, ops).droppedReads).toBe(1);
  });
});
