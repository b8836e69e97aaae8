// FieldsV1 sets: the encoding Kubernetes writes, set algebra against a dumb reference, paths as
// conflicts print them, and corrupt managedFields handled without a crash.

import {
  fieldPathString,
  fieldSetMembers,
  fromFieldsV1,
  type KubeObject,
  toFieldsV1,
  trackUpdate,
} from '@keelson/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { difference, emptySet, type FieldSet, insert, intersection, union } from '../src/patch/fieldsv1.js';
import { deploymentSchema, fcSeed, nginxDeployment } from './patch-fixtures.js';

/** managedFields of `kubectl create deployment web --image=nginx` on Kubernetes 1.32 (abridged). */
const KUBECTL_CREATE = {
  'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
  'f:spec': {
    'f:progressDeadlineSeconds': {},
    'f:replicas': {},
    'f:selector': {},
    'f:strategy': { 'f:rollingUpdate': { '.': {}, 'f:maxSurge': {}, 'f:maxUnavailable': {} }, 'f:type': {} },
    'f:template': {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': {
        'f:containers': {
          'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:imagePullPolicy': {}, 'f:name': {} },
        },
        'f:dnsPolicy': {},
      },
    },
  },
};

describe('FieldsV1', () => {
  it('round-trips the managedFields Kubernetes writes', () => {
    // Proves parse and encode agree with the real format ("." only on members with members below).
    expect(toFieldsV1(fromFieldsV1(KUBECTL_CREATE))).toEqual(KUBECTL_CREATE);
  });

  it('prints paths as Kubernetes does in conflicts', () => {
    // Proves the field, key, value and index forms of fieldpath.Path.String().
    expect(fieldPathString(['f:spec', 'f:containers', 'k:{"name":"nginx"}', 'f:image'])).toBe(
      '.spec.containers[name="nginx"].image',
    );
    expect(fieldPathString(['f:spec', 'f:ports', 'k:{"port":80,"protocol":"TCP"}'])).toBe(
      '.spec.ports[port=80,protocol="TCP"]',
    );
    expect(fieldPathString(['f:metadata', 'f:finalizers', 'v:"a/b"'])).toBe('.metadata.finalizers[="a/b"]');
    expect(fieldPathString(['f:x', 'i:3'])).toBe('.x[3]');
  });

  it('refuses corrupt FieldsV1', () => {
    // Proves bad element prefixes and bad key JSON are errors, not silent garbage.
    expect(() => fromFieldsV1({ 'x:bad': {} })).toThrow('unknown fieldsV1 path element');
    expect(() => fromFieldsV1({ 'k:{nope': {} })).toThrow('invalid fieldsV1 path element');
    expect(() => fromFieldsV1({ 'k:"str"': {} })).toThrow('not an object');
  });

  it('falls back to the stored managedFields when a write sends corrupt ones', () => {
    // Proves trackUpdate never crashes on garbage managedFields in a request.
    const stored = { ...nginxDeployment(), metadata: { name: 'web', uid: 'u' } } as KubeObject;
    stored.metadata = { ...stored.metadata };
    stored.metadata.managedFields = trackUpdate({
      old: undefined,
      updated: stored,
      manager: 'a',
      operation: 'Update',
      schema: deploymentSchema(),
      apiVersion: 'apps/v1',
      now: new Date(0),
    });
    const sent = structuredClone(stored);
    (sent.metadata as { managedFields: unknown }).managedFields = [
      { manager: 'evil', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'q:1': {} } },
    ];
    (sent.spec as { replicas: number }).replicas = 9;
    const fields = trackUpdate({
      old: stored,
      updated: sent,
      manager: 'b',
      operation: 'Update',
      schema: deploymentSchema(),
      apiVersion: 'apps/v1',
      now: new Date(1000),
    });
    expect(fields.map((e) => e.manager)).toEqual(['a', 'b']);
  });
});

const element = fc.constantFrom('f:a', 'f:b', 'k:{"name":"x"}', 'v:"y"', 'i:0');
const path = fc.array(element, { minLength: 1, maxLength: 3 });
const paths = fc.array(path, { maxLength: 8 });

function setOf(list: string[][]): FieldSet {
  const set = emptySet();
  for (const p of list) insert(set, p);
  return set;
}

/** The dumb reference: a set of joined path strings. */
const ref = (list: string[][]) => new Set(list.map((p) => p.join('\u0000')));
const asRef = (set: FieldSet) => ref(fieldSetMembers(set));

describe('field set algebra', () => {
  it('agrees with plain sets of paths for union, difference and intersection', () => {
    // Proves the trie operations against a reference implementation.
    fc.assert(
      fc.property(paths, paths, (a, b) => {
        const ra = ref(a);
        const rb = ref(b);
        expect(asRef(union(setOf(a), setOf(b)))).toEqual(new Set([...ra, ...rb]));
        expect(asRef(difference(setOf(a), setOf(b)))).toEqual(new Set([...ra].filter((x) => !rb.has(x))));
        expect(asRef(intersection(setOf(a), setOf(b)))).toEqual(new Set([...ra].filter((x) => rb.has(x))));
        expect(asRef(fromFieldsV1(toFieldsV1(setOf(a))))).toEqual(ra);
      }),
      { seed: fcSeed, numRuns: 300 },
    );
  });
});
