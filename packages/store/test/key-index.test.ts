// KeyIndex keeps its exact-lookup Map and its ordered B-tree in step through inserts and removals,
// and orders keys by their bytes (latin1 code units), including bytes >= 0x80.
import { describe, expect, it } from 'vitest';
import { toIndexKey, toSpan } from '../src/mvcc/bytes.js';
import { type KeyHistory, KeyIndex } from '../src/mvcc/key_index.js';

function add(ix: KeyIndex, key: Buffer): KeyHistory {
  return ix.getOrCreate(key, toIndexKey(key));
}

function visited(ix: KeyIndex, key: Buffer, end: Buffer | null): string[] {
  const out: string[] = [];
  ix.visit(toSpan(key, end ?? Buffer.alloc(0)), (h) => out.push(h.key.toString('hex')));
  return out;
}

describe('KeyIndex', () => {
  it('finds a key by exact lookup and by range scan, and forgets it in both after remove', () => {
    // Proves both views answer for a key while it is indexed and neither does once it is removed.
    const ix = new KeyIndex();
    const a = add(ix, Buffer.from('a'));
    const b = add(ix, Buffer.from('b'));
    expect(add(ix, Buffer.from('a'))).toBe(a);
    expect(ix.size).toBe(2);
    expect(ix.get(toIndexKey(Buffer.from('b')))).toBe(b);
    expect(visited(ix, Buffer.from('b'), null)).toEqual(['62']);
    expect(visited(ix, Buffer.from('a'), Buffer.from([0]))).toEqual(['61', '62']);
    ix.assertInStep();

    ix.remove(b);
    expect(ix.size).toBe(1);
    expect(ix.get(toIndexKey(Buffer.from('b')))).toBeUndefined();
    expect(visited(ix, Buffer.from('b'), null)).toEqual([]);
    expect(visited(ix, Buffer.from('a'), Buffer.from([0]))).toEqual(['61']);
    ix.assertInStep();

    // A re-created key gets a fresh history (reusing the freed slot) in both views.
    const b2 = add(ix, Buffer.from('b'));
    expect(b2).not.toBe(b);
    expect(b2.slot).toBe(b.slot);
    expect(ix.get(toIndexKey(Buffer.from('b')))).toBe(b2);
    ix.assertInStep();
  });

  it('scans in byte order, with bytes >= 0x80 after ASCII', () => {
    // Proves the B-tree's comparator orders latin1 index keys as unsigned bytes.
    const ix = new KeyIndex();
    const keys = [[0xff], [0x80, 0x01], [0x7f], [0x00], [0x80], [0x61, 0x00], [0x61]].map((k) =>
      Buffer.from(k),
    );
    for (const k of keys) add(ix, k);
    const sorted = [...keys].sort(Buffer.compare).map((k) => k.toString('hex'));
    expect(visited(ix, Buffer.from([0]), Buffer.from([0]))).toEqual(sorted);
    // Half-open [0x61, 0x80): 'a', 'a\0', 0x7f.
    expect(visited(ix, Buffer.from([0x61]), Buffer.from([0x80]))).toEqual(['61', '6100', '7f']);
  });

  it('stays in step through many random inserts and removals', () => {
    // Proves no sequence of getOrCreate/remove lets the Map and the B-tree drift apart.
    const ix = new KeyIndex();
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const live = new Map<string, KeyHistory>();
    // Bounded: 5000 steps.
    for (let step = 0; step < 5000; step++) {
      const key = Buffer.from([rand(256), rand(4)]);
      const ik = toIndexKey(key);
      const h = live.get(ik);
      if (h !== undefined && rand(2) === 0) {
        ix.remove(h);
        live.delete(ik);
      } else {
        const got = add(ix, key);
        if (h !== undefined) expect(got).toBe(h);
        live.set(ik, got);
      }
    }
    ix.assertInStep();
    expect(ix.size).toBe(live.size);
    const expected = [...live.values()].map((h) => h.key).sort(Buffer.compare);
    expect(visited(ix, Buffer.from([0]), Buffer.from([0]))).toEqual(expected.map((k) => k.toString('hex')));
  });
});
