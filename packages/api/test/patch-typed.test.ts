// The schema-aware merge behind apply: list order as structured-merge-diff merges it, and stable
// re-apply after the server fills in defaults.

import { applyConfiguration, fieldSetOf, type KubeObject, type SchemaNode, toFieldsV1 } from '@keelson/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeApplied } from '../src/patch/typed.js';
import { deploymentSchema, fcSeed, nginxDeployment, podSchema } from './patch-fixtures.js';

const names = (list: unknown) => (list as { name: string }[]).map((c) => c.name);

describe('mergeApplied list order', () => {
  it('puts a new applied item where the configuration has it', () => {
    // Proves applied order wins for applied items, live-only items keep their place.
    const live = { spec: { containers: [{ name: 'a' }, { name: 'x' }, { name: 'b' }] } };
    const applied = { spec: { containers: [{ name: 'a' }, { name: 'new' }, { name: 'b' }] } };
    const out = mergeApplied(live, applied, podSchema()) as { spec: { containers: unknown } };
    expect(names(out.spec.containers)).toEqual(['a', 'x', 'new', 'b']);
    const swapped = mergeApplied(
      live,
      { spec: { containers: [{ name: 'b' }, { name: 'a' }] } },
      podSchema(),
    ) as {
      spec: { containers: unknown };
    };
    expect(names(swapped.spec.containers)).toEqual(['x', 'b', 'a']);
  });

  it('keeps every item once, applied items in applied order and live-only items in live order', () => {
    // Proves the two-pointer merge over random set-lists.
    const letters = fc.uniqueArray(fc.constantFrom<string>('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 6 });
    fc.assert(
      fc.property(letters, letters, (live, applied) => {
        const out = (
          mergeApplied(
            { metadata: { finalizers: live } },
            { metadata: { finalizers: applied } },
            podSchema(),
          ) as {
            metadata: { finalizers: string[] };
          }
        ).metadata.finalizers;
        expect(new Set(out).size).toBe(out.length);
        expect(new Set(out)).toEqual(new Set([...live, ...applied]));
        expect(out.filter((x) => applied.includes(x))).toEqual(applied);
        expect(out.filter((x) => !applied.includes(x))).toEqual(live.filter((x) => !applied.includes(x)));
      }),
      { seed: fcSeed, numRuns: 300 },
    );
  });
});

describe('apply after server defaults', () => {
  it('stays unchanged when the stored object gained defaults, including a defaulted port protocol', () => {
    // Proves defaulted key fields (protocol TCP) and defaulted leaves do not make re-apply change anything.
    const first = applyConfiguration({
      live: undefined,
      applied: nginxDeployment(),
      manager: 'kubectl',
      schema: deploymentSchema(),
      force: false,
      apiVersion: 'apps/v1',
      now: new Date(0),
    });
    if ('conflicts' in first) throw new Error(first.message);
    const stored = structuredClone(first.object) as KubeObject;
    stored.metadata = { ...stored.metadata, uid: 'u' };
    const container = (stored.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec.containers[0];
    if (container === undefined) throw new Error('no container');
    container.imagePullPolicy = 'IfNotPresent';
    container.ports = [{ containerPort: 80, protocol: 'TCP' }];
    const again = applyConfiguration({
      live: stored,
      applied: nginxDeployment(),
      manager: 'kubectl',
      schema: deploymentSchema(),
      force: false,
      apiVersion: 'apps/v1',
      now: new Date(60_000),
    });
    if ('conflicts' in again) throw new Error(again.message);
    expect(again.object).toEqual(stored);
  });
});

describe('atomic maps', () => {
  it('treats a struct marked mapType atomic as one field', () => {
    // Proves a schema carrying x-kubernetes-map-type: atomic gives `f:selector: {}` and whole-value replacement.
    const selector = {
      type: 'object',
      mapType: 'atomic',
      fields: { matchLabels: () => ({ type: 'map', values: () => ({ type: 'string' }) }) },
    };
    const schema = { type: 'object', fields: { selector: () => selector } } as unknown as SchemaNode;
    expect(toFieldsV1(fieldSetOf({ selector: { matchLabels: { a: 'b' } } }, schema))).toEqual({
      'f:selector': {},
    });
    const merged = mergeApplied(
      { selector: { matchLabels: { a: 'b', c: 'd' } } },
      { selector: { matchLabels: { a: 'z' } } },
      schema,
    );
    expect(merged).toEqual({ selector: { matchLabels: { a: 'z' } } });
  });
});
