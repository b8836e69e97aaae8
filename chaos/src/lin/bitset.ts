// A fixed-size bitset with an incrementally maintained Zobrist hash: the search sets and clears one
// bit per step and looks the set up in its cache every step, so rehashing the whole set would cost
// O(ops) per step.

import { Prng } from './prng.js';

export class Bitset {
  readonly words: Uint32Array;
  /** XOR of the salts of the set bits. Invariant: equals the fold over the set bits. */
  hash = 0;

  constructor(
    readonly size: number,
    private readonly salts: Uint32Array,
  ) {
    if (salts.length < size) throw new Error('Bitset: fewer salts than bits');
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  static salts(size: number, seed: number): Uint32Array {
    const prng = new Prng(seed);
    const out = new Uint32Array(size);
    for (let i = 0; i < size; i++) out[i] = prng.nextU32();
    return out;
  }

  has(i: number): boolean {
    return ((this.words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  set(i: number): void {
    if (this.has(i)) throw new Error(`Bitset.set: bit ${i} already set`);
    this.words[i >>> 5]! |= 1 << (i & 31);
    this.hash = (this.hash ^ this.salts[i]!) >>> 0;
  }

  clear(i: number): void {
    if (!this.has(i)) throw new Error(`Bitset.clear: bit ${i} not set`);
    this.words[i >>> 5]! &= ~(1 << (i & 31));
    this.hash = (this.hash ^ this.salts[i]!) >>> 0;
  }

  /** A frozen copy of the words, for the cache. */
  snapshot(): Uint32Array {
    return this.words.slice();
  }

  equalsWords(other: Uint32Array): boolean {
    const w = this.words;
    for (let i = w.length - 1; i >= 0; i--) if (w[i] !== other[i]) return false;
    return true;
  }
}
