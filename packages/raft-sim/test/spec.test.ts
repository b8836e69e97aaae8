import {
  baseSpec,
  formatSeedString,
  parseSeedString,
  SpecError,
  soakSeed,
  specFromSeed,
  validateSpec,
} from '@keelson/raft-sim';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scheduleSpecArb } from './support/arbitrary.js';

describe('seed strings', () => {
  // Proves every spec the arbitrary can generate prints as a seed string that parses back unchanged.
  it('round-trips every generated spec', () => {
    fc.assert(
      fc.property(scheduleSpecArb({ steps: 2000 }), (spec) => {
        const s = formatSeedString(spec);
        expect(s).toMatch(/^v1(-[a-z][0-9a-f]+)+$/);
        expect(parseSeedString(s)).toEqual(spec);
      }),
      { numRuns: 500 },
    );
  });

  // Proves a bare number is shorthand for the spec the soak derives from that seed.
  it('accepts a bare seed', () => {
    expect(parseSeedString('12345')).toEqual(specFromSeed(12345));
    expect(parseSeedString('0x10')).toEqual(specFromSeed(16));
  });

  // Proves malformed seed strings are refused with an error naming the problem.
  it('rejects malformed strings', () => {
    const good = formatSeedString(baseSpec());
    expect(() => parseSeedString('v2-s1')).toThrow(SpecError);
    expect(() => parseSeedString(good.replace('-n3', '-n9'))).toThrow(/nodes/);
    expect(() => parseSeedString(good.replace('-n3', ''))).toThrow(/lacks field "n"/);
    expect(() => parseSeedString(`${good}-n3`)).toThrow(/twice/);
    expect(() => parseSeedString(good.replace('-e10', '-e10-w5'))).toThrow(/unknown field/);
    expect(() => parseSeedString(good.replace('-h1', '-h10'))).toThrow(/heartbeatTick/);
  });
});

describe('specFromSeed', () => {
  // Proves derived specs are deterministic and always valid.
  it('derives the same valid spec from the same seed', () => {
    for (let k = 0; k < 200; k++) {
      const seed = soakSeed(7, k);
      expect(specFromSeed(seed)).toEqual(specFromSeed(seed));
      expect(() => validateSpec(specFromSeed(seed))).not.toThrow();
    }
    expect(specFromSeed(1, { steps: 3000, nodes: 5 })).toMatchObject({ steps: 3000, nodes: 5, seed: 1 });
  });

  // Proves soak seeds are distinct for distinct k and depend on the start.
  it('spreads soak seeds', () => {
    const seen = new Set(Array.from({ length: 10_000 }, (_, k) => soakSeed(1, k)));
    expect(seen.size).toBe(10_000);
    expect(soakSeed(1, 0)).not.toBe(soakSeed(2, 0));
  });
});
