// The member's durable state: ONE level database per member holding the Raft log, the hard state,
// the snapshot metadata, the applied index and the whole state machine (MVCC, leases, members), so
// that an apply and its applied index commit in one atomic batch.
//
// LevelDB does not verify block checksums on reads by default and, without paranoid checks, skips
// corrupted log records on open. A store that silently lost records would be worse than one that
// refuses to start, so every value carries its own CRC-32 and the whole database is read and
// verified at start-up (the state machine lives in memory anyway, so this read is needed).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from '@keelson/raft';
import { Level } from 'level';
import { Packr } from 'msgpackr';

export const FORMAT = 'keelson-store-v1';
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Key prefixes. Big-endian fixed-width numbers so that level's byte order is numeric order. */
export const K = {
  meta: Buffer.from('x/meta'),
  hardState: Buffer.from('r/hs'),
  snapMeta: Buffer.from('r/snap'),
  entryPrefix: Buffer.from('r/e/'),
  applied: Buffer.from('a/applied'),
  /** The state machine's records (MVCC, leases, members, alarms) live under s/. */
  statePrefix: Buffer.from('s/'),
} as const;

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

export interface BatchOp {
  readonly type: 'put' | 'del';
  readonly key: Buffer;
  readonly value?: Buffer;
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

export function entryKey(index: number): Buffer {
  const b = Buffer.allocUnsafe(K.entryPrefix.length + 8);
  K.entryPrefix.copy(b, 0);
  b.writeBigUInt64BE(BigInt(index), K.entryPrefix.length);
  return b;
}

/** Prefixes the value with its CRC-32 (4 bytes, big-endian). */
export function seal(value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(value.length + 4);
  out.writeUInt32BE(crc32(value), 0);
  out.set(value, 4);
  return out;
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

export function encodeEntry(e: Entry): Buffer {
  return seal(packr.pack([e.term, e.index, e.type, e.data]));
}

function decodeEntry(b: Buffer): Entry {
  const [term, index, type, data] = packr.unpack(b) as [number, number, EntryType, Uint8Array];
  return { term, index, type, data: data ?? new Uint8Array(0) };
}

export class Disk {
  private constructor(
    readonly dataDir: string,
    readonly db: Level<Buffer, Buffer>,
  ) {}

  /** The database directory inside a data dir. */
  static dbPath(dataDir: string): string {
    return join(dataDir, 'member', 'keelson.db');
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
    const fresh = !existsSync(path);
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
    return new Disk(dataDir, db);
  }

  async close(): Promise<void> {
    await this.db.close();
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
    const hs = await get(K.hardState);
    const snap = await get(K.snapMeta);
    const applied = await get(K.applied);
    const entries: Entry[] = [];
    for await (const [k, v] of this.db.iterator({ gte: K.entryPrefix, lt: prefixEnd(K.entryPrefix) })) {
      entries.push(decodeEntry(unseal(k, v, where)));
    }
    const stateRecords: Array<[Buffer, Buffer]> = [];
    for await (const [k, v] of this.db.iterator({ gte: K.statePrefix, lt: prefixEnd(K.statePrefix) })) {
      stateRecords.push([k, unseal(k, v, where)]);
    }
    const state: LoadedState = {
      meta,
      hardState: hs === null ? { term: 0, vote: 0, commit: 0 } : decodeValue<HardState>(hs),
      snapMeta: snap === null ? null : decodeValue<SnapshotMetadata>(snap),
      entries,
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
    const sealed = ops.map((op) =>
      op.type === 'put'
        ? { type: 'put' as const, key: op.key, value: seal(op.value ?? Buffer.alloc(0)) }
        : { type: 'del' as const, key: op.key },
    );
    await this.db.batch(sealed, { sync });
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
