// Values in histories are arbitrary JSON; models compare them by canonical JSON text (object keys
// sorted) so that {"a":1,"b":2} and {"b":2,"a":1} are the same value. Primitives take a fast path.

import type { HistoryOp } from '../history.js';
import type { Partition } from '../model.js';

/** JSON text with object keys sorted. */
export function canonical(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null;

/** Equality of JSON values (undefined counts as null). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === undefined || a === null) && (b === undefined || b === null)) return true;
  if (isObject(a) && isObject(b)) return canonical(a) === canonical(b);
  return false;
}

/** FNV-1a over a string's UTF-16 code units. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A hash consistent with sameValue. */
export function hashValue(v: unknown): number {
  if (v === undefined || v === null) return 0x6e756c6c;
  if (typeof v === 'string') return hashString(v);
  if (typeof v === 'number') return hashString(`#${v}`);
  return hashString(canonical(v));
}

/** A short rendering of a value for reports (long values are cut). */
export function show(v: unknown): string {
  const text = typeof v === 'string' ? v : canonical(v);
  return text.length > 24 ? `${text.slice(0, 21)}...` : text;
}

/** One partition per key (ops without a key share the partition named ""), sorted by key. */
export function partitionByKey<O extends HistoryOp>(ops: readonly O[]): Partition<O>[] {
  const byKey = new Map<string, O[]>();
  for (const op of ops) {
    const key = op.key ?? '';
    let list = byKey.get(key);
    if (list === undefined) {
      list = [];
      byKey.set(key, list);
    }
    list.push(op);
  }
  return [...byKey.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, o]) => ({ key, ops: o }));
}

/** The validation message for an op whose function the model does not know, if it does not. */
export function checkFunction(op: HistoryOp, model: string, fs: readonly string[]): string | undefined {
  if (fs.includes(op.f)) return undefined;
  return `the ${model} model has no operation "${op.f}" (it knows ${fs.join(', ')})`;
}
