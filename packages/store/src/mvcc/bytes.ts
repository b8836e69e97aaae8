// Byte helpers for MVCC keys. Keys are Buffers compared bytewise; the ordered index stores them as
// latin1 strings, whose UTF-16 code units are exactly the bytes, so string order is byte order.

/** A key range as etcd's mvcc sees it: end null = the single key; end '' = every key >= key. */
export interface KeySpan {
  readonly key: string;
  readonly end: string | null;
}

export function toIndexKey(b: Buffer): string {
  return b.toString('latin1');
}

export function fromIndexKey(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/**
 * The request's [key, range_end) as etcd reads it: an empty range_end means the key alone, and the
 * single byte "\0" means every key >= key (mkGteRange).
 */
export function toSpan(key: Buffer, rangeEnd: Buffer | null | undefined): KeySpan {
  const k = toIndexKey(key);
  if (rangeEnd === null || rangeEnd === undefined || rangeEnd.length === 0) return { key: k, end: null };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { key: k, end: '' };
  return { key: k, end: toIndexKey(rangeEnd) };
}

export function spanContains(span: KeySpan, indexKey: string): boolean {
  if (span.end === null) return indexKey === span.key;
  if (indexKey < span.key) return false;
  return span.end === '' || indexKey < span.end;
}

/** Bytewise comparison of two buffers (-1, 0, 1). */
export function compareBytes(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);
