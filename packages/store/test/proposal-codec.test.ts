// Proves the proposal entry codec round-trips every field of a put and a delete-range in its binary
// form, keeps msgpackr for the other kinds, still decodes entries written by older builds (plain
// msgpackr), and refuses truncated binary entries.
import { describe, expect, it } from 'vitest';
import type * as T from '../src/api/types.js';
import { decodeProposal, encodeProposal } from '../src/member/member.js';
import type { Proposal } from '../src/member/state.js';
import { encodeValue } from '../src/storage/disk.js';

const RID = [2 ** 52 + 12345, 2 ** 31 - 1, 987654321] as const;

function put(over: Partial<T.PutRequest> = {}): Proposal {
  const req: T.PutRequest = {
    key: Buffer.from('some/key'),
    value: Buffer.alloc(300, 9),
    lease: 0,
    prev_kv: false,
    ignore_value: false,
    ignore_lease: false,
    ...over,
  };
  return { rid: RID, o: { op: 'put', req } };
}

function del(over: Partial<T.DeleteRangeRequest> = {}): Proposal {
  const req: T.DeleteRangeRequest = {
    key: Buffer.from('a'),
    range_end: Buffer.from('b'),
    prev_kv: false,
    ...over,
  };
  return { rid: RID, o: { op: 'del', req } };
}

describe('proposal codec', () => {
  it('round-trips puts in the binary form with every field', () => {
    // Fails if any put field (or the request id) is lost or altered by the binary layout.
    const cases = [
      put(),
      put({ lease: 7587869912345678, prev_kv: true }),
      put({ ignore_value: true, value: Buffer.alloc(0) }),
      put({ ignore_lease: true, key: Buffer.from([0, 0xff, 0x80]) }),
      put({ prev_kv: true, ignore_value: true, ignore_lease: true, lease: 1 }),
    ];
    for (const p of cases) {
      const b = encodeProposal(p);
      expect(b[0]).toBe(0xc1);
      expect(decodeProposal(b)).toEqual(p);
    }
  });

  it('round-trips delete-ranges in the binary form', () => {
    // Fails if key, range_end, prev_kv or the request id is lost for a delete-range.
    for (const p of [
      del(),
      del({ prev_kv: true }),
      del({ range_end: Buffer.alloc(0) }),
      del({ range_end: Buffer.from([0]) }),
    ]) {
      const b = encodeProposal(p);
      expect(b[0]).toBe(0xc1);
      expect(decodeProposal(b)).toEqual(p);
    }
  });

  it('keeps msgpackr for other kinds', () => {
    // Fails if a non-hot kind is forced into the binary layout or does not round-trip.
    const others: Proposal[] = [
      { rid: RID, o: { op: 'leaseGrant', id: 5, ttl: 10 } },
      { rid: RID, o: { op: 'noop' } },
      { rid: RID, o: { op: 'compact', req: { revision: 4, physical: false } } },
    ];
    for (const p of others) {
      const b = encodeProposal(p);
      expect(b.equals(encodeValue(p))).toBe(true);
      expect(decodeProposal(b)).toEqual(p);
    }
  });

  it('decodes puts and deletes written by older builds (msgpackr maps)', () => {
    // Fails if an entry from a WAL written before the binary layout no longer decodes the same.
    for (const p of [put({ prev_kv: true, lease: 3 }), del({ prev_kv: true })]) {
      const old = encodeValue(p);
      expect(old[0]).not.toBe(0xc1);
      expect(decodeProposal(old)).toEqual(p);
    }
  });

  it('refuses truncated or unknown binary entries', () => {
    // Fails if a damaged binary entry decodes to something instead of throwing.
    const b = encodeProposal(put());
    expect(() => decodeProposal(b.subarray(0, 10))).toThrow(/corrupt proposal/);
    expect(() => decodeProposal(b.subarray(0, 30))).toThrow(/corrupt put proposal/);
    const shortKey = Buffer.from(b);
    shortKey.writeUInt32LE(100000, 31);
    expect(() => decodeProposal(shortKey)).toThrow(/key runs past the end/);
    const unknown = Buffer.from(b);
    unknown[1] = 9;
    expect(() => decodeProposal(unknown)).toThrow(/unknown kind 9/);
  });
});
