// Property tests of the checker against histories that are linearizable by construction (a
// sequential in-memory object under random concurrency), and against the same histories with one
// read made stale. CHAOS_FC_SEED=<n> pins another fast-check seed, =random picks a fresh one.
import {
  checkHistory,
  formatHistory,
  type GeneratedModel,
  generateHistory,
  type HistoryOp,
  historyModels,
  parseHistory,
} from '@keelson/chaos';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function fcSeed(part: number): number | undefined {
  const env = process.env.CHAOS_FC_SEED;
  if (env === 'random') return undefined;
  const base = env === undefined || env === '' ? 0x11ea_0000 : Number(env);
  return (base + part) | 0;
}

const shapeArb = fc.record({
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  ops: fc.integer({ min: 1, max: 120 }),
  keys: fc.integer({ min: 1, max: 3 }),
  clients: fc.integer({ min: 1, max: 8 }),
  infoPermille: fc.integer({ min: 0, max: 250 }),
});

const writes = (op: HistoryOp): boolean => op.outcome === 'ok' && (op.f === 'write' || op.f === 'cas');

/**
 * Makes one read stale: it now returns the value of a write W1 that a later write W2 overwrote before
 * the read was invoked (W1 returned before W2's call, W2 returned before the read's call). Values are
 * unique per write, so no linearization can explain the read. Undefined when no read qualifies.
 */
function staleFlip(ops: readonly HistoryOp[], pick: number): HistoryOp[] | undefined {
  const reads = ops.filter((o) => o.f === 'read' && o.outcome === 'ok');
  for (let k = 0; k < reads.length; k++) {
    const r = reads[(pick + k) % reads.length]!;
    const sameKey = ops.filter((o) => o.key === r.key && writes(o));
    const w2s = sameKey.filter((w) => w.returnNs < r.callNs);
    for (const w2 of w2s) {
      const w1 = sameKey.find((w) => w.returnNs < w2.callNs && w.value !== r.result);
      if (w1 === undefined) continue;
      const staleValue = w1.f === 'cas' ? (w1.value as unknown[])[1] : w1.value;
      if (staleValue === r.result) continue;
      return ops.map((o) => (o === r ? { ...o, result: staleValue } : o));
    }
  }
  return undefined;
}

function property(model: GeneratedModel, part: number, numRuns: number): void {
  fc.assert(
    fc.property(shapeArb, (shape) => {
      const ops = generateHistory({ ...shape, model });
      // Round-trip through the file format, so the parser and formatter are covered too.
      const parsed = parseHistory(formatHistory(ops)).ops;
      const r = checkHistory(historyModels[model], parsed, { timeoutMs: 20_000 });
      expect(r.verdict, JSON.stringify(shape)).toBe('linearizable');
    }),
    { numRuns, seed: fcSeed(part) },
  );
}

describe('checker properties', () => {
  // Proves every history of a sequential register under random concurrency is accepted.
  it('accepts generated register histories', () => property('register', 1, 150));

  // Proves every history of a sequential cas register under random concurrency is accepted.
  it('accepts generated cas-register histories', () => property('cas-register', 2, 150));

  // Proves every history of a sequential etcd-like kv store (with revisions) is accepted.
  it('accepts generated kv histories', () => property('kv', 3, 150));

  for (const model of ['register', 'cas-register'] as const) {
    // Proves flipping one read to a stale value makes the history rejected.
    it(`rejects a ${model} history with one stale read`, () => {
      let flipped = 0;
      fc.assert(
        fc.property(shapeArb, fc.nat(), (shape, pick) => {
          const ops = generateHistory({ ...shape, ops: shape.ops + 20, model });
          const bad = staleFlip(ops, pick);
          fc.pre(bad !== undefined);
          flipped++;
          const r = checkHistory(historyModels[model], bad!, { timeoutMs: 20_000 });
          expect(r.verdict, JSON.stringify(shape)).toBe('not linearizable');
        }),
        { numRuns: 150, seed: fcSeed(model === 'register' ? 4 : 5) },
      );
      expect(flipped).toBeGreaterThan(50);
    });
  }
});
