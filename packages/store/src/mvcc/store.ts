// Keelson's multi-version key-value store, following etcd 3.4's mvcc: one global revision (1 on an
// empty store), every apply call (a put, a delete-range, a whole txn) writes at ONE new revision
// and a call that changes nothing leaves it alone. Pure and in memory; the member persists the
// level operations from takeChanges() in the same batch as its applied index.
import type * as T from '../api/types.js';
import { EtcdError } from '../errors.js';
import { BTree } from './btree.js';
import { EMPTY_BUFFER, type KeySpan, spanContains, toIndexKey, toSpan } from './bytes.js';
import {
  decodeRecord,
  encodeMeta,
  encodeRecord,
  type Meta,
  metaKey,
  packChunk,
  type Rec,
  recordKey,
  recordSizeBytes,
  unpackChunk,
} from './codec.js';
import { Crc32c } from './crc32c.js';
import { indexAt, type KeyHistory, KeyIndex, liveAt, positionOf } from './key_index.js';
import { finishRange, needsFullFetch } from './range.js';
import { computeTxnPath, opKind, type TxnPath, takenOps } from './txn.js';
import type {
  DeleteKeysResult,
  DeleteRangeResult,
  HashKVResult,
  LevelOp,
  PutResult,
  RangeResult,
  TxnResult,
  WriteContext,
} from './types.js';

/** etcd's first revision: an empty store reports 1, and the first write gets 2. */
export const INITIAL_REVISION = 1;
const DUMP_CHUNK_BYTES = 1 << 20;

function header(revision: number): T.ResponseHeader {
  return { cluster_id: 0, member_id: 0, revision, raft_term: 0 };
}

function copyBytes(b: Buffer): Buffer {
  // Decoded requests may be views into larger message buffers; the store keeps its own bytes.
  return b.length === 0 ? EMPTY_BUFFER : Buffer.from(b);
}

/** The writes of one apply call, all at revision beginRev + 1. */
class WriteBatch {
  readonly rev: number;
  readonly changes: Rec[] = [];
  /** The history of each change, parallel to `changes`. */
  readonly hists: KeyHistory[] = [];
  readonly touched = new Set<KeyHistory>();

  constructor(readonly beginRev: number) {
    this.rev = beginRev + 1;
  }

  /** What reads inside the batch see: its own writes once it has any (etcd's storeTxnWrite.Range). */
  get readRev(): number {
    return this.changes.length > 0 ? this.rev : this.beginRev;
  }
}

export class Mvcc {
  private readonly prefix: Buffer;
  private readonly index = new KeyIndex();
  /** Records by main revision, in sub order. Invariant: holds every record the index holds. */
  private readonly byRev: BTree<number, Rec[]> = new BTree<number, Rec[]>();
  /** Keys currently attached to each lease (derived from the live state). */
  private readonly leaseIndex = new Map<number, Set<string>>();
  // Invariant: compactRev < currentRev (or both at their initial values).
  private currentRev = INITIAL_REVISION;
  private compactRev = 0;
  private pending: LevelOp[] = [];
  private metaDirty = false;
  private storedBytes = 0;
  private batch: WriteBatch | null = null;

  constructor(prefix: Buffer) {
    this.prefix = Buffer.from(prefix);
  }

  get revision(): number {
    return this.currentRev;
  }

  get compactRevision(): number {
    return this.compactRev;
  }

  // ---------------------------------------------------------------- reads

  range(req: T.RangeRequest): RangeResult {
    this.assertIdle();
    return this.rangeAt(req, this.currentRev);
  }

  private rangeAt(req: T.RangeRequest, curRev: number): RangeResult {
    if (req.revision > curRev) throw new EtcdError('FutureRev');
    const atRev = req.revision <= 0 ? curRev : req.revision;
    if (atRev < this.compactRev) throw new EtcdError('Compacted');
    const span = toSpan(req.key, req.range_end);
    // etcd fetches one extra key to learn `more`, or everything when it must sort or filter.
    const fetchLimit = needsFullFetch(req) || req.limit <= 0 ? 0 : req.limit + 1;
    const found = this.lookup(span, atRev, fetchLimit, req.count_only);
    if (req.count_only) return { kvs: [], more: false, count: found.count, revision: curRev };
    const done = finishRange(found.kvs, req);
    return { kvs: done.kvs, more: done.more, count: found.count, revision: curRev };
  }

  /** Live keys of a span at atRev: all of them counted, the first `limit` (0 = all) returned. */
  private lookup(
    span: KeySpan,
    atRev: number,
    limit: number,
    countOnly: boolean,
  ): { kvs: T.KeyValue[]; count: number } {
    const kvs: T.KeyValue[] = [];
    let count = 0;
    this.index.visit(span, (h) => {
      const kv = liveAt(h, atRev);
      if (kv === null) return;
      count++;
      if (!countOnly && (limit === 0 || kvs.length < limit)) kvs.push(kv);
    });
    return { kvs, count };
  }

  private liveKvs(span: KeySpan, atRev: number): T.KeyValue[] {
    return this.lookup(span, atRev, 0, false).kvs;
  }

  /** Keys currently attached to a lease, in byte order (etcd revokes them sorted). */
  leaseKeys(id: number): Buffer[] {
    const keys = this.leaseIndex.get(id);
    if (keys === undefined) return [];
    return [...keys].sort().map((k) => Buffer.from(k, 'latin1'));
  }

  // ---------------------------------------------------------------- writes

  put(req: T.PutRequest, ctx: WriteContext): PutResult {
    if (req.lease !== 0 && !ctx.leaseExists(req.lease)) throw new EtcdError('LeaseNotFound');
    const out = this.write((b) => this.putIn(b, req));
    return { revision: out.revision, events: out.events, prev_kv: out.r.prev_kv };
  }

  deleteRange(req: T.DeleteRangeRequest, _ctx?: WriteContext): DeleteRangeResult {
    const out = this.write((b) => this.deleteIn(b, req));
    return { revision: out.revision, events: out.events, deleted: out.r.deleted, prev_kvs: out.r.prev_kvs };
  }

  /** Deletes the given keys at one revision (a lease's keys when it expires or is revoked). */
  deleteKeys(keys: readonly Buffer[]): DeleteKeysResult {
    const unique = [...new Set(keys.map(toIndexKey))].sort();
    const out = this.write((b) => {
      let deleted = 0;
      for (const k of unique) {
        deleted += this.deleteIn(b, {
          key: Buffer.from(k, 'latin1'),
          range_end: EMPTY_BUFFER,
          prev_kv: false,
        }).deleted;
      }
      return deleted;
    });
    return { revision: out.revision, events: out.events, deleted: out.r };
  }

  /**
   * etcd's txn: compares (and the compares of nested txns on the taken path) see the state before
   * the txn; its checks run before any write, so an error leaves no trace; its reads see its own
   * earlier writes.
   */
  txn(req: T.TxnRequest, ctx: WriteContext): TxnResult {
    this.assertIdle();
    const beginRev = this.currentRev;
    const path = computeTxnPath(req, (span) => this.liveKvs(span, beginRev));
    this.forEachTakenOp(req, path, (op) => this.checkTxnPut(op, beginRev, ctx));
    this.forEachTakenOp(req, path, (op) => this.checkTxnRange(op, beginRev));
    const out = this.write((b) => this.applyTxnIn(b, req, path));
    return {
      revision: out.revision,
      events: out.events,
      succeeded: path.succeeded,
      responses: out.r.responses,
    };
  }

  private forEachTakenOp(req: T.TxnRequest, path: TxnPath, f: (op: T.RequestOp) => void): void {
    let nested = 0;
    for (const op of takenOps(req, path)) {
      if (opKind(op) !== 'txn') {
        f(op);
        continue;
      }
      const p = path.nested[nested++];
      if (p === undefined || !op.request_txn)
        throw new Error('assertion: txn path does not match the request');
      this.forEachTakenOp(op.request_txn, p, f);
    }
  }

  // etcd checks ignore_value/ignore_lease against the state before the txn.
  private checkTxnPut(op: T.RequestOp, beginRev: number, ctx: WriteContext): void {
    const req = op.request_put;
    if (opKind(op) !== 'put' || !req) return;
    if (req.ignore_value || req.ignore_lease) {
      const h = this.index.get(toIndexKey(req.key));
      if (h === undefined || liveAt(h, beginRev) === null) throw new EtcdError('KeyNotFound');
    }
    if (req.lease !== 0 && !ctx.leaseExists(req.lease)) throw new EtcdError('LeaseNotFound');
  }

  private checkTxnRange(op: T.RequestOp, beginRev: number): void {
    const req = op.request_range;
    if (opKind(op) !== 'range' || !req || req.revision === 0) return;
    if (req.revision > beginRev) throw new EtcdError('FutureRev');
    if (req.revision < this.compactRev) throw new EtcdError('Compacted');
  }

  private applyTxnIn(b: WriteBatch, req: T.TxnRequest, path: TxnPath): T.TxnResponse {
    const responses: T.ResponseOp[] = [];
    let nested = 0;
    for (const op of takenOps(req, path)) {
      switch (opKind(op)) {
        case 'range':
          responses.push({
            response: 'response_range',
            response_range: this.rangeIn(b, op.request_range as T.RangeRequest),
          });
          break;
        case 'put':
          responses.push({
            response: 'response_put',
            response_put: this.putIn(b, op.request_put as T.PutRequest),
          });
          break;
        case 'delete': {
          const r = this.deleteIn(b, op.request_delete_range as T.DeleteRangeRequest);
          responses.push({ response: 'response_delete_range', response_delete_range: r });
          break;
        }
        case 'txn': {
          const p = path.nested[nested++] as TxnPath;
          responses.push({
            response: 'response_txn',
            response_txn: this.applyTxnIn(b, op.request_txn as T.TxnRequest, p),
          });
          break;
        }
        case 'empty':
          responses.push({});
          break;
      }
    }
    // etcd leaves nested txn headers zero; the top-level header is the caller's to fill.
    return { header: header(0), succeeded: path.succeeded, responses };
  }

  private rangeIn(b: WriteBatch, req: T.RangeRequest): T.RangeResponse {
    const r = this.rangeAt(req, b.readRev);
    return { header: header(r.revision), kvs: r.kvs, more: r.more, count: r.count };
  }

  private putIn(b: WriteBatch, req: T.PutRequest): T.PutResponse {
    const key = copyBytes(req.key);
    if (key.length === 0) throw new EtcdError('EmptyKey');
    const ik = toIndexKey(key);
    const existing = this.index.get(ik);
    const prev = existing === undefined ? null : liveAt(existing, b.readRev);
    if ((req.ignore_value || req.ignore_lease) && prev === null) throw new EtcdError('KeyNotFound');
    const value = req.ignore_value && prev !== null ? prev.value : copyBytes(req.value);
    const lease = req.ignore_lease && prev !== null ? prev.lease : req.lease;
    const h = existing ?? this.index.getOrCreate(key, ik);
    const kv: T.KeyValue = {
      key: h.key,
      value,
      create_revision: prev === null ? b.rev : prev.create_revision,
      mod_revision: b.rev,
      version: prev === null ? 1 : prev.version + 1,
      lease,
    };
    this.append(b, h, kv);
    return { header: header(b.rev), prev_kv: req.prev_kv ? prev : null };
  }

  private deleteIn(b: WriteBatch, req: T.DeleteRangeRequest): T.DeleteRangeResponse {
    const readRev = b.readRev;
    const victims: Array<{ h: KeyHistory; kv: T.KeyValue }> = [];
    this.index.visit(toSpan(req.key, req.range_end), (h) => {
      const kv = liveAt(h, readRev);
      if (kv !== null) victims.push({ h, kv });
    });
    for (const v of victims) this.append(b, v.h, null);
    // etcd reports the new revision once the batch has written anything, the old one otherwise.
    const rev = b.changes.length > 0 ? b.rev : b.beginRev;
    return {
      header: header(rev),
      deleted: victims.length,
      prev_kvs: req.prev_kv ? victims.map((v) => v.kv) : [],
    };
  }

  private append(b: WriteBatch, h: KeyHistory, kv: T.KeyValue | null): void {
    const rec: Rec = { main: b.rev, sub: b.changes.length, key: h.key, kv };
    h.recs.push(rec);
    b.changes.push(rec);
    b.hists.push(h);
    b.touched.add(h);
  }

  private write<R>(f: (b: WriteBatch) => R): { r: R; revision: number; events: T.Event[] } {
    this.assertIdle();
    const b = new WriteBatch(this.currentRev);
    this.batch = b;
    try {
      const r = f(b);
      const { revision, events } = this.commit(b);
      return { r, revision, events };
    } catch (e) {
      this.rollback(b);
      throw e;
    } finally {
      this.batch = null;
    }
  }

  private commit(b: WriteBatch): { revision: number; events: T.Event[] } {
    if (b.changes.length === 0) return { revision: b.beginRev, events: [] };
    if (this.currentRev !== b.beginRev) throw new Error('assertion: revision moved during a write');
    const events = b.changes.map((rec, i) => eventOf(b.hists[i] as KeyHistory, rec));
    this.updateLeases(b);
    this.byRev.set(b.rev, b.changes);
    for (const rec of b.changes) {
      this.pending.push({
        type: 'put',
        key: this.prefixed(recordKey(rec.main, rec.sub)),
        value: encodeRecord(rec),
      });
      this.storedBytes += recordSizeBytes(rec);
    }
    this.currentRev = b.rev;
    this.metaDirty = true;
    return { revision: b.rev, events };
  }

  private rollback(b: WriteBatch): void {
    for (const h of b.touched) {
      while (h.recs.length > 0 && (h.recs[h.recs.length - 1] as Rec).main === b.rev) h.recs.pop();
      if (h.recs.length === 0) this.index.remove(h.indexKey);
    }
  }

  private updateLeases(b: WriteBatch): void {
    for (const h of b.touched) {
      const before = liveAt(h, b.beginRev)?.lease ?? 0;
      const after = liveAt(h, b.rev)?.lease ?? 0;
      if (before === after) continue;
      if (before !== 0) this.detachLease(before, h.indexKey);
      if (after !== 0) this.attachLease(after, h.indexKey);
    }
  }

  private attachLease(id: number, indexKey: string): void {
    let keys = this.leaseIndex.get(id);
    if (keys === undefined) {
      keys = new Set();
      this.leaseIndex.set(id, keys);
    }
    keys.add(indexKey);
  }

  private detachLease(id: number, indexKey: string): void {
    const keys = this.leaseIndex.get(id);
    if (keys === undefined || !keys.delete(indexKey)) throw new Error('assertion: lease index lost a key');
    if (keys.size === 0) this.leaseIndex.delete(id);
  }

  // ---------------------------------------------------------------- compaction

  /**
   * Drops every version not needed to read at revisions >= rev: for each key, the versions older
   * than its newest one <= rev, and a deleted key's whole generation once its tombstone is <= rev.
   */
  compact(rev: number): void {
    this.assertIdle();
    if (rev <= this.compactRev) throw new EtcdError('Compacted');
    if (rev > this.currentRev) throw new EtcdError('FutureRev');
    const dropped: Rec[] = [];
    const emptied: string[] = [];
    for (const h of this.index.histories()) {
      const i = indexAt(h, rev);
      if (i < 0) continue;
      const cut = (h.recs[i] as Rec).kv === null ? i + 1 : i;
      if (cut === 0) continue;
      for (let j = 0; j < cut; j++) dropped.push(h.recs[j] as Rec);
      h.recs = h.recs.slice(cut);
      if (h.recs.length === 0) emptied.push(h.indexKey);
    }
    for (const k of emptied) this.index.remove(k);
    this.dropFromRevLog(dropped);
    this.compactRev = rev;
    this.metaDirty = true;
  }

  private dropFromRevLog(dropped: readonly Rec[]): void {
    const byMain = new Map<number, Set<Rec>>();
    for (const rec of dropped) {
      let set = byMain.get(rec.main);
      if (set === undefined) {
        set = new Set();
        byMain.set(rec.main, set);
      }
      set.add(rec);
      this.pending.push({ type: 'del', key: this.prefixed(recordKey(rec.main, rec.sub)) });
      this.storedBytes -= recordSizeBytes(rec);
    }
    for (const [main, set] of byMain) {
      const entry = this.byRev.get(main);
      if (entry === undefined) throw new Error(`assertion: revision ${main} missing from the log`);
      const kept = entry.filter((r) => !set.has(r));
      if (kept.length === 0) this.byRev.delete(main);
      else this.byRev.set(main, kept);
    }
  }

  // ---------------------------------------------------------------- watch history

  /**
   * Events of revisions >= startRev touching [key, rangeEnd), in revision order. Stops before a
   * revision that would take the result past maxEvents, so a revision is never split (a single
   * revision larger than maxEvents is returned whole). Empty when there is nothing newer.
   */
  eventsSince(startRev: number, key: Buffer, rangeEnd: Buffer, maxEvents: number): T.Event[] {
    this.assertIdle();
    if (maxEvents < 1) throw new Error(`assertion: maxEvents must be positive, got ${maxEvents}`);
    if (startRev <= this.compactRev) throw new EtcdError('Compacted');
    const span = toSpan(key, rangeEnd);
    const out: T.Event[] = [];
    for (const [, recs] of this.byRev.entries(startRev)) {
      const matched = recs.filter((r) => spanContains(span, toIndexKey(r.key)));
      if (matched.length === 0) continue;
      if (out.length > 0 && out.length + matched.length > maxEvents) break;
      for (const r of matched) out.push(eventOf(this.historyOf(r), r));
      if (out.length >= maxEvents) break;
    }
    return out;
  }

  private historyOf(rec: Rec): KeyHistory {
    const h = this.index.get(toIndexKey(rec.key));
    if (h === undefined) throw new Error('assertion: a logged record has no key history');
    return h;
  }

  // ---------------------------------------------------------------- persistence

  /** Level operations (prefixed keys) accumulated since the last call. */
  takeChanges(): LevelOp[] {
    const ops = this.pending;
    this.pending = [];
    if (this.metaDirty) ops.push({ type: 'put', key: this.prefixed(metaKey()), value: this.encodedMeta() });
    this.metaDirty = false;
    return ops;
  }

  /** The whole state as level puts, to rewrite the database after a restore. */
  *allRecords(): IterableIterator<LevelOp> {
    for (const [k, v] of this.rawRecords()) yield { type: 'put', key: this.prefixed(k), value: v };
  }

  /** The whole state in chunks of about 1 MiB, for a snapshot. */
  dump(): Buffer[] {
    const chunks: Buffer[] = [];
    let items: Buffer[] = [];
    let bytes = 0;
    for (const [k, v] of this.rawRecords()) {
      items.push(k, v);
      bytes += k.length + v.length;
      if (bytes >= DUMP_CHUNK_BYTES) {
        chunks.push(packChunk(items));
        items = [];
        bytes = 0;
      }
    }
    if (items.length > 0) chunks.push(packChunk(items));
    return chunks;
  }

  static fromDump(chunks: readonly Buffer[], prefix: Buffer): Mvcc {
    const pairs: Array<[Buffer, Buffer]> = [];
    for (const chunk of chunks) {
      const items = unpackChunk(chunk);
      if (items.length % 2 !== 0) throw new Error('corrupt mvcc snapshot chunk');
      for (let i = 0; i < items.length; i += 2) {
        pairs.push([Buffer.from(items[i] as Uint8Array), Buffer.from(items[i + 1] as Uint8Array)]);
      }
    }
    return Mvcc.build(pairs, prefix);
  }

  /** Rebuilds the store from its level records (keys with the prefix; others are ignored). */
  static load(records: Iterable<[Buffer, Buffer]>, prefix: Buffer): Mvcc {
    const pairs: Array<[Buffer, Buffer]> = [];
    for (const [k, v] of records) {
      if (k.length > prefix.length && k.subarray(0, prefix.length).equals(prefix)) {
        pairs.push([k.subarray(prefix.length), v]);
      }
    }
    return Mvcc.build(pairs, prefix);
  }

  private static build(pairs: Iterable<[Buffer, Buffer]>, prefix: Buffer): Mvcc {
    const m = new Mvcc(prefix);
    let meta: Meta | null = null;
    const recs: Rec[] = [];
    for (const [k, v] of pairs) {
      const d = decodeRecord(k, v);
      if (d.kind === 'meta') meta = d.meta;
      else recs.push(d.rec);
    }
    if (meta === null) {
      if (recs.length > 0) throw new Error('corrupt mvcc state: records without a meta record');
      return m;
    }
    recs.sort((a, b) => a.main - b.main || a.sub - b.sub);
    for (const rec of recs) m.restoreRecord(rec);
    const last = recs[recs.length - 1];
    if (last !== undefined && last.main > meta.revision)
      throw new Error('corrupt mvcc state: record past revision');
    m.currentRev = meta.revision;
    m.compactRev = meta.compactRevision;
    for (const h of m.index.histories()) {
      const lease = liveAt(h, m.currentRev)?.lease ?? 0;
      if (lease !== 0) m.attachLease(lease, h.indexKey);
    }
    return m;
  }

  private restoreRecord(rec: Rec): void {
    const h = this.index.getOrCreate(rec.key, toIndexKey(rec.key));
    h.recs.push(rec);
    const entry = this.byRev.get(rec.main);
    if (entry === undefined) this.byRev.set(rec.main, [rec]);
    else entry.push(rec);
    this.storedBytes += recordSizeBytes(rec);
  }

  /** Meta first, then every record in revision order; keys without the prefix. */
  private *rawRecords(): IterableIterator<[Buffer, Buffer]> {
    yield [metaKey(), this.encodedMeta()];
    for (const [, recs] of this.byRev.entries()) {
      for (const rec of recs) yield [recordKey(rec.main, rec.sub), encodeRecord(rec)];
    }
  }

  private encodedMeta(): Buffer {
    return encodeMeta({ revision: this.currentRev, compactRevision: this.compactRev });
  }

  private prefixed(k: Buffer): Buffer {
    return Buffer.concat([this.prefix, k]);
  }

  // ---------------------------------------------------------------- checks and sizes

  /**
   * A CRC-32C over the stored records up to rev (0 = current), like etcd's HashByRev: members with
   * the same history and compaction agree on it.
   */
  hashKV(rev: number): HashKVResult {
    this.assertIdle();
    if (rev > 0 && rev <= this.compactRev) throw new EtcdError('Compacted');
    if (rev > this.currentRev) throw new EtcdError('FutureRev');
    const upTo = rev <= 0 ? this.currentRev : rev;
    const crc = new Crc32c().update(Buffer.from('key'));
    for (const [main, recs] of this.byRev.entries()) {
      if (main > upTo) break;
      for (const rec of recs) crc.update(recordKey(rec.main, rec.sub)).update(encodeRecord(rec));
    }
    return { hash: crc.digest(), compactRevision: this.compactRev, revision: this.currentRev };
  }

  /** Estimated bytes of the stored records (what the space quota is checked against). */
  sizeBytes(): number {
    return this.storedBytes;
  }

  /** etcd's dbSizeInUse: the logical size; level reclaims freed space itself. */
  dbSizeInUse(): number {
    return this.storedBytes;
  }

  /** Number of keys with any retained history (live or deleted but not yet compacted). */
  indexedKeyCount(): number {
    return this.index.size;
  }

  private assertIdle(): void {
    if (this.batch !== null) throw new Error('assertion: mvcc re-entered during a write');
  }
}

/** The watch event for a record; prev_kv is the key's previous version when it was live. */
function eventOf(h: KeyHistory, rec: Rec): T.Event {
  const i = positionOf(h, rec);
  if (i < 0) throw new Error('assertion: record missing from its key history');
  const prev = i > 0 ? (h.recs[i - 1] as Rec).kv : null;
  if (rec.kv !== null) return { type: 'PUT', kv: rec.kv, prev_kv: prev };
  const kv: T.KeyValue = {
    key: rec.key,
    value: EMPTY_BUFFER,
    create_revision: 0,
    mod_revision: rec.main,
    version: 0,
    lease: 0,
  };
  return { type: 'DELETE', kv, prev_kv: prev };
}
