// The in-memory index: for every key, its stored versions in revision order (etcd's keyIndex with
// its generations flattened: a tombstone ends a generation). Ordered by key for range reads.
import type { KeyValue } from '../api/types.js';
import { BTree } from './btree.js';
import type { KeySpan } from './bytes.js';
import type { Rec } from './codec.js';

export interface KeyHistory {
  readonly key: Buffer;
  readonly indexKey: string;
  /** Invariant: non-empty, ascending by (main, sub). */
  recs: Rec[];
}

export class KeyIndex {
  private readonly tree: BTree<string, KeyHistory> = new BTree<string, KeyHistory>();

  get size(): number {
    return this.tree.size;
  }

  get(indexKey: string): KeyHistory | undefined {
    return this.tree.get(indexKey);
  }

  getOrCreate(key: Buffer, indexKey: string): KeyHistory {
    const found = this.tree.get(indexKey);
    if (found !== undefined) return found;
    const h: KeyHistory = { key, indexKey, recs: [] };
    this.tree.set(indexKey, h);
    return h;
  }

  remove(indexKey: string): void {
    this.tree.delete(indexKey);
  }

  /** Calls f for each history whose key is in the span, in key order. */
  visit(span: KeySpan, f: (h: KeyHistory) => void): void {
    if (span.end === null) {
      const h = this.tree.get(span.key);
      if (h !== undefined) f(h);
      return;
    }
    if (span.end !== '' && span.end <= span.key) return;
    for (const [k, h] of this.tree.entries(span.key)) {
      if (span.end !== '' && k >= span.end) break;
      f(h);
    }
  }

  histories(): IterableIterator<KeyHistory> {
    return this.tree.values();
  }
}

/** Index of the newest record with main <= atRev, or -1. */
export function indexAt(h: KeyHistory, atRev: number): number {
  const recs = h.recs;
  const last = recs.length - 1;
  if (last >= 0 && (recs[last] as Rec).main <= atRev) return last;
  let lo = 0;
  let hi = last; // Answer is in [lo - 1, hi - 1]... searched as "first index with main > atRev" minus one.
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((recs[mid] as Rec).main <= atRev) lo = mid + 1;
    else hi = mid - 1;
  }
  return lo - 1;
}

/** The key's value as of atRev, or null when it did not exist then. */
export function liveAt(h: KeyHistory, atRev: number): KeyValue | null {
  const i = indexAt(h, atRev);
  return i < 0 ? null : (h.recs[i] as Rec).kv;
}

/** Position of rec in its history (by revision), or -1. */
export function positionOf(h: KeyHistory, rec: Rec): number {
  let lo = 0;
  let hi = h.recs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = h.recs[mid] as Rec;
    const cmp = r.main - rec.main || r.sub - rec.sub;
    if (cmp === 0) return mid;
    if (cmp < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
