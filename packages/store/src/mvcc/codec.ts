// The on-disk form of MVCC records, shared by the level database and snapshots. A record key is
// prefix + 'r' + main revision (8 bytes, big-endian) + sub revision (4 bytes, big-endian), so
// level's byte order is revision order; one meta record holds the current and compact revisions.
import { Packr } from 'msgpackr';
import type { KeyValue } from '../api/types.js';
import { EMPTY_BUFFER } from './bytes.js';

// Records (msgpackr's object compression) are useless here: everything is an array, and the
// encoding must be deterministic because hashKV hashes it.
const packr = new Packr({ useRecords: false, moreTypes: false });

const TAG_RECORD = 0x72; // 'r'
const TAG_META = 0x6d; // 'm'
const REV_KEY_BYTES = 1 + 8 + 4;
const TWO_POW_32 = 2 ** 32;

/** One stored version of a key: a put (kv) or a tombstone (kv null) at revision (main, sub). */
export interface Rec {
  readonly main: number;
  readonly sub: number;
  readonly key: Buffer;
  readonly kv: KeyValue | null;
}

export interface Meta {
  readonly revision: number;
  readonly compactRevision: number;
}

/** The record's key without the store prefix. */
export function recordKey(main: number, sub: number): Buffer {
  return prefixedRecordKey(EMPTY_BUFFER, main, sub);
}

/** prefix + recordKey(main, sub) in one allocation (compaction makes one per dropped record). */
export function prefixedRecordKey(prefix: Buffer, main: number, sub: number): Buffer {
  if (!Number.isSafeInteger(main) || main < 0) throw new Error(`assertion: bad main revision ${main}`);
  if (!Number.isInteger(sub) || sub < 0 || sub >= TWO_POW_32)
    throw new Error(`assertion: bad sub revision ${sub}`);
  const at = prefix.length;
  const b = Buffer.allocUnsafe(at + REV_KEY_BYTES);
  prefix.copy(b, 0);
  b[at] = TAG_RECORD;
  b.writeUInt32BE(Math.floor(main / TWO_POW_32), at + 1);
  b.writeUInt32BE(main % TWO_POW_32, at + 5);
  b.writeUInt32BE(sub, at + 9);
  return b;
}

export function metaKey(): Buffer {
  return Buffer.from([TAG_META]);
}

/** Bytes reserved in front of a sealed encoding for the storage layer's CRC (storage/disk.ts seal). */
export const CRC_SLOT_BYTES = 4;

/** The record's msgpack encoding (see encodeRecordSealed). */
export function encodeRecord(rec: Rec): Buffer {
  return encodeRecordSealed(rec).subarray(CRC_SLOT_BYTES);
}

/**
 * The record's encoding after CRC_SLOT_BYTES unset bytes, in one allocation, so the disk can fill
 * in the CRC in place instead of copying. The bytes are exactly msgpackr's (this module's packr)
 * for [key] or [key, value, create_revision, version, lease]: data dirs, snapshots and hashKV
 * must not change with the encoder (test/mvcc-codec.test.ts compares them).
 */
export function encodeRecordSealed(rec: Rec): Buffer {
  const kv = rec.kv;
  if (kv === null) return encodeTombstoneSealed(rec.key);
  return encodePutSealed(rec.key, kv.value, kv.create_revision, kv.version, kv.lease);
}

/** encodeRecordSealed of a tombstone of key. */
export function encodeTombstoneSealed(key: Buffer): Buffer {
  const b = Buffer.allocUnsafe(CRC_SLOT_BYTES + 1 + binSize(key.length));
  b[CRC_SLOT_BYTES] = 0x91; // fixarray of 1
  writeBin(b, CRC_SLOT_BYTES + 1, key);
  return b;
}

/** encodeRecordSealed of a put, from its fields (no KeyValue needed). */
export function encodePutSealed(
  key: Buffer,
  value: Uint8Array,
  createRevision: number,
  version: number,
  lease: number,
): Buffer {
  const size =
    1 +
    binSize(key.length) +
    binSize(value.length) +
    numberSize(createRevision) +
    numberSize(version) +
    numberSize(lease);
  const b = Buffer.allocUnsafe(CRC_SLOT_BYTES + size);
  let at = CRC_SLOT_BYTES;
  b[at++] = 0x95; // fixarray of 5
  at = writeBin(b, at, key);
  at = writeBin(b, at, value);
  at = writeNumber(b, at, createRevision);
  at = writeNumber(b, at, version);
  at = writeNumber(b, at, lease);
  if (at !== b.length) throw new Error('assertion: record encoding size mismatch');
  return b;
}

export function encodeMeta(meta: Meta): Buffer {
  return encodeMetaSealed(meta).subarray(CRC_SLOT_BYTES);
}

/** encodeMeta after CRC_SLOT_BYTES unset bytes (as encodeRecordSealed); msgpackr's bytes. */
export function encodeMetaSealed(meta: Meta): Buffer {
  const b = Buffer.allocUnsafe(
    CRC_SLOT_BYTES + 1 + numberSize(meta.revision) + numberSize(meta.compactRevision),
  );
  b[CRC_SLOT_BYTES] = 0x92; // fixarray of 2
  const at = writeNumber(b, writeNumber(b, CRC_SLOT_BYTES + 1, meta.revision), meta.compactRevision);
  if (at !== b.length) throw new Error('assertion: meta encoding size mismatch');
  return b;
}

// msgpack writers mirroring msgpackr 2.x's choices with useRecords false (fixint up to 0x7f, the
// smallest uint/int form for 32-bit integers, float64 for everything else, bin8/16/32 for bytes).

function binSize(n: number): number {
  return n < 0x100 ? 2 + n : n < 0x10000 ? 3 + n : 5 + n;
}

function writeBin(b: Buffer, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n < 0x100) {
    b[at++] = 0xc4;
    b[at++] = n;
  } else if (n < 0x10000) {
    b[at++] = 0xc5;
    b.writeUInt16BE(n, at);
    at += 2;
  } else {
    b[at++] = 0xc6;
    b.writeUInt32BE(n, at);
    at += 4;
  }
  b.set(bytes, at);
  return at + n;
}

function numberSize(v: number): number {
  if (v >>> 0 === v) return v < 0x80 ? 1 : v < 0x100 ? 2 : v < 0x10000 ? 3 : 5;
  if (v >> 0 === v) return v >= -0x20 ? 1 : v >= -0x80 ? 2 : v >= -0x8000 ? 3 : 5;
  return 9;
}

function writeNumber(b: Buffer, at: number, v: number): number {
  if (v >>> 0 === v) {
    if (v < 0x80) {
      b[at] = v;
      return at + 1;
    }
    if (v < 0x100) {
      b[at] = 0xcc;
      b[at + 1] = v;
      return at + 2;
    }
    if (v < 0x10000) {
      b[at] = 0xcd;
      b.writeUInt16BE(v, at + 1);
      return at + 3;
    }
    b[at] = 0xce;
    b.writeUInt32BE(v, at + 1);
    return at + 5;
  }
  if (v >> 0 === v) {
    if (v >= -0x20) {
      b[at] = 0x100 + v;
      return at + 1;
    }
    if (v >= -0x80) {
      b[at] = 0xd0;
      b.writeInt8(v, at + 1);
      return at + 2;
    }
    if (v >= -0x8000) {
      b[at] = 0xd1;
      b.writeInt16BE(v, at + 1);
      return at + 3;
    }
    b[at] = 0xd2;
    b.writeInt32BE(v, at + 1);
    return at + 5;
  }
  b[at] = 0xcb;
  b.writeDoubleBE(v, at + 1);
  return at + 9;
}

export type DecodedRecord =
  | { readonly kind: 'rec'; readonly rec: Rec }
  | { readonly kind: 'meta'; readonly meta: Meta };

/** Decodes a record stored under `key` (prefix already stripped). Copies bytes out of the input. */
export function decodeRecord(key: Buffer, value: Buffer): DecodedRecord {
  if (key.length === 1 && key[0] === TAG_META) {
    const [revision, compactRevision] = packr.unpack(value) as [number, number];
    return { kind: 'meta', meta: { revision, compactRevision } };
  }
  if (key.length !== REV_KEY_BYTES || key[0] !== TAG_RECORD) throw new Error('corrupt mvcc record key');
  const main = key.readUInt32BE(1) * TWO_POW_32 + key.readUInt32BE(5);
  const sub = key.readUInt32BE(9);
  const fields = packr.unpack(value) as unknown[];
  const k = Buffer.from(fields[0] as Uint8Array);
  if (fields.length === 1) return { kind: 'rec', rec: { main, sub, key: k, kv: null } };
  const v = fields[1] as Uint8Array;
  const kv: KeyValue = {
    key: k,
    value: v.length === 0 ? EMPTY_BUFFER : Buffer.from(v),
    create_revision: fields[2] as number,
    mod_revision: main,
    version: fields[3] as number,
    lease: fields[4] as number,
  };
  return { kind: 'rec', rec: { main, sub, key: k, kv } };
}

/** Estimated bytes a record occupies on disk (key, value, revision key and framing). */
export function recordSizeBytes(rec: Rec): number {
  return recordSizeBytesOf(rec.key.length, rec.kv === null ? 0 : rec.kv.value.length);
}

/** recordSizeBytes from the lengths alone (a tombstone's value length is 0). */
export function recordSizeBytesOf(keyBytes: number, valueBytes: number): number {
  return REV_KEY_BYTES + 24 + keyBytes + valueBytes;
}

export function packChunk(items: unknown[]): Buffer {
  return packr.pack(items);
}

export function unpackChunk(chunk: Buffer): unknown[] {
  return packr.unpack(chunk) as unknown[];
}
