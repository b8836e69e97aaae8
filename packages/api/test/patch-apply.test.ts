// Server-side apply and managedFields: field sets in FieldsV1 form, ownership, pruning, conflicts
// with Kubernetes' message, force, Update tracking, and fast-check properties of apply.

import {
  type ApplyResult,
  applyConfiguration,
  applyConflictError,
  fieldSetOf,
  type KubeObject,
  type ManagedFieldsEntry,
  toFieldsV1,
  trackUpdate,
} from '@keelson/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deploymentSchema, fcSeed, nginxDeployment, podSchema } from './patch-fixtures.js';

const T0 = new Date('2026-11-30T10:00:00.123Z');
const T1 = new Date('2026-11-30T10:05:00Z');
const T2 = new Date('2026-11-30T10:09:00Z');

function apply(
  live: KubeObject | undefined,
  applied: Record<string, unknown>,
  manager: string,
  opts: { force?: boolean; now?: Date } = {},
): ApplyResult {
  return applyConfiguration({
    live,
    applied,
    manager,
    schema: deploymentSchema(),
    force: opts.force ?? false,
    apiVersion: 'apps/v1',
    now: opts.now ?? T0,
  });
}

/** Applies and expects success; the returned object stands in for the stored one (with a uid). */
function applied(
  live: KubeObject | undefined,
  config: Record<string, unknown>,
  manager: string,
  opts = {},
): KubeObject {
  const result = apply(live, config, manager, opts);
  if ('conflicts' in result) throw new Error(result.message);
  const object = result.object;
  object.metadata = { ...object.metadata, uid: 'u-1' };
  return object;
}

function entryOf(obj: KubeObject, manager: string, operation = 'Apply'): ManagedFieldsEntry | undefined {
  return obj.metadata?.managedFields?.find((e) => e.manager === manager && e.operation === operation);
}

describe('fieldSetOf', () => {
  it('gives the FieldsV1 set Kubernetes records for an applied Deployment', () => {
    // Proves f:/k:/. encoding: map-list items by key (protocol defaulted), "." on list items, no identity fields.
    const set = toFieldsV1(fieldSetOf(nginxDeployment(), deploymentSchema()));
    expect(set).toEqual({
      'f:metadata': { 'f:labels': { 'f:app': {} } },
      'f:spec': {
        'f:replicas': {},
        'f:selector': { 'f:matchLabels': { 'f:app': {} } },
        'f:template': {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:containers': {
              'k:{"name":"nginx"}': {
                '.': {},
                'f:image': {},
                'f:name': {},
                'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
              },
            },
          },
        },
      },
    });
  });

  it('records set elements with v: and atomic lists as leaves', () => {
    // Proves finalizers (a set) use v:"…" elements and tolerations (atomic) are one field.
    const pod = {
      metadata: { finalizers: ['a.io/x'] },
      spec: { tolerations: [{ key: 'k', operator: 'Exists' }] },
    };
    expect(toFieldsV1(fieldSetOf(pod, podSchema()))).toEqual({
      'f:metadata': { 'f:finalizers': { 'v:"a.io/x"': {} } },
      'f:spec': { 'f:tolerations': {} },
    });
  });
});

describe('applyConfiguration', () => {
  it('creates an object owned by the applier, with RFC 3339 seconds', () => {
    // Proves the Apply entry's shape on create.
    const obj = applied(undefined, nginxDeployment(), 'kubectl');
    expect(obj.spec).toMatchObject({ replicas: 3 });
    expect(obj.metadata?.managedFields).toEqual([
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        time: '2026-11-30T10:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: toFieldsV1(fieldSetOf(nginxDeployment(), deploymentSchema())),
      },
    ]);
  });

  it('changes nothing, not even the time, when the same configuration is applied again', () => {
    // Proves idempotence on a concrete Deployment.
    const first = applied(undefined, nginxDeployment(), 'kubectl');
    const second = applied(first, nginxDeployment(), 'kubectl', { now: T1 });
    expect(second).toEqual(first);
  });

  it('removes fields the applier no longer applies unless someone else owns them', () => {
    // Proves pruning: a dropped label goes, a dropped label another manager also applied stays.
    const withLabels = (labels: Record<string, string>) => ({
      ...nginxDeployment(),
      metadata: { name: 'web', labels },
    });
    let obj = applied(undefined, withLabels({ app: 'web', a: '1', b: '2' }), 'kubectl');
    obj = applied(
      obj,
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', labels: { b: '2' } } },
      'other',
    );
    obj = applied(obj, withLabels({ app: 'web' }), 'kubectl', { now: T1 });
    expect(obj.metadata?.labels).toEqual({ app: 'web', b: '2' });
    expect(entryOf(obj, 'kubectl')?.time).toBe('2026-11-30T10:05:00Z');
  });

  it('removes a container the applier dropped', () => {
    // Proves pruning of a whole map-list item.
    const two = nginxDeployment();
    const spec = (two.spec as { template: { spec: { containers: unknown[] } } }).template.spec;
    spec.containers.push({ name: 'side', image: 'side:1' });
    let obj = applied(undefined, two, 'kubectl');
    obj = applied(obj, nginxDeployment(), 'kubectl', { now: T1 });
    const containers = (obj.spec as { template: { spec: { containers: { name: string }[] } } }).template.spec
      .containers;
    expect(containers.map((c) => c.name)).toEqual(['nginx']);
  });

  it('reports a conflict with another applier in the Kubernetes message, and force takes the field', () => {
    // Proves conflict detection, the 409 Status and ownership transfer under force.
    const obj = applied(undefined, nginxDeployment(3), 'kubectl');
    const result = apply(obj, nginxDeployment(5), 'helm');
    expect('conflicts' in result && result.conflicts).toEqual([
      { manager: 'kubectl', operation: 'Apply', apiVersion: 'apps/v1', field: '.spec.replicas' },
    ]);
    if (!('conflicts' in result)) throw new Error('expected conflicts');
    expect(result.message).toBe('Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas');
    const status = applyConflictError(result.conflicts).toStatus();
    expect(status).toMatchObject({
      code: 409,
      reason: 'Conflict',
      details: {
        causes: [
          { reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.spec.replicas' },
        ],
      },
    });
    const forced = applied(obj, nginxDeployment(5), 'helm', { force: true, now: T1 });
    expect(forced.spec).toMatchObject({ replicas: 5 });
    expect(JSON.stringify(entryOf(forced, 'kubectl')?.fieldsV1)).not.toContain('f:replicas');
    expect(JSON.stringify(entryOf(forced, 'helm')?.fieldsV1)).toContain('f:replicas');
  });

  it('names Update managers with their apiVersion and paths of list items by key', () => {
    // Proves the conflict format for a client-side-apply owner and a container image path.
    const created = { ...nginxDeployment(2), metadata: { name: 'web', uid: 'u-1' } } as KubeObject;
    created.metadata = {
      ...created.metadata,
      managedFields: trackUpdate({
        old: undefined,
        updated: created,
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        schema: deploymentSchema(),
        apiVersion: 'apps/v1',
        now: T0,
      }),
    };
    const result = apply(created, nginxDeployment(4, 'nginx:1.28'), 'kubectl');
    if (!('conflicts' in result)) throw new Error('expected conflicts');
    expect(result.message).toBe(
      'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n' +
        '- .spec.replicas\n' +
        '- .spec.template.spec.containers[name="nginx"].image',
    );
  });

  it('lets two appliers share a field they set to the same value', () => {
    // Proves that only changing a value conflicts.
    const obj = applied(undefined, nginxDeployment(3), 'kubectl');
    const shared = applied(
      obj,
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 3 } },
      'hpa',
    );
    expect(JSON.stringify(entryOf(shared, 'kubectl')?.fieldsV1)).toContain('f:replicas');
    expect(JSON.stringify(entryOf(shared, 'hpa')?.fieldsV1)).toContain('f:replicas');
  });

  it('gives fields of an object written without managedFields to before-first-apply', () => {
    // Proves a pre-existing field changed by apply conflicts with the stand-in manager.
    const legacy = { ...nginxDeployment(1), metadata: { name: 'web', uid: 'u-1' } } as KubeObject;
    const result = apply(legacy, nginxDeployment(2), 'kubectl');
    if (!('conflicts' in result)) throw new Error('expected conflicts');
    expect(result.message).toBe(
      'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas',
    );
  });
});

describe('applyConfiguration: kubectl upgrades from client-side apply', () => {
  const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

  /** A Deployment as kubectl apply (client side) leaves it, then optionally edited by another writer. */
  function clientSideApplied(replicas: number): KubeObject {
    const config = nginxDeployment(replicas);
    const obj = structuredClone(config) as KubeObject;
    obj.metadata = {
      ...obj.metadata,
      uid: 'u-1',
      annotations: { [LAST_APPLIED]: `${JSON.stringify(config)}\n` },
    };
    obj.metadata.managedFields = trackUpdate({
      old: undefined,
      updated: obj,
      manager: 'kubectl-client-side-apply',
      operation: 'Update',
      schema: deploymentSchema(),
      apiVersion: 'apps/v1',
      now: T0,
    });
    return obj;
  }

  it('takes over fields last applied with their live values without a conflict', () => {
    // Proves lastAppliedManager: kubectl apply --server-side after kubectl apply changes replicas freely.
    const obj = applied(clientSideApplied(3), nginxDeployment(5), 'kubectl', { now: T1 });
    expect(obj.spec).toMatchObject({ replicas: 5 });
    const annotation = obj.metadata?.annotations?.[LAST_APPLIED] ?? '';
    expect(annotation.endsWith('\n')).toBe(true);
    expect(JSON.parse(annotation)).toEqual(nginxDeployment(5));
    expect(JSON.stringify(entryOf(obj, 'kubectl')?.fieldsV1)).toContain('f:replicas');
  });

  it('still conflicts on a field someone changed after the last client-side apply', () => {
    // Proves only fields whose live value matches the annotation are allowed.
    const live = clientSideApplied(3);
    const scaled = structuredClone(live);
    (scaled.spec as { replicas: number }).replicas = 4;
    scaled.metadata = {
      ...scaled.metadata,
      managedFields: trackUpdate({
        old: live,
        updated: scaled,
        manager: 'kubectl-scale',
        operation: 'Update',
        schema: deploymentSchema(),
        apiVersion: 'apps/v1',
        now: T1,
      }),
    };
    const result = apply(scaled, nginxDeployment(5), 'kubectl', { now: T2 });
    if (!('conflicts' in result)) throw new Error('expected conflicts');
    expect(result.message).toBe(
      'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas',
    );
  });

  it('refuses a configuration of another apiVersion or with managedFields', () => {
    // Proves the structured merge manager's 400s.
    expect(() => apply(undefined, { ...nginxDeployment(), apiVersion: 'apps/v1beta1' }, 'kubectl')).toThrow(
      'Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1',
    );
    const withFields = { ...nginxDeployment(), metadata: { name: 'web', managedFields: [] } };
    expect(() => apply(undefined, withFields, 'kubectl')).toThrow('metadata.managedFields must be nil');
  });
});

describe('trackUpdate', () => {
  it('moves ownership of changed fields to the writer and keeps Apply and Update entries apart', () => {
    // Proves Update bookkeeping: create, then an edit by another manager, then an Update by the applier.
    const obj = applied(undefined, nginxDeployment(3), 'kubectl');
    const edited = structuredClone(obj);
    (edited.spec as { replicas: number }).replicas = 7;
    const fields = trackUpdate({
      old: obj,
      updated: edited,
      manager: 'kubectl-edit',
      operation: 'Update',
      schema: deploymentSchema(),
      apiVersion: 'apps/v1',
      now: T1,
    });
    edited.metadata = { ...edited.metadata, managedFields: fields };
    expect(fields.map((e) => [e.manager, e.operation, e.time])).toEqual([
      ['kubectl', 'Apply', '2026-11-30T10:00:00Z'],
      ['kubectl-edit', 'Update', '2026-11-30T10:05:00Z'],
    ]);
    expect(entryOf(edited, 'kubectl-edit', 'Update')?.fieldsV1).toEqual({ 'f:spec': { 'f:replicas': {} } });
    expect(JSON.stringify(entryOf(edited, 'kubectl')?.fieldsV1)).not.toContain('f:replicas');

    const again = structuredClone(edited);
    (again.metadata as { labels: Record<string, string> }).labels = { app: 'web', x: 'y' };
    const next = trackUpdate({
      old: edited,
      updated: again,
      manager: 'kubectl',
      operation: 'Update',
      schema: deploymentSchema(),
      apiVersion: 'apps/v1',
      now: T2,
    });
    expect(next.filter((e) => e.manager === 'kubectl').map((e) => e.operation)).toEqual(['Apply', 'Update']);
  });

  it('records a create as an Update and leaves the time alone when nothing changed', () => {
    // Proves create tracking, identity fields left out, and no-op updates keep the entry as it was.
    const created = {
      ...nginxDeployment(),
      metadata: { name: 'web', namespace: 'default', uid: 'u', resourceVersion: '5' },
    };
    const fields = trackUpdate({
      old: undefined,
      updated: created,
      manager: 'kubectl-create',
      operation: 'Update',
      schema: deploymentSchema(),
      apiVersion: 'apps/v1',
      now: T0,
    });
    expect(fields).toHaveLength(1);
    expect(fields[0]?.fieldsV1?.['f:metadata']).toBeUndefined();
    const stored = { ...created, metadata: { ...created.metadata, managedFields: fields } };
    const same = trackUpdate({
      old: stored,
      updated: structuredClone(stored),
      manager: 'kubectl-create',
      operation: 'Update',
      schema: deploymentSchema(),
      apiVersion: 'apps/v1',
      now: T2,
    });
    expect(same).toEqual(fields);
  });

  it('lets a client clear managedFields with [{}] and stays off for objects that never had them', () => {
    // Proves the documented reset and that untracked existing objects stay untracked.
    const obj = applied(undefined, nginxDeployment(), 'kubectl');
    const reset = { ...obj, metadata: { ...obj.metadata, managedFields: [{}] } };
    expect(
      trackUpdate({
        old: obj,
        updated: reset,
        manager: 'x',
        operation: 'Update',
        schema: deploymentSchema(),
        apiVersion: 'apps/v1',
        now: T1,
      }),
    ).toEqual([]);
    const legacy = { ...nginxDeployment(), metadata: { name: 'web', uid: 'u' } };
    const changed = { ...legacy, spec: { replicas: 9 } };
    expect(
      trackUpdate({
        old: legacy,
        updated: changed,
        manager: 'x',
        operation: 'Update',
        schema: deploymentSchema(),
        apiVersion: 'apps/v1',
        now: T1,
      }),
    ).toEqual([]);
  });
});

describe('trackUpdate: manager cap', () => {
  it('folds the oldest Update entries into ancient-changes beyond ten', () => {
    // Proves capManagersManager: 12 writers leave 10 Update entries, the 3 oldest merged into one.
    let obj = { ...nginxDeployment(), metadata: { name: 'web' } } as KubeObject;
    for (let i = 0; i < 12; i++) {
      const next = structuredClone(obj);
      next.metadata = { ...next.metadata, labels: { ...(next.metadata?.labels ?? {}), [`l${i}`]: 'x' } };
      const now = new Date(Date.UTC(2026, 10, 30, 10, i));
      const old = i === 0 ? undefined : obj;
      next.metadata.managedFields = trackUpdate({
        old,
        updated: next,
        manager: `w${i}`,
        operation: 'Update',
        schema: deploymentSchema(),
        apiVersion: 'apps/v1',
        now,
      });
      next.metadata.uid = 'u';
      obj = next;
    }
    const entries = obj.metadata?.managedFields ?? [];
    expect(entries).toHaveLength(10);
    const ancient = entries.find((e) => e.manager === 'ancient-changes');
    expect(ancient?.time).toBe('2026-11-30T10:02:00Z');
    const fields = ancient?.fieldsV1 as { 'f:metadata': { 'f:labels': object } } | undefined;
    const labels = Object.keys(fields?.['f:metadata']['f:labels'] ?? {});
    expect(labels).toEqual(expect.arrayContaining(['f:l1', 'f:l2']));
    expect(entries.map((e) => e.manager)).not.toContain('w0');
  });
});

/** Random Deployment configurations over a small space so that managers collide often. */
const labelKey = fc.constantFrom('a', 'b', 'c', 'd');
const config = fc.record({
  labels: fc.dictionary(labelKey, fc.constantFrom('1', '2'), { maxKeys: 3 }),
  replicas: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  containers: fc.uniqueArray(
    fc.record({ name: fc.constantFrom('x', 'y', 'z'), image: fc.constantFrom('i:1', 'i:2') }),
    { selector: (c) => c.name, maxLength: 2 },
  ),
});

function deploymentOf(c: {
  labels: Record<string, string>;
  replicas: number | undefined;
  containers: unknown[];
}) {
  const spec: Record<string, unknown> = {};
  if (c.replicas !== undefined) spec.replicas = c.replicas;
  if (c.containers.length > 0) spec.template = { spec: { containers: c.containers } };
  const metadata: Record<string, unknown> = { name: 'web' };
  if (Object.keys(c.labels).length > 0) metadata.labels = c.labels;
  // An empty spec would be owned itself ({} is a member), so leave it out when nothing is in it.
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    ...(Object.keys(spec).length > 0 ? { spec } : {}),
  };
}

describe('applyConfiguration: properties', () => {
  it('is idempotent: applying a configuration twice changes nothing the second time', () => {
    // Proves object and managedFields are stable under re-apply, after any prior apply by another manager.
    fc.assert(
      fc.property(config, config, (other, mine) => {
        const base = applied(undefined, deploymentOf(other), 'other');
        const once = apply(base, deploymentOf(mine), 'me', { force: true, now: T1 });
        if ('conflicts' in once) throw new Error('force never conflicts');
        const stored = { ...once.object, metadata: { ...once.object.metadata, uid: 'u-1' } };
        const twice = apply(stored, deploymentOf(mine), 'me', { now: T2 });
        if ('conflicts' in twice) throw new Error(`re-apply conflicted: ${twice.message}`);
        expect(twice.object).toEqual(stored);
        expect(twice.managedFields).toEqual(once.managedFields);
      }),
      { seed: fcSeed, numRuns: 200 },
    );
  });

  it('keeps ownership for two managers applying disjoint fields', () => {
    // Proves disjoint appliers never conflict and both keep every field they applied.
    const keys = fc.uniqueArray(labelKey, { minLength: 2, maxLength: 4 });
    fc.assert(
      fc.property(keys, fc.integer({ min: 1, max: 3 }), (all, split) => {
        const cut = Math.min(split, all.length - 1);
        const mine = Object.fromEntries(all.slice(0, cut).map((k) => [k, 'm']));
        const theirs = Object.fromEntries(all.slice(cut).map((k) => [k, 't']));
        let obj = applied(undefined, deploymentOf({ labels: mine, replicas: 1, containers: [] }), 'me');
        obj = applied(obj, deploymentOf({ labels: theirs, replicas: undefined, containers: [] }), 'them', {
          now: T1,
        });
        obj = applied(obj, deploymentOf({ labels: mine, replicas: 1, containers: [] }), 'me', { now: T2 });
        expect(obj.metadata?.labels).toEqual({ ...mine, ...theirs });
        const owned = (m: string) => {
          const fields = entryOf(obj, m)?.fieldsV1 as { 'f:metadata': { 'f:labels': object } } | undefined;
          return Object.keys(fields?.['f:metadata']['f:labels'] ?? {});
        };
        expect(owned('me').sort()).toEqual(
          Object.keys(mine)
            .map((k) => `f:${k}`)
            .sort(),
        );
        expect(owned('them').sort()).toEqual(
          Object.keys(theirs)
            .map((k) => `f:${k}`)
            .sort(),
        );
      }),
      { seed: fcSeed, numRuns: 100 },
    );
  });

  it('conflicts on a changed value without force and moves ownership with it', () => {
    // Proves conflict and force on random label keys and values.
    fc.assert(
      fc.property(labelKey, fc.constantFrom('1', '2'), fc.constantFrom('3', '4'), (k, v1, v2) => {
        const base = applied(
          undefined,
          deploymentOf({ labels: { [k]: v1 }, replicas: undefined, containers: [] }),
          'first',
        );
        const mine = deploymentOf({ labels: { [k]: v2 }, replicas: undefined, containers: [] });
        const refused = apply(base, mine, 'second');
        expect('conflicts' in refused && refused.conflicts.map((c) => [c.manager, c.field])).toEqual([
          ['first', `.metadata.labels.${k}`],
        ]);
        const forced = applied(base, mine, 'second', { force: true });
        expect(forced.metadata?.labels?.[k]).toBe(v2);
        expect(entryOf(forced, 'first')).toBeUndefined();
        expect(JSON.stringify(entryOf(forced, 'second')?.fieldsV1)).toContain(`f:${k}`);
      }),
      { seed: fcSeed, numRuns: 50 },
    );
  });
});

describe('trackUpdate: model', () => {
  it('gives each label to its last writer and never owns a field that is gone', () => {
    // Proves Update bookkeeping against a model (label → last writer) over random write sequences.
    const write = fc.record({
      manager: fc.constantFrom('a', 'b', 'c'),
      key: fc.constantFrom('x', 'y', 'z'),
      value: fc.option(fc.constantFrom('1', '2'), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 12 }), (writes) => {
        let obj: KubeObject = {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'd', uid: 'u', labels: { base: 'v' } },
        };
        obj.metadata = {
          ...obj.metadata,
          managedFields: trackUpdate({
            old: undefined,
            updated: obj,
            manager: 'creator',
            operation: 'Update',
            schema: deploymentSchema(),
            apiVersion: 'apps/v1',
            now: T0,
          }),
        };
        const lastWriter = new Map<string, string>([['base', 'creator']]);
        for (const [i, w] of writes.entries()) {
          const next = structuredClone(obj);
          const labels = { ...(next.metadata?.labels ?? {}) };
          if (w.value === undefined) delete labels[w.key];
          else labels[w.key] = w.value;
          next.metadata = { ...next.metadata, labels };
          if (obj.metadata?.labels?.[w.key] !== w.value) {
            if (w.value === undefined) lastWriter.delete(w.key);
            else lastWriter.set(w.key, w.manager);
          }
          const now = new Date(T0.getTime() + (i + 1) * 1000);
          next.metadata.managedFields = trackUpdate({
            old: obj,
            updated: next,
            manager: w.manager,
            operation: 'Update',
            schema: deploymentSchema(),
            apiVersion: 'apps/v1',
            now,
          });
          obj = next;
        }
        const owners = new Map<string, string[]>();
        for (const entry of obj.metadata?.managedFields ?? []) {
          const labels =
            (entry.fieldsV1 as { 'f:metadata'?: { 'f:labels'?: Record<string, unknown> } })['f:metadata']?.[
              'f:labels'
            ] ?? {};
          for (const k of Object.keys(labels)) {
            if (k === '.') continue;
            owners.set(k.slice(2), [...(owners.get(k.slice(2)) ?? []), entry.manager ?? '']);
          }
        }
        const present = Object.keys(obj.metadata?.labels ?? {});
        expect([...owners.keys()].sort()).toEqual(present.sort());
        for (const k of present) expect(owners.get(k)).toEqual([lastWriter.get(k)]);
      }),
      { seed: fcSeed, numRuns: 200 },
    );
  });
});
