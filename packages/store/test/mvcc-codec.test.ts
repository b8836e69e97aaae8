// Proves the hand-written MVCC record and meta encoders produce exactly msgpackr's bytes (so data
// dirs, snapshots and hashKV are unchanged), decode back, and leave a 4-byte slot for the CRC.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  CRC_SLOT_BYTES,
  decodeRecord,
  encodeMeta,
  encodeMetaSealed,
  encodeRecord,
  encodeRecordSealed,
  type Rec,
  recordKey,
} from '../src/mvcc/codec.js';

// The packr the codec used before it encoded by hand (same options).
const packr = new Packr({ useRecords: false, moreTypes: false });

// Integers around every msgpack size boundary, plus arbitrary safe integers and doubles.
const boundaries = [0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53 - 1];
const numberArb = fc.oneof(
  fc.constantFrom(...boundaries, ...boundaries.map((b) => -b), -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true }),
);
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom(0xff, 0x100, 0xffff, 0x10000).map((n) => new Uint8Array(n).fill(n & 0x7f)),
  fc.uint8Array({ maxLength: 40 }),
);
const recArb: fc.Arbitrary<Rec> = fc
  .record({
    key: bytesArb,
    value: fc.option(bytesArb, { nil: null }),
    create: numberArb,
    version: numberArb,
    lease: numberArb,
    main: fc.integer({ min: 1, max: 2 ** 40 }),
  })
  .map(({ key, value, create, version, lease, main }) => ({
    main,
    sub: 0,
    key: Buffer.from(key),
    kv:
      value === null
        ? null
        : {
            key: Buffer.from(key),
            value: Buffer.from(value),
            create_revision: create,
            mod_revision: main,
            version,
            lease,
          },
  }));

describe('mvcc codec', () => {
  it('encodes records exactly as msgpackr did', () => {
    // Fails on any byte that differs from packr.pack of the same array.
    fc.assert(
      fc.property(recArb, (rec) => {
        const kv = rec.kv;
        const old =
          kv === null
            ? packr.pack([rec.key])
            : packr.pack([rec.key, kv.value, kv.create_revision, kv.version, kv.lease]);
        const sealed = encodeRecordSealed(rec);
        // Buffer.equals: toEqual's deep diff of 64 KB buffers is very slow.
        expect(sealed.length).toBe(old.length + CRC_SLOT_BYTES);
        expect(sealed.subarray(CRC_SLOT_BYTES).equals(old)).toBe(true);
        expect(encodeRecord(rec).equals(old)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('encodes meta exactly as msgpackr did', () => {
    // Fails on any byte that differs from packr.pack([revision, compactRevision]).
    fc.assert(
      fc.property(numberArb, numberArb, (revision, compactRevision) => {
        const old = packr.pack([revision, compactRevision]);
        expect(encodeMetaSealed({ revision, compactRevision }).subarray(CRC_SLOT_BYTES).equals(old)).toBe(
          true,
        );
        expect(encodeMeta({ revision, compactRevision }).equals(old)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes what it encodes', () => {
    // Fails if a record does not survive encodeRecord + decodeRecord (compared re-encoded, as -0
    // and 0 are the same stored number).
    fc.assert(
      fc.property(recArb, (rec) => {
        const bytes = encodeRecord(rec);
        const d = decodeRecord(recordKey(rec.main, rec.sub), bytes);
        if (d.kind !== 'rec') throw new Error('decoded as meta');
        expect(d.rec.main).toBe(rec.main);
        expect(d.rec.key.equals(rec.key)).toBe(true);
        expect(d.rec.kv === null).toBe(rec.kv === null);
        expect(encodeRecord(d.rec).equals(bytes)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
