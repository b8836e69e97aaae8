// Work bounds: large lists in strategic merge patches and apply stay linear-ish, so a 3 MiB body
// cannot pin a CPU.

import { applyConfiguration, applyStrategicMergePatch } from '@keelson/api';
import { describe, expect, it } from 'vitest';
import { podSchema } from './patch-fixtures.js';

describe('patch work bounds', () => {
  it('merges 20,000 finalizers and 5,000 env entries quickly', () => {
    // Proves the list merges index items instead of scanning lists for every element.
    const finalizers = Array.from({ length: 20_000 }, (_, i) => `f/${i}`);
    const env = Array.from({ length: 5_000 }, (_, i) => ({ name: `E${i}`, value: 'v' }));
    const live = {
      metadata: { finalizers: finalizers.slice(0, 10_000) },
      spec: { containers: [{ name: 'c', env }] },
    };
    const started = performance.now();
    const out = applyStrategicMergePatch(
      live,
      {
        metadata: { finalizers: finalizers.slice(5_000) },
        spec: { containers: [{ name: 'c', env: env.slice(2_500).map((e) => ({ ...e, value: 'w' })) }] },
      },
      podSchema(),
    );
    expect((out.metadata as { finalizers: string[] }).finalizers).toHaveLength(20_000);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('applies a Pod with 5,000 env entries quickly', () => {
    // Proves apply's field sets and merges scale to large map-lists.
    const env = Array.from({ length: 5_000 }, (_, i) => ({ name: `E${i}`, value: 'v' }));
    const applied = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { containers: [{ name: 'c', env }] },
    };
    const started = performance.now();
    const result = applyConfiguration({
      live: undefined,
      applied,
      manager: 'm',
      schema: podSchema(),
      force: false,
      apiVersion: 'v1',
      now: new Date(0),
    });
    expect('object' in result).toBe(true);
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});
