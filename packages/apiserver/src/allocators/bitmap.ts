// The allocation bitmap Kubernetes keeps in the store for service IPs and node ports: a
// RangeAllocation object ({range, data}) whose data is the bytes of a big integer, bit i set when
// offset i of the range is taken (Go's big.Int.Bytes(): big-endian, no leading zero bytes).
//
// Several apiservers share it safely because every change is a compare-and-put on the key's
// mod_revision inside the same txn as the service write (TxnExtras): of two apiservers that picked
// from the same version of the bitmap, one commits and the other's txn fails and is re-admitted.

import { internalError } from '@keelson/api';
import type { Stored, TxnExtras } from '../types.js';

/** How a range maps values (IPs, ports) to offsets, and how dynamic allocation picks among them. */
export interface RangeSpec {
  /** The RangeAllocation's range: "10.96.0.0/12", "30000-32767". */
  readonly text: string;
  /** Number of offsets (bits). */
  readonly size: number;
  /**
   * Offsets below this form the lower band, used for dynamic allocation only when the upper band
   * is full, so that users can pick low values statically without collisions (KEP-3070/3668).
   */
  readonly bandOffset: number;
  /** Offsets dynamic allocation never hands out (offset 0 of the IP range: the kubernetes service). */
  readonly reservedOffsets: ReadonlySet<number>;
}

/** Bound on a range: a /12 of IPv4 (2^20 bits) is the largest Kubernetes allows. */
export const rangeBitsMax = 1 << 20;

/** One bitmap as read from the store, changed in memory, written back as txn extras. */
export class RangeBitmap {
  /** Little-endian bytes: bit i lives in bytes[i >> 3] at (i & 7). */
  private readonly bytes: Uint8Array;
  private dirty = false;

  private constructor(
    readonly key: string,
    readonly spec: RangeSpec,
    /** mod_revision of the key when read; 0 when absent (the compare then says "must not exist"). */
    readonly modRevision: number,
    bytes: Uint8Array,
  ) {
    if (spec.size < 0 || spec.size > rangeBitsMax)
      throw new Error(`assertion failed: range size ${spec.size}`);
    this.bytes = bytes;
  }

  static fromStored(key: string, spec: RangeSpec, stored: Stored | undefined): RangeBitmap {
    const bytes = new Uint8Array(Math.ceil(spec.size / 8));
    if (stored === undefined) return new RangeBitmap(key, spec, 0, bytes);
    const range = stored.obj.range;
    if (range !== spec.text) {
      throw internalError(
        `the range in ${key} is ${String(range)} but this apiserver is configured with ${spec.text}; ` +
          'all apiservers must use the same range',
      );
    }
    const data =
      typeof stored.obj.data === 'string' ? Buffer.from(stored.obj.data, 'base64') : Buffer.alloc(0);
    // Big-endian in the store; a value longer than the range means bits beyond it, which are ignored.
    for (let i = 0; i < data.length && i < bytes.length; i++) bytes[i] = data[data.length - 1 - i] ?? 0;
    return new RangeBitmap(key, spec, stored.modRevision, bytes);
  }

  has(offset: number): boolean {
    this.checkOffset(offset);
    return ((this.bytes[offset >> 3] ?? 0) & (1 << (offset & 7))) !== 0;
  }

  /** Takes `offset`; false if it was already taken. */
  allocate(offset: number): boolean {
    if (this.has(offset)) return false;
    this.bytes[offset >> 3] = (this.bytes[offset >> 3] ?? 0) | (1 << (offset & 7));
    this.dirty = true;
    return true;
  }

  release(offset: number): void {
    if (!this.has(offset)) return;
    this.bytes[offset >> 3] = (this.bytes[offset >> 3] ?? 0) & ~(1 << (offset & 7));
    this.dirty = true;
  }

  /**
   * randomScanStrategyWithOffset: a random free offset of the upper band, else of the lower band,
   * never a reserved one; undefined when the range is full.
   */
  allocateNext(randomInt: (n: number) => number): number | undefined {
    const { size, bandOffset } = this.spec;
    const upper = this.scan(bandOffset, size - bandOffset, randomInt);
    const offset = upper ?? this.scan(0, bandOffset, randomInt);
    if (offset === undefined) return undefined;
    const taken = this.allocate(offset);
    if (!taken) throw new Error(`assertion failed: scanned offset ${offset} was not free`);
    return offset;
  }

  count(): number {
    let n = 0;
    for (const b of this.bytes) for (let v = b; v !== 0; v &= v - 1) n++;
    return n;
  }

  /** Adds the compare-and-put of this bitmap to `extras` when it changed. */
  addTo(extras: TxnExtras): void {
    if (!this.dirty) return;
    if (extras.compares.some((c) => c.key === this.key))
      throw new Error(`assertion failed: ${this.key} added twice`);
    extras.compares.push({ key: this.key, modRevision: this.modRevision });
    extras.puts.push({ key: this.key, value: JSON.stringify(this.toRangeAllocation()) });
  }

  toRangeAllocation(): Record<string, unknown> {
    return {
      kind: 'RangeAllocation',
      apiVersion: 'v1',
      metadata: { creationTimestamp: null },
      range: this.spec.text,
      data: this.bigEndianBytes().toString('base64'),
    };
  }

  private bigEndianBytes(): Buffer {
    let len = this.bytes.length;
    while (len > 0 && this.bytes[len - 1] === 0) len--;
    const out = Buffer.alloc(len);
    for (let i = 0; i < len; i++) out[len - 1 - i] = this.bytes[i] ?? 0;
    return out;
  }

  private scan(start: number, length: number, randomInt: (n: number) => number): number | undefined {
    if (length <= 0) return undefined;
    const first = randomInt(length);
    for (let i = 0; i < length; i++) {
      const at = start + ((first + i) % length);
      if (!this.spec.reservedOffsets.has(at) && !this.has(at)) return at;
    }
    return undefined;
  }

  private checkOffset(offset: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.spec.size) {
      throw new Error(`assertion failed: offset ${offset} outside range ${this.spec.text}`);
    }
  }
}

/** calculateRangeOffset: the lower band is size/step, clamped to [min, max] (0 for tiny ranges). */
export function bandOffsetFor(size: number, min: number, max: number, step: number): number {
  if (size < min) return 0;
  return Math.min(max, Math.max(min, Math.floor(size / step)));
}
