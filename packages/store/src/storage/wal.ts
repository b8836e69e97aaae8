// The Raft log's write-ahead log (etcd's member/wal, in our own format): append-only segment files
// holding one record per durable Ready (its entries and hard state), made durable by one fdatasync.
//
// Why not LevelDB: a sync batch there costs ~0.9 ms and, while LevelDB compacts, a sync write can
// stall for seconds, which holds up the Ready loop and with it the heartbeats (an election under
// load). An fdatasync on a preallocated file costs ~0.2 ms and never waits for a compaction.
//
// Layout: <dir>/<seq:016x>-<firstIndex:016x>.wal. A segment is preallocated by extending it
// (sparse, reads as zeros) so that an fdatasync does not have to update the file size. Each segment
// starts with a head record restating the hard state and the latest log reset, so that old segments
// can be deleted once a snapshot covers their entries. Frame: u32 length, u32 CRC-32 of the payload,
// msgpack payload. A zero length marks the end of the data. Recovery follows etcd: a broken record at
// the very end of the last segment is a torn write (it holds an all-zero sector and nothing follows
// it) and is cut off; any other broken record is corruption and the member refuses to start.
import { constants, mkdirSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Entry, EntryType, HardState } from '@keelson/raft';
import { Packr } from 'msgpackr';

/** Segment size; a record larger than what is left starts a new segment (and may exceed it). */
export const SEGMENT_BYTES = 64 * 1024 * 1024;
const HEADER_BYTES = 8;
const SECTOR_BYTES = 512;
/** No record is this large (a Ready's entries are bounded by Raft's uncommitted-log limit). */
const MAX_RECORD_BYTES = 1024 * 1024 * 1024;
const SEGMENT_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
/** An inline write (see save) is taken only for a frame up to this size; larger ones use the pool. */
export const INLINE_WRITE_MAX_BYTES = 64 * 1024;

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

enum RecordType {
  Head = 1,
  Entries = 2,
  Reset = 3,
}

type EntryTuple = [term: number, index: number, type: EntryType, data: Uint8Array];
type ResetTuple = [index: number, term: number];
type HsTuple = [term: number, vote: number, commit: number];
type Payload =
  | [RecordType.Head, HsTuple | null, ResetTuple | null]
  | [RecordType.Entries, EntryTuple[], HsTuple | null]
  | [RecordType.Reset, ResetTuple, HsTuple | null];

/** A log reset: the log was replaced by a snapshot at this index (a follower installed one). */
export interface LogReset {
  readonly index: number;
  readonly term: number;
}

/** What the WAL holds, replayed: the log after the latest reset (contiguous), the latest hard state. */
export interface WalContents {
  readonly entries: Entry[];
  readonly hardState: HardState | null;
  readonly reset: LogReset | null;
  /** Bytes cut off a torn last record (0 when the WAL ended cleanly). */
  readonly tornBytes: number;
}

/** The WAL is damaged in a way that is not a torn last write. */
export class WalCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalCorruptError';
  }
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  /** The highest entry index written to it (0 for none): it may go once a snapshot covers this. */
  maxIndex: number;
}

export class Wal {
  private closed = false;
  /** Writes are strictly sequential: the next one starts after the previous one's fdatasync. */
  private busy = false;

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly segments: Segment[],
    private fh: FileHandle,
    private pos: number,
    /** Where the current segment's records start (after its head): a segment never holds only a head. */
    private headEnd: number,
    private lastIndex: number,
    private hardState: HardState | null,
    private lastReset: LogReset | null,
  ) {}

  /** Whether a directory holds any WAL segment. */
  static exists(dir: string): boolean {
    try {
      return readdirSync(dir).some((f) => SEGMENT_RE.test(f));
    } catch {
      return false;
    }
  }

  /**
   * Reads every segment, cuts off a torn last record, and opens a new segment for writing. Throws
   * WalCorruptError for anything else that does not read back as written.
   */
  static async open(
    dir: string,
    opts: { segmentBytes?: number } = {},
  ): Promise<{ wal: Wal; contents: WalContents }> {
    const segmentBytes = opts.segmentBytes ?? SEGMENT_BYTES;
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir)
      .filter((f) => SEGMENT_RE.test(f))
      .sort();
    const replay = new Replay();
    const segments: Segment[] = [];
    let tornBytes = 0;
    let nextSeq = 0;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const seq = Number.parseInt(SEGMENT_RE.exec(name)![1]!, 16);
      const path = join(dir, name);
      const last = i === names.length - 1;
      const read = readSegment(path, readFileSync(path), last, replay, i === 0);
      nextSeq = seq + 1;
      if (read.empty) {
        // Only the last segment may be empty (a crash while it was created): it is dropped.
        await unlink(path);
        continue;
      }
      segments.push({ seq, path, maxIndex: read.maxIndex });
      if (read.tornAt !== null) tornBytes = read.tornBytes;
      // Writing goes on in a new segment: the last one loses its torn record and its preallocated
      // zeros, so that it reads back quickly and cleanly.
      if (last && read.end < size(path)) {
        const fh = await open(path, 'r+');
        try {
          await fh.truncate(read.end);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    }
    const contents: WalContents = {
      entries: replay.entries,
      hardState: replay.hardState,
      reset: replay.reset,
      tornBytes,
    };
    const lastIndex = replay.lastIndex();
    const { fh, segment, pos } = await createSegment(
      dir,
      segmentBytes,
      nextSeq,
      lastIndex + 1,
      replay.hardState,
      replay.reset,
    );
    segments.push(segment);
    const wal = new Wal(dir, segmentBytes, segments, fh, pos, pos, lastIndex, replay.hardState, replay.reset);
    return { wal, contents };
  }

  /**
   * Appends entries (which replace any suffix from their first index) and the hard state; durable.
   *
   * `inline` asks for the write to be made on the calling thread (a synchronous O_DSYNC write) instead
   * of on libuv's thread pool. For a small record on a lightly loaded member that saves the two thread
   * hand-offs a pooled write costs (to a pool thread and back through the event loop), which on a
   * two-core machine shared by several members are where a lone request loses most of its time. It
   * blocks the event loop for the write, so the caller asks for it only when nothing is waiting
   * (raft_loop.ts decides); a frame above INLINE_WRITE_MAX_BYTES or one that starts a new segment
   * goes to the pool anyway. Resolves with whether the write was made inline.
   */
  async save(entries: readonly Entry[], hs: HardState | null, inline = false): Promise<boolean> {
    if (entries.length === 0 && hs === null) return false;
    const tuples = entries.map((e): EntryTuple => [e.term, e.index, e.type, e.data]);
    const wroteInline = await this.append(
      [RecordType.Entries, tuples, hs === null ? null : hsTuple(hs)],
      inline,
    );
    if (entries.length > 0) {
      this.lastIndex = entries[entries.length - 1]!.index;
      const seg = this.segments[this.segments.length - 1]!;
      seg.maxIndex = Math.max(seg.maxIndex, this.lastIndex);
    }
    if (hs !== null) this.hardState = hs;
    return wroteInline;
  }

  /** Records that the log was replaced by a snapshot at (index, term); durable. */
  async reset(index: number, term: number, hs: HardState | null): Promise<void> {
    await this.append([RecordType.Reset, [index, term], hs === null ? null : hsTuple(hs)]);
    this.lastReset = { index, term };
    this.lastIndex = index;
    if (hs !== null) this.hardState = hs;
  }

  /**
   * Deletes the oldest segments whose entries are all at or below `index` (covered by a snapshot that
   * is already durable elsewhere); never the segment being written. Returns how many went.
   */
  async release(index: number): Promise<number> {
    let n = 0;
    while (this.segments.length > 1 && this.segments[0]!.maxIndex <= index) {
      const seg = this.segments.shift()!;
      await unlink(seg.path);
      n++;
    }
    return n;
  }

  /** Segment files currently kept (for metrics and tests). */
  segmentCount(): number {
    return this.segments.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }

  /** Writes one record, durably; returns whether it was written inline (see save). */
  private async append(payload: Payload, inline = false): Promise<boolean> {
    if (this.closed) throw new Error('WAL is closed');
    if (this.busy) throw new Error('WAL writes must not overlap');
    this.busy = true;
    try {
      const frame = encodeFrame(payload);
      const rollover = this.pos + frame.length > this.segmentBytes && this.pos > this.headEnd;
      if (rollover) await this.rollover();
      // The segment is opened with O_DSYNC: the write returns once the data is durable (one trip to
      // the thread pool, or none inline, instead of a write and an fdatasync).
      const wroteInline = inline && !rollover && frame.length <= INLINE_WRITE_MAX_BYTES;
      await writeAll(this.fh, frame, this.pos, wroteInline);
      this.pos += frame.length;
      return wroteInline;
    } finally {
      this.busy = false;
    }
  }

  private async rollover(): Promise<void> {
    const prev = this.segments[this.segments.length - 1]!;
    // The finished segment loses its unused preallocated tail (it is read to its end on recovery).
    await this.fh.truncate(this.pos);
    await this.fh.sync();
    await this.fh.close();
    const next = await createSegment(
      this.dir,
      this.segmentBytes,
      prev.seq + 1,
      this.lastIndex + 1,
      this.hardState,
      this.lastReset,
    );
    this.fh = next.fh;
    this.pos = next.pos;
    this.headEnd = next.pos;
    this.segments.push(next.segment);
  }
}

/** Replays records in order into the log they describe. */
class Replay {
  entries: Entry[] = [];
  hardState: HardState | null = null;
  reset: LogReset | null = null;
  /** Nothing has been read yet: the first head record sets the base (older segments were released). */
  private first = true;
  /** A reset record was just read: the next entries must continue the log at reset + 1. */
  private afterReset = false;

  lastIndex(): number {
    const last = this.entries[this.entries.length - 1];
    return last?.index ?? this.reset?.index ?? 0;
  }

  apply(p: Payload, where: string): number {
    let maxIndex = 0;
    switch (p[0]) {
      case RecordType.Head:
        if (this.first && p[2] !== null) this.reset = { index: p[2][0], term: p[2][1] };
        break;
      case RecordType.Entries: {
        const tuples = p[1];
        if (tuples.length > 0) {
          const firstIndex = tuples[0]![1];
          this.truncateFrom(firstIndex, where);
          for (const [term, index, type, data] of tuples) {
            const prev = this.entries[this.entries.length - 1];
            if (prev !== undefined && index !== prev.index + 1) {
              throw new WalCorruptError(`${where}: entry ${index} does not follow entry ${prev.index}`);
            }
            this.entries.push({ term, index, type, data: data ?? new Uint8Array(0) });
          }
          maxIndex = tuples[tuples.length - 1]![1];
          this.afterReset = false;
        }
        break;
      }
      case RecordType.Reset:
        this.entries = [];
        this.reset = { index: p[1][0], term: p[1][1] };
        this.afterReset = true;
        break;
      default:
        throw new WalCorruptError(`${where}: unknown record type ${String((p as unknown[])[0])}`);
    }
    const hs = p[0] === RecordType.Head ? p[1] : p[2];
    if (hs !== null) this.hardState = { term: hs[0], vote: hs[1], commit: hs[2] };
    this.first = false;
    return maxIndex;
  }

  /** Entries from `index` on are replaced (a new leader overwrote an uncommitted suffix). */
  private truncateFrom(index: number, where: string): void {
    if (this.entries.length === 0) {
      // After a reset the log continues at reset + 1; otherwise (older segments were released) the
      // first entries read may start anywhere.
      const base = this.reset?.index ?? 0;
      if (this.afterReset && index !== base + 1) {
        throw new WalCorruptError(`${where}: entry ${index} does not follow the log reset at ${base}`);
      }
      return;
    }
    const first = this.entries[0]!.index;
    const last = this.entries[this.entries.length - 1]!.index;
    if (index > last + 1) throw new WalCorruptError(`${where}: gap in the log: entry ${index} after ${last}`);
    if (index <= first) this.entries = [];
    else this.entries.length = index - first;
  }
}

interface SegmentRead {
  maxIndex: number;
  /** Where a torn last record starts (the segment is cut there), or null. */
  tornAt: number | null;
  tornBytes: number;
  /** No record at all: a crash while the segment was being created. */
  empty: boolean;
  /** Where the intact records end. */
  end: number;
}

function readSegment(
  path: string,
  buf: Buffer,
  last: boolean,
  replay: Replay,
  firstSegment: boolean,
): SegmentRead {
  let pos = 0;
  let maxIndex = 0;
  let records = 0;
  while (pos + HEADER_BYTES <= buf.length) {
    const len = buf.readUInt32BE(pos);
    if (len === 0) break;
    const end = pos + HEADER_BYTES + len;
    const where = `${path} at offset ${pos}`;
    const intact =
      len <= MAX_RECORD_BYTES &&
      end <= buf.length &&
      crc32(buf.subarray(pos + HEADER_BYTES, end)) === buf.readUInt32BE(pos + 4);
    if (!intact) {
      if (last && isTornTail(buf, pos, len))
        return {
          maxIndex,
          tornAt: pos,
          tornBytes: Math.min(buf.length, end) - pos,
          empty: records === 0,
          end: pos,
        };
      throw new WalCorruptError(`${where}: record fails its checksum (the WAL is corrupted)`);
    }
    let payload: Payload;
    try {
      payload = packr.unpack(buf.subarray(pos + HEADER_BYTES, end)) as Payload;
    } catch (e) {
      throw new WalCorruptError(`${where}: undecodable record: ${(e as Error).message}`);
    }
    if (!Array.isArray(payload)) throw new WalCorruptError(`${where}: malformed record`);
    if (records === 0 && payload[0] !== RecordType.Head) {
      throw new WalCorruptError(`${where}: segment does not start with a head record`);
    }
    if (records === 0 && !firstSegment) {
      // Later heads restate what is already known; only their hard state matters.
      replay.apply([RecordType.Head, payload[1] as HsTuple | null, null], where);
    } else {
      maxIndex = Math.max(maxIndex, replay.apply(payload, where));
    }
    records++;
    pos = end;
  }
  if (records === 0 && !last) throw new WalCorruptError(`${path}: segment holds no record`);
  return { maxIndex, tornAt: null, tornBytes: 0, empty: records === 0, end: pos };
}

/**
 * A torn write (power loss mid-write) leaves the last record partly written: some of its sectors are
 * still zero, and nothing but zeros follows it. Anything else is corruption (etcd's isTornEntry).
 */
function isTornTail(buf: Buffer, pos: number, len: number): boolean {
  if (len > MAX_RECORD_BYTES) return false;
  const end = Math.min(buf.length, pos + HEADER_BYTES + len);
  for (let i = end; i < buf.length; i++) if (buf[i] !== 0) return false;
  if (pos + HEADER_BYTES + len > buf.length) return true;
  const firstSector = Math.ceil((pos + HEADER_BYTES) / SECTOR_BYTES) * SECTOR_BYTES;
  for (let s = firstSector; s + SECTOR_BYTES <= end; s += SECTOR_BYTES) {
    let zero = true;
    for (let i = s; i < s + SECTOR_BYTES && zero; i++) zero = buf[i] === 0;
    if (zero) return true;
  }
  return false;
}

function hsTuple(hs: HardState): HsTuple {
  return [hs.term, hs.vote, hs.commit];
}

function encodeFrame(payload: Payload): Buffer {
  const body = packr.pack(payload);
  if (body.length === 0 || body.length > MAX_RECORD_BYTES)
    throw new Error(`WAL record of ${body.length} bytes`);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.writeUInt32BE(crc32(body), 4);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * Writes the whole buffer at pos. `inline`: with writeSync on this thread, so that the bytes are written
 * before the first await (Wal.save); otherwise on the thread pool.
 */
async function writeAll(fh: FileHandle, buf: Buffer, pos: number, inline = false): Promise<void> {
  let off = 0;
  for (let i = 0; off < buf.length; i++) {
    if (i > 1000) throw new Error('WAL write made no progress');
    off += inline
      ? writeSync(fh.fd, buf, off, buf.length - off, pos + off)
      : (await fh.write(buf, off, buf.length - off, pos + off)).bytesWritten;
  }
}

/** Creates, preallocates and syncs a new segment (and its directory entry); writes its head record. */
async function createSegment(
  dir: string,
  segmentBytes: number,
  seq: number,
  firstIndex: number,
  hs: HardState | null,
  reset: LogReset | null,
): Promise<{ fh: FileHandle; segment: Segment; pos: number }> {
  const name = `${hex16(seq)}-${hex16(firstIndex)}.wal`;
  const path = join(dir, name);
  const fh = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC);
  try {
    await fh.truncate(segmentBytes);
    const head = encodeFrame([
      RecordType.Head,
      hs === null ? null : hsTuple(hs),
      reset === null ? null : [reset.index, reset.term],
    ]);
    await writeAll(fh, head, 0);
    await fh.sync();
    await syncDir(dir);
    return { fh, segment: { seq, path, maxIndex: 0 }, pos: head.length };
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

function size(path: string): number {
  return statSync(path).size;
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}
