// Properties of the non-core strategies over generated objects: defaulting is idempotent and never
// overrides what the user set, a defaulted workload built to be valid validates, and the scale
// helpers read and write spec.replicas and print the selector the way Kubernetes does.
// FC_SEED pins the seed; fast-check reports it on failure.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findResource, isStored, RESOURCES } from '../src/registry.js';
import { applyScale, scaleOf, validateScale } from '../src/strategy/apps.js';
import { allStrategies, getStrategy } from '../src/strategy/index.js';
import type { KubeObject } from '../src/types.js';

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
const fcOptions = { seed, numRuns: 150 };

const labelValue = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/);
const labels = fc.dictionary(fc.constantFrom('app', 'tier', 'team'), labelValue, { minKeys: 1, maxKeys: 3 });
const intOrPercent = fc.oneof(
  fc.nat(5),
  fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`),
);

function template(l: Record<string, string>, restartPolicy?: string): KubeObject {
  return {
    metadata: { labels: l },
    spec: { containers: [{ name: 'web', image: 'nginx' }], ...(restartPolicy ? { restartPolicy } : {}) },
  };
}

/** Partly specified bodies of every non-core kind; defaults must fill the rest and keep these. */
const bodies: fc.Arbitrary<{ group: string; plural: string; obj: KubeObject }> = fc.oneof(
  fc
    .record(
      {
        replicas: fc.nat(5),
        revisionHistoryLimit: fc.nat(20),
        strategy: fc.oneof(
          fc.constant({ type: 'Recreate' }),
          fc.record(
            { rollingUpdate: fc.record({ maxSurge: intOrPercent }, { requiredKeys: [] }) },
            { requiredKeys: [] },
          ),
        ),
        labels,
      },
      { requiredKeys: ['labels'] },
    )
    .map(({ labels: l, ...spec }) => ({
      group: 'apps',
      plural: 'deployments',
      obj: {
        metadata: { name: 'd' },
        spec: { ...spec, selector: { matchLabels: l }, template: template(l) },
      },
    })),
  fc
    .record(
      {
        podManagementPolicy: fc.constantFrom('OrderedReady', 'Parallel'),
        updateStrategy: fc.oneof(fc.constant({ type: 'OnDelete' }), fc.constant({ type: 'RollingUpdate' })),
        labels,
      },
      { requiredKeys: ['labels'] },
    )
    .map(({ labels: l, ...spec }) => ({
      group: 'apps',
      plural: 'statefulsets',
      obj: {
        metadata: { name: 's' },
        spec: { ...spec, serviceName: 's', selector: { matchLabels: l }, template: template(l) },
      },
    })),
  fc
    .record(
      {
        updateStrategy: fc.oneof(
          fc.constant({ type: 'OnDelete' }),
          fc.record({ rollingUpdate: fc.record({ maxUnavailable: fc.integer({ min: 1, max: 3 }) }) }),
        ),
        labels,
      },
      { requiredKeys: ['labels'] },
    )
    .map(({ labels: l, ...spec }) => ({
      group: 'apps',
      plural: 'daemonsets',
      obj: {
        metadata: { name: 'ds' },
        spec: { ...spec, selector: { matchLabels: l }, template: template(l) },
      },
    })),
  fc
    .record(
      {
        completions: fc.integer({ min: 1, max: 5 }),
        parallelism: fc.integer({ min: 1, max: 5 }),
        backoffLimit: fc.nat(10),
        suspend: fc.boolean(),
      },
      { requiredKeys: [] },
    )
    .map((spec) => ({
      group: 'batch',
      plural: 'jobs',
      obj: { metadata: { name: 'j' }, spec: { ...spec, template: template({ app: 'j' }, 'Never') } },
    })),
  fc
    .record(
      {
        concurrencyPolicy: fc.constantFrom('Allow', 'Forbid', 'Replace'),
        successfulJobsHistoryLimit: fc.nat(5),
      },
      { requiredKeys: [] },
    )
    .map((spec) => ({
      group: 'batch',
      plural: 'cronjobs',
      obj: {
        metadata: { name: 'c' },
        spec: {
          ...spec,
          schedule: '@hourly',
          jobTemplate: { spec: { template: template({ app: 'c' }, 'OnFailure') } },
        },
      },
    })),
  fc
    .record(
      { minReplicas: fc.integer({ min: 1, max: 3 }), withBehavior: fc.boolean() },
      { requiredKeys: ['withBehavior'] },
    )
    .map(({ withBehavior, ...spec }) => ({
      group: 'autoscaling',
      plural: 'horizontalpodautoscalers',
      obj: {
        metadata: { name: 'h' },
        spec: {
          ...spec,
          maxReplicas: 5,
          scaleTargetRef: { kind: 'Deployment', name: 'd' },
          ...(withBehavior ? { behavior: { scaleUp: { selectPolicy: 'Min' } } } : {}),
        },
      },
    })),
  fc.boolean().map((egress) => ({
    group: 'networking.k8s.io',
    plural: 'networkpolicies',
    obj: {
      metadata: { name: 'n' },
      spec: { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }], ...(egress ? { egress: [{}] } : {}) },
    },
  })),
  fc.constantFrom('Delete', 'Retain').map((reclaimPolicy) => ({
    group: 'storage.k8s.io',
    plural: 'storageclasses',
    obj: { metadata: { name: 'sc' }, provisioner: 'example.com/p', reclaimPolicy },
  })),
  fc.constantFrom('User', 'Group').map((kind) => ({
    group: 'rbac.authorization.k8s.io',
    plural: 'clusterrolebindings',
    obj: {
      metadata: { name: 'b' },
      roleRef: { kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind, name: 'x' }],
    },
  })),
);

/** Whether every leaf of `given` is present, unchanged, in `defaulted`. */
function keepsGiven(given: unknown, defaulted: unknown): boolean {
  if (typeof given !== 'object' || given === null) return given === defaulted;
  if (typeof defaulted !== 'object' || defaulted === null) return false;
  if (Array.isArray(given)) {
    return Array.isArray(defaulted) && given.every((g, i) => keepsGiven(g, defaulted[i]));
  }
  const d = defaulted as Record<string, unknown>;
  return Object.entries(given).every(([k, v]) => keepsGiven(v, d[k]));
}

describe('non-core strategy properties', () => {
  it('defaults are idempotent, keep user values and validate (property)', () => {
    // Proves defaulting twice equals defaulting once, keeps every user-set field, and leaves a valid object.
    fc.assert(
      fc.property(bodies, ({ group, plural, obj }) => {
        const strategy = getStrategy(group, plural);
        expect(strategy).toBeDefined();
        if (strategy === undefined) return;
        const once = structuredClone(obj);
        strategy.applyDefaults(once);
        const twice = structuredClone(once);
        strategy.applyDefaults(twice);
        expect(twice).toEqual(once);
        expect(keepsGiven(obj, once)).toBe(true);
        once.metadata = {
          ...once.metadata,
          uid: 'u-1',
          ...(strategy.info.namespaced ? { namespace: 'default' } : {}),
        };
        strategy.prepareForCreate(once);
        expect(strategy.validateCreate(once)).toEqual([]);
      }),
      fcOptions,
    );
  });

  it('covers every group of the issue', () => {
    // Proves every served non-core resource has a strategy, and versions resolve (HPA v1 and v2).
    const keys = new Set(allStrategies().map((s) => `${s.info.group}/${s.info.version}/${s.info.plural}`));
    for (const key of [
      'apps/v1/deployments',
      'apps/v1/replicasets',
      'apps/v1/statefulsets',
      'apps/v1/daemonsets',
      'apps/v1/controllerrevisions',
      'batch/v1/jobs',
      'batch/v1/cronjobs',
      'autoscaling/v2/horizontalpodautoscalers',
      'autoscaling/v1/horizontalpodautoscalers',
      'coordination.k8s.io/v1/leases',
      'rbac.authorization.k8s.io/v1/roles',
      'rbac.authorization.k8s.io/v1/rolebindings',
      'rbac.authorization.k8s.io/v1/clusterroles',
      'rbac.authorization.k8s.io/v1/clusterrolebindings',
      'networking.k8s.io/v1/ingresses',
      'networking.k8s.io/v1/ingressclasses',
      'networking.k8s.io/v1/networkpolicies',
      'discovery.k8s.io/v1/endpointslices',
      'storage.k8s.io/v1/storageclasses',
      'policy/v1/poddisruptionbudgets',
    ]) {
      expect(keys.has(key), key).toBe(true);
    }
    expect(getStrategy('autoscaling', 'horizontalpodautoscalers')?.info.version).toBe('v2');
    expect(getStrategy('autoscaling', 'horizontalpodautoscalers', 'v1')?.info.version).toBe('v1');
    expect(getStrategy('apps', 'nothings')).toBeUndefined();
  });

  it('has a strategy for every stored resource version', () => {
    // Proves every stored resource of the registry has a strategy for its exact version (the REST layer
    // relies on it).
    const missing = RESOURCES.filter(
      (r) => isStored(r) && getStrategy(r.group, r.plural, r.version) === undefined,
    );
    expect(missing.map((r) => `${r.group}/${r.version}/${r.plural}`)).toEqual([]);
    for (const s of allStrategies())
      expect(findResource(s.info.group, s.info.version, s.info.plural)).toBe(s.info);
  });
});

describe('scale subresource helpers', () => {
  it('builds the autoscaling/v1 Scale of each scalable kind', () => {
    // Proves scaleOf reads spec/status replicas and prints the selector as LabelSelectorAsSelector does.
    const deployment: KubeObject = {
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'default', uid: 'u', resourceVersion: '9', labels: { a: 'b' } },
      spec: {
        replicas: 3,
        selector: {
          matchLabels: { tier: 'web', app: 'x' },
          matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }],
        },
      },
      status: { replicas: 2 },
    };
    expect(scaleOf(deployment)).toEqual({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'd', namespace: 'default', uid: 'u', resourceVersion: '9' },
      spec: { replicas: 3 },
      status: { replicas: 2, selector: 'app=x,env in (dev,prod),tier=web' },
    });
    const rc: KubeObject = {
      kind: 'ReplicationController',
      metadata: { name: 'r' },
      spec: { replicas: 1, selector: { app: 'r' } },
    };
    expect(scaleOf(rc).status).toEqual({ replicas: 0, selector: 'app=r' });
    expect(() => scaleOf({ kind: 'DaemonSet' })).toThrow(/no scale subresource/);
  });

  it('applies and validates a scale', () => {
    // Proves applyScale writes spec.replicas only and validateScale refuses negative replicas.
    const sts: KubeObject = {
      kind: 'StatefulSet',
      metadata: { name: 's' },
      spec: { replicas: 1, serviceName: 's' },
    };
    applyScale(sts, 4);
    expect(sts.spec).toEqual({ replicas: 4, serviceName: 's' });
    expect(validateScale({ spec: { replicas: -1 } })).toEqual([
      {
        type: 'FieldValueInvalid',
        field: 'spec.replicas',
        value: -1,
        detail: 'must be greater than or equal to 0',
      },
    ]);
    expect(validateScale({ spec: { replicas: 2 } })).toEqual([]);
  });
});
