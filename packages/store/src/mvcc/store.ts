// Keelson's multi-version key-value store, following etcd 3.4's mvcc: one global revision (1 on an
// empty store), every apply call (a put, a delete-range, a whole txn) writes at ONE new revision
// and a call that changes nothing leaves it alone. Pure and in memory; the member persists the
// level operations from takeChanges() in the same batch as its applied index.
//
// The history is kept where a major GC does not have to mark it: records are numbers in the typed
// columns of a RecordLog and values are bytes in its slabs (arena.ts); the only objects are one
// per key (key_index.ts). KeyValues are made on demand for results and events (short-lived, so
// they die young) and their values are views of the slabs. "Records by revision" (watch replay,
// hashKV, dump) is a range of record ids, because ids are appended in revision order.
// Compaction flags records dead; when dead records outnumber live ones (and there are at least
// rebuildDeadRecordsMin of them) that same compact call rebuilds the log into fresh columns and
// slabs, so a rebuild costs at most O(dead records) amortised and happens at most once per call.
import type * as T from '../api/types.js';
import { EtcdError } from '../errors.js';
import { NO_RECORD, RecordLog, SLAB_BYTES_DEFAULT } from './arena.js';
import { EMPTY_BUFFER, type KeySpan, spanContains, toIndexKey, toSpan } from './bytes.js';
import {
  CRC_SLOT_BYTES,
  decodeRecord,
  encodeMeta,
  encodeMetaSealed,
  encodePutSealed,
  encodeRecord,
  encodeTombstoneSealed,
  type Meta,
  metaKey,
  packChunk,
  prefixedRecordKey,
  type Rec,
  recordKey,
  recordSizeBytes,
  recordSizeBytesOf,
  unpackChunk,
} from './codec.js';
import { Crc32c } from './crc32c.js';
import { type KeyHistory, KeyIndex, recordAt } from './key_index.js';
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

/** The events of a write when none are wanted (see Mvcc.eventsWanted); never written to. */
const NO_EVENTS = Object.freeze([]) as unknown as T.Event[];

/** etcd's first revision: an empty store reports 1, and the first write gets 2. */
export const INITIAL_REVISION = 1;
const DUMP_CHUNK_BYTES = 1 << 20;
const REBUILD_DEAD_RECORDS_MIN_DEFAULT = 4096;

export interface MvccOptions {
  /** Bytes per value slab of the record log (values larger than this get a slab of their own). */
  readonly slabBytes?: number;
  /** A compaction rebuilds the log only once at least this many records are dead. */
  readonly rebuildDeadRecordsMin?: number;
}

/** What the history holds, for tests and debugging: heap objects must be O(keys), not O(revisions). */
export interface HistoryStats {
  readonly keys: number;
  /** Record ids in use, dead ones included. */
  readonly records: number;
  readonly deadRecords: number;
  readonly slabs: number;
  readonly slabBytes: number;
  /** JS objects held by the history (index, columns, slabs); records themselves add none. */
  readonly heapObjects: number;
  /** Log rebuilds done by compactions of this instance. */
  readonly rebuilds: number;
}

function header(revision: number): T.ResponseHeader {
  return { cluster_id: 0, member_id: 0, revision, raft_term: 0 };
}

function copyBytes(b: Buffer): Buffer {
  // Decoded requests may be views into larger message buffers; the store keeps its own bytes.
  return b.length === 0 ? EMPTY_BUFFER : Buffer.from(b);
}

/** What a put record holds besides its key and revision. */
interface PutFields {
  readonly value: Buffer;
  readonly createRevision: number;
  readonly version: number;
  readonly lease: number;
}

/** The writes of one apply call, all at revision beginRev + 1. */
class WriteBatch {
  readonly rev: number;
  /** Record ids written, in sub order. */
  readonly changes: number[] = [];
  /** The history of each change, parallel to `changes`. */
  readonly hists: KeyHistory[] = [];

  /** firstId: the log's length when the batch began; its records are the ids from there on. */
  constructor(
    readonly beginRev: number,
    readonly firstId: number,
  ) {
    this.rev = beginRev + 1;
  }

  /** The keys the batch wrote, each once (no Set for the usual single write). */
  touched(): readonly KeyHistory[] {
    return this.hists.length <= 1 ? this.hists : [...new Set(this.hists)];
  }

  /** What reads inside the batch see: its own writes once it has any (etcd's storeTxnWrite.Range). */
  get readRev(): number {
    return this.changes.length > 0 ? this.rev : this.beginRev;
  }
}

export class Mvcc {
  private readonly prefix: Buffer;
  private readonly index = new KeyIndex();
  /** Every retained record, in revision order. Invariant: each live record's slot is indexed. */
  private log: RecordLog;
  private readonly rebuildDeadRecordsMin: number;
  private rebuilds = 0;
  /** Keys currently attached to each lease (derived from the live state). */
  private readonly leaseIndex = new Map<number, Set<string>>();
  // Invariant: compactRev < currentRev (or both at their initial values).
  private currentRev = INITIAL_REVISION;
  private compactRev = 0;
  private pending: LevelOp[] = [];
  private metaDirty = false;
  private storedBytes = 0;
  private batch: WriteBatch | null = null;

  /**
   * Whether writes build their watch events (PutResult.events and the like). A member sets this to
   * "some watcher is synced", so that a write nobody watches makes no event objects (two KeyValues
   * and the event each); a watcher that is not synced reads history instead. Defaults to always.
   */
  eventsWanted: () => boolean = () => true;

  constructor(prefix: Buffer, options: MvccOptions = {}) {
    this.prefix = Buffer.from(prefix);
    this.log = new RecordLog(options.slabBytes ?? SLAB_BYTES_DEFAULT);
    this.rebuildDeadRecordsMin = options.rebuildDeadRecordsMin ?? REBUILD_DEAD_RECORDS_MIN_DEFAULT;
    if (!Number.isInteger(this.rebuildDeadRecordsMin) || this.rebuildDeadRecordsMin < 1)
      throw new Error(`assertion: bad rebuildDeadRecordsMin ${this.rebuildDeadRecordsMin}`);
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
      const id = this.liveIdAt(h, atRev);
      if (id === NO_RECORD) return;
      count++;
      if (!countOnly && (limit === 0 || kvs.length < limit)) kvs.push(this.putKv(h, id));
    });
    return { kvs, count };
  }

  /** The key's put record visible at atRev, or NO_RECORD when it did not exist then. */
  private liveIdAt(h: KeyHistory, atRev: number): number {
    const id = recordAt(this.log, h, atRev);
    return id === NO_RECORD || this.log.isTombstone(id) ? NO_RECORD : id;
  }

  /** The key's value as of atRev, or null when it did not exist then. */
  private liveAt(h: KeyHistory, atRev: number): T.KeyValue | null {
    const id = this.liveIdAt(h, atRev);
    return id === NO_RECORD ? null : this.putKv(h, id);
  }

  private leaseAt(h: KeyHistory, atRev: number): number {
    const id = this.liveIdAt(h, atRev);
    return id === NO_RECORD ? 0 : this.log.lease(id);
  }

  /** A fresh KeyValue for a put record; its value is a read-only view of a slab. */
  private putKv(h: KeyHistory, id: number): T.KeyValue {
    const log = this.log;
    if (log.isTombstone(id)) throw new Error('assertion: a tombstone has no key-value');
    return {
      key: h.key,
      value: log.value(id),
      create_revision: log.createRevision(id),
      mod_revision: log.main(id),
      version: log.version(id),
      lease: log.lease(id),
    };
  }

  /** The record as the codec sees it (for level ops, dumps and hashes). */
  private recOf(h: KeyHistory, id: number): Rec {
    const kv = this.log.isTombstone(id) ? null : this.putKv(h, id);
    return { main: this.log.main(id), sub: this.log.sub(id), key: h.key, kv };
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
      if (h === undefined || this.liveIdAt(h, beginRev) === NO_RECORD) throw new EtcdError('KeyNotFound');
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
    if (req.key.length === 0) throw new EtcdError('EmptyKey');
    const ik = toIndexKey(req.key);
    const existing = this.index.get(ik);
    // The previous version is read from the log's columns: a KeyValue is made only if asked for.
    const prev = existing === undefined ? NO_RECORD : this.liveIdAt(existing, b.readRev);
    if ((req.ignore_value || req.ignore_lease) && prev === NO_RECORD) throw new EtcdError('KeyNotFound');
    const log = this.log;
    const prevKv = req.prev_kv && prev !== NO_RECORD ? this.putKv(existing as KeyHistory, prev) : null;
    // The log copies the value into its slab, so the request's bytes are not kept.
    const value = req.ignore_value && prev !== NO_RECORD ? log.value(prev) : req.value;
    const lease = req.ignore_lease && prev !== NO_RECORD ? log.lease(prev) : req.lease;
    const h = existing ?? this.index.getOrCreate(copyBytes(req.key), ik);
    this.append(b, h, {
      value,
      createRevision: prev === NO_RECORD ? b.rev : log.createRevision(prev),
      version: prev === NO_RECORD ? 1 : log.version(prev) + 1,
      lease,
    });
    return { header: header(b.rev), prev_kv: prevKv };
  }

  private deleteIn(b: WriteBatch, req: T.DeleteRangeRequest): T.DeleteRangeResponse {
    const readRev = b.readRev;
    const victims: Array<{ h: KeyHistory; kv: T.KeyValue }> = [];
    this.index.visit(toSpan(req.key, req.range_end), (h) => {
      const kv = this.liveAt(h, readRev);
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

  /** Appends a put (fields) or a tombstone (null) of h's key at the batch's revision. */
  private append(b: WriteBatch, h: KeyHistory, put: PutFields | null): void {
    const id = this.log.append({
      main: b.rev,
      sub: b.changes.length,
      slot: h.slot,
      prev: h.newest,
      tombstone: put === null,
      createRevision: put?.createRevision ?? 0,
      version: put?.version ?? 0,
      lease: put?.lease ?? 0,
      value: put?.value ?? EMPTY_BUFFER,
    });
    h.newest = id;
    h.count++;
    b.changes.push(id);
    b.hists.push(h);
  }

  private write<R>(f: (b: WriteBatch) => R): { r: R; revision: number; events: T.Event[] } {
    this.assertIdle();
    const b = new WriteBatch(this.currentRev, this.log.length);
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
    const events = this.eventsWanted()
      ? b.changes.map((id, i) => this.eventOf(b.hists[i] as KeyHistory, id))
      : NO_EVENTS;
    this.updateLeases(b);
    const log = this.log;
    for (let i = 0; i < b.changes.length; i++) {
      const id = b.changes[i] as number;
      const key = (b.hists[i] as KeyHistory).key;
      const tombstone = log.isTombstone(id);
      const sealed = tombstone
        ? encodeTombstoneSealed(key)
        : encodePutSealed(key, log.value(id), log.createRevision(id), log.version(id), log.lease(id));
      this.pending.push({
        type: 'put',
        key: prefixedRecordKey(this.prefix, b.rev, i),
        value: sealed.subarray(CRC_SLOT_BYTES),
        sealed,
      });
      this.storedBytes += recordSizeBytesOf(key.length, tombstone ? 0 : log.valueLength(id));
    }
    this.currentRev = b.rev;
    this.metaDirty = true;
    return { revision: b.rev, events };
  }

  private rollback(b: WriteBatch): void {
    for (const h of b.touched()) {
      for (let steps = h.count; steps > 0 && h.newest >= b.firstId; steps--) {
        h.newest = this.log.prev(h.newest);
        h.count--;
      }
      if (h.count === 0) this.index.remove(h);
    }
    this.log.truncate(b.firstId);
  }

  private updateLeases(b: WriteBatch): void {
    for (const h of b.touched()) {
      const before = this.leaseAt(h, b.beginRev);
      const after = this.leaseAt(h, b.rev);
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
   * Work: O(keys + records newer than rev + records dropped), plus at most one log rebuild.
   */
  compact(rev: number): void {
    this.assertIdle();
    if (rev <= this.compactRev) throw new EtcdError('Compacted');
    if (rev > this.currentRev) throw new EtcdError('FutureRev');
    const emptied: KeyHistory[] = [];
    for (const h of this.index.histories()) {
      if (this.compactKey(h, rev)) emptied.push(h);
    }
    // The BTree is not changed while it is being iterated.
    for (const h of emptied) this.index.remove(h);
    this.compactRev = rev;
    this.metaDirty = true;
    this.maybeRebuild();
  }

  /** Compacts one key's chain; true when nothing of the key is left. */
  private compactKey(h: KeyHistory, rev: number): boolean {
    const log = this.log;
    let newer = NO_RECORD;
    let id = h.newest;
    let kept = 0;
    while (id !== NO_RECORD && log.main(id) > rev) {
      if (kept >= h.count) throw new Error('assertion: key history longer than its count');
      newer = id;
      id = log.prev(id);
      kept++;
    }
    if (id === NO_RECORD) return false;
    // id is the newest record <= rev: a put stays readable at rev, a tombstone goes with its past.
    const firstDropped = log.isTombstone(id) ? id : log.prev(id);
    if (firstDropped === NO_RECORD) return false;
    if (firstDropped === id) {
      if (newer !== NO_RECORD) log.cutPrev(newer);
    } else {
      log.cutPrev(id);
      kept++;
    }
    this.dropChain(h, firstDropped, h.count - kept);
    h.count = kept;
    if (kept === 0) h.newest = NO_RECORD;
    return kept === 0;
  }

  /** Kills `n` records of h's chain starting at id, emitting their level deletes. */
  private dropChain(h: KeyHistory, id: number, n: number): void {
    const log = this.log;
    let at = id;
    for (let i = 0; i < n; i++) {
      if (at === NO_RECORD) throw new Error('assertion: key chain shorter than its count');
      const prev = log.prev(at);
      this.pending.push({ type: 'del', key: prefixedRecordKey(this.prefix, log.main(at), log.sub(at)) });
      this.storedBytes -= recordSizeBytesOf(h.key.length, log.isTombstone(at) ? 0 : log.valueLength(at));
      log.kill(at);
      at = prev;
    }
    if (at !== NO_RECORD) throw new Error('assertion: key chain longer than its count');
  }

  /** Rebuilds the log when dead records outnumber live ones; amortised O(1) per dropped record. */
  private maybeRebuild(): void {
    const dead = this.log.deadCount;
    if (dead < this.rebuildDeadRecordsMin || dead * 2 <= this.log.length) return;
    const { log, remap } = this.log.rebuilt();
    this.index.remapRecords(remap);
    this.log = log;
    this.rebuilds++;
    if (log.deadCount !== 0) throw new Error('assertion: a rebuilt log has dead records');
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
    const log = this.log;
    const out: T.Event[] = [];
    const end = log.length;
    let id = log.firstAtOrAfter(startRev);
    while (id < end) {
      const main = log.main(id);
      const matched: number[] = [];
      for (; id < end && log.main(id) === main; id++) {
        if (!log.isDead(id) && spanContains(span, this.index.atSlot(log.slot(id)).indexKey)) matched.push(id);
      }
      if (matched.length === 0) continue;
      if (out.length > 0 && out.length + matched.length > maxEvents) break;
      for (const m of matched) out.push(this.eventOf(this.index.atSlot(log.slot(m)), m));
      if (out.length >= maxEvents) break;
    }
    return out;
  }

  /** The watch event for a record; prev_kv is the key's previous version when it was live. */
  private eventOf(h: KeyHistory, id: number): T.Event {
    const log = this.log;
    if (log.isDead(id)) throw new Error('assertion: an event of a dropped record');
    const p = log.prev(id);
    const prev = p === NO_RECORD || log.isTombstone(p) ? null : this.putKv(h, p);
    if (!log.isTombstone(id)) return { type: 'PUT', kv: this.putKv(h, id), prev_kv: prev };
    const kv: T.KeyValue = {
      key: h.key,
      value: EMPTY_BUFFER,
      create_revision: 0,
      mod_revision: log.main(id),
      version: 0,
      lease: 0,
    };
    return { type: 'DELETE', kv, prev_kv: prev };
  }

  // ---------------------------------------------------------------- persistence

  /** Level operations (prefixed keys) accumulated since the last call. */
  takeChanges(): LevelOp[] {
    const ops = this.pending;
    this.pending = [];
    if (this.metaDirty) {
      const sealed = encodeMetaSealed({ revision: this.currentRev, compactRevision: this.compactRev });
      ops.push({
        type: 'put',
        key: this.prefixed(metaKey()),
        value: sealed.subarray(CRC_SLOT_BYTES),
        sealed,
      });
    }
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

  static fromDump(chunks: readonly Buffer[], prefix: Buffer, options?: MvccOptions): Mvcc {
    const pairs: Array<[Buffer, Buffer]> = [];
    for (const chunk of chunks) {
      const items = unpackChunk(chunk);
      if (items.length % 2 !== 0) throw new Error('corrupt mvcc snapshot chunk');
      for (let i = 0; i < items.length; i += 2) {
        pairs.push([Buffer.from(items[i] as Uint8Array), Buffer.from(items[i + 1] as Uint8Array)]);
      }
    }
    return Mvcc.build(pairs, prefix, options);
  }

  /** Rebuilds the store from its level records (keys with the prefix; others are ignored). */
  static load(records: Iterable<[Buffer, Buffer]>, prefix: Buffer, options?: MvccOptions): Mvcc {
    const pairs: Array<[Buffer, Buffer]> = [];
    for (const [k, v] of records) {
      if (k.length > prefix.length && k.subarray(0, prefix.length).equals(prefix)) {
        pairs.push([k.subarray(prefix.length), v]);
      }
    }
    return Mvcc.build(pairs, prefix, options);
  }

  /**
   * Record keys sort in revision order (and the meta key before them), so the pairs are decoded
   * and appended one at a time in key order: no decoded record outlives its append.
   */
  private static build(pairs: Array<[Buffer, Buffer]>, prefix: Buffer, options?: MvccOptions): Mvcc {
    const m = new Mvcc(prefix, options);
    if (!isSortedByKey(pairs)) pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
    let meta: Meta | null = null;
    let lastMain = 0;
    for (const [k, v] of pairs) {
      const d = decodeRecord(k, v);
      if (d.kind === 'meta') meta = d.meta;
      else {
        m.restoreRecord(d.rec);
        lastMain = d.rec.main;
      }
    }
    if (meta === null) {
      if (m.log.length > 0) throw new Error('corrupt mvcc state: records without a meta record');
      return m;
    }
    if (lastMain > meta.revision) throw new Error('corrupt mvcc state: record past revision');
    m.currentRev = meta.revision;
    m.compactRev = meta.compactRevision;
    for (const h of m.index.histories()) {
      const lease = m.leaseAt(h, m.currentRev);
      if (lease !== 0) m.attachLease(lease, h.indexKey);
    }
    return m;
  }

  private restoreRecord(rec: Rec): void {
    const h = this.index.getOrCreate(rec.key, toIndexKey(rec.key));
    const kv = rec.kv;
    h.newest = this.log.append({
      main: rec.main,
      sub: rec.sub,
      slot: h.slot,
      prev: h.newest,
      tombstone: kv === null,
      createRevision: kv?.create_revision ?? 0,
      version: kv?.version ?? 0,
      lease: kv?.lease ?? 0,
      value: kv?.value ?? EMPTY_BUFFER,
    });
    h.count++;
    this.storedBytes += recordSizeBytes(rec);
  }

  /** Meta first, then every retained record in revision order; keys without the prefix. */
  private *rawRecords(): IterableIterator<[Buffer, Buffer]> {
    yield [metaKey(), this.encodedMeta()];
    const log = this.log;
    // Callers drain this synchronously; the bound is the length seen at the start all the same.
    const end = log.length;
    for (let id = 0; id < end; id++) {
      if (log.isDead(id)) continue;
      const rec = this.recOf(this.index.atSlot(log.slot(id)), id);
      yield [recordKey(rec.main, rec.sub), encodeRecord(rec)];
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
    const log = this.log;
    const end = log.firstAtOrAfter(upTo + 1);
    for (let id = 0; id < end; id++) {
      if (log.isDead(id)) continue;
      const rec = this.recOf(this.index.atSlot(log.slot(id)), id);
      crc.update(recordKey(rec.main, rec.sub)).update(encodeRecord(rec));
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

  /** What the in-memory history holds (a debugging and test aid; O(1) apart from summing slabs). */
  historyStats(): HistoryStats {
    return {
      keys: this.index.size,
      records: this.log.length,
      deadRecords: this.log.deadCount,
      slabs: this.log.slabCount,
      slabBytes: this.log.slabBytesTotal(),
      heapObjects: this.index.heapObjectCount() + this.log.heapObjectCount(),
      rebuilds: this.rebuilds,
    };
  }

  private assertIdle(): void {
    if (this.batch !== null) throw new Error('assertion: mvcc re-entered during a write');
  }
}

function isSortedByKey(pairs: ReadonlyArray<[Buffer, Buffer]>): boolean {
  for (let i = 1; i < pairs.length; i++) {
    if (Buffer.compare((pairs[i - 1] as [Buffer, Buffer])[0], (pairs[i] as [Buffer, Buffer])[0]) > 0)
      return false;
  }
  return true;
}
