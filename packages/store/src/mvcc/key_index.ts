// The in-memory index: one small object per KEY (never per revision), ordered by key for range
// reads. A key's versions are records in the RecordLog, chained newest to oldest through their
// `prev` links (etcd's keyIndex with its generations flattened: a tombstone ends a generation).
// Each history has a slot number so a record (which holds only numbers) can name its key.
import { NO_RECORD, type RecordLog } from './arena.js';
import { BTree } from './btree.js';
import type { KeySpan } from './bytes.js';

export interface KeyHistory {
  readonly key: Buffer;
  readonly indexKey: string;
  readonly slot: number;
  /** The newest retained record. Invariant: a valid, not dead id whenever count > 0. */
  newest: number;
  /** Retained records in the chain from `newest`. Invariant: >= 1 while the key is indexed. */
  count: number;
}

/** Heap objects per indexed key: the history, its key Buffer and its latin1 index string. */
export const HEAP_OBJECTS_PER_KEY = 3;

/** Plain code-unit order: index keys are latin1 strings, so this is the keys' byte order. */
function compareIndexKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class KeyIndex {
  // Two views of the same histories, always updated together: the Map answers exact lookups
  // (every put and single-key range) in one hash probe, the B-tree answers ordered range scans.
  private readonly tree: BTree<string, KeyHistory> = new BTree<string, KeyHistory>(
    undefined,
    compareIndexKeys,
  );
  private readonly byKey = new Map<string, KeyHistory>();
  /** Histories by slot; freed slots are undefined and listed in freeSlots for reuse. */
  private readonly bySlot: Array<KeyHistory | undefined> = [];
  private readonly freeSlots: number[] = [];

  get size(): number {
    return this.byKey.size;
  }

  get(indexKey: string): KeyHistory | undefined {
    return this.byKey.get(indexKey);
  }

  /** The history in a slot; a record's slot always names its key while the record is retained. */
  atSlot(slot: number): KeyHistory {
    const h = this.bySlot[slot];
    if (h === undefined) throw new Error(`assertion: slot ${slot} holds no key history`);
    return h;
  }

  getOrCreate(key: Buffer, indexKey: string): KeyHistory {
    const found = this.byKey.get(indexKey);
    if (found !== undefined) return found;
    const slot = this.freeSlots.pop() ?? this.bySlot.length;
    const h: KeyHistory = { key, indexKey, slot, newest: NO_RECORD, count: 0 };
    this.bySlot[slot] = h;
    this.byKey.set(indexKey, h);
    this.tree.set(indexKey, h);
    return h;
  }

  remove(h: KeyHistory): void {
    if (this.bySlot[h.slot] !== h) throw new Error('assertion: removing a history that is not indexed');
    this.byKey.delete(h.indexKey);
    this.tree.delete(h.indexKey);
    this.bySlot[h.slot] = undefined;
    this.freeSlots.push(h.slot);
  }

  /** Calls f for each history whose key is in the span, in key order. */
  visit(span: KeySpan, f: (h: KeyHistory) => void): void {
    if (span.end === null) {
      const h = this.byKey.get(span.key);
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

  /** Throws unless the Map and the B-tree hold exactly the same histories (for tests). */
  assertInStep(): void {
    if (this.byKey.size !== this.tree.size)
      throw new Error(`assertion: key map has ${this.byKey.size} keys, tree ${this.tree.size}`);
    for (const [k, h] of this.tree.entries()) {
      if (this.byKey.get(k) !== h || h.indexKey !== k || this.bySlot[h.slot] !== h)
        throw new Error(`assertion: key index views disagree on ${JSON.stringify(k)}`);
    }
  }

  /** Rewrites every history's record id after the log was rebuilt. */
  remapRecords(remap: Int32Array): void {
    for (const h of this.tree.values()) {
      const id = remap[h.newest];
      if (id === undefined || id === NO_RECORD) throw new Error('assertion: a newest record was dropped');
      h.newest = id;
    }
  }

  /**
   * Heap objects held: per key, plus the slot table, the Map (its entries live in a few backing
   * arrays, not one object each) and BTree nodes (estimated at 1 per 32 keys).
   */
  heapObjectCount(): number {
    return HEAP_OBJECTS_PER_KEY * this.byKey.size + 4 + Math.ceil(this.bySlot.length / 32) * 2;
  }
}

/** The id of the key's newest record with main <= atRev, or NO_RECORD. Walks at most h.count links. */
export function recordAt(log: RecordLog, h: KeyHistory, atRev: number): number {
  let id = h.newest;
  for (let steps = 0; steps < h.count; steps++) {
    if (id === NO_RECORD) return NO_RECORD;
    if (log.main(id) <= atRev) return id;
    id = log.prev(id);
  }
  if (id !== NO_RECORD) throw new Error('assertion: key history longer than its count');
  return NO_RECORD;
}
