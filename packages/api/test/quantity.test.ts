// Kubernetes resource.Quantity parsing, exact comparison and canonical formatting, against
// apimachinery's documented examples and as properties over generated quantities.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addQuantity,
  canonicalQuantity,
  compareQuantity,
  formatQuantity,
  milliValue,
  parseQuantity,
  QuantityParseError,
  wholeValue,
} from '../src/quantity.js';

const seed =
  process.env.QUANTITY_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.QUANTITY_SEED);

function check<T>(arb: fc.Arbitrary<T>, predicate: (v: T) => void, numRuns = 500): void {
  const result = fc.check(fc.property(arb, predicate), { seed, numRuns });
  if (result.failed) {
    throw new Error(`property failed with QUANTITY_SEED=${seed}: ${fc.defaultReportMessage(result)}`);
  }
}

describe('parseQuantity and formatQuantity', () => {
  it.each([
    ['500m', '500m'],
    ['0.5', '500m'],
    ['.5', '500m'],
    ['1', '1'],
    ['1000m', '1'],
    ['1500m', '1500m'],
    ['1.5', '1500m'],
    ['1000', '1k'],
    ['1200', '1200'],
    ['1e3', '1e3'],
    ['1E3', '1e3'],
    ['12e2', '1200'],
    ['1e-3', '1e-3'],
    ['1Ki', '1Ki'],
    ['1024', '1024'],
    ['1024Ki', '1Mi'],
    ['1536Mi', '1536Mi'],
    ['1.5Gi', '1536Mi'],
    ['0.5Ki', '512'],
    ['1.1Ki', '1126400m'],
    ['128974848', '128974848'],
    ['129e6', '129e6'],
    ['129M', '129M'],
    ['123Mi', '123Mi'],
    ['1E', '1E'],
    ['0', '0'],
    ['0Gi', '0'],
    ['-1', '-1'],
    ['-500m', '-500m'],
    ['+2', '2'],
    ['0.1n', '1n'],
    ['1.0000000001', '1000000001n'],
    ['100u', '100u'],
  ])('%s is canonically %s', (input, canonical) => {
    // Proves each documented example parses and prints as apimachinery does.
    expect(canonicalQuantity(input)).toBe(canonical);
  });

  it.each(['', '.', 'abc', '1K', '1 Gi', '1.2.3', '1Gb', 'e3', '--1', '1e'])('rejects %j', (input) => {
    // Proves malformed quantities fail with apimachinery's message, not a silent zero.
    expect(() => parseQuantity(input)).toThrow(QuantityParseError);
  });

  it('accepts JSON numbers', () => {
    // Proves numeric JSON values (cpu: 2) parse like their string form.
    expect(formatQuantity(parseQuantity(2))).toBe('2');
    expect(formatQuantity(parseQuantity(0.25))).toBe('250m');
  });

  it('rounds up like Quota and LimitRanger do', () => {
    // Proves MilliValue/Value round towards +infinity as Kubernetes does.
    expect(milliValue(parseQuantity('0.1m'))).toBe(1n);
    expect(wholeValue(parseQuantity('1500m'))).toBe(2n);
    expect(wholeValue(parseQuantity('-1500m'))).toBe(-1n);
    expect(milliValue(parseQuantity('1Gi'))).toBe(1073741824000n);
  });

  it('compares across suffixes exactly', () => {
    // Proves comparison is exact across decimal, binary and exponent forms.
    expect(compareQuantity(parseQuantity('1Gi'), parseQuantity('1073741824'))).toBe(0);
    expect(compareQuantity(parseQuantity('1G'), parseQuantity('1Gi'))).toBe(-1);
    expect(compareQuantity(parseQuantity('1e3'), parseQuantity('1k'))).toBe(0);
    expect(compareQuantity(parseQuantity('500m'), parseQuantity('0.5'))).toBe(0);
    expect(compareQuantity(parseQuantity('1n'), parseQuantity('0'))).toBe(1);
  });
});

/** A quantity string built from a decimal mantissa and any suffix family. */
const quantityText = fc
  .tuple(
    fc.constantFrom('', '-'),
    fc.bigInt({ min: 0n, max: 10n ** 12n }),
    fc.integer({ min: 0, max: 6 }),
    fc.constantFrom('', 'n', 'u', 'm', 'k', 'M', 'G', 'T', 'Ki', 'Mi', 'Gi', 'Ti', 'e3', 'e-2', 'E2'),
  )
  .map(([sign, digits, fracLen, suffix]) => {
    const s = digits.toString().padStart(fracLen + 1, '0');
    const text = fracLen === 0 ? s : `${s.slice(0, s.length - fracLen)}.${s.slice(s.length - fracLen)}`;
    return `${sign}${text}${suffix}`;
  });

describe('quantity properties', () => {
  it('format then parse is the identity on the value', () => {
    // Proves the canonical form never loses or changes a value.
    check(quantityText, (text) => {
      const q = parseQuantity(text);
      expect(parseQuantity(formatQuantity(q)).nanos).toBe(q.nanos);
    });
  });

  it('canonical formatting is idempotent', () => {
    // Proves re-normalising a canonical quantity changes nothing.
    check(quantityText, (text) => {
      const once = canonicalQuantity(text);
      expect(canonicalQuantity(once)).toBe(once);
    });
  });

  it('comparison agrees with exact rational comparison of the written values', () => {
    // Proves compareQuantity orders values as exact arithmetic does (values are whole nanos here).
    const wholeNanos = fc.tuple(
      fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
      fc.constantFrom('n', 'u', 'm', ''),
    );
    check(fc.tuple(wholeNanos, wholeNanos), ([[a, sa], [b, sb]]) => {
      const scale = { n: 1n, u: 1_000n, m: 1_000_000n, '': 1_000_000_000n } as const;
      const exact = a * scale[sa] - b * scale[sb];
      const got = compareQuantity(parseQuantity(`${a}${sa}`), parseQuantity(`${b}${sb}`));
      expect(got).toBe(exact < 0n ? -1 : exact > 0n ? 1 : 0);
    });
  });

  it('addition is exact and commutative in value', () => {
    // Proves usage sums (quota) never drift.
    check(fc.tuple(quantityText, quantityText), ([x, y]) => {
      const a = parseQuantity(x);
      const b = parseQuantity(y);
      expect(addQuantity(a, b).nanos).toBe(a.nanos + b.nanos);
      expect(addQuantity(a, b).nanos).toBe(addQuantity(b, a).nanos);
    });
  });
});
