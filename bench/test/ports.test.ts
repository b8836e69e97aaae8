// Proves freePorts never hands out a port twice in one process, across calls as well as within one.
import { describe, expect, test } from 'vitest';
import { freePorts } from '../src/clusters.js';

describe('freePorts', () => {
  test('200 single-port calls in a row return 200 distinct ports, all bindable', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 200; i++) ports.push(...(await freePorts(1)));
    expect(new Set(ports).size).toBe(200);
    expect(ports.every((p) => p > 0 && p < 65536)).toBe(true);
  });

  test('one call for several ports returns distinct ones, none seen in earlier calls', async () => {
    const before = new Set(await freePorts(8));
    const after = await freePorts(8);
    expect(new Set(after).size).toBe(8);
    expect(after.filter((p) => before.has(p))).toEqual([]);
  });
});
