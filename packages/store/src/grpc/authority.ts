// Makes gRPC clients that send a URL as HTTP/2 :authority work against grpc-js. etcd 3.4's clientv3
// Client.Dial (etcdctl endpoint status/health) dials "passthrough:///http://127.0.0.1:2379", so grpc-go sends
// ":authority: http://127.0.0.1:2379". nghttp2 (inside node:http2) refuses an authority containing "/" with
// RST_STREAM PROTOCOL_ERROR and Node has no switch to turn that check off; Go's etcd accepts it.
//
// How: before an HTTP/2 connection reaches grpc-js we look at the client's first request. Clients wait for
// the server's SETTINGS before sending a request (grpc-go and grpc-js both do), so we first send an empty
// SETTINGS frame ourselves (it changes nothing: empty means "protocol defaults", which the client already
// assumes) and later strip the client's ACK of it, which nghttp2 would otherwise see as unexpected.
// - First request's :authority is valid (every well-behaved client): the raw socket goes to grpc-js with
//   the peeked bytes put back, minus that ACK. After that no byte passes through JavaScript.
// - Otherwise the connection goes through RewritingConnection: client→server frames are parsed, each header
//   block is HPACK-decoded (tracking the client's dynamic table), :authority is repaired to host:port, and
//   the block is re-encoded without using nghttp2's dynamic table, so there is no table state to keep in sync.
//   Every other frame passes through unchanged, and so does everything server→client.

import type net from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from 'pino';

export const http2ClientPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** An empty SETTINGS frame: the server connection preface, meaning "all settings at protocol defaults". */
export const emptySettingsFrame = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

const frameHeaderBytes = 9;
const frameType = { headers: 1, settings: 4, continuation: 9 } as const;
const flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 } as const;
/** Every HTTP/2 peer accepts frames of this size (SETTINGS_MAX_FRAME_SIZE's floor), so we never send larger. */
const sendFramePayloadBytesMax = 16_384;
/** A header block (HEADERS + CONTINUATION fragments) larger than this closes the connection. */
export const headerBlockBytesMax = 1024 * 1024;
/** The largest HPACK dynamic table a client may ask us to track (nghttp2's default is 4096). */
const dynamicTableBytesMax = 64 * 1024;
/** The HPACK dynamic table size before any size update: SETTINGS_HEADER_TABLE_SIZE's default. */
const dynamicTableBytesDefault = 4096;

export class Http2FramingError extends Error {
  override readonly name = 'Http2FramingError';
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

// ---------------------------------------------------------------------------------------------------------
// :authority validation and repair

/** The characters nghttp2 allows in :authority (nghttp2_check_authority): no "/", "?", "#", space, etc. */
const validAuthorityRe = /^[A-Za-z0-9\-._~!$&'()*+,;=:%[\]@]+$/;
const urlPrefixRe = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

export function isValidAuthority(value: string): boolean {
  return validAuthorityRe.test(value);
}

/**
 * What nghttp2 will accept in place of an invalid :authority: a URL's host[:port], else the value without
 * its invalid characters; '' when nothing is left (the header is then dropped: nghttp2 requires :authority
 * only for CONNECT).
 */
export function repairAuthority(value: string): string {
  let rest = value;
  const scheme = urlPrefixRe.exec(rest);
  if (scheme) {
    rest = rest.slice(scheme[0].length);
    const end = rest.search(/[/?#]/);
    if (end >= 0) rest = rest.slice(0, end);
    rest = rest.slice(rest.lastIndexOf('@') + 1);
  }
  return rest.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:%[\]@]/g, '');
}

// ---------------------------------------------------------------------------------------------------------
// HPACK (RFC 7541). Strings are latin1 so that header octets round-trip exactly.

export interface HeaderField {
  name: string;
  value: string;
  /** Sent as "never indexed" (sensitive); we keep that on re-encoding. */
  neverIndexed: boolean;
}

const staticTable: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
assert(staticTable.length === 61, 'RFC 7541 Appendix A has 61 entries');

/**
 * Huffman code lengths of symbols 0..256 (256 is EOS), RFC 7541 Appendix B. The code is canonical (within a
 * length, codes rise with the symbol), so the lengths alone determine every code.
 */
const huffmanCodeBits = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];
const huffmanEos = 256;
const huffmanBitsMax = 30;

interface CanonicalHuffman {
  /** Per length: the first code of that length, how many codes have it, and where its symbols start. */
  firstCode: number[];
  count: number[];
  offset: number[];
  /** Symbols ordered by (length, symbol). */
  symbols: number[];
}

function buildHuffman(): CanonicalHuffman {
  assert(huffmanCodeBits.length === 257, 'Huffman table covers 256 octets and EOS');
  const symbols = [...huffmanCodeBits.keys()].sort(
    (a, b) => (huffmanCodeBits[a] ?? 0) - (huffmanCodeBits[b] ?? 0) || a - b,
  );
  const firstCode = new Array<number>(huffmanBitsMax + 1).fill(0);
  const count = new Array<number>(huffmanBitsMax + 1).fill(0);
  const offset = new Array<number>(huffmanBitsMax + 1).fill(0);
  let code = 0;
  let bits = 0;
  for (const [i, symbol] of symbols.entries()) {
    const length = huffmanCodeBits[symbol] ?? 0;
    if (length !== bits) {
      code *= 2 ** (length - bits);
      bits = length;
      firstCode[length] = code;
      offset[length] = i;
    }
    count[length] = (count[length] ?? 0) + 1;
    code++;
  }
  // A complete prefix code ends exactly at 2^30: EOS is the all-ones 30-bit code.
  assert(code === 2 ** huffmanBitsMax, 'Huffman code is complete');
  return { firstCode, count, offset, symbols };
}

const huffman = buildHuffman();

export function huffmanDecode(input: Buffer): string {
  const out: number[] = [];
  let code = 0;
  let bits = 0;
  for (let i = 0; i < input.length * 8; i++) {
    code = code * 2 + (((input[i >> 3] ?? 0) >> (7 - (i & 7))) & 1);
    bits++;
    const index = code - (huffman.firstCode[bits] ?? 0);
    if (index >= 0 && index < (huffman.count[bits] ?? 0)) {
      const symbol = huffman.symbols[(huffman.offset[bits] ?? 0) + index] ?? huffmanEos;
      if (symbol === huffmanEos) throw new Http2FramingError('HPACK: EOS inside a Huffman string');
      out.push(symbol);
      code = 0;
      bits = 0;
    } else if (bits >= huffmanBitsMax) throw new Http2FramingError('HPACK: invalid Huffman code');
  }
  // RFC 7541 5.2: padding is fewer than 8 bits, all ones (a prefix of EOS).
  if (bits > 7 || code !== 2 ** bits - 1) throw new Http2FramingError('HPACK: invalid Huffman padding');
  return Buffer.from(out).toString('latin1');
}

/** Reads HPACK integers and strings from one header block. */
class BlockReader {
  pos = 0;
  constructor(readonly block: Buffer) {}

  get done(): boolean {
    return this.pos >= this.block.length;
  }

  byte(): number {
    const b = this.block[this.pos++];
    if (b === undefined) throw new Http2FramingError('HPACK: header block truncated');
    return b;
  }

  /** RFC 7541 5.1; bounded below 2^28 so that no JavaScript number overflows and no loop runs long. */
  integer(prefixBits: number): number {
    const mask = 2 ** prefixBits - 1;
    let value = this.byte() & mask;
    if (value < mask) return value;
    for (let shift = 0; shift <= 21; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new Http2FramingError('HPACK: integer too large');
  }

  string(): string {
    const huffmanCoded = ((this.block[this.pos] ?? 0) & 0x80) !== 0;
    const length = this.integer(7);
    if (length > this.block.length - this.pos) throw new Http2FramingError('HPACK: string truncated');
    const raw = this.block.subarray(this.pos, this.pos + length);
    this.pos += length;
    return huffmanCoded ? huffmanDecode(raw) : raw.toString('latin1');
  }
}

/** An HPACK decoder with its own dynamic table: one per client→server direction of a connection. */
export class HpackDecoder {
  /** Newest first. Invariant: usedBytes = sum of entry sizes <= tableBytesMax. */
  private readonly dynamic: Array<readonly [string, string]> = [];
  private usedBytes = 0;
  private tableBytesMax = dynamicTableBytesDefault;

  decode(block: Buffer): HeaderField[] {
    const reader = new BlockReader(block);
    const fields: HeaderField[] = [];
    // Bounded: every iteration consumes at least one byte of the block.
    while (!reader.done) {
      const first = block[reader.pos] ?? 0;
      if (first & 0x80) {
        const [name, value] = this.entry(reader.integer(7));
        fields.push({ name, value, neverIndexed: false });
      } else if (first & 0x40) {
        const field = this.literal(reader, 6);
        this.add(field.name, field.value);
        fields.push(field);
      } else if (first & 0x20) {
        this.resize(reader.integer(5));
      } else {
        fields.push({ ...this.literal(reader, 4), neverIndexed: (first & 0x10) !== 0 });
      }
    }
    assert(this.usedBytes <= this.tableBytesMax, 'dynamic table within its size');
    return fields;
  }

  private literal(reader: BlockReader, prefixBits: number): HeaderField {
    const index = reader.integer(prefixBits);
    const name = index === 0 ? reader.string() : this.entry(index)[0];
    return { name, value: reader.string(), neverIndexed: false };
  }

  private entry(index: number): readonly [string, string] {
    const found = index <= staticTable.length ? staticTable[index - 1] : this.dynamic[index - 62];
    if (index === 0 || found === undefined) throw new Http2FramingError(`HPACK: no table entry ${index}`);
    return found;
  }

  private add(name: string, value: string): void {
    const size = Buffer.byteLength(name, 'latin1') + Buffer.byteLength(value, 'latin1') + 32;
    this.dynamic.unshift([name, value]);
    this.usedBytes += size;
    // RFC 7541 4.4: an entry larger than the table empties it (and is not kept itself).
    this.evictTo(this.tableBytesMax);
  }

  private resize(tableBytes: number): void {
    if (tableBytes > dynamicTableBytesMax)
      throw new Http2FramingError(`HPACK: dynamic table size ${tableBytes} exceeds ${dynamicTableBytesMax}`);
    this.tableBytesMax = tableBytes;
    this.evictTo(tableBytes);
  }

  private evictTo(tableBytes: number): void {
    // Bounded by the number of entries.
    while (this.usedBytes > tableBytes) {
      const oldest = this.dynamic.pop();
      assert(oldest !== undefined, 'used bytes imply entries');
      this.usedBytes -= Buffer.byteLength(oldest[0], 'latin1') + Buffer.byteLength(oldest[1], 'latin1') + 32;
    }
  }
}

const staticIndexByField = new Map<string, number>();
const staticIndexByName = new Map<string, number>();
for (const [i, [name, value]] of staticTable.entries()) {
  staticIndexByField.set(`${name}\0${value}`, i + 1);
  if (!staticIndexByName.has(name)) staticIndexByName.set(name, i + 1);
}

function encodeInteger(out: number[], firstBits: number, prefixBits: number, value: number): void {
  const mask = 2 ** prefixBits - 1;
  if (value < mask) {
    out.push(firstBits | value);
    return;
  }
  out.push(firstBits | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function encodeString(out: number[], value: string): void {
  const bytes = Buffer.from(value, 'latin1');
  encodeInteger(out, 0, 7, bytes.length);
  for (const b of bytes) out.push(b);
}

/**
 * Encodes a header block that uses only the static table and literals "without indexing" (or "never
 * indexed"), so the receiver's dynamic table is never touched: it stays empty, whatever came before.
 */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Buffer {
  const out: number[] = [];
  for (const field of fields) {
    const exact = field.neverIndexed ? undefined : staticIndexByField.get(`${field.name}\0${field.value}`);
    if (exact !== undefined) {
      encodeInteger(out, 0x80, 7, exact);
      continue;
    }
    const nameIndex = staticIndexByName.get(field.name) ?? 0;
    encodeInteger(out, field.neverIndexed ? 0x10 : 0, 4, nameIndex);
    if (nameIndex === 0) encodeString(out, field.name);
    encodeString(out, field.value);
  }
  return Buffer.from(out);
}

/** Replaces invalid :authority values; returns null when every field was already valid. */
export function repairHeaderFields(fields: readonly HeaderField[]): HeaderField[] | null {
  if (fields.every((f) => f.name !== ':authority' || isValidAuthority(f.value))) return null;
  const repaired: HeaderField[] = [];
  for (const f of fields) {
    if (f.name !== ':authority' || isValidAuthority(f.value)) repaired.push(f);
    else {
      const value = repairAuthority(f.value);
      if (value !== '') repaired.push({ ...f, value });
    }
  }
  return repaired;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP/2 frames (RFC 9113 4.1): 24-bit length, 8-bit type, 8-bit flags, 31-bit stream id, payload.

interface FrameHead {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

function readFrameHead(bytes: Buffer, at: number): FrameHead {
  assert(bytes.length - at >= frameHeaderBytes, 'a whole frame header');
  return {
    length: bytes.readUIntBE(at, 3),
    type: bytes.readUInt8(at + 3),
    flags: bytes.readUInt8(at + 4),
    streamId: bytes.readUInt32BE(at + 5) & 0x7fffffff,
  };
}

function writeFrame(head: FrameHead, payload: Buffer): Buffer {
  assert(head.length === payload.length && payload.length <= sendFramePayloadBytesMax, 'frame length');
  const frame = Buffer.allocUnsafe(frameHeaderBytes + payload.length);
  frame.writeUIntBE(payload.length, 0, 3);
  frame.writeUInt8(head.type, 3);
  frame.writeUInt8(head.flags, 4);
  frame.writeUInt32BE(head.streamId, 5);
  payload.copy(frame, frameHeaderBytes);
  return frame;
}

/** Splits a HEADERS payload into its priority fields (kept as is) and its header block fragment. */
function headersFragment(flags: number, payload: Buffer): { priority: Buffer | null; fragment: Buffer } {
  let start = 0;
  let padBytes = 0;
  if (flags & flag.padded) {
    padBytes = payload[0] ?? 0;
    start = 1;
  }
  const priorityBytes = flags & flag.priority ? 5 : 0;
  const end = payload.length - padBytes;
  if (payload.length < start + priorityBytes || end < start + priorityBytes)
    throw new Http2FramingError('HEADERS: padding or priority longer than the frame');
  const priority = priorityBytes > 0 ? payload.subarray(start, start + priorityBytes) : null;
  return { priority, fragment: payload.subarray(start + priorityBytes, end) };
}

/** Frames a header block as HEADERS + CONTINUATION frames of at most sendFramePayloadBytesMax each. */
function headerBlockFrames(
  streamId: number,
  endStream: boolean,
  priority: Buffer | null,
  block: Buffer,
): Buffer[] {
  const frames: Buffer[] = [];
  const prefix = priority ?? Buffer.alloc(0);
  let pos = Math.min(block.length, sendFramePayloadBytesMax - prefix.length);
  const firstPayload = Buffer.concat([prefix, block.subarray(0, pos)]);
  const firstFlags =
    (endStream ? flag.endStream : 0) |
    (priority ? flag.priority : 0) |
    (pos === block.length ? flag.endHeaders : 0);
  frames.push(
    writeFrame(
      { length: firstPayload.length, type: frameType.headers, flags: firstFlags, streamId },
      firstPayload,
    ),
  );
  // Bounded: each iteration consumes up to sendFramePayloadBytesMax bytes of the block.
  while (pos < block.length) {
    const part = block.subarray(pos, pos + sendFramePayloadBytesMax);
    pos += part.length;
    const flags = pos === block.length ? flag.endHeaders : 0;
    frames.push(writeFrame({ length: part.length, type: frameType.continuation, flags, streamId }, part));
  }
  return frames;
}

export interface FirstRequestSniff {
  /** The client's first header block has arrived whole. */
  headersSeen: boolean;
  /** Its :authority values are all acceptable to nghttp2 (true while not yet seen). */
  authorityValid: boolean;
  /** Where the client's first SETTINGS ACK (of our empty SETTINGS) starts in the bytes, or -1. */
  settingsAckOffset: number;
}

/**
 * Looks at the bytes a client has sent so far (preface first) for its first request's :authority and for its
 * first SETTINGS ACK. Pure; throws Http2FramingError when the bytes are not HTTP/2.
 */
export function sniffFirstRequest(bytes: Buffer): FirstRequestSniff {
  const sniff: FirstRequestSniff = { headersSeen: false, authorityValid: true, settingsAckOffset: -1 };
  const prefaceBytes = Math.min(bytes.length, http2ClientPreface.length);
  if (!bytes.subarray(0, prefaceBytes).equals(http2ClientPreface.subarray(0, prefaceBytes)))
    throw new Http2FramingError('not the HTTP/2 client preface');
  let block: Buffer[] | null = null;
  let blockBytes = 0;
  let pos = http2ClientPreface.length;
  // Bounded: each iteration consumes one whole frame of the (bounded) bytes.
  while (pos + frameHeaderBytes <= bytes.length) {
    const head = readFrameHead(bytes, pos);
    const end = pos + frameHeaderBytes + head.length;
    if (end > bytes.length) break;
    const payload = bytes.subarray(pos + frameHeaderBytes, end);
    if (head.type === frameType.settings && head.flags & flag.ack && sniff.settingsAckOffset < 0)
      sniff.settingsAckOffset = pos;
    if (!sniff.headersSeen && block !== null && head.type !== frameType.continuation)
      throw new Http2FramingError('header block interrupted by another frame');
    if (!sniff.headersSeen && (head.type === frameType.headers || head.type === frameType.continuation)) {
      if ((head.type === frameType.headers) === (block !== null))
        throw new Http2FramingError('CONTINUATION without HEADERS, or HEADERS inside a header block');
      const fragment =
        head.type === frameType.headers ? headersFragment(head.flags, payload).fragment : payload;
      block = [...(block ?? []), fragment];
      blockBytes += fragment.length;
      if (blockBytes > headerBlockBytesMax) throw new Http2FramingError('header block too large');
      if (head.flags & flag.endHeaders) {
        const fields = new HpackDecoder().decode(Buffer.concat(block));
        sniff.headersSeen = true;
        sniff.authorityValid = repairHeaderFields(fields) === null;
      }
    }
    pos = end;
  }
  return sniff;
}

interface OpenHeaderBlock {
  streamId: number;
  endStream: boolean;
  priority: Buffer | null;
  fragments: Buffer[];
  bytes: number;
}

/**
 * Rewrites a client→server HTTP/2 byte stream: every header block is decoded, :authority repaired, and the
 * block re-encoded (static table and literals only); the client's first SETTINGS ACK is dropped when asked;
 * all other bytes pass through. Streaming: a DATA frame is never buffered whole. Throws Http2FramingError.
 */
export class AuthorityRewriter {
  /** How many header blocks had an :authority repaired (for logs and tests). */
  repairedBlocks = 0;
  private prefaceBytesLeft = http2ClientPreface.length;
  private readonly head = Buffer.alloc(frameHeaderBytes);
  private headBytes = 0;
  private current: FrameHead | null = null;
  /** Payload bytes of the current frame still to come. */
  private frameBytesLeft = 0;
  private collecting = false;
  private collected: Buffer[] = [];
  private block: OpenHeaderBlock | null = null;
  private settingsAcksToDrop: number;
  private readonly decoder = new HpackDecoder();

  constructor(opts: { dropFirstSettingsAck: boolean }) {
    this.settingsAcksToDrop = opts.dropFirstSettingsAck ? 1 : 0;
  }

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    // Bounded: every branch consumes at least one byte of the chunk or completes a frame.
    while (pos < chunk.length || (this.current !== null && this.frameBytesLeft === 0)) {
      if (this.prefaceBytesLeft > 0) pos = this.takePreface(chunk, pos, out);
      else if (this.current === null) pos = this.takeHead(chunk, pos, out);
      else if (this.frameBytesLeft === 0) this.finishFrame(out);
      else {
        const part = chunk.subarray(pos, pos + this.frameBytesLeft);
        pos += part.length;
        this.frameBytesLeft -= part.length;
        if (this.collecting) this.collected.push(part);
        else out.push(part);
      }
    }
    return out;
  }

  private takePreface(chunk: Buffer, pos: number, out: Buffer[]): number {
    const done = http2ClientPreface.length - this.prefaceBytesLeft;
    const part = chunk.subarray(pos, pos + this.prefaceBytesLeft);
    if (!part.equals(http2ClientPreface.subarray(done, done + part.length)))
      throw new Http2FramingError('not the HTTP/2 client preface');
    this.prefaceBytesLeft -= part.length;
    out.push(part);
    return pos + part.length;
  }

  private takeHead(chunk: Buffer, pos: number, out: Buffer[]): number {
    const copied = chunk.copy(this.head, this.headBytes, pos, pos + frameHeaderBytes - this.headBytes);
    this.headBytes += copied;
    if (this.headBytes < frameHeaderBytes) return pos + copied;
    this.headBytes = 0;
    const head = readFrameHead(this.head, 0);
    const isHeaderBlock = head.type === frameType.headers || head.type === frameType.continuation;
    if (this.block !== null && head.type !== frameType.continuation)
      throw new Http2FramingError('header block interrupted by another frame');
    if (isHeaderBlock && (this.block?.bytes ?? 0) + head.length > headerBlockBytesMax)
      throw new Http2FramingError('header block too large');
    const dropsAck =
      head.type === frameType.settings && (head.flags & flag.ack) !== 0 && this.settingsAcksToDrop > 0;
    this.current = head;
    this.frameBytesLeft = head.length;
    this.collecting = isHeaderBlock || dropsAck;
    // A frame we do not touch goes out as it came, header first, then its payload as it arrives.
    if (!this.collecting) out.push(Buffer.from(this.head));
    return pos + copied;
  }

  private finishFrame(out: Buffer[]): void {
    const head = this.current;
    assert(head !== null && this.frameBytesLeft === 0, 'a whole frame');
    this.current = null;
    if (!this.collecting) return;
    const payload = Buffer.concat(this.collected);
    this.collected = [];
    this.collecting = false;
    if (head.type === frameType.settings) {
      if (payload.length !== 0) throw new Http2FramingError('SETTINGS ACK with a payload');
      this.settingsAcksToDrop--;
    } else if (head.type === frameType.headers) this.openBlock(head, payload, out);
    else this.continueBlock(head, payload, out);
  }

  private openBlock(head: FrameHead, payload: Buffer, out: Buffer[]): void {
    assert(this.block === null, 'no header block open');
    const { priority, fragment } = headersFragment(head.flags, payload);
    this.block = {
      streamId: head.streamId,
      endStream: (head.flags & flag.endStream) !== 0,
      priority: priority === null ? null : Buffer.from(priority),
      fragments: [fragment],
      bytes: fragment.length,
    };
    if (head.flags & flag.endHeaders) this.closeBlock(out);
  }

  private continueBlock(head: FrameHead, payload: Buffer, out: Buffer[]): void {
    if (this.block === null || this.block.streamId !== head.streamId)
      throw new Http2FramingError('CONTINUATION without a HEADERS on its stream');
    this.block.fragments.push(payload);
    this.block.bytes += payload.length;
    if (head.flags & flag.endHeaders) this.closeBlock(out);
  }

  private closeBlock(out: Buffer[]): void {
    const block = this.block;
    assert(block !== null && block.bytes <= headerBlockBytesMax, 'an open, bounded header block');
    this.block = null;
    // Every block is decoded (to follow the client's dynamic table) and re-encoded (the client may refer to
    // its table entries, which nghttp2 never saw because we never send indexed literals).
    const fields = this.decoder.decode(Buffer.concat(block.fragments));
    const repaired = repairHeaderFields(fields);
    if (repaired !== null) this.repairedBlocks++;
    const encoded = encodeHeaderBlock(repaired ?? fields);
    out.push(...headerBlockFrames(block.streamId, block.endStream, block.priority, encoded));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Connections

/**
 * The client side of a connection whose header blocks need repair, as a Duplex for grpc-js (node:http2 wraps
 * it in a JSStreamSocket). Reads are the rewritten client bytes; writes go to the client unchanged.
 */
class RewritingConnection extends Duplex {
  constructor(
    private readonly socket: net.Socket,
    private readonly rewriter: AuthorityRewriter,
    private readonly logger: Logger | undefined,
  ) {
    super();
    // node:http2 disables Nagle on the socket it is given, which here is the JSStreamSocket around us, not
    // the TCP socket; without this every call waits ~40 ms for delayed ACKs.
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.feed(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  feed(chunk: Buffer): void {
    let out: Buffer[];
    try {
      out = this.rewriter.push(chunk);
    } catch (err) {
      this.logger?.debug({ err, remote: this.socket.remoteAddress }, 'closing a malformed HTTP/2 connection');
      this.socket.destroy();
      return;
    }
    if (out.length === 0) return;
    if (!this.push(out.length === 1 ? out[0] : Buffer.concat(out))) this.socket.pause();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.socket.write(chunk, (err) => done(err ?? null));
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.socket.destroy();
    done(err);
  }
}

export interface Http2RouteOptions {
  /** How long we wait for the client's first request before deciding without it. */
  sniffTimeoutMs: number;
  /** How many bytes we hold while waiting for it. */
  sniffBytesMax: number;
  logger?: Logger;
}

export const http2RouteDefaults: Http2RouteOptions = { sniffTimeoutMs: 1000, sniffBytesMax: 64 * 1024 };

/**
 * Takes over an accepted HTTP/2 connection whose first bytes (`peeked`, at least the start of the preface)
 * were already read, and hands it to `inject` either raw (the fast path) or through a RewritingConnection.
 */
export function routeHttp2Connection(
  socket: net.Socket,
  peeked: Buffer,
  inject: (connection: Duplex) => void,
  opts: Http2RouteOptions = http2RouteDefaults,
): void {
  let bytes = peeked;
  const timer = setTimeout(() => decide(true), opts.sniffTimeoutMs);
  const cleanup = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', cleanup);
    socket.off('close', cleanup);
  };
  const decide = (outOfPatience: boolean): void => {
    let sniff: FirstRequestSniff;
    try {
      sniff = sniffFirstRequest(bytes);
    } catch (err) {
      opts.logger?.debug({ err, remote: socket.remoteAddress }, 'closing a malformed HTTP/2 connection');
      cleanup();
      socket.destroy();
      return;
    }
    const ackSeen = sniff.settingsAckOffset >= 0;
    if (!sniff.authorityValid) rewrite();
    else if (ackSeen && (sniff.headersSeen || outOfPatience)) fastPath(sniff.settingsAckOffset);
    else if (outOfPatience) rewrite();
  };
  const fastPath = (ackOffset: number): void => {
    cleanup();
    socket.pause();
    socket.unshift(
      Buffer.concat([bytes.subarray(0, ackOffset), bytes.subarray(ackOffset + frameHeaderBytes)]),
    );
    inject(socket);
  };
  const rewrite = (): void => {
    cleanup();
    socket.pause();
    opts.logger?.debug({ remote: socket.remoteAddress }, 'repairing :authority on an HTTP/2 connection');
    const connection = new RewritingConnection(
      socket,
      new AuthorityRewriter({ dropFirstSettingsAck: true }),
      opts.logger,
    );
    connection.feed(bytes);
    if (!socket.destroyed) inject(connection);
  };
  const onData = (chunk: Buffer): void => {
    bytes = Buffer.concat([bytes, chunk]);
    decide(bytes.length >= opts.sniffBytesMax);
  };
  socket.on('data', onData);
  socket.on('error', cleanup);
  socket.on('close', cleanup);
  socket.write(emptySettingsFrame);
  decide(false);
}
