import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../src/errors.js';
import { Inflights } from '../src/tracker/index.js';

function fill(inf: Inflights, from: number, to: number, bytes = 1): void {
  for (let i = from; i <= to; i++) inf.add(i, bytes);
}

describe('Inflights', () => {
  it('is full at capacity and refuses more', () => {
    // Adding to a full inflights is a bug and throws an AssertionError.
    const inf = new Inflights(3, 0);
    fill(inf, 1, 3);
    expect(inf.full()).toBe(true);
    expect(inf.count()).toBe(3);
    expect(() => inf.add(4, 1)).toThrow(AssertionError);
  });

  it('frees every message up to an index, across the wrap-around', () => {
    // freeLE releases the acknowledged prefix even when the live slots wrap around the buffer end.
    const inf = new Inflights(4, 0);
    fill(inf, 1, 4, 10);
    inf.freeLE(2);
    expect(inf.count()).toBe(2);
    expect(inf.bytes()).toBe(20);
    fill(inf, 5, 6, 10); // wraps into slots 0 and 1
    expect(inf.full()).toBe(true);
    inf.freeLE(5);
    expect(inf.count()).toBe(1);
    expect(inf.bytes()).toBe(10);
    inf.freeLE(4); // stale acknowledgement: nothing left at or below 4
    expect(inf.count()).toBe(1);
    inf.freeLE(100);
    expect(inf.count()).toBe(0);
    expect(inf.bytes()).toBe(0);
  });

  it('is full once the byte budget is used up', () => {
    // With maxBytes set, full() turns true when bytes in flight reach it, whatever the count.
    const inf = new Inflights(10, 100);
    inf.add(1, 60);
    expect(inf.full()).toBe(false);
    inf.add(2, 40);
    expect(inf.full()).toBe(true);
    inf.freeLE(1);
    expect(inf.full()).toBe(false);
    expect(inf.bytes()).toBe(40);
  });

  it('lets one oversized message through when empty', () => {
    // A single message larger than maxBytes is still sent (else a big entry would never go out).
    const inf = new Inflights(10, 100);
    inf.add(1, 500);
    expect(inf.full()).toBe(true);
  });

  it('forgets everything on reset', () => {
    // reset() empties count and bytes and the buffer can be refilled to capacity.
    const inf = new Inflights(2, 0);
    fill(inf, 1, 2);
    inf.reset();
    expect(inf.count()).toBe(0);
    expect(inf.bytes()).toBe(0);
    fill(inf, 1, 2);
    expect(inf.full()).toBe(true);
  });

  it('refuses indexes that do not increase', () => {
    // A message whose last index is not above the previous one is a bug in the caller.
    const inf = new Inflights(5, 0);
    inf.add(5, 1);
    expect(() => inf.add(5, 1)).toThrow(AssertionError);
    expect(() => inf.add(4, 1)).toThrow(AssertionError);
  });

  it('allocates storage lazily', () => {
    // A large capacity costs nothing until messages are in flight, and grows by doubling.
    const inf = new Inflights(1000, 0);
    expect(inf.allocatedSlots()).toBe(0);
    fill(inf, 1, 3);
    expect(inf.allocatedSlots()).toBe(4);
  });

  it('clones independently', () => {
    // A clone has the same messages in flight, and changing it leaves the original alone.
    const inf = new Inflights(4, 0);
    fill(inf, 1, 3, 5);
    const c = inf.clone();
    c.freeLE(2);
    expect(c.count()).toBe(1);
    expect(inf.count()).toBe(3);
    expect(inf.bytes()).toBe(15);
  });

  it('behaves like an array model and never outgrows its capacity', () => {
    // Random add/freeLE/reset sequences match a plain-array model, and storage stays within capacity.
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        step: fc.integer({ min: 1, max: 3 }),
        bytes: fc.nat(50),
      }),
      fc.record({ kind: fc.constant('free' as const), back: fc.nat(6) }),
      fc.record({ kind: fc.constant('reset' as const) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.nat(150),
        fc.array(op, { maxLength: 80 }),
        (cap, maxBytes, ops) => {
          const inf = new Inflights(cap, maxBytes);
          let model: { index: number; bytes: number }[] = [];
          let last = 0;
          for (const o of ops) {
            if (o.kind === 'add') {
              if (inf.full()) continue;
              last += o.step;
              inf.add(last, o.bytes);
              model.push({ index: last, bytes: o.bytes });
            } else if (o.kind === 'free') {
              const to = last - o.back;
              inf.freeLE(to);
              model = model.filter((m) => m.index > to);
            } else {
              inf.reset();
              model = [];
            }
            const bytes = model.reduce((s, m) => s + m.bytes, 0);
            expect(inf.count()).toBe(model.length);
            expect(inf.bytes()).toBe(bytes);
            expect(inf.full()).toBe(model.length === cap || (maxBytes > 0 && bytes >= maxBytes));
            expect(inf.allocatedSlots()).toBeLessThanOrEqual(cap);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
