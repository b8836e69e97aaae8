// JSON merge patch (RFC 7386): the RFC's examples and the diff/apply round trip.

import {
  applyConfiguration,
  applyMergePatch,
  applyStrategicMergePatch,
  createMergePatch,
} from '@keelson/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcSeed } from './patch-fixtures.js';

// RFC 7386 Appendix A: original, patch, result.
const RFC7386_EXAMPLES: [unknown, unknown, unknown][] = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [
    ['a', 'b'],
    ['c', 'd'],
    ['c', 'd'],
  ],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

/** JSON without nulls: a merge patch cannot set a null, so round trips are over null-free values. */
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ maxLength: 4 }),
    fc.integer(),
    fc.boolean(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 3 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('applyMergePatch', () => {
  it('gives the results of RFC 7386 Appendix A', () => {
    // Proves every example of the RFC's appendix.
    for (const [original, patch, result] of RFC7386_EXAMPLES) {
      expect(applyMergePatch(original, patch)).toEqual(result);
    }
  });

  it('leaves its inputs unchanged', () => {
    // Proves the patch works on a copy (callers keep the stored object).
    const original = { metadata: { labels: { a: '1' } } };
    const patch = { metadata: { labels: { a: null, b: '2' } } };
    const out = applyMergePatch(original, patch);
    expect(out).toEqual({ metadata: { labels: { b: '2' } } });
    expect(original).toEqual({ metadata: { labels: { a: '1' } } });
    expect(patch.metadata.labels.a).toBeNull();
  });

  it('applies the merge patch of diff(a, b) to a and gives b', () => {
    // Proves createMergePatch and applyMergePatch round trip over random null-free JSON objects.
    const obj = fc.dictionary(fc.string({ maxLength: 3 }), jsonValue, { maxKeys: 5 });
    fc.assert(
      fc.property(obj, obj, (a, b) => {
        expect(applyMergePatch(a, createMergePatch(a, b))).toEqual(b);
      }),
      { seed: fcSeed, numRuns: 300 },
    );
  });

  it('refuses patches nested beyond the depth bound with 400', () => {
    // Proves the recursion is bounded: a pathological body is a client error, not a stack overflow.
    let deep: unknown = 'x';
    for (let i = 0; i < 1500; i++) deep = { a: deep };
    expect(() => applyMergePatch({}, deep)).toThrow(expect.objectContaining({ code: 400 }));
  });

  it('keeps a "__proto__" member an ordinary member in every merge', () => {
    // Proves JSON's "__proto__" key never replaces an object's prototype in merge, SMP or apply.
    const patch = JSON.parse('{"metadata":{"__proto__":{"polluted":1}}}') as Record<string, unknown>;
    const results = [
      applyMergePatch({ metadata: {} }, patch),
      applyStrategicMergePatch({ metadata: {} }, patch, undefined),
      applyStrategicMergePatch({}, patch, undefined),
    ];
    const applied = applyConfiguration({
      live: undefined,
      applied: { apiVersion: 'v1', ...patch },
      manager: 'm',
      schema: undefined,
      force: false,
      apiVersion: 'v1',
      now: new Date(0),
    });
    if ('object' in applied) results.push(applied.object);
    expect(results).toHaveLength(4);
    for (const out of results) {
      const meta = (out as { metadata: Record<string, unknown> }).metadata;
      expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
      expect(Object.hasOwn(meta, '__proto__')).toBe(true);
      expect((meta as { polluted?: unknown }).polluted).toBeUndefined();
    }
  });
});
