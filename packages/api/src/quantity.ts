// Kubernetes resource.Quantity: parsing ("500m", "1Gi", "1e3", "0.5"), exact comparison and
// arithmetic, and the canonical string apimachinery prints. A quantity is held as a bigint count of
// nano-units: Kubernetes rounds every parsed value up (away from zero) to 1n and caps it at 2^63-1, so
// nanos are exact for every value it can represent, and comparisons never go through floats.

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value in units of 10^-9. */
  readonly nanos: bigint;
  /** How the value was written; canonical formatting keeps the family (Kubernetes' Format). */
  readonly format: QuantityFormat;
}

/** The message apimachinery gives for an unparseable quantity. */
export const QUANTITY_REGEX_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

export class QuantityParseError extends Error {
  readonly code = 'QUANTITY_INVALID';
  constructor(readonly input: string) {
    super(QUANTITY_REGEX_MESSAGE);
    this.name = 'QuantityParseError';
  }
}

const nanosPerUnit = 1_000_000_000n;
/** apimachinery caps parsed values at the largest int64. */
const maxAllowedNanos = (2n ** 63n - 1n) * nanosPerUnit;
/** Exponents beyond this are rejected rather than building enormous bigints (Kubernetes caps them too). */
const exponentAbsMax = 1_000;

const decimalSuffixExponents: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const binarySuffixPowers: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalExponentSuffixes: Record<number, string> = Object.fromEntries(
  Object.entries(decimalSuffixExponents).map(([s, e]) => [e, s]),
);
const binaryPowerSuffixes: Record<number, string> = Object.fromEntries(
  Object.entries(binarySuffixPowers).map(([s, p]) => [p, s]),
);

const quantityPattern = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/;
const exponentPattern = /^[eE]([+-]?[0-9]+)$/;

/** Parses a quantity string (or a JSON number, which Kubernetes also accepts) exactly. */
export function parseQuantity(input: string | number): Quantity {
  const text = typeof input === 'number' ? numberText(input) : input.trim();
  const m = quantityPattern.exec(text);
  if (m === null) throw new QuantityParseError(text);
  const [, sign = '', whole = '', frac = '', suffix = ''] = m;
  if (whole.length === 0 && frac.length === 0) throw new QuantityParseError(text);
  const { format, mul, div } = suffixScale(suffix, text);
  // value = ±(whole.frac) × mul / div, as the rational digits / 10^frac.length.
  const digits = BigInt(`${whole}${frac}` || '0');
  const numerator = digits * mul * nanosPerUnit;
  const denominator = div * 10n ** BigInt(frac.length);
  let nanos = ceilDiv(numerator, denominator);
  if (nanos > maxAllowedNanos) nanos = maxAllowedNanos;
  if (sign === '-') nanos = -nanos;
  return { nanos, format };
}

/** Like parseQuantity but undefined instead of an error, for values validation has yet to check. */
export function tryParseQuantity(input: unknown): Quantity | undefined {
  if (typeof input !== 'string' && typeof input !== 'number') return undefined;
  try {
    return parseQuantity(input);
  } catch (err) {
    if (err instanceof QuantityParseError) return undefined;
    throw err;
  }
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new QuantityParseError(String(n));
  // JSON numbers such as 1e21 print with an exponent; both forms parse.
  return String(n);
}

function suffixScale(suffix: string, text: string): { format: QuantityFormat; mul: bigint; div: bigint } {
  const dec = decimalSuffixExponents[suffix];
  if (dec !== undefined) return { format: 'DecimalSI', ...powerOfTen(dec) };
  const bin = binarySuffixPowers[suffix];
  if (bin !== undefined) return { format: 'BinarySI', mul: 2n ** BigInt(bin), div: 1n };
  const exp = exponentPattern.exec(suffix);
  if (exp?.[1] !== undefined) {
    const e = Number(exp[1]);
    if (Math.abs(e) > exponentAbsMax) throw new QuantityParseError(text);
    return { format: 'DecimalExponent', ...powerOfTen(e) };
  }
  throw new QuantityParseError(text);
}

function powerOfTen(e: number): { mul: bigint; div: bigint } {
  return e >= 0 ? { mul: 10n ** BigInt(e), div: 1n } : { mul: 1n, div: 10n ** BigInt(-e) };
}

/** Division rounding away from zero for a non-negative numerator (Kubernetes' inf.RoundUp). */
function ceilDiv(n: bigint, d: bigint): bigint {
  if (n < 0n || d <= 0n) throw new Error(`assertion failed: ceilDiv(${n}, ${d})`);
  return (n + d - 1n) / d;
}

export function quantityFromNanos(nanos: bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  return { nanos, format };
}

/** An integer count (pods=3) as Kubernetes builds it with resource.NewQuantity(n, DecimalSI). */
export function quantityFromInt(n: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  return { nanos: BigInt(n) * nanosPerUnit, format };
}

export function compareQuantity(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

/** a + b in a's format (b's when a is zero), as Quantity.Add does. */
export function addQuantity(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos + b.nanos, format: a.nanos === 0n ? b.format : a.format };
}

export function subQuantity(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos - b.nanos, format: a.nanos === 0n ? b.format : a.format };
}

export function maxQuantity(a: Quantity, b: Quantity): Quantity {
  return compareQuantity(a, b) >= 0 ? a : b;
}

/** Quantity.MilliValue(): the value in thousandths, rounded up (towards +infinity). */
export function milliValue(q: Quantity): bigint {
  return ceilDivSigned(q.nanos, 1_000_000n);
}

/** Quantity.Value(): the value rounded up (towards +infinity). */
export function wholeValue(q: Quantity): bigint {
  return ceilDivSigned(q.nanos, nanosPerUnit);
}

function ceilDivSigned(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n > 0n ? q + 1n : q;
}

/** Quantity.String(): the canonical form, e.g. 1500m, 1Gi, 1536Mi, 1e3, 0. */
export function formatQuantity(q: Quantity): string {
  if (q.nanos === 0n) return '0';
  const sign = q.nanos < 0n ? '-' : '';
  const abs = q.nanos < 0n ? -q.nanos : q.nanos;
  if (q.format === 'BinarySI' && abs >= 1024n * nanosPerUnit && abs % nanosPerUnit === 0n) {
    return sign + formatBinary(abs / nanosPerUnit);
  }
  return sign + formatDecimal(abs, q.format === 'DecimalExponent' ? 'DecimalExponent' : 'DecimalSI');
}

/** A positive integer as mantissa × 1024^k with the largest k that keeps the mantissa whole. */
function formatBinary(value: bigint): string {
  let mantissa = value;
  let power = 0;
  while (power < 60 && mantissa % 1024n === 0n) {
    mantissa /= 1024n;
    power += 10;
  }
  return `${mantissa}${binaryPowerSuffixes[power] ?? ''}`;
}

/** A positive nano count as mantissa × 10^e, e a multiple of 3 and the mantissa minimal but whole. */
function formatDecimal(nanos: bigint, format: 'DecimalSI' | 'DecimalExponent'): string {
  let mantissa = nanos;
  let exponent = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent += 1;
  }
  const shift = ((exponent % 3) + 3) % 3;
  mantissa *= 10n ** BigInt(shift);
  exponent -= shift;
  if (format === 'DecimalExponent') return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  const suffix = decimalExponentSuffixes[exponent];
  // Values are capped below 10^19 and rounded to nanos, so every exponent has an SI suffix.
  if (suffix === undefined) throw new Error(`assertion failed: no SI suffix for exponent ${exponent}`);
  return `${mantissa}${suffix}`;
}

/** Parses and re-formats, for normalising a quantity written by a user. */
export function canonicalQuantity(input: string | number): string {
  return formatQuantity(parseQuantity(input));
}

/** A ResourceList (`{cpu: "500m"}`) with its values parsed; unparseable entries are left out. */
export function parseResourceList(list: unknown): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  if (list === null || typeof list !== 'object') return out;
  for (const [name, raw] of Object.entries(list as Record<string, unknown>)) {
    const q = tryParseQuantity(raw);
    if (q !== undefined) out.set(name, q);
  }
  return out;
}
