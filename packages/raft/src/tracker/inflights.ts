// The append messages in flight to one follower, modelled on etcd-io/raft's tracker.Inflights. The
// leader stops sending when too many messages or bytes are unacknowledged, which bounds both the
// follower's receive queue and the leader's memory.
import { assert } from '../errors.js';

/**
 * A ring buffer of (last index, bytes) per in-flight message. Its storage starts small and doubles
 * on demand, never beyond `capacity`: most followers keep few messages in flight, so a large
 * MaxInflight costs memory only where it is used.
 */
export class Inflights {
  /** The most messages in flight at once. */
  readonly capacity: number;
  /** The most bytes in flight at once; 0 means no byte limit. */
  readonly maxBytes: number;
  private start = 0;
  private countValue = 0;
  private bytesValue = 0;
  /** Last entry index of each message; slots [start, start+count) modulo the buffer length are live. */
  private indexes: Float64Array;
  private sizes: Float64Array;

  constructor(capacity: number, maxBytes: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, () => `inflights capacity ${capacity}`);
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 0, () => `inflights maxBytes ${maxBytes}`);
    this.capacity = capacity;
    this.maxBytes = maxBytes;
    this.indexes = new Float64Array(0);
    this.sizes = new Float64Array(0);
  }

  /** Records a message whose last entry is `index`; indexes must increase from call to call. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'cannot add into a full inflights');
    assert(bytes >= 0, () => `negative inflight size ${bytes}`);
    assert(this.countValue === 0 || index > this.lastIndex(), () => `inflight index ${index} not increasing`);
    if (this.countValue === this.indexes.length) this.grow();
    const slot = (this.start + this.countValue) % this.indexes.length;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.countValue++;
    this.bytesValue += bytes;
    assert(this.countValue <= this.capacity, 'inflights exceeded its capacity');
  }

  /** Frees every message whose last index is <= `index` (the follower acknowledged them). */
  freeLE(index: number): void {
    const len = this.indexes.length;
    let slot = this.start;
    let freed = 0;
    let freedBytes = 0;
    while (freed < this.countValue && (this.indexes[slot] as number) <= index) {
      freedBytes += this.sizes[slot] as number;
      freed++;
      slot = slot + 1 === len ? 0 : slot + 1;
    }
    this.countValue -= freed;
    this.bytesValue -= freedBytes;
    this.start = this.countValue === 0 ? 0 : slot;
    assert(this.bytesValue >= 0, 'inflight bytes went negative');
  }

  full(): boolean {
    return this.countValue === this.capacity || (this.maxBytes > 0 && this.bytesValue >= this.maxBytes);
  }

  count(): number {
    return this.countValue;
  }

  bytes(): number {
    return this.bytesValue;
  }

  /** Forgets every message in flight; keeps the storage for reuse. */
  reset(): void {
    this.start = 0;
    this.countValue = 0;
    this.bytesValue = 0;
  }

  /** Slots allocated so far (never more than capacity); for tests and memory accounting. */
  allocatedSlots(): number {
    return this.indexes.length;
  }

  /** An independent copy with the same messages in flight. */
  clone(): Inflights {
    const c = new Inflights(this.capacity, this.maxBytes);
    c.indexes = this.indexes.slice();
    c.sizes = this.sizes.slice();
    c.start = this.start;
    c.countValue = this.countValue;
    c.bytesValue = this.bytesValue;
    return c;
  }

  private lastIndex(): number {
    return this.indexes[(this.start + this.countValue - 1) % this.indexes.length] as number;
  }

  /** Doubles the storage (up to capacity) and lays the live slots out from 0 again. */
  private grow(): void {
    const oldLen = this.indexes.length;
    const newLen = Math.min(Math.max(oldLen * 2, 1), this.capacity);
    assert(newLen > oldLen, 'inflights cannot grow beyond its capacity');
    const indexes = new Float64Array(newLen);
    const sizes = new Float64Array(newLen);
    for (let i = 0; i < this.countValue; i++) {
      const slot = (this.start + i) % oldLen;
      indexes[i] = this.indexes[slot] as number;
      sizes[i] = this.sizes[slot] as number;
    }
    this.indexes = indexes;
    this.sizes = sizes;
    this.start = 0;
  }
}
