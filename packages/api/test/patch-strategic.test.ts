// Strategic merge patch: cases after k8s.io/apimachinery's strategicpatch tests (merge keys,
// directives, ordering) and the property that with only atomic lists it is a JSON merge patch.

import { applyMergePatch, applyStrategicMergePatch, isStatusError, type StatusError } from '@keelson/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deploymentSchema, fcSeed, podSchema } from './patch-fixtures.js';

const pod = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', labels: { app: 'web', tier: 'front' }, finalizers: ['a.io/x', 'b.io/y'] },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'app:1',
        ports: [{ containerPort: 80, protocol: 'TCP' }],
        env: [{ name: 'A', value: '1' }],
      },
      { name: 'sidecar', image: 'side:1' },
    ],
    tolerations: [{ key: 'k1', operator: 'Exists' }],
    volumes: [{ name: 'data', hostPath: { path: '/d' } }],
  },
});

interface Meta {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

function smp(original: unknown, patch: unknown): { metadata?: Meta; spec?: unknown } {
  return applyStrategicMergePatch(original, patch, podSchema());
}

function failure(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    if (isStatusError(err)) return err;
    throw err;
  }
  throw new Error('expected a StatusError');
}

describe('applyStrategicMergePatch: lists with merge keys', () => {
  it('merges containers by name and keeps the others', () => {
    // Proves a patch naming one container changes only that container.
    const out = smp(pod(), { spec: { containers: [{ name: 'sidecar', image: 'side:2' }] } });
    expect(out.spec).toMatchObject({
      containers: [
        { name: 'app', image: 'app:1' },
        { name: 'sidecar', image: 'side:2' },
      ],
    });
  });

  it('appends a container with a new name and merges nested env and ports by their keys', () => {
    // Proves new items are added and nested merge lists merge by their own keys.
    const out = smp(pod(), {
      spec: {
        containers: [
          { name: 'app', env: [{ name: 'B', value: '2' }], ports: [{ containerPort: 443 }] },
          { name: 'third', image: 't:1' },
        ],
      },
    });
    const containers = (out.spec as { containers: Record<string, unknown>[] }).containers;
    // As strategicpatch's mergeSortedSlice: a new item is placed before server-only items it cannot rank.
    expect(containers.map((c) => c.name)).toEqual(['app', 'third', 'sidecar']);
    expect(containers[0]?.env).toEqual([
      { name: 'B', value: '2' },
      { name: 'A', value: '1' },
    ]);
    expect(containers[0]?.ports).toEqual([{ containerPort: 443 }, { containerPort: 80, protocol: 'TCP' }]);
  });

  it('deletes a container with $patch: delete', () => {
    // Proves the delete directive as a list element removes the item with that merge key.
    const out = smp(pod(), { spec: { containers: [{ name: 'app', $patch: 'delete' }] } });
    expect(out.spec).toMatchObject({ containers: [{ name: 'sidecar', image: 'side:1' }] });
    expect((out.spec as { containers: unknown[] }).containers).toHaveLength(1);
  });

  it('replaces the whole list with a $patch: replace element', () => {
    // Proves the replace directive in a list makes the patch's items the list.
    const out = smp(pod(), { spec: { containers: [{ name: 'only', image: 'o:1' }, { $patch: 'replace' }] } });
    expect((out.spec as { containers: unknown[] }).containers).toEqual([{ name: 'only', image: 'o:1' }]);
  });

  it('unions finalizers and deletes from them with $deleteFromPrimitiveList', () => {
    // Proves primitive merge lists are a union and the parallel delete list removes values.
    const added = smp(pod(), { metadata: { finalizers: ['b.io/y', 'c.io/z'] } });
    expect(added.metadata).toMatchObject({ finalizers: ['a.io/x', 'b.io/y', 'c.io/z'] });
    const removed = smp(pod(), { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.io/x'] } });
    expect(removed.metadata).toMatchObject({ finalizers: ['b.io/y'] });
  });

  it('replaces atomic lists such as tolerations', () => {
    // Proves lists without a merge strategy are replaced whole.
    const out = smp(pod(), { spec: { tolerations: [{ key: 'k2', operator: 'Exists' }] } });
    expect(out.spec).toMatchObject({ tolerations: [{ key: 'k2', operator: 'Exists' }] });
    expect((out.spec as { tolerations: unknown[] }).tolerations).toHaveLength(1);
  });
});

describe('applyStrategicMergePatch: maps and directives', () => {
  it('merges maps recursively and deletes keys set to null', () => {
    // Proves labels merge and a null removes one.
    const out = smp(pod(), { metadata: { labels: { tier: null, env: 'prod' } } });
    expect(out.metadata?.labels).toEqual({ app: 'web', env: 'prod' });
  });

  it('replaces a map with $patch: replace and empties it with $patch: delete', () => {
    // Proves the map directives.
    expect(smp(pod(), { metadata: { labels: { $patch: 'replace', only: 'x' } } }).metadata?.labels).toEqual({
      only: 'x',
    });
    expect(smp(pod(), { metadata: { labels: { $patch: 'delete' } } }).metadata?.labels).toEqual({});
  });

  it('clears fields not listed in $retainKeys', () => {
    // Proves retainKeys: switching a Deployment strategy to Recreate drops rollingUpdate.
    const deploy = {
      spec: {
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      },
    };
    const out = applyStrategicMergePatch(
      deploy,
      { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } },
      deploymentSchema(),
    );
    expect(out).toEqual({ spec: { strategy: { type: 'Recreate' } } });
    const volume = smp(pod(), {
      spec: { volumes: [{ name: 'data', $retainKeys: ['emptyDir', 'name'], emptyDir: {} }] },
    });
    expect((volume.spec as { volumes: unknown[] }).volumes).toEqual([{ name: 'data', emptyDir: {} }]);
  });

  it('answers 422 when the patch sets a field its $retainKeys does not list', () => {
    // Proves ErrPatchContentNotMatchRetainKeys becomes an unprocessable-entity Status.
    const err = failure(() => smp(pod(), { spec: { $retainKeys: ['nodeName'], restartPolicy: 'Never' } }));
    expect(err.code).toBe(422);
    expect(err.details?.causes?.[0]?.message).toBe("patch content doesn't match retainKeys list");
  });

  it('orders a merged list by $setElementOrder', () => {
    // Proves the order directive: patch items take the directive's order, server-only items keep their place.
    const out = smp(pod(), {
      spec: {
        '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'app' }],
        containers: [{ name: 'app', image: 'app:2' }],
      },
    });
    expect(
      (out.spec as { containers: { name: string; image: string }[] }).containers.map((c) => [
        c.name,
        c.image,
      ]),
    ).toEqual([
      ['sidecar', 'side:1'],
      ['app', 'app:2'],
    ]);
    const three = { spec: { containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] } };
    const reordered = smp(three, { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }] } });
    expect((reordered.spec as { containers: { name: string }[] }).containers.map((c) => c.name)).toEqual([
      'b',
      'c',
      'a',
    ]);
  });

  it('applies the three-way patch kubectl apply sends', () => {
    // Proves a client-side-apply patch (annotation, order directive, changed image) applies.
    const out = smp(pod(), {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
      spec: {
        '$setElementOrder/containers': [{ name: 'app' }, { name: 'sidecar' }],
        containers: [{ image: 'app:9', name: 'app' }],
      },
    });
    expect(out.metadata?.annotations).toEqual({ 'kubectl.kubernetes.io/last-applied-configuration': '{}' });
    expect(out.spec).toMatchObject({ containers: [{ name: 'app', image: 'app:9' }, { name: 'sidecar' }] });
    expect(JSON.stringify(out)).not.toContain('$setElementOrder');
  });

  it('refuses unknown directives and items without their merge key as Kubernetes does', () => {
    // Proves the error messages of mergepatch.ErrBadPatchType and ErrNoMergeKey.
    const bad = failure(() => smp(pod(), { metadata: { labels: { $patch: 'frob', a: 'b' } } }));
    expect(bad.message).toBe('unknown patch type: frob in map: map[$patch:frob a:b]');
    const noKey = failure(() => smp(pod(), { spec: { containers: [{ image: 'x' }] } }));
    expect(noKey.message).toBe('map: map[image:x] does not contain declared merge key: name');
    const bodyNotMap = failure(() => smp(pod(), [1]));
    expect(bodyNotMap.code).toBe(400);
  });

  it('does not change its inputs', () => {
    // Proves the stored object and the patch body are left alone.
    const original = pod();
    const patch = { spec: { containers: [{ name: 'app', $patch: 'delete' }] } };
    smp(original, patch);
    expect(original).toEqual(pod());
    expect(patch.spec.containers[0]).toEqual({ name: 'app', $patch: 'delete' });
  });
});

/** JSON values for the property: no nulls inside arrays and no `$` keys (SMP would treat them as directives). */
const key = fc.string({ maxLength: 3 }).filter((k) => !k.startsWith('$'));
const leaf = fc.oneof(fc.string({ maxLength: 3 }), fc.integer(), fc.boolean());
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(leaf, { maxLength: 3 }),
    fc.dictionary(key, tie('v'), { maxKeys: 4 }),
  ),
  p: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.constant(null),
    fc.array(leaf, { maxLength: 3 }),
    fc.dictionary(key, tie('p'), { maxKeys: 4 }),
  ),
}));

describe('applyStrategicMergePatch: property', () => {
  it('equals a JSON merge patch when every list is atomic', () => {
    // Proves that without merge lists or directives SMP and RFC 7386 agree on random objects.
    const objects = fc.dictionary(key, value.v, { maxKeys: 5 });
    const patches = fc.dictionary(key, value.p, { maxKeys: 5 });
    fc.assert(
      fc.property(objects, patches, (original, patch) => {
        expect(applyStrategicMergePatch(original, patch, undefined)).toEqual(
          applyMergePatch(original, patch),
        );
      }),
      { seed: fcSeed, numRuns: 400 },
    );
  });
});
