// The MVCC history in pointer-free memory. Why: with the history as objects (a record, a KeyValue
// and a value Buffer per revision) a 2M-revision store is ~10M heap objects, and marking them in a
// major GC stalled the raft leader's main thread for seconds (bench/results/soak-2026-11-30T1150Z.md).
// Here a revision costs no heap object at all:
// - every field of a record is one slot of a growable typed-array column, indexed by a record id;
// - value bytes are appended to large Buffer slabs (allocUnsafeSlow: own ArrayBuffers, not pool
//   slices) addressed by (slab, offset, length); a slab is never written after the append, so
//   values handed out are subarray views, not copies;
// - records are appended in (main, sub) order, so ids are in revision order and "every record
//   from revision r on" is a range of ids found by binary search on the main column;
// - each record links to the previous record of the same key (`prev`), so a key's history is a
//   chain walked from its newest record; keys themselves live in KeyIndex, one object per key.
// Typed arrays and slabs keep their contents in ArrayBuffer backing stores, which the GC never scans.
// Removing records is `kill` (a flag); `rebuilt` copies the live records into a fresh log.
import { EMPTY_BUFFER } from './bytes.js';

export const NO_RECORD = -1;
/** Record ids are int32 (the prev column); the last one is kept free as a sentinel margin. */
export const RECORDS_MAX = 2 ** 31 - 2;
/** A slab's byte offsets are int32 too. */
const SLAB_BYTES_MAX = 2 ** 31 - 1;
export const SLAB_BYTES_DEFAULT = 8 * 1024 * 1024;
/** Slabs start small and double up to the slab size, so a small store stays small. */
const SLAB_BYTES_FIRST = 64 * 1024;
const CAPACITY_MIN = 1024;
const SLABS_MAX = 2 ** 31 - 1;

const FLAG_TOMBSTONE = 1;
const FLAG_DEAD = 2;

/** One record's fields as appended; value is ignored for a tombstone. */
export interface RecordFields {
  readonly main: number;
  readonly sub: number;
  readonly slot: number;
  readonly prev: number;
  readonly tombstone: boolean;
  readonly createRevision: number;
  readonly version: number;
  readonly lease: number;
  readonly value: Buffer;
}

function grown<A extends Float64Array | Int32Array | Uint8Array>(a: A, capacity: number): A {
  const b = new (a.constructor as new (n: number) => A)(capacity);
  b.set(a);
  return b;
}

export class RecordLog {
  // Columns, all of length `capacity`; ids [0, count) are used. Invariant: main/sub ascending.
  private capacity: number;
  private mains: Float64Array;
  private subs: Int32Array;
  /** The KeyIndex slot of the record's key. Only meaningful while the record is not dead. */
  private slots: Int32Array;
  /** The same key's next-older retained record, or NO_RECORD. Invariant: prevs[id] < id. */
  private prevs: Int32Array;
  private creates: Float64Array;
  private versions: Float64Array;
  private leases: Float64Array;
  private valueSlabs: Int32Array;
  private valueOffsets: Int32Array;
  private valueLengths: Int32Array;
  private flags: Uint8Array;
  private count = 0;
  private dead = 0;
  private readonly slabs: Buffer[] = [];
  /** Write position in the last slab. */
  private slabUsedBytes = 0;
  private liveValueBytes = 0;

  constructor(
    private readonly slabBytes: number = SLAB_BYTES_DEFAULT,
    capacity: number = CAPACITY_MIN,
  ) {
    if (!Number.isInteger(slabBytes) || slabBytes < 1 || slabBytes > SLAB_BYTES_MAX)
      throw new Error(`assertion: bad slab size ${slabBytes}`);
    this.capacity = Math.max(CAPACITY_MIN, capacity);
    this.mains = new Float64Array(this.capacity);
    this.subs = new Int32Array(this.capacity);
    this.slots = new Int32Array(this.capacity);
    this.prevs = new Int32Array(this.capacity);
    this.creates = new Float64Array(this.capacity);
    this.versions = new Float64Array(this.capacity);
    this.leases = new Float64Array(this.capacity);
    this.valueSlabs = new Int32Array(this.capacity);
    this.valueOffsets = new Int32Array(this.capacity);
    this.valueLengths = new Int32Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
  }

  /** Number of ids in use, dead ones included. */
  get length(): number {
    return this.count;
  }

  get deadCount(): number {
    return this.dead;
  }

  get slabCount(): number {
    return this.slabs.length;
  }

  /** Bytes held by slabs, live or not. */
  slabBytesTotal(): number {
    let n = 0;
    for (const s of this.slabs) n += s.length;
    return n;
  }

  /** Bytes of the values of records not dead (what a rebuild would copy). */
  get liveBytes(): number {
    return this.liveValueBytes;
  }

  /** Heap objects this log holds: 11 columns and their ArrayBuffers, the slab list, 2 per slab. */
  heapObjectCount(): number {
    return 2 * 11 + 1 + 2 * this.slabs.length;
  }

  append(f: RecordFields): number {
    const id = this.count;
    if (id >= RECORDS_MAX) throw new Error('assertion: record log is full (2^31 records)');
    if (id > 0) {
      const pm = this.mains[id - 1] as number;
      if (f.main < pm || (f.main === pm && f.sub <= (this.subs[id - 1] as number)))
        throw new Error(`assertion: record ${f.main}.${f.sub} appended out of revision order`);
    }
    if (f.prev !== NO_RECORD && (f.prev < 0 || f.prev >= id || this.isDead(f.prev)))
      throw new Error(`assertion: bad prev record ${f.prev}`);
    if (!Number.isInteger(f.sub) || f.sub < 0 || f.sub > 0x7fffffff) throw new Error('assertion: bad sub');
    if (id === this.capacity) this.grow();
    this.mains[id] = f.main;
    this.subs[id] = f.sub;
    this.slots[id] = f.slot;
    this.prevs[id] = f.prev;
    this.creates[id] = f.createRevision;
    this.versions[id] = f.version;
    this.leases[id] = f.lease;
    this.flags[id] = f.tombstone ? FLAG_TOMBSTONE : 0;
    this.storeValue(id, f.tombstone ? EMPTY_BUFFER : f.value);
    this.count = id + 1;
    return id;
  }

  /** Drops the ids >= length (a failed write); their slab bytes stay until the next rebuild. */
  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.count)
      throw new Error(`assertion: bad truncate length ${length}`);
    for (let id = length; id < this.count; id++) {
      if (this.isDead(id)) this.dead--;
      else this.liveValueBytes -= this.valueLengths[id] as number;
    }
    this.count = length;
  }

  main(id: number): number {
    return this.mains[this.checked(id)] as number;
  }
  sub(id: number): number {
    return this.subs[this.checked(id)] as number;
  }
  slot(id: number): number {
    return this.slots[this.checked(id)] as number;
  }
  prev(id: number): number {
    return this.prevs[this.checked(id)] as number;
  }
  createRevision(id: number): number {
    return this.creates[this.checked(id)] as number;
  }
  version(id: number): number {
    return this.versions[this.checked(id)] as number;
  }
  lease(id: number): number {
    return this.leases[this.checked(id)] as number;
  }
  isTombstone(id: number): boolean {
    return ((this.flags[this.checked(id)] as number) & FLAG_TOMBSTONE) !== 0;
  }
  isDead(id: number): boolean {
    return ((this.flags[this.checked(id)] as number) & FLAG_DEAD) !== 0;
  }
  valueLength(id: number): number {
    return this.valueLengths[this.checked(id)] as number;
  }

  /** The value as a view of its slab (EMPTY_BUFFER when empty). Callers must not write to it. */
  value(id: number): Buffer {
    const len = this.valueLengths[this.checked(id)] as number;
    if (len === 0) return EMPTY_BUFFER;
    const slab = this.slabs[this.valueSlabs[id] as number] as Buffer;
    const off = this.valueOffsets[id] as number;
    return slab.subarray(off, off + len);
  }

  /** Unlinks the chain's older part: the retained history of a key now starts at id. */
  cutPrev(id: number): void {
    this.prevs[this.checked(id)] = NO_RECORD;
  }

  kill(id: number): void {
    if (this.isDead(id)) throw new Error(`assertion: record ${id} killed twice`);
    this.flags[id] = (this.flags[id] as number) | FLAG_DEAD;
    this.prevs[id] = NO_RECORD;
    this.dead++;
    this.liveValueBytes -= this.valueLengths[id] as number;
  }

  /** The first id whose main revision is >= rev (length when none). */
  firstAtOrAfter(rev: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.mains[mid] as number) < rev) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * A new log holding the records that are not dead, in the same order, with fresh slabs sized to
   * fit. `remap[oldId]` is the new id, or NO_RECORD for a dead record. Work: O(length + live bytes).
   */
  rebuilt(): { log: RecordLog; remap: Int32Array } {
    const live = this.count - this.dead;
    const log = new RecordLog(this.slabBytes, live);
    const remap = new Int32Array(this.count).fill(NO_RECORD);
    for (let id = 0; id < this.count; id++) {
      if (this.isDead(id)) continue;
      const prev = this.prevs[id] as number;
      const newPrev = prev === NO_RECORD ? NO_RECORD : (remap[prev] as number);
      if (prev !== NO_RECORD && newPrev === NO_RECORD)
        throw new Error(`assertion: live record ${id} links to a dead one`);
      remap[id] = log.append({
        main: this.mains[id] as number,
        sub: this.subs[id] as number,
        slot: this.slots[id] as number,
        prev: newPrev,
        tombstone: this.isTombstone(id),
        createRevision: this.creates[id] as number,
        version: this.versions[id] as number,
        lease: this.leases[id] as number,
        value: this.value(id),
      });
    }
    if (log.length !== live) throw new Error('assertion: rebuild lost records');
    return { log, remap };
  }

  private checked(id: number): number {
    if (!(id >= 0 && id < this.count)) throw new Error(`assertion: record id ${id} out of range`);
    return id;
  }

  private storeValue(id: number, value: Buffer): void {
    const len = value.length;
    this.valueLengths[id] = len;
    this.liveValueBytes += len;
    if (len === 0) {
      this.valueSlabs[id] = 0;
      this.valueOffsets[id] = 0;
      return;
    }
    if (len > SLAB_BYTES_MAX) throw new Error(`assertion: value of ${len} bytes is too large`);
    let slab = this.slabs[this.slabs.length - 1];
    if (slab === undefined || slab.length - this.slabUsedBytes < len) {
      if (this.slabs.length >= SLABS_MAX) throw new Error('assertion: too many slabs');
      const next = slab === undefined ? SLAB_BYTES_FIRST : 2 * slab.length;
      // A value larger than a slab gets a slab of its own size.
      slab = Buffer.allocUnsafeSlow(Math.max(len, Math.min(this.slabBytes, next)));
      this.slabs.push(slab);
      this.slabUsedBytes = 0;
    }
    value.copy(slab, this.slabUsedBytes);
    this.valueSlabs[id] = this.slabs.length - 1;
    this.valueOffsets[id] = this.slabUsedBytes;
    this.slabUsedBytes += len;
  }

  private grow(): void {
    const capacity = Math.min(RECORDS_MAX + 1, this.capacity * 2);
    if (capacity <= this.capacity) throw new Error('assertion: record log cannot grow');
    this.mains = grown(this.mains, capacity);
    this.subs = grown(this.subs, capacity);
    this.slots = grown(this.slots, capacity);
    this.prevs = grown(this.prevs, capacity);
    this.creates = grown(this.creates, capacity);
    this.versions = grown(this.versions, capacity);
    this.leases = grown(this.leases, capacity);
    this.valueSlabs = grown(this.valueSlabs, capacity);
    this.valueOffsets = grown(this.valueOffsets, capacity);
    this.valueLengths = grown(this.valueLengths, capacity);
    this.flags = grown(this.flags, capacity);
    this.capacity = capacity;
  }
}
