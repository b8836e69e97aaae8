// Seeded randomness for the core. The core never calls Math.random: the caller injects a Rand,
// which is what makes a simulation run replayable from its seed.

export interface Rand {
  /** A uniformly distributed integer in [0, n). n must be a positive integer. */
  intn(n: number): number;
}

/**
 * sfc32 ("small fast counter"), a 128-bit-state generator that passes PractRand; seeded from one
 * 32-bit number via splitmix32 so that nearby seeds give unrelated streams.
 */
export class SeededRand implements Rand {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.nextUint32() / 4294967296;
  }

  intn(n: number): number {
    if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`intn needs a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  /** An element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.intn(items.length)] as T;
  }

  /** A new generator whose stream depends on this one's, for independent sub-streams. */
  fork(): SeededRand {
    return new SeededRand(this.nextUint32());
  }
}
