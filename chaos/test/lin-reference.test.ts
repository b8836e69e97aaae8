// The search against a dumb reference: on tiny histories (some made wrong on purpose), the checker's
// verdict equals a brute-force enumeration of every order that respects real time, with and without
// the models' pruning of unobserved unknown-outcome writes. CHAOS_FC_SEED pins another seed.
import {
  checkHistory,
  type GeneratedModel,
  generateHistory,
  type HistoryOp,
  historyModels,
  type Model,
  Prng,
} from '@keelson/chaos';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function fcSeed(part: number): number | undefined {
  const env = process.env.CHAOS_FC_SEED;
  if (env === 'random') return undefined;
  const base = env === undefined || env === '' ? 0x11ea_1000 : Number(env);
  return (base + part) | 0;
}

/** True when some order of some subset (all known-outcome ops, any unknown ones) is legal. */
function bruteForce(model: Model<unknown, HistoryOp>, ops: readonly HistoryOp[]): boolean {
  const live = ops.filter((o) => !(o.outcome === 'info' && model.readOnly?.(o) === true));
  const placed = new Array<boolean>(live.length).fill(false);
  const mustWait = (b: HistoryOp): boolean =>
    live.some((a, i) => !placed[i] && a.outcome === 'ok' && a.returnNs < b.callNs);
  const go = (state: unknown, left: number): boolean => {
    if (left === 0) return true;
    for (let i = 0; i < live.length; i++) {
      const op = live[i]!;
      if (placed[i] || mustWait(op)) continue;
      const next = model.step(state, op);
      if (next === undefined) continue;
      placed[i] = true;
      const ok = go(next, left - (op.outcome === 'ok' ? 1 : 0));
      placed[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return go(model.init(), live.filter((o) => o.outcome === 'ok').length);
}

/** Makes one completed operation's observation wrong (maybe still explainable, maybe not). */
function corrupt(ops: readonly HistoryOp[], seed: number): HistoryOp[] {
  const rng = new Prng(seed);
  const done = ops.filter((o) => o.outcome === 'ok');
  if (done.length === 0) return [...ops];
  const victim = done[rng.below(done.length)]!;
  const values = [null, ...ops.map((o) => o.value).filter((v) => typeof v === 'number')];
  const anyValue = (): unknown => values[rng.below(values.length)];
  const changed = ((): HistoryOp => {
    switch (victim.f) {
      case 'read':
      case 'get':
        return { ...victim, result: anyValue() };
      case 'cas':
        return { ...victim, value: [anyValue(), (victim.value as unknown[])[1]] };
      case 'txn':
        return { ...victim, result: { succeeded: !(victim.result as { succeeded: boolean }).succeeded } };
      case 'delete':
        return { ...victim, result: victim.result === 1 ? 0 : 1 };
      default:
        return victim.revision === undefined
          ? victim
          : { ...victim, revision: Math.max(1, victim.revision - 1) };
    }
  })();
  return ops.map((o) => (o === victim ? changed : o));
}

function agreement(model: GeneratedModel, part: number): void {
  const withPrune = historyModels[model];
  const { prune: _, ...noPrune } = withPrune;
  let rejected = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0x7fffffff }),
      fc.integer({ min: 1, max: 7 }),
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 0, max: 400 }),
      fc.boolean(),
      (seed, n, clients, infoPermille, bad) => {
        const good = generateHistory({ seed, model, ops: n, keys: 1, clients, infoPermille });
        const ops = bad ? corrupt(good, seed) : good;
        const expected = bruteForce(withPrune, ops) ? 'linearizable' : 'not linearizable';
        if (expected !== 'linearizable') rejected++;
        expect(checkHistory(withPrune, ops).verdict).toBe(expected);
        expect(checkHistory(noPrune, ops).verdict).toBe(expected);
      },
    ),
    { numRuns: 400, seed: fcSeed(part) },
  );
  expect(rejected).toBeGreaterThan(20);
}

describe('checker against brute force', () => {
  // Proves register verdicts match exhaustive enumeration, pruning or not.
  it('agrees on register histories', () => agreement('register', 1));

  // Proves cas-register verdicts match exhaustive enumeration, pruning or not.
  it('agrees on cas-register histories', () => agreement('cas-register', 2));

  // Proves kv verdicts (values, versions, revisions) match exhaustive enumeration, pruning or not.
  it('agrees on kv histories', () => agreement('kv', 3));
});
