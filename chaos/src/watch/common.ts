// Pieces the watch properties share: key ranges in etcd's byte order, the bounded violation sink, and
// how a value of the history compares with a value etcd sends.

import type {
  WatchEventRec,
  WatchKv,
  WatchPropertyName,
  WatchPropertyVerdict,
  WatchViolation,
} from './types.js';

export const MAX_VIOLATIONS_DEFAULT = 50;

/** etcd orders keys by their bytes; JavaScript compares UTF-16 code units, which differs beyond the BMP. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Whether `key` is in etcd's range [start, end): '' is the single key `start`, '\0' every key from it. */
export function inRange(key: string, start: string, end: string): boolean {
  if (end === '') return key === start;
  if (compareKeys(key, start) < 0) return false;
  return end === '\0' || compareKeys(key, end) < 0;
}

/** A history value as the text etcd would store: strings as they are, anything else as JSON. */
export function valueText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v ?? null);
}

/** The violations of one property, bounded: the first `max` are kept, the rest counted. */
export class ViolationSink {
  readonly violations: WatchViolation[] = [];
  omitted = 0;

  constructor(
    readonly name: WatchPropertyName,
    private readonly max: number,
  ) {
    if (!(Number.isInteger(max) && max >= 0))
      throw new Error(`maxViolations must be an integer >= 0, got ${max}`);
  }

  add(v: WatchViolation): void {
    if (this.violations.length < this.max) this.violations.push(v);
    else this.omitted++;
  }

  verdict(): WatchPropertyVerdict {
    const ok = this.violations.length === 0 && this.omitted === 0;
    return { name: this.name, ok, violations: this.violations, omitted: this.omitted };
  }
}

export function showKv(kv: WatchKv | null): string {
  if (kv === null) return 'none';
  return `{value ${JSON.stringify(kv.value)}, create ${kv.createRevision}, mod ${kv.modRevision}, version ${kv.version}}`;
}

export function showEvent(ev: WatchEventRec): string {
  const what =
    ev.type === 'PUT'
      ? `PUT ${JSON.stringify(ev.key)} = ${JSON.stringify(ev.value)}`
      : `DELETE ${JSON.stringify(ev.key)}`;
  return `${what} @${ev.modRevision} (create ${ev.createRevision}, version ${ev.version})`;
}

/** Whether two events say the same thing (prevKv aside: it is only sent when asked for). */
export function sameEvent(a: WatchEventRec, b: WatchEventRec): boolean {
  return (
    a.type === b.type &&
    a.key === b.key &&
    a.value === b.value &&
    a.modRevision === b.modRevision &&
    a.createRevision === b.createRevision &&
    a.version === b.version
  );
}

export function sameKv(a: WatchKv | null, b: WatchKv | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.value === b.value &&
    a.createRevision === b.createRevision &&
    a.modRevision === b.modRevision &&
    a.version === b.version
  );
}

/** The largest index i with sorted[i] < x, or -1. */
export function lastBelow(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
