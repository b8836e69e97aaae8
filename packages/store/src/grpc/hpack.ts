// HPACK (RFC 7541), the header compression of HTTP/2: a decoder with its dynamic table (one per client→server
// direction of a connection) and an encoder that uses only the static table and literals, so the client's
// decoder table is never touched and there is no encoder state to keep. Strings are latin1 so that header
// octets round-trip exactly.

export class Http2FramingError extends Error {
  override readonly name = 'Http2FramingError';
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

/** The largest HPACK dynamic table a client may ask us to track (nghttp2's default is 4096). */
const dynamicTableBytesMax = 64 * 1024;
/** The HPACK dynamic table size before any size update: SETTINGS_HEADER_TABLE_SIZE's default. */
export const dynamicTableBytesDefault = 4096;

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

/** A dynamic table entry's size (RFC 7541 4.1): its name and value octets plus 32. */
function entryBytes(field: HeaderField): number {
  return Buffer.byteLength(field.name, 'latin1') + Buffer.byteLength(field.value, 'latin1') + 32;
}

/** The static table as the fields decode() returns for its indexes (shared, frozen). */
const staticFields: readonly HeaderField[] = staticTable.map(([name, value]) =>
  Object.freeze({ name, value, neverIndexed: false }),
);

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
  /**
   * Newest first, each entry the (frozen) field that decode() returns for it, so that a header sent as
   * an index costs no allocation. Invariant: usedBytes = sum of entry sizes <= tableBytesMax.
   */
  private readonly dynamic: HeaderField[] = [];
  private usedBytes = 0;
  private tableBytesMax = dynamicTableBytesDefault;

  /** The block's fields; those sent as table indexes are shared, frozen objects (do not modify). */
  decode(block: Buffer): HeaderField[] {
    const reader = new BlockReader(block);
    const fields: HeaderField[] = [];
    // Bounded: every iteration consumes at least one byte of the block.
    while (!reader.done) {
      const first = block[reader.pos] ?? 0;
      if (first & 0x80) {
        fields.push(this.entry(reader.integer(7)));
      } else if (first & 0x40) {
        const field = Object.freeze(this.literal(reader, 6));
        this.add(field);
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
    const name = index === 0 ? reader.string() : this.entry(index).name;
    return { name, value: reader.string(), neverIndexed: false };
  }

  private entry(index: number): HeaderField {
    const found = index <= staticTable.length ? staticFields[index - 1] : this.dynamic[index - 62];
    if (index === 0 || found === undefined) throw new Http2FramingError(`HPACK: no table entry ${index}`);
    return found;
  }

  private add(field: HeaderField): void {
    const size = entryBytes(field);
    this.dynamic.unshift(field);
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
      this.usedBytes -= entryBytes(oldest);
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

/**
 * An HPACK encoder that indexes, as grpc-go's and nghttp2's encoders do: a field's first use goes as a
 * literal "with incremental indexing" and every later use as one index into the decoder's dynamic
 * table, so the decoder neither parses nor allocates it again. It never evicts: a field that would not
 * fit in the table any more goes as a literal without indexing, and so does every field whose name is
 * in `volatileNames` (a value that changes on every request, like grpc-timeout, would only churn the
 * table). One encoder per connection direction, and blocks must be sent in the order they were encoded.
 */
export class HpackIndexingEncoder {
  /** name + NUL + value of each entry this encoder added, with its insertion number. */
  private readonly inserted = new Map<string, number>();
  private insertions = 0;
  private usedBytes = 0;
  /** A dynamic table size update owed at the start of the next block (after the table shrank). */
  private sizeUpdate: number | null = null;

  constructor(
    private tableBytesMax: number = dynamicTableBytesDefault,
    private readonly volatileNames: ReadonlySet<string> = new Set(),
  ) {
    if (!Number.isInteger(tableBytesMax) || tableBytesMax < 0 || tableBytesMax > dynamicTableBytesMax)
      throw new Error(`assertion: bad HPACK table size ${tableBytesMax}`);
  }

  /** Changes whenever an entry is added or the table is reset: a block encoded at the same generation is the same. */
  get generation(): number {
    return this.insertions;
  }

  /**
   * The decoder's SETTINGS_HEADER_TABLE_SIZE. Above the default it changes nothing (the decoder's table
   * starts at the default); below it, the next block empties the decoder's table and this encoder
   * starts over within the new size.
   */
  setPeerTableBytes(bytes: number): void {
    const max = Math.min(bytes, dynamicTableBytesDefault);
    if (max >= this.tableBytesMax) return;
    this.tableBytesMax = max;
    this.inserted.clear();
    this.insertions++; // a new generation: cached blocks are stale
    this.usedBytes = 0;
    this.sizeUpdate = max;
  }

  encode(fields: readonly HeaderField[]): Buffer {
    const out: number[] = [];
    if (this.sizeUpdate !== null) {
      // RFC 7541 4.2 and 6.3: down to 0 (evicting everything), then up to the size allowed.
      encodeInteger(out, 0x20, 5, 0);
      encodeInteger(out, 0x20, 5, this.sizeUpdate);
      this.sizeUpdate = null;
      this.insertions++; // this block is not the one the same fields give next time
    }
    for (const field of fields) {
      const key = `${field.name}\0${field.value}`;
      const exact = field.neverIndexed ? undefined : staticIndexByField.get(key);
      if (exact !== undefined) {
        encodeInteger(out, 0x80, 7, exact);
        continue;
      }
      const seq = field.neverIndexed ? undefined : this.inserted.get(key);
      if (seq !== undefined) {
        // The newest entry is index 62 (RFC 7541 2.3.3); nothing was ever evicted.
        encodeInteger(out, 0x80, 7, staticTable.length + 1 + this.insertions - seq);
        continue;
      }
      const nameIndex = staticIndexByName.get(field.name) ?? 0;
      const size = entryBytes(field);
      const index =
        !field.neverIndexed &&
        !this.volatileNames.has(field.name) &&
        this.usedBytes + size <= this.tableBytesMax;
      if (index) {
        encodeInteger(out, 0x40, 6, nameIndex);
        this.insertions++;
        this.inserted.set(key, this.insertions);
        this.usedBytes += size;
      } else {
        encodeInteger(out, field.neverIndexed ? 0x10 : 0, 4, nameIndex);
      }
      if (nameIndex === 0) encodeString(out, field.name);
      encodeString(out, field.value);
    }
    return Buffer.from(out);
  }
}
