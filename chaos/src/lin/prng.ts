// A small seeded generator (mulberry32): the checker's hash salts and the history generator must be
// reproducible from a seed, and Math.random is not.

export class Prng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n). */
  below(n: number): number {
    if (!(Number.isInteger(n) && n > 0))
      throw new Error(`Prng.below: n must be a positive integer, got ${n}`);
    return this.nextU32() % n;
  }

  /** True with probability permille/1000. */
  chance(permille: number): boolean {
    return this.below(1000) < permille;
  }
}
