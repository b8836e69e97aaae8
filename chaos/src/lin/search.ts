// The Wing–Gong/Lowe search as Porcupine implements it, for one partition: the history is a doubly
// linked list of call and return entries in time order; the search walks it from the head and
// "lifts" an operation (removes its call and return) when the model accepts it in the current state;
// reaching the return of an operation not yet lifted means nothing more can be linearized before it,
// so the last lift is undone (backtracking). A cache of (linearized set, state) pairs already reached
// keeps the search from exploring the same configuration twice (Lowe's memoisation).

import { Bitset } from './bitset.js';
import type { Model, TimedOp } from './model.js';

export type SearchOutcome = 'linearizable' | 'not linearizable' | 'timeout' | 'cache-full';

export interface SearchResult {
  readonly outcome: SearchOutcome;
  /** Indexes (into the ops given) of the longest partial linearization found, in order. */
  readonly longest: number[];
  /** The operation whose return the longest partial linearization could not get past. */
  readonly stuck: number | undefined;
  /** Loop iterations (candidate steps and backtracks), for diagnostics. */
  readonly iterations: number;
  readonly cacheEntries: number;
}

export interface SearchLimits {
  /** performance.now() value after which the search gives up with 'timeout'. */
  readonly deadlineMs: number;
  /** Memory the memo may use before the search gives up with 'cache-full' (an estimate). */
  readonly memoBytesMax: number;
}

const HEAD = 0;
const NONE = -1;
/** How often (in iterations, a power of two minus one as a mask) the deadline is read. */
const CLOCK_MASK = 1023;
/** A memo entry's cost besides its words: offset and chain slots, a map entry, a state slot. */
const ENTRY_OVERHEAD_BYTES = 64;

/** The event list: entry 0 is a sentinel head; entries are call or return events of operations. */
class EntryList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly op: Int32Array;
  readonly isCall: Uint8Array;
  readonly callEntry: Int32Array;
  /** NONE for an operation of unknown outcome: its return is at infinity, after every other entry. */
  readonly returnEntry: Int32Array;

  constructor(ops: readonly TimedOp[]) {
    const events: { t: number; call: boolean; op: number }[] = [];
    ops.forEach((o, i) => {
      events.push({ t: o.callNs, call: true, op: i });
      if (Number.isFinite(o.returnNs)) events.push({ t: o.returnNs, call: false, op: i });
    });
    // At equal times calls go first: operations that touch at an instant count as concurrent, the
    // permissive reading, so a clock's resolution can never produce a false violation.
    events.sort((a, b) => a.t - b.t || Number(b.call) - Number(a.call) || a.op - b.op);
    const size = events.length + 1;
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
    this.op = new Int32Array(size).fill(NONE);
    this.isCall = new Uint8Array(size);
    this.callEntry = new Int32Array(ops.length).fill(NONE);
    this.returnEntry = new Int32Array(ops.length).fill(NONE);
    for (let e = 0; e < size; e++) {
      this.prev[e] = e - 1;
      this.next[e] = e + 1 < size ? e + 1 : NONE;
    }
    events.forEach((ev, k) => {
      const e = k + 1;
      this.op[e] = ev.op;
      this.isCall[e] = ev.call ? 1 : 0;
      if (ev.call) this.callEntry[ev.op] = e;
      else this.returnEntry[ev.op] = e;
    });
  }

  private unlink(e: number): void {
    const p = this.prev[e]!;
    const n = this.next[e]!;
    this.next[p] = n;
    if (n !== NONE) this.prev[n] = p;
  }

  /** Undoes unlink; valid only in the reverse order of the unlinks (dancing links). */
  private relink(e: number): void {
    const p = this.prev[e]!;
    const n = this.next[e]!;
    this.next[p] = e;
    if (n !== NONE) this.prev[n] = e;
  }

  lift(i: number): void {
    this.unlink(this.callEntry[i]!);
    const r = this.returnEntry[i]!;
    if (r !== NONE) this.unlink(r);
  }

  unlift(i: number): void {
    const r = this.returnEntry[i]!;
    if (r !== NONE) this.relink(r);
    this.relink(this.callEntry[i]!);
  }
}

/**
 * Remembers the (linearized set, state) configurations the search has already reached. Bits are
 * numbered in call order, so a linearized set is mostly a run of ones followed by a few scattered
 * bits: a set is stored as the count of leading all-ones words and the words after them up to the
 * last non-zero one. Sets live in one growing arena and hash chains in a typed array, because
 * millions of small objects would cost several times the memory.
 */
class ConfigCache<S> {
  private readonly heads = new Map<number, number>();
  /** Per entry: the arena offset of [leadingOnesWords, tailWords, ...tail], and the chain link. */
  private offset = new Int32Array(1024);
  private chain = new Int32Array(1024);
  private arena = new Uint32Array(4096);
  private arenaUsed = 0;
  private readonly states: S[] = [];
  size = 0;
  /** Bytes held by the arena and the per-entry arrays, plus an estimate for the map and states. */
  bytes = 0;

  constructor(private readonly equal: (a: S, b: S) => boolean) {}

  private sameSet(idx: number, words: Uint32Array, lead: number, tail: number): boolean {
    const at = this.offset[idx]!;
    if (this.arena[at] !== lead || this.arena[at + 1] !== tail) return false;
    for (let k = 0; k < tail; k++) if (this.arena[at + 2 + k] !== words[lead + k]) return false;
    return true;
  }

  private reserve(wordsNeeded: number): void {
    if (this.size === this.chain.length) {
      const grown = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.chain = grown(this.chain);
      this.offset = grown(this.offset);
    }
    if (this.arenaUsed + wordsNeeded > this.arena.length) {
      const arena = new Uint32Array(Math.max(this.arena.length * 2, this.arenaUsed + wordsNeeded));
      arena.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = arena;
    }
  }

  /** Adds the configuration; false when it was already there. */
  add(hash: number, bits: Bitset, state: S): boolean {
    const words = bits.words;
    let lead = 0;
    while (lead < words.length && words[lead] === 0xffffffff) lead++;
    let end = words.length;
    while (end > lead && words[end - 1] === 0) end--;
    const tail = end - lead;
    const head = this.heads.get(hash) ?? NONE;
    for (let idx = head; idx !== NONE; idx = this.chain[idx]!) {
      if (this.sameSet(idx, words, lead, tail) && this.equal(this.states[idx]!, state)) return false;
    }
    this.reserve(tail + 2);
    const idx = this.size++;
    const at = this.arenaUsed;
    this.arena[at] = lead;
    this.arena[at + 1] = tail;
    this.arena.set(words.subarray(lead, end), at + 2);
    this.arenaUsed += tail + 2;
    this.offset[idx] = at;
    this.chain[idx] = head;
    this.states.push(state);
    this.heads.set(hash, idx);
    this.bytes += (tail + 2) * 4 + ENTRY_OVERHEAD_BYTES;
    return true;
  }
}

/** Searches for a linearization of ops (one partition) under model. */
export function searchLinearization<S, O extends TimedOp>(
  model: Model<S, O>,
  given: readonly O[],
  limits: SearchLimits,
): SearchResult {
  // Work in call order (the memo's set encoding relies on it) and map indexes back at the end.
  const order = given.map((_, i) => i).sort((a, b) => given[a]!.callNs - given[b]!.callNs || a - b);
  const r = searchInCallOrder(
    model,
    order.map((i) => given[i]!),
    limits,
  );
  return {
    ...r,
    longest: r.longest.map((k) => order[k]!),
    stuck: r.stuck === undefined ? undefined : order[r.stuck],
  };
}

function searchInCallOrder<S, O extends TimedOp>(
  model: Model<S, O>,
  ops: readonly O[],
  limits: SearchLimits,
): SearchResult {
  const list = new EntryList(ops);
  const bits = new Bitset(ops.length, Bitset.salts(ops.length, 0x11ea_5eed));
  const cache = new ConfigCache<S>((a, b) => model.equal(a, b));
  const hashState = model.hash === undefined ? () => 0 : (s: S) => model.hash!(s);
  const stackOps = new Int32Array(ops.length);
  const stackStates: (S | undefined)[] = new Array(ops.length).fill(undefined);
  let depth = 0;
  let state = model.init();
  // Only operations with a known outcome must be linearized; one of unknown outcome that is never
  // lifted is one that never took effect.
  let remaining = ops.filter((o) => Number.isFinite(o.returnNs)).length;
  let longest: number[] = [];
  let stuck: number | undefined;
  let iterations = 0;
  let e = list.next[HEAD]!;
  const result = (outcome: SearchOutcome): SearchResult => ({
    outcome,
    longest,
    stuck,
    iterations,
    cacheEntries: cache.size,
  });
  while (remaining > 0) {
    if ((iterations++ & CLOCK_MASK) === 0 && performance.now() >= limits.deadlineMs) return result('timeout');
    // Invariant: while an operation with a known outcome is unlinearized, its return lies ahead.
    if (e === NONE) throw new Error('searchLinearization: ran off the list with operations left');
    const i = list.op[e]!;
    const op = ops[i]!;
    if (list.isCall[e] === 1) {
      const next = model.step(state, op);
      if (next !== undefined) {
        bits.set(i);
        if (cache.add((bits.hash ^ Math.imul(hashState(next), 0x9e3779b1)) >>> 0, bits, next)) {
          stackOps[depth] = i;
          stackStates[depth] = state;
          depth++;
          state = next;
          list.lift(i);
          if (Number.isFinite(op.returnNs)) remaining--;
          if (cache.bytes >= limits.memoBytesMax) return result('cache-full');
          e = list.next[HEAD]!;
          continue;
        }
        bits.clear(i);
      }
      e = list.next[e]!;
      continue;
    }
    // The return of an unlinearized operation: every candidate before it has been tried.
    if (depth > longest.length || stuck === undefined) {
      longest = Array.from(stackOps.subarray(0, depth));
      stuck = i;
    }
    if (depth === 0) return result('not linearizable');
    depth--;
    const j = stackOps[depth]!;
    state = stackStates[depth] as S;
    stackStates[depth] = undefined;
    bits.clear(j);
    list.unlift(j);
    if (Number.isFinite(ops[j]!.returnNs)) remaining++;
    e = list.next[list.callEntry[j]!]!;
  }
  longest = Array.from(stackOps.subarray(0, depth));
  return result('linearizable');
}
