import { describe, expect, it } from 'vitest';
import type { KeyValue, RangeRequest } from '../src/api/types.js';
import { type EtcdError, isEtcdError } from '../src/errors.js';
import {
  compare,
  deleteRangeRequest,
  op,
  putRequest,
  rangeRequest,
  txnRequest,
} from '../src/mvcc/requests.js';
import { Mvcc } from '../src/mvcc/store.js';
import { validateDeleteRange, validatePut, validateRange, validateTxn } from '../src/mvcc/validate.js';

const PREFIX = Buffer.from('m/');
const leases = new Set<number>([7, 8]);
const ctx = { leaseExists: (id: number) => leases.has(id) };

function store(): Mvcc {
  return new Mvcc(PREFIX);
}

function put(m: Mvcc, key: string, value: string, extra: Partial<Parameters<typeof putRequest>[0]> = {}) {
  return m.put(putRequest({ key, value, ...extra }), ctx);
}

function get(m: Mvcc, r: Parameters<typeof rangeRequest>[0]) {
  return m.range(rangeRequest(r));
}

function keys(kvs: KeyValue[]): string[] {
  return kvs.map((kv) => kv.key.toString());
}

function expectCode(f: () => unknown, code: EtcdError['code']): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isEtcdError(err) ? err.code : err).toBe(code);
}

describe('Mvcc revisions', () => {
  it('starts at revision 1 and gives each write one new revision', () => {
    // Proves etcd's initial revision and per-key create/mod/version bookkeeping.
    const m = store();
    expect(m.revision).toBe(1);
    expect(put(m, 'a', '1').revision).toBe(2);
    expect(put(m, 'a', '2').revision).toBe(3);
    const kv = get(m, { key: 'a' }).kvs[0];
    expect(kv).toMatchObject({ create_revision: 2, mod_revision: 3, version: 2, lease: 0 });
    expect(kv?.value.toString()).toBe('2');
  });

  it('ends a generation on delete: a re-created key starts at version 1', () => {
    // Proves delete resets version and create_revision on re-create.
    const m = store();
    put(m, 'a', '1');
    put(m, 'a', '2');
    expect(m.deleteRange(deleteRangeRequest({ key: 'a' })).revision).toBe(4);
    put(m, 'a', '3');
    expect(get(m, { key: 'a' }).kvs[0]).toMatchObject({ create_revision: 5, mod_revision: 5, version: 1 });
    expect(get(m, { key: 'a', revision: 4 }).kvs).toEqual([]);
    expect(get(m, { key: 'a', revision: 3 }).kvs[0]?.value.toString()).toBe('2');
  });

  it('does not bump the revision for a delete that deletes nothing', () => {
    // Proves a no-op write keeps the revision and reports the current one.
    const m = store();
    put(m, 'a', '1');
    const r = m.deleteRange(deleteRangeRequest({ key: 'b' }));
    expect(r).toMatchObject({ revision: 2, deleted: 0, events: [] });
    expect(m.revision).toBe(2);
    expect(m.takeChanges().length).toBe(2); // the put record and the meta record
    m.deleteRange(deleteRangeRequest({ key: 'b' }));
    expect(m.takeChanges()).toEqual([]);
  });

  it('rejects future and compacted revisions, and reads at the compact revision', () => {
    // Proves range's revision checks match etcd's rangeKeys (rev < compact fails, == is fine).
    const m = store();
    for (let i = 0; i < 5; i++) put(m, 'a', String(i));
    expectCode(() => get(m, { key: 'a', revision: 7 }), 'FutureRev');
    m.compact(4);
    expectCode(() => get(m, { key: 'a', revision: 3 }), 'Compacted');
    expect(get(m, { key: 'a', revision: 4 }).kvs[0]?.value.toString()).toBe('2');
    expect(get(m, { key: 'a', revision: 4 }).revision).toBe(6);
  });
});

describe('Mvcc range', () => {
  function abc(): Mvcc {
    const m = store();
    put(m, 'b', 'x'); // rev 2
    put(m, 'a', 'zz'); // rev 3
    put(m, 'c', 'y'); // rev 4
    put(m, 'b', 'w'); // rev 5 (b version 2)
    put(m, 'ca', 'v'); // rev 6
    return m;
  }

  it('reads a key, a [key, end) range, a prefix and everything from a key', () => {
    // Proves the three range_end forms and the bytewise order of keys.
    const m = abc();
    expect(keys(get(m, { key: 'b' }).kvs)).toEqual(['b']);
    expect(keys(get(m, { key: 'a', range_end: 'c' }).kvs)).toEqual(['a', 'b']);
    expect(keys(get(m, { key: 'c', range_end: 'd' }).kvs)).toEqual(['c', 'ca']);
    expect(keys(get(m, { key: 'b', range_end: '\0' }).kvs)).toEqual(['b', 'c', 'ca']);
    expect(keys(get(m, { key: '\0', range_end: '\0' }).kvs)).toEqual(['a', 'b', 'c', 'ca']);
    expect(get(m, { key: 'c', range_end: 'a' })).toMatchObject({ kvs: [], count: 0, more: false });
  });

  it('orders keys bytewise, including bytes above 0x7f', () => {
    // Proves the latin1 index orders like bytes.Compare.
    const m = store();
    for (const k of [Buffer.from([0xff]), Buffer.from([0x80, 1]), Buffer.from([0x7f]), Buffer.from([0x80])]) {
      m.put(putRequest({ key: k, value: 'v' }), ctx);
    }
    const got = get(m, { key: Buffer.from([0]), range_end: Buffer.from([0]) }).kvs.map((kv) =>
      kv.key.toString('hex'),
    );
    expect(got).toEqual(['7f', '80', '8001', 'ff']);
  });

  it('limits with more and the total count', () => {
    // Proves limit truncates while count reports every match.
    const m = abc();
    expect(get(m, { key: 'a', range_end: '\0', limit: 2 })).toMatchObject({ count: 4, more: true });
    expect(get(m, { key: 'a', range_end: '\0', limit: 4 })).toMatchObject({ count: 4, more: false });
    expect(get(m, { key: 'a', range_end: '\0', count_only: true })).toMatchObject({
      kvs: [],
      count: 4,
      more: false,
    });
    const ko = get(m, { key: 'a', range_end: '\0', keys_only: true });
    expect(ko.kvs.every((kv) => kv.value.length === 0)).toBe(true);
    expect(get(m, { key: 'a' }).kvs[0]?.value.toString()).toBe('zz');
  });

  it('sorts like etcd: NONE on a non-KEY target ascends, DESCEND reverses, limit applies after', () => {
    // Proves sort_order/sort_target handling, including ties keeping key order.
    const m = abc();
    const all = (r: Partial<RangeRequest>) => keys(get(m, { key: 'a', range_end: '\0', ...r }).kvs);
    expect(all({ sort_target: 'MOD' })).toEqual(['a', 'c', 'b', 'ca']);
    expect(all({ sort_target: 'MOD', sort_order: 'DESCEND' })).toEqual(['ca', 'b', 'c', 'a']);
    expect(all({ sort_target: 'KEY', sort_order: 'DESCEND' })).toEqual(['ca', 'c', 'b', 'a']);
    expect(all({ sort_target: 'CREATE' })).toEqual(['b', 'a', 'c', 'ca']);
    expect(all({ sort_target: 'VERSION', sort_order: 'DESCEND' })).toEqual(['b', 'a', 'c', 'ca']);
    expect(all({ sort_target: 'VALUE' })).toEqual(['ca', 'b', 'c', 'a']);
    const r = get(m, { key: 'a', range_end: '\0', sort_target: 'MOD', sort_order: 'DESCEND', limit: 2 });
    expect(keys(r.kvs)).toEqual(['ca', 'b']);
    expect(r).toMatchObject({ count: 4, more: true });
  });

  it('filters by mod and create revision without changing count', () => {
    // Proves etcd prunes after counting, so count still covers the pruned keys.
    const m = abc();
    const r = get(m, { key: 'a', range_end: '\0', min_mod_revision: 4, max_mod_revision: 5 });
    expect(keys(r.kvs)).toEqual(['b', 'c']);
    expect(r.count).toBe(4);
    expect(
      keys(get(m, { key: 'a', range_end: '\0', min_create_revision: 3, max_create_revision: 4 }).kvs),
    ).toEqual(['a', 'c']);
    const lim = get(m, { key: 'a', range_end: '\0', min_mod_revision: 3, limit: 2 });
    expect(keys(lim.kvs)).toEqual(['a', 'b']);
    expect(lim).toMatchObject({ more: true, count: 4 });
  });
});

describe('Mvcc put and delete', () => {
  it('returns prev_kv, and keeps value or lease with ignore_value / ignore_lease', () => {
    // Proves the put options and their KeyNotFound error on a missing key.
    const m = store();
    expect(put(m, 'a', '1', { prev_kv: true }).prev_kv).toBeNull();
    expect(put(m, 'a', '2', { prev_kv: true, lease: 7 }).prev_kv?.value.toString()).toBe('1');
    put(m, 'a', '', { ignore_value: true, lease: 8 });
    expect(get(m, { key: 'a' }).kvs[0]).toMatchObject({ lease: 8, version: 3 });
    expect(get(m, { key: 'a' }).kvs[0]?.value.toString()).toBe('2');
    put(m, 'a', '3', { ignore_lease: true });
    expect(get(m, { key: 'a' }).kvs[0]).toMatchObject({ lease: 8 });
    expectCode(() => put(m, 'zz', '', { ignore_value: true }), 'KeyNotFound');
    expectCode(() => put(m, 'zz', 'v', { ignore_lease: true }), 'KeyNotFound');
    expectCode(() => put(m, 'zz', 'v', { lease: 99 }), 'LeaseNotFound');
    expect(m.revision).toBe(5);
  });

  it('deletes ranges and reports prev_kvs and events with prev_kv', () => {
    // Proves delete-range results and the events it produces.
    const m = store();
    put(m, 'a', '1');
    put(m, 'b', '2');
    put(m, 'c', '3');
    const r = m.deleteRange(deleteRangeRequest({ key: 'a', range_end: 'c', prev_kv: true }));
    expect(r.deleted).toBe(2);
    expect(keys(r.prev_kvs)).toEqual(['a', 'b']);
    expect(
      r.events.map((e) => [e.type, e.kv.key.toString(), e.kv.mod_revision, e.prev_kv?.value.toString()]),
    ).toEqual([
      ['DELETE', 'a', 5, '1'],
      ['DELETE', 'b', 5, '2'],
    ]);
    expect(keys(get(m, { key: 'a', range_end: '\0' }).kvs)).toEqual(['c']);
  });

  it("tracks lease attachments and deletes a lease's keys at one revision", () => {
    // Proves leaseKeys follows puts/deletes and deleteKeys uses a single revision.
    const m = store();
    put(m, 'b', '1', { lease: 7 });
    put(m, 'a', '1', { lease: 7 });
    put(m, 'c', '1', { lease: 7 });
    put(m, 'c', '2', { lease: 8 });
    m.deleteRange(deleteRangeRequest({ key: 'b' }));
    expect(m.leaseKeys(7).map(String)).toEqual(['a']);
    expect(m.leaseKeys(8).map(String)).toEqual(['c']);
    const r = m.deleteKeys([Buffer.from('c'), Buffer.from('a'), Buffer.from('gone')]);
    expect(r).toMatchObject({ revision: 7, deleted: 2 });
    expect(r.events.map((e) => e.kv.key.toString())).toEqual(['a', 'c']);
    expect(m.leaseKeys(7)).toEqual([]);
    expect(m.leaseKeys(8)).toEqual([]);
  });
});

describe('Mvcc txn', () => {
  it('does a compare-and-swap on mod_revision like kube-apiserver', () => {
    // Proves the GuaranteedUpdate shape: success writes, failure reads the current value.
    const m = store();
    const create = txnRequest({
      compare: [compare('k', 'MOD', 'EQUAL', 0)],
      success: [op.put(putRequest({ key: 'k', value: 'v1' }))],
      failure: [op.range(rangeRequest({ key: 'k' }))],
    });
    expect(m.txn(create, ctx)).toMatchObject({ succeeded: true, revision: 2 });
    const again = m.txn(create, ctx);
    expect(again).toMatchObject({ succeeded: false, revision: 2, events: [] });
    expect(again.responses[0]?.response_range?.kvs[0]?.value.toString()).toBe('v1');
    const update = txnRequest({
      compare: [compare('k', 'MOD', 'EQUAL', 2)],
      success: [op.put(putRequest({ key: 'k', value: 'v2' }))],
    });
    expect(m.txn(update, ctx)).toMatchObject({ succeeded: true, revision: 3 });
    expect(m.txn(update, ctx)).toMatchObject({ succeeded: false, revision: 3 });
  });

  it('compares missing keys as zero, except VALUE which always fails', () => {
    // Proves applyCompare's treatment of absent keys.
    const m = store();
    const t = (c: ReturnType<typeof compare>) => m.txn(txnRequest({ compare: [c] }), ctx).succeeded;
    expect(t(compare('x', 'VERSION', 'EQUAL', 0))).toBe(true);
    expect(t(compare('x', 'CREATE', 'LESS', 1))).toBe(true);
    expect(t(compare('x', 'LEASE', 'EQUAL', 0))).toBe(true);
    expect(t(compare('x', 'VALUE', 'EQUAL', ''))).toBe(false);
    expect(t(compare('x', 'VALUE', 'NOT_EQUAL', 'a'))).toBe(false);
  });

  it('requires every key of a compare range to satisfy it', () => {
    // Proves compares with range_end check all keys in the range.
    const m = store();
    put(m, 'p/a', '1');
    put(m, 'p/b', '1');
    const t = (c: ReturnType<typeof compare>) => m.txn(txnRequest({ compare: [c] }), ctx).succeeded;
    expect(t(compare('p/', 'VALUE', 'EQUAL', '1', 'p0'))).toBe(true);
    put(m, 'p/b', '2');
    expect(t(compare('p/', 'VALUE', 'EQUAL', '1', 'p0'))).toBe(false);
    expect(t(compare('p/', 'MOD', 'GREATER', 1, 'p0'))).toBe(true);
    expect(t(compare('p/', 'VERSION', 'LESS', 2, 'p0'))).toBe(false);
  });

  it('writes everything at one revision and lets later ops read earlier writes', () => {
    // Proves txn revision sharing, read-your-writes and nested-op header revisions.
    const m = store();
    put(m, 'a', '0');
    const r = m.txn(
      txnRequest({
        success: [
          op.range(rangeRequest({ key: 'a' })),
          op.put(putRequest({ key: 'a', value: '1' })),
          op.range(rangeRequest({ key: 'a' })),
          op.del(deleteRangeRequest({ key: 'zz' })),
          op.txn(txnRequest({ success: [op.put(putRequest({ key: 'b', value: '2', prev_kv: true }))] })),
        ],
      }),
      ctx,
    );
    expect(r.revision).toBe(3);
    const [r0, r1, r2, r3, r4] = r.responses;
    expect(r0?.response_range?.header.revision).toBe(2);
    expect(r0?.response_range?.kvs[0]?.value.toString()).toBe('0');
    expect(r1?.response_put?.header.revision).toBe(3);
    expect(r2?.response_range?.kvs[0]).toMatchObject({ mod_revision: 3, version: 2 });
    expect(r2?.response_range?.header.revision).toBe(3);
    expect(r3?.response_delete_range).toMatchObject({ deleted: 0, header: { revision: 3 } });
    expect(r4?.response_txn?.succeeded).toBe(true);
    expect(r.events.map((e) => [e.type, e.kv.key.toString(), e.kv.mod_revision])).toEqual([
      ['PUT', 'a', 3],
      ['PUT', 'b', 3],
    ]);
  });

  it('evaluates nested compares against the state before the txn', () => {
    // Proves compareToPath: nested branches are chosen up front, not after earlier writes.
    const m = store();
    const r = m.txn(
      txnRequest({
        success: [
          op.put(putRequest({ key: 'a', value: '1' })),
          op.txn(
            txnRequest({
              compare: [compare('a', 'VERSION', 'EQUAL', 0)],
              success: [op.put(putRequest({ key: 'saw-nothing', value: 'y' }))],
              failure: [op.put(putRequest({ key: 'saw-a', value: 'y' }))],
            }),
          ),
        ],
      }),
      ctx,
    );
    expect(r.responses[1]?.response_txn?.succeeded).toBe(true);
    expect(get(m, { key: 'saw-nothing' }).count).toBe(1);
  });

  it('aborts the whole txn with no effect on an error', () => {
    // Proves txn checks run before writes: a missing lease or key leaves no trace.
    const m = store();
    put(m, 'a', '0');
    m.takeChanges();
    const bad = (o: ReturnType<typeof op.put>) =>
      m.txn(txnRequest({ success: [op.put(putRequest({ key: 'a', value: 'x' })), o] }), ctx);
    expectCode(() => bad(op.put(putRequest({ key: 'b', value: 'x', lease: 42 }))), 'LeaseNotFound');
    expectCode(() => bad(op.put(putRequest({ key: 'c', ignore_value: true }))), 'KeyNotFound');
    expectCode(
      () =>
        m.txn(
          txnRequest({
            success: [op.put(putRequest({ key: 'a' })), op.range(rangeRequest({ key: 'a', revision: 9 }))],
          }),
          ctx,
        ),
      'FutureRev',
    );
    expect(m.revision).toBe(2);
    expect(get(m, { key: 'a' }).kvs[0]?.value.toString()).toBe('0');
    expect(m.takeChanges()).toEqual([]);
  });

  it('does not bump the revision for a read-only or failed-without-writes txn', () => {
    // Proves txn revision reporting when nothing changes.
    const m = store();
    put(m, 'a', '0');
    const r = m.txn(txnRequest({ success: [op.range(rangeRequest({ key: 'a' }))] }), ctx);
    expect(r).toMatchObject({ revision: 2, succeeded: true, events: [] });
    expect(m.revision).toBe(2);
  });
});

describe('validate', () => {
  const p = (key: string) => op.put(putRequest({ key, value: 'v' }));
  const d = (key: string, range_end = '') => op.del(deleteRangeRequest({ key, range_end }));

  it('rejects empty keys and provided values/leases with ignore flags', () => {
    // Proves the single-request checks of v3rpc/key.go.
    expectCode(() => validateRange(rangeRequest({ key: '' })), 'EmptyKey');
    expectCode(() => validatePut(putRequest({ key: '' })), 'EmptyKey');
    expectCode(() => validateDeleteRange(deleteRangeRequest({ key: '' })), 'EmptyKey');
    expectCode(() => validatePut(putRequest({ key: 'a', value: 'x', ignore_value: true })), 'ValueProvided');
    expectCode(() => validatePut(putRequest({ key: 'a', lease: 1, ignore_lease: true })), 'LeaseProvided');
    expectCode(() => validateTxn(txnRequest({ compare: [compare('', 'VERSION', 'EQUAL', 0)] })), 'EmptyKey');
    expectCode(() => validateTxn(txnRequest({ success: [{}] })), 'KeyNotFound');
  });

  it('limits ops per list to 128, with nested txns getting what the parent leaves', () => {
    // Proves TooManyOps counting like checkTxnRequest.
    const many = (n: number) => Array.from({ length: n }, (_, i) => op.range(rangeRequest({ key: `k${i}` })));
    expect(() => validateTxn(txnRequest({ success: many(128), failure: many(128) }))).not.toThrow();
    expectCode(() => validateTxn(txnRequest({ success: many(129) })), 'TooManyOps');
    const nested = (outer: number, inner: number) =>
      txnRequest({ success: [...many(outer - 1), op.txn(txnRequest({ success: many(inner) }))] });
    expect(() => validateTxn(nested(64, 64))).not.toThrow();
    expectCode(() => validateTxn(nested(64, 65)), 'TooManyOps');
  });

  it('rejects duplicate puts and puts inside a deleted range of the same branch', () => {
    // Proves checkIntervals, including the allowed then/else overlap.
    expectCode(() => validateTxn(txnRequest({ success: [p('a'), p('a')] })), 'DuplicateKey');
    expectCode(() => validateTxn(txnRequest({ success: [d('a', 'c'), p('b')] })), 'DuplicateKey');
    expectCode(() => validateTxn(txnRequest({ failure: [d('b'), p('b')] })), 'DuplicateKey');
    expect(() => validateTxn(txnRequest({ success: [p('a')], failure: [p('a')] }))).not.toThrow();
    expect(() => validateTxn(txnRequest({ success: [d('a', 'c'), p('c')] }))).not.toThrow();
    const inner = op.txn(txnRequest({ success: [p('x')], failure: [p('x')] }));
    expect(() => validateTxn(txnRequest({ success: [inner] }))).not.toThrow();
    expectCode(() => validateTxn(txnRequest({ success: [inner, p('x')] })), 'DuplicateKey');
    expectCode(
      () => validateTxn(txnRequest({ success: [op.txn(txnRequest({ success: [d('w', 'y')] })), p('x')] })),
      'DuplicateKey',
    );
  });
});

describe('Mvcc compaction', () => {
  it("keeps the newest version <= rev of live keys and drops deleted keys' history", () => {
    // Proves compaction's retention rule and its boundary errors.
    const m = store();
    put(m, 'a', '1'); // 2
    put(m, 'a', '2'); // 3
    put(m, 'd', '1'); // 4
    m.deleteRange(deleteRangeRequest({ key: 'd' })); // 5
    put(m, 'a', '3'); // 6
    m.takeChanges();
    expectCode(() => m.compact(7), 'FutureRev');
    m.compact(5);
    expectCode(() => m.compact(5), 'Compacted');
    expectCode(() => m.compact(4), 'Compacted');
    expect(get(m, { key: 'a', revision: 5 }).kvs[0]?.value.toString()).toBe('2');
    expect(get(m, { key: 'a' }).kvs[0]?.value.toString()).toBe('3');
    expect(m.indexedKeyCount()).toBe(1);
    const ops = m.takeChanges();
    expect(ops.filter((o) => o.type === 'del').length).toBe(3); // a@2, d@4, d@5
    expectCode(() => m.eventsSince(5, Buffer.from('a'), Buffer.alloc(0), 10), 'Compacted');
    expect(
      m.eventsSince(6, Buffer.from('a'), Buffer.alloc(0), 10).map((e) => e.prev_kv?.value.toString()),
    ).toEqual(['2']);
  });

  it('hashes the same state to the same value and different states differently', () => {
    // Proves hashKV is deterministic and revision-bounded.
    const a = store();
    const b = store();
    for (const m of [a, b]) {
      put(m, 'x', '1');
      put(m, 'y', '2');
    }
    expect(a.hashKV(0)).toEqual(b.hashKV(0));
    put(b, 'y', '3');
    expect(a.hashKV(0).hash).not.toBe(b.hashKV(0).hash);
    expect(a.hashKV(3).hash).toBe(b.hashKV(3).hash);
    a.compact(2);
    expectCode(() => a.hashKV(2), 'Compacted');
    expectCode(() => a.hashKV(9), 'FutureRev');
  });
});

describe('Mvcc history', () => {
  it('never splits a revision across eventsSince calls', () => {
    // Proves maxEvents stops at revision boundaries (and returns an oversized revision whole).
    const m = store();
    put(m, 'a', '1'); // 2
    m.txn(
      txnRequest({ success: ['a', 'b', 'c'].map((k) => op.put(putRequest({ key: k, value: '2' }))) }),
      ctx,
    ); // 3
    put(m, 'b', '3'); // 4
    const all = (start: number, max: number) =>
      m
        .eventsSince(start, Buffer.from('a'), Buffer.from('\0'), max)
        .map((e) => `${e.kv.key}@${e.kv.mod_revision}`);
    expect(all(2, 2)).toEqual(['a@2']);
    expect(all(3, 2)).toEqual(['a@3', 'b@3', 'c@3']);
    expect(all(3, 4)).toEqual(['a@3', 'b@3', 'c@3', 'b@4']);
    expect(all(5, 4)).toEqual([]);
    expect(m.eventsSince(2, Buffer.from('b'), Buffer.alloc(0), 10).map((e) => e.kv.mod_revision)).toEqual([
      3, 4,
    ]);
  });
});

describe('Mvcc persistence', () => {
  it('rebuilds the same state from its level records and from a dump', () => {
    // Proves load(takeChanges) and fromDump(dump) round-trip, including compaction and leases.
    const m = store();
    const db = new Map<string, Buffer>();
    const flush = () => {
      for (const o of m.takeChanges()) {
        if (o.type === 'put') db.set(o.key.toString('hex'), o.value as Buffer);
        else db.delete(o.key.toString('hex'));
      }
    };
    for (let i = 0; i < 50; i++) {
      put(m, `k${i % 7}`, 'v'.repeat(i), { lease: i % 3 === 0 ? 7 : 0 });
      if (i % 10 === 9) m.deleteRange(deleteRangeRequest({ key: 'k3' }));
      flush();
    }
    m.compact(30);
    flush();
    const records = [...db.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => [Buffer.from(k, 'hex'), v] as [Buffer, Buffer]);
    for (const copy of [Mvcc.load(records, PREFIX), Mvcc.fromDump(m.dump(), PREFIX)]) {
      expect(copy.revision).toBe(m.revision);
      expect(copy.compactRevision).toBe(30);
      expect(copy.hashKV(0)).toEqual(m.hashKV(0));
      expect(copy.sizeBytes()).toBe(m.sizeBytes());
      expect(copy.leaseKeys(7)).toEqual(m.leaseKeys(7));
      for (let rev = 30; rev <= m.revision; rev++) {
        const r = rangeRequest({ key: '\0', range_end: '\0', revision: rev });
        expect(copy.range(r)).toEqual(m.range(r));
      }
      expect([...copy.allRecords()]).toEqual([...m.allRecords()]);
    }
    expect(Mvcc.load([], PREFIX).revision).toBe(1);
  });

  it('splits a large dump into chunks of about 1 MiB', () => {
    // Proves dump chunking for big states.
    const m = store();
    const big = Buffer.alloc(100_000, 1);
    for (let i = 0; i < 30; i++) m.put(putRequest({ key: `k${i}`, value: big }), ctx);
    const chunks = m.dump();
    expect(chunks.length).toBe(3);
    expect(Mvcc.fromDump(chunks, PREFIX).hashKV(0)).toEqual(m.hashKV(0));
  });
});
