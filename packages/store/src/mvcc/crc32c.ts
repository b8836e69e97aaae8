// CRC-32C (Castagnoli), the checksum etcd's HashKV uses. Node 20 has no built-in crc32 in zlib.

const TABLE: Uint32Array = makeTable(0x82f63b78);

function makeTable(polynomialReversed: number): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? polynomialReversed ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** An incremental CRC-32C: update() with chunks, then digest(). */
export class Crc32c {
  private crc = 0xffffffff;

  update(data: Uint8Array): this {
    let c = this.crc;
    for (let i = 0; i < data.length; i++) c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    this.crc = c;
    return this;
  }

  digest(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }
}

export function crc32c(data: Uint8Array): number {
  return new Crc32c().update(data).digest();
}
