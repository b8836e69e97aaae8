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

export function encodeRecord(rec: Rec): Buffer {
  const kv = rec.kv;
  if (kv === null) return packr.pack([rec.key]);
  return packr.pack([rec.key, kv.value, kv.create_revision, kv.version, kv.lease]);
}

export function encodeMeta(meta: Meta): Buffer {
  return packr.pack([meta.revision, meta.compactRevision]);
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
