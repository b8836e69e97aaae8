// The event trace of a run. Every event is folded into a running 32-bit FNV-1a hash (cheap, always
// on), which is how determinism is tested: the same seed must give the same hash. Text lines are
// kept only on request, either all of them (`--trace`) or the last few (printed with a violation).

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Folds a 32-bit-or-smaller non-negative integer into an FNV-1a hash, one byte at a time. */
export function fnvMix(hash: number, value: number): number {
  let h = hash;
  // Numbers above 2^32 (never expected in a trace) fold their high part in first.
  if (value > 0xffffffff || value < 0) {
    const hi = Math.floor(value / 4294967296) >>> 0;
    h = fnvMix(h, hi);
  }
  const v = value >>> 0;
  h = Math.imul(h ^ (v & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((v >>> 8) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ ((v >>> 16) & 0xff), FNV_PRIME);
  h = Math.imul(h ^ (v >>> 24), FNV_PRIME);
  return h >>> 0;
}

/** FNV-1a of a byte array, continuing from `hash`. */
export function fnvBytes(bytes: Uint8Array, hash: number = FNV_OFFSET): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), FNV_PRIME);
  return h >>> 0;
}

export const FNV_INITIAL = FNV_OFFSET;

export type TraceMode = 'none' | 'tail' | 'all';

/** How many lines `tail` mode keeps (and a violation report prints). */
export const TRACE_TAIL_LINES = 200;

export class Trace {
  /** True when callers should format text lines (mode is not 'none'); check before building strings. */
  readonly keep: boolean;
  private hashValue = FNV_OFFSET;
  private events = 0;
  private readonly mode: TraceMode;
  private readonly lines: string[] = [];
  /** In tail mode `lines` is a ring; this is the slot the next line goes to. */
  private ringNext = 0;
  private readonly onLine: ((line: string) => void) | undefined;

  constructor(mode: TraceMode = 'none', onLine?: (line: string) => void) {
    this.mode = mode;
    this.keep = mode !== 'none' || onLine !== undefined;
    this.onLine = onLine;
  }

  /** Records an event: a kind code and up to five integer fields. */
  event(kind: number, a = 0, b = 0, c = 0, d = 0, e = 0): void {
    let h = fnvMix(this.hashValue, kind);
    h = fnvMix(h, a);
    h = fnvMix(h, b);
    h = fnvMix(h, c);
    h = fnvMix(h, d);
    this.hashValue = fnvMix(h, e);
    this.events++;
  }

  /** Adds a text line (callers check `keep` first so that disabled tracing formats nothing). */
  line(text: string): void {
    this.onLine?.(text);
    if (this.mode === 'all') {
      this.lines.push(text);
    } else if (this.mode === 'tail') {
      if (this.lines.length < TRACE_TAIL_LINES) this.lines.push(text);
      else this.lines[this.ringNext] = text;
      this.ringNext = (this.ringNext + 1) % TRACE_TAIL_LINES;
    }
  }

  get hash(): number {
    return this.hashValue;
  }

  get eventCount(): number {
    return this.events;
  }

  /** The kept lines in order (all of them, or the tail). */
  text(): string[] {
    if (this.mode !== 'tail' || this.lines.length < TRACE_TAIL_LINES) return this.lines.slice();
    return [...this.lines.slice(this.ringNext), ...this.lines.slice(0, this.ringNext)];
  }
}

export function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
