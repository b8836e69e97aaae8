// A bounded reader of the protobuf wire format (varints, length-delimited fields, fixed32/64). No protobuf
// library is installed and Kubernetes needs only this much. Every read checks the buffer's end, so a
// truncated or hostile body ends in a ProtobufWireError, never a read past the end or an endless loop.

export class ProtobufWireError extends Error {
  readonly code = 'PROTOBUF_MALFORMED';
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufWireError';
  }
}

export const WireType = { varint: 0, fixed64: 1, bytes: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;

/** A varint is at most 10 bytes (64 bits, 7 per byte). */
const varintBytesMax = 10;
/** Proto field numbers are 29 bits. */
const fieldNumberMax = 2 ** 29 - 1;

export interface Tag {
  fieldNumber: number;
  wireType: number;
}

export class WireReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get offset(): number {
    return this.pos;
  }

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  /** An unsigned varint as a bigint, so 64-bit values keep every bit. */
  varint(): bigint {
    let result = 0n;
    for (let i = 0; i < varintBytesMax; i++) {
      if (this.pos >= this.buf.length) throw new ProtobufWireError('unexpected EOF in varint');
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new ProtobufWireError('varint overflows 64 bits');
  }

  tag(): Tag {
    const v = this.varint();
    const fieldNumber = Number(v >> 3n);
    const wireType = Number(v & 7n);
    if (fieldNumber < 1 || fieldNumber > fieldNumberMax) {
      throw new ProtobufWireError(`illegal field number ${fieldNumber}`);
    }
    return { fieldNumber, wireType };
  }

  /** A length-delimited payload; the length is checked against what is left before anything is sliced. */
  bytes(): Uint8Array {
    const n = this.varint();
    const left = this.buf.length - this.pos;
    if (n > BigInt(left)) throw new ProtobufWireError(`length ${n} exceeds the ${left} bytes left`);
    const out = this.buf.subarray(this.pos, this.pos + Number(n));
    this.pos += Number(n);
    return out;
  }

  fixed32(): DataView {
    return this.take(4);
  }

  fixed64(): DataView {
    return this.take(8);
  }

  /** Skips a field of a number the schema does not know, as protobuf decoders do. */
  skip(wireType: number): void {
    if (wireType === WireType.varint) this.varint();
    else if (wireType === WireType.fixed64) this.take(8);
    else if (wireType === WireType.bytes) this.bytes();
    else if (wireType === WireType.fixed32) this.take(4);
    else throw new ProtobufWireError(`unsupported wire type ${wireType}`);
  }

  private take(n: number): DataView {
    if (this.pos + n > this.buf.length) throw new ProtobufWireError(`unexpected EOF in a ${n}-byte field`);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, n);
    this.pos += n;
    return view;
  }
}

/** Two's-complement int32 (negative int32s travel as 10-byte varints). */
export function toInt32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

/** int64 as a JS number; values JSON clients could not read back exactly are refused. */
export function toInt64(v: bigint, signed: boolean): number {
  const n = signed ? BigInt.asIntN(64, v) : v;
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new ProtobufWireError(`integer ${n} is beyond 2^53 and cannot be represented exactly`);
  }
  return Number(n);
}
