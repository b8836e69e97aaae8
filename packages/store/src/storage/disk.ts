// The member's durable state, in two parts (as etcd has its WAL and its bbolt backend):
// - the Raft log and hard state in a write-ahead log (member/raft, see wal.ts): one fdatasync per
//   durable Ready;
// - one level database (member/keelson.db) holding the snapshot metadata, the applied index and the
//   whole state machine (MVCC, leases, members), so that an apply and its applied index commit in one
//   atomic batch. It is written behind the Ready loop without sync: after a crash it may be behind,
//   and the WAL replays what it lacks. It is synced before WAL segments are released.
//
// LevelDB does not verify block checksums on reads by default and, without paranoid checks, skips
// corrupted log records on open. A store that silently lost records would be worse than one that
// refuses to start, so every value carries its own CRC-32 and the whole database is read and
// verified at start-up (the state machine lives in memory anyway, so this read is needed).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ConfState, Entry, HardState, SnapshotMetadata } from '@keelson/raft';
import { Level } from 'level';
import { Packr } from 'msgpackr';
import { type LogReset, Wal, type WalContents, WalCorruptError } from './wal.js';

export const FORMAT = 'keelson-store-v2';
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Key prefixes. Big-endian fixed-width numbers so that level's byte order is numeric order. */
export const K = {
  meta: Buffer.from('x/meta'),
  snapMeta: Buffer.from('r/snap'),
  applied: Buffer.from('a/applied'),
  /** The state machine's records (MVCC, leases, members, alarms) live under s/. */
  statePrefix: Buffer.from('s/'),
} as const;

/**
 * LevelDB's sizes, set for how the member uses it: a write-mostly log of the state machine (which lives
 * in memory), read back whole only at start-up.
 * - Table blocks of 64 KiB, not 4 KiB: LevelDB writes a table one block per write(2), so a memtable
 *   flush or a compaction of small blocks is mostly system calls (at 256 clients its background thread
 *   spent 10 % of a member's CPU on them). Point reads, which larger blocks make dearer, do not happen
 *   here.
 * - A 16 MiB memtable, not 4 MiB: new revisions are appended in key order, so fewer, larger level-0
 *   tables mean less merging per byte. It costs up to twice that in memory (the memtable being flushed
 *   and the next one), and a longer replay of LevelDB's own log after a crash.
 * Measured in bench/results/profile-put-cpu-2026-11-30.md.
 */
export const LEVEL_TUNING = { blockSize: 64 * 1024, writeBufferSize: 16 * 1024 * 1024 } as const;

export interface DiskMeta {
  readonly format: string;
  readonly clusterId: number;
  readonly memberId: number;
  readonly name: string;
  readonly token: string;
}

export interface AppliedState {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** classic-level's chained batch, through the private methods every abstract-level batch provides. */
interface PrivateChainedBatch {
  _put(key: Buffer, value: Buffer): void;
  _del(key: Buffer): void;
  _write(options: { sync: boolean }): Promise<void>;
  _clear(): void;
}

interface PrivateBatch {
  _batch(
    ops: ReadonlyArray<{ type: 'put' | 'del'; key: Buffer; value?: Buffer }>,
    options: { sync: boolean },
  ): Promise<void>;
}

export interface BatchOp {
  readonly type: 'put' | 'del';
  readonly key: Buffer;
  readonly value?: Buffer;
  /**
   * Optional: value's own buffer starting 4 bytes earlier (value === sealed.subarray(4)); write()
   * fills those bytes with the CRC and stores sealed as it is, saving seal's allocation and copy.
   */
  readonly sealed?: Buffer;
}

/** Everything a member needs to resume, read and verified. */
export interface LoadedState {
  readonly meta: DiskMeta;
  readonly hardState: HardState;
  readonly snapMeta: SnapshotMetadata | null;
  readonly entries: Entry[];
  readonly applied: AppliedState | null;
  /** Records under s/ with the s/ prefix kept, in key order. */
  readonly stateRecords: Array<[Buffer, Buffer]>;
  /** Bytes of a torn last WAL record that were cut off (0 when the WAL ended cleanly). */
  readonly walTornBytes: number;
}

/** A data dir the member must refuse: corrupted, foreign, or not Keelson's. */
export class DataDirError extends Error {
  constructor(
    readonly dataDir: string,
    problem: string,
  ) {
    super(`data dir ${dataDir}: ${problem}`);
    this.name = 'DataDirError';
  }
}

/** Prefixes the value with its CRC-32 (4 bytes, big-endian). */
export function seal(value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(value.length + 4);
  out.writeUInt32BE(crc32(value), 0);
  out.set(value, 4);
  return out;
}

/** seal() in place: `sealed` is value's buffer with 4 spare bytes in front; writes the CRC there. */
export function sealInPlace(sealed: Buffer, value: Buffer): Buffer {
  if (
    sealed.buffer !== value.buffer ||
    sealed.byteOffset + 4 !== value.byteOffset ||
    sealed.length !== value.length + 4
  ) {
    throw new Error("assertion: a batch op's sealed buffer does not hold its value after a 4-byte slot");
  }
  sealed.writeUInt32BE(crc32(value), 0);
  return sealed;
}

function sealOp(op: BatchOp): Buffer {
  const value = op.value ?? Buffer.alloc(0);
  return op.sealed === undefined ? seal(value) : sealInPlace(op.sealed, value);
}

function sealedOp(op: BatchOp): { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer } {
  return op.type === 'put' ? { type: 'put', key: op.key, value: sealOp(op) } : { type: 'del', key: op.key };
}

function unseal(key: Buffer, sealed: Buffer, where: string): Buffer {
  if (sealed.length < 4) throw new Error(`${where}: record ${printable(key)} is truncated`);
  const value = sealed.subarray(4);
  if (crc32(value) !== sealed.readUInt32BE(0)) {
    throw new Error(`${where}: checksum mismatch in record ${printable(key)} (the database is corrupted)`);
  }
  return value;
}

function printable(key: Buffer): string {
  return JSON.stringify(key.toString('latin1'));
}

export function encodeValue(v: unknown): Buffer {
  return packr.pack(v);
}

export function decodeValue<T>(b: Buffer): T {
  return packr.unpack(b) as T;
}

export class Disk {
  /**
   * State writes staged for the next write (stage, writeStaged). Each op is copied into a native LevelDB
   * batch when it is staged, one call with two Buffers (_batch instead reads type, key and value of each
   * op object by name through N-API: 0.8 against 0.47 µs per op). Staging as the ops are made, rather
   * than all at once when the batch is due, keeps them off the JS heap for the batch interval (they
   * outlived a scavenge, were promoted and had to be marked) and spreads the copying over the applies:
   * at one client, copying a due batch of 400-700 ops held a member's event loop for 0.6-0.8 ms every
   * 100 ms. Two native batches take turns, one filling while the other is written; each keeps its
   * buffer's capacity.
   */
  private filling: PrivateChainedBatch | null = null;
  private spare: PrivateChainedBatch | null = null;
  private stagedCount = 0;
  private stagedWriting = false;

  private walContents: WalContents | null;

  private constructor(
    readonly dataDir: string,
    readonly db: Level<Buffer, Buffer>,
    private readonly wal: Wal,
    walContents: WalContents,
  ) {
    this.walContents = walContents;
  }

  /** The database directory inside a data dir. */
  static dbPath(dataDir: string): string {
    return join(dataDir, 'member', 'keelson.db');
  }

  /** The WAL directory inside a data dir (not member/wal: that name marks an etcd data dir). */
  static walPath(dataDir: string): string {
    return join(dataDir, 'member', 'raft');
  }

  /** Whether the data dir already holds a member (then the initial-cluster flags are ignored, as in etcd). */
  static exists(dataDir: string): boolean {
    return existsSync(Disk.dbPath(dataDir));
  }

  /**
   * Opens the member's database. A fresh data dir gets an empty database; an existing one must open
   * cleanly (never recreated), and a data dir of something else is refused.
   */
  static async open(dataDir: string): Promise<Disk> {
    if (existsSync(join(dataDir, 'member', 'wal')) || existsSync(join(dataDir, 'member', 'snap'))) {
      throw new DataDirError(
        dataDir,
        'holds an etcd data dir (member/wal, member/snap); Keelson cannot read it',
      );
    }
    const path = Disk.dbPath(dataDir);
    const walPath = Disk.walPath(dataDir);
    const fresh = !existsSync(path);
    if (fresh && Wal.exists(walPath)) {
      throw new DataDirError(
        dataDir,
        `${walPath} holds a Raft log but ${path} is missing; refusing to start`,
      );
    }
    if (!fresh && !Wal.exists(walPath)) {
      throw new DataDirError(
        dataDir,
        `${path} exists but its Raft log ${walPath} is missing; refusing to start`,
      );
    }
    if (!fresh && !existsSync(join(path, 'CURRENT'))) {
      const files = readdirSync(path).join(', ') || 'nothing';
      throw new DataDirError(
        dataDir,
        `${path} has no CURRENT file (it holds ${files}); refusing to start empty`,
      );
    }
    const db = new Level<Buffer, Buffer>(path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      createIfMissing: fresh,
      errorIfExists: false,
      ...LEVEL_TUNING,
    });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new DataDirError(dataDir, `cannot open ${path}: ${cause}`);
    }
    // Without paranoid checks (classic-level does not expose them), LevelDB skips a corrupted record
    // of its own log on recovery and only says so in its info LOG: read that and refuse.
    const complaint = leveldbCorruption(path);
    if (complaint !== null) {
      await db.close().catch(() => {});
      throw new DataDirError(dataDir, `LevelDB found corruption while opening ${path}: ${complaint}`);
    }
    try {
      const { wal, contents } = await Wal.open(walPath);
      return new Disk(dataDir, db, wal, contents);
    } catch (e) {
      await db.close().catch(() => {});
      if (e instanceof WalCorruptError) throw new DataDirError(dataDir, e.message);
      throw new DataDirError(dataDir, `cannot open the Raft log ${walPath}: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.wal.close();
    await this.db.close();
  }

  /**
   * Appends entries (replacing any suffix from their first index) and the hard state; durable.
   * `inline`: write on the calling thread if the record is small (Wal.save); resolves with whether it was.
   */
  appendLog(entries: readonly Entry[], hs: HardState | null, inline = false): Promise<boolean> {
    return this.wal.save(entries, hs, inline);
  }

  /**
   * Records that the log was replaced by an installed snapshot; durable. The state database must
   * already hold the snapshot's state, synced (see load: a lost reset record is recognised).
   */
  resetLog(index: number, term: number, hs: HardState | null): Promise<void> {
    return this.wal.reset(index, term, hs);
  }

  /** Deletes WAL segments whose entries are all at or below `index`; the state must be synced first. */
  releaseLog(index: number): Promise<number> {
    return this.wal.release(index);
  }

  walSegments(): number {
    return this.wal.segmentCount();
  }

  /** Reads and verifies everything; returns null for a database that was never initialised. */
  async load(): Promise<LoadedState | null> {
    try {
      return await this.loadUnchecked();
    } catch (e) {
      if (e instanceof DataDirError) throw e;
      throw new DataDirError(this.dataDir, (e as Error).message);
    }
  }

  private async loadUnchecked(): Promise<LoadedState | null> {
    const where = Disk.dbPath(this.dataDir);
    const get = async (key: Buffer): Promise<Buffer | null> => {
      const v = await this.db.get(key);
      return v === undefined ? null : unseal(key, v, where);
    };
    const metaBytes = await get(K.meta);
    if (metaBytes === null) {
      for await (const _ of this.db.keys({ limit: 1 })) {
        throw new DataDirError(
          this.dataDir,
          `${where} has records but no Keelson metadata; not a Keelson data dir`,
        );
      }
      return null;
    }
    const meta = decodeValue<DiskMeta>(metaBytes);
    if (meta.format !== FORMAT) {
      throw new DataDirError(
        this.dataDir,
        `unknown format ${JSON.stringify(meta.format)} (expected ${FORMAT})`,
      );
    }
    const snapBytes = await get(K.snapMeta);
    const applied = await get(K.applied);
    const snap = snapBytes === null ? null : decodeValue<SnapshotMetadata>(snapBytes);
    const wal = this.walContents;
    if (wal === null) throw new Error('the Raft log was already loaded');
    this.walContents = null;
    const { entries, hardState } = logAfterSnapshot(wal, snap);
    const stateRecords: Array<[Buffer, Buffer]> = [];
    for await (const [k, v] of this.db.iterator({ gte: K.statePrefix, lt: prefixEnd(K.statePrefix) })) {
      stateRecords.push([k, unseal(k, v, where)]);
    }
    const state: LoadedState = {
      meta,
      hardState,
      snapMeta: snap,
      entries,
      walTornBytes: wal.tornBytes,
      applied: applied === null ? null : decodeValue<AppliedState>(applied),
      stateRecords,
    };
    verifyLoaded(state, where);
    return state;
  }

  /** Writes the identity of a new member; sync, before anything else is written. */
  async initialise(meta: DiskMeta): Promise<void> {
    await this.db.batch([{ type: 'put', key: K.meta, value: seal(encodeValue(meta)) }], { sync: true });
  }

  /**
   * Writes a batch atomically. Values are sealed here; `sync` forces it (and everything written
   * before it, since LevelDB has one log) to disk before the promise resolves.
   */
  async write(ops: readonly BatchOp[], sync: boolean): Promise<void> {
    if (ops.length === 0) return;
    const sealed = ops.map(sealedOp);
    // abstract-level's public batch() clones every operation and looks up its encodings (2 KB of garbage and
    // ~5 % of a leader's CPU under load); our keys and values are Buffers already, so an open database
    // takes them through _batch, the documented private API every abstract-level implementation provides
    // (classic-level's reads only type, key and value).
    if (this.db.status === 'open') await (this.db as unknown as PrivateBatch)._batch(sealed, { sync });
    else await this.db.batch(sealed, { sync });
  }

  /** Stages ops for the next writeStaged: sealed and copied out of the JS heap now. */
  stage(ops: readonly BatchOp[]): void {
    if (ops.length === 0) return;
    // A member stages only between open and close (it drains before it closes).
    if (this.db.status !== 'open')
      throw new Error(`cannot stage state writes: the database is ${this.db.status}`);
    if (this.filling === null) {
      this.filling =
        this.spare ?? (this.db as unknown as { _chainedBatch(): PrivateChainedBatch })._chainedBatch();
      this.spare = null;
    }
    const batch = this.filling;
    for (const op of ops) {
      if (op.type === 'put') batch._put(op.key, sealOp(op));
      else batch._del(op.key);
    }
    this.stagedCount += ops.length;
  }

  /** How many ops are staged and not yet being written. */
  get staged(): number {
    return this.stagedCount;
  }

  /**
   * Writes everything staged so far as one atomic batch; ops staged meanwhile wait for the next call.
   * One at a time: the caller (the Ready loop's flush) never overlaps two.
   */
  async writeStaged(sync: boolean): Promise<void> {
    if (this.stagedWriting) throw new Error('assertion failed: writeStaged called while one is in flight');
    const batch = this.filling;
    if (batch === null) return;
    this.filling = null;
    this.stagedCount = 0;
    this.stagedWriting = true;
    try {
      await batch._write({ sync });
    } finally {
      this.stagedWriting = false;
      batch._clear();
      this.spare = batch;
    }
  }

  /** Keys under a prefix (to delete a range in a batch: level has no atomic range delete). */
  async keysUnder(prefix: Buffer): Promise<Buffer[]> {
    const keys: Buffer[] = [];
    for await (const k of this.db.keys({ gte: prefix, lt: prefixEnd(prefix) })) keys.push(k);
    return keys;
  }

  async compactRange(): Promise<void> {
    // classic-level exposes LevelDB's CompactRange as compactRange(start, end).
    const db = this.db as unknown as { compactRange?: (a: Buffer, b: Buffer) => Promise<void> };
    if (db.compactRange !== undefined) await db.compactRange(Buffer.from([0]), Buffer.from([0xff]));
  }
}

/**
 * The log that continues the state database's snapshot. The WAL's log matches the snapshot when it
 * holds the snapshot's entry (same index and term) or was reset at it. Otherwise a follower installed
 * the snapshot and crashed before the WAL's reset record was durable: the WAL's entries belong to the
 * replaced log and are dropped (the install was never acknowledged, so the leader sends it again).
 */
function logAfterSnapshot(
  wal: WalContents,
  snap: SnapshotMetadata | null,
): { entries: Entry[]; hardState: HardState } {
  const hs = wal.hardState ?? { term: 0, vote: 0, commit: 0 };
  if (snap === null) return { entries: wal.entries, hardState: hs };
  const at = (r: LogReset | null): boolean => r !== null && r.index === snap.index && r.term === snap.term;
  const first = wal.entries[0]?.index ?? 0;
  const own = wal.entries[snap.index - first];
  const matches = at(wal.reset) || (own !== undefined && own.index === snap.index && own.term === snap.term);
  const lastWal = wal.entries[wal.entries.length - 1]?.index ?? wal.reset?.index ?? 0;
  if (matches || lastWal < snap.index) {
    return { entries: wal.entries.filter((e) => e.index > snap.index), hardState: hs };
  }
  return { entries: [], hardState: { ...hs, commit: Math.min(hs.commit, snap.index) } };
}

function leveldbCorruption(dbPath: string): string | null {
  let text: string;
  try {
    text = readFileSync(join(dbPath, 'LOG'), 'utf8');
  } catch {
    return null;
  }
  const bad = text.split('\n').filter((l) => /corruption|dropping/i.test(l));
  return bad.length === 0
    ? null
    : bad
        .slice(0, 3)
        .map((l) => l.trim())
        .join('; ');
}

export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = end[end.length - 1]! + 1;
  return end;
}

/** The invariants that tie the log, the hard state and the applied index together. */
function verifyLoaded(s: LoadedState, where: string): void {
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
  const snapIndex = s.snapMeta?.index ?? 0;
  let expected = snapIndex + 1;
  // Entries at or below the snapshot index may remain (kept for slow followers); they are not needed.
  for (const e of s.entries) {
    if (e.index <= snapIndex) continue;
    if (e.index !== expected) fail(`raft log has a gap: expected entry ${expected}, found ${e.index}`);
    expected++;
  }
  const last = expected - 1;
  if (s.hardState.commit > last)
    fail(`hard state commit ${s.hardState.commit} is beyond the last entry ${last}`);
  // The applied index may be ahead of the stored commit (commit-only hard states are not written);
  // it may not be ahead of the log, since only durable, committed entries are applied.
  const applied = s.applied?.index ?? 0;
  if (applied > last && applied > snapIndex)
    fail(`applied index ${applied} is beyond the last entry ${last}`);
}
