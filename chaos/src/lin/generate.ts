// Generates histories that are linearizable by construction: clients run operations against a
// sequential in-memory object, each taking effect at one instant between its invoke and its return,
// with random interleaving. For property tests and the checker benchmark.

import type { HistoryOp } from './history.js';
import { Prng } from './prng.js';

export type GeneratedModel = 'register' | 'cas-register' | 'kv';

export interface GenerateOptions {
  readonly seed: number;
  readonly model: GeneratedModel;
  /** Operations to invoke (failed cas operations are then dropped, so the history may have fewer). */
  readonly ops: number;
  readonly keys: number;
  readonly clients: number;
  /** Per mille of writes whose outcome is recorded as unknown (half of them take effect, half do not). */
  readonly infoPermille?: number;
}

interface KeyState {
  value: unknown;
  version: number;
  modRevision: number;
}

/** An operation in flight: what it is, and what the object answered when it took effect. */
interface Pending {
  op: Omit<HistoryOp, 'id' | 'returnNs' | 'result' | 'outcome' | 'revision' | 'version' | 'line'>;
  fate: 'ok' | 'info-applied' | 'info-lost';
  applied: boolean;
  result: unknown;
  failed: boolean;
  revision: number | undefined;
  version: number | undefined;
}

const FUNCTIONS: Record<GeneratedModel, readonly [string, number][]> = {
  register: [
    ['read', 50],
    ['write', 50],
  ],
  'cas-register': [
    ['read', 40],
    ['write', 30],
    ['cas', 30],
  ],
  kv: [
    ['get', 40],
    ['put', 30],
    ['delete', 10],
    ['txn', 20],
  ],
};

class Generator {
  private readonly rng: Prng;
  private readonly keys = new Map<string, KeyState>();
  private revision = 0;
  private nextValue = 1;
  private readonly written: unknown[] = [];

  constructor(private readonly o: GenerateOptions) {
    this.rng = new Prng(o.seed);
  }

  private key(k: string): KeyState {
    let s = this.keys.get(k);
    if (s === undefined) {
      s = { value: null, version: 0, modRevision: 0 };
      this.keys.set(k, s);
    }
    return s;
  }

  private pickF(): string {
    const table = FUNCTIONS[this.o.model];
    let roll = this.rng.below(100);
    for (const [f, weight] of table) {
      if (roll < weight) return f;
      roll -= weight;
    }
    return table[0]![0];
  }

  /** A cas/txn expectation: usually the current value (so it tends to succeed), else an older one. */
  private expectation(k: string): unknown {
    if (this.rng.chance(600) || this.written.length === 0) return this.key(k).value;
    return this.written[this.rng.below(this.written.length)];
  }

  invoke(process: number, timeNs: number): Pending {
    const f = this.pickF();
    const k = `k${this.rng.below(this.o.keys)}`;
    let value: unknown = null;
    if (f === 'write' || f === 'put') value = this.nextValue++;
    if (f === 'cas') value = [this.expectation(k), this.nextValue++];
    if (f === 'txn') value = { expect: this.expectation(k), new: this.nextValue++ };
    const mutating = f !== 'read' && f !== 'get';
    const info = mutating && this.rng.chance(this.o.infoPermille ?? 0);
    const fate = !info ? 'ok' : this.rng.chance(500) ? 'info-applied' : 'info-lost';
    const op = { process, f, key: k, value, callNs: timeNs };
    return { op, fate, applied: false, result: null, failed: false, revision: undefined, version: undefined };
  }

  /** The operation takes effect now (its linearization point). */
  apply(p: Pending): void {
    p.applied = true;
    if (p.fate === 'info-lost') return;
    const s = this.key(p.op.key!);
    const write = (v: unknown): void => {
      this.revision++;
      s.value = v;
      s.version = v === null ? 0 : s.version + 1;
      s.modRevision = this.revision;
      p.revision = this.revision;
      if (v !== null) this.written.push(v);
    };
    switch (p.op.f) {
      case 'read':
      case 'get':
        p.result = s.value;
        if (s.value !== null && p.op.f === 'get') [p.revision, p.version] = [s.modRevision, s.version];
        return;
      case 'write':
      case 'put':
        write(p.op.value);
        return;
      case 'delete':
        p.result = s.value === null ? 0 : 1;
        if (s.value !== null) write(null);
        return;
      case 'cas': {
        const [expected, next] = p.op.value as [unknown, unknown];
        if (s.value === expected) write(next);
        else p.failed = true;
        return;
      }
      default: {
        const t = p.op.value as { expect: unknown; new: unknown };
        const succeeded = s.value === t.expect;
        if (succeeded) write(t.new);
        else p.revision = this.revision;
        p.result = { succeeded };
      }
    }
  }

  complete(p: Pending, timeNs: number): HistoryOp | undefined {
    if (p.failed && p.fate === 'ok') return undefined; // A cas that found another value: a fail line.
    const info = p.fate !== 'ok';
    return {
      ...p.op,
      id: 0,
      result: info ? undefined : p.result,
      outcome: info ? 'info' : 'ok',
      returnNs: info ? Number.POSITIVE_INFINITY : timeNs,
      revision: info ? undefined : p.revision,
      version: info ? undefined : p.version,
      line: 0,
    };
  }

  tick(): number {
    return 1 + this.rng.below(3);
  }

  pickClient(): number {
    return this.rng.below(this.o.clients);
  }
}

/** A linearizable history of the given shape, reproducible from the seed. Ops are in invoke order. */
export function generateHistory(options: GenerateOptions): HistoryOp[] {
  if (!(options.clients > 0 && options.keys > 0 && options.ops >= 0))
    throw new Error('generateHistory: bad shape');
  const g = new Generator(options);
  const processes = Array.from({ length: options.clients }, (_, i) => i);
  const pending: (Pending | undefined)[] = new Array(options.clients).fill(undefined);
  const out: HistoryOp[] = [];
  let invoked = 0;
  let inFlight = 0;
  let timeNs = 0;
  // Each operation needs exactly three events (invoke, take effect, complete); idle picks are bounded too.
  for (let guard = 0; invoked < options.ops || inFlight > 0; guard++) {
    if (guard > 100 * (options.ops + 1) * options.clients) throw new Error('generateHistory: no progress');
    const c = g.pickClient();
    const p = pending[c];
    timeNs += g.tick();
    if (p === undefined) {
      if (invoked === options.ops) continue;
      pending[c] = g.invoke(processes[c]!, timeNs);
      invoked++;
      inFlight++;
    } else if (!p.applied) {
      g.apply(p);
    } else {
      const op = g.complete(p, timeNs);
      if (op !== undefined) out.push(op);
      pending[c] = undefined;
      inFlight--;
      // After an unknown outcome the client continues as a new process, as Jepsen's do.
      if (p.fate !== 'ok') processes[c] = processes[c]! + options.clients;
    }
  }
  out.sort((a, b) => a.callNs - b.callNs);
  return out.map((op, id) => ({ ...op, id, line: id + 1 }));
}
