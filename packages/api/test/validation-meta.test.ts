// ObjectMeta validation on create and update: names per kind, namespaces, labels, annotations,
// ownerReferences, finalizers and the identity fields an update may not change.

import { describe, expect, it } from 'vitest';
import { formatFieldError, invalid as invalidStatus } from '../src/status.js';
import type { KubeObject } from '../src/types.js';
import {
  ANNOTATIONS_SIZE_BYTES_MAX,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from '../src/validation/meta.js';
import { nameIsDNSSubdomain } from '../src/validation/names.js';

const namespaced = { namespaced: true, nameValidator: nameIsDNSSubdomain };
const clusterScoped = { namespaced: false, nameValidator: nameIsDNSSubdomain };

function messages(obj: KubeObject, opts = namespaced): string[] {
  return validateObjectMeta(obj, opts).map(formatFieldError);
}

describe('validateObjectMeta', () => {
  it('accepts a valid object', () => {
    // Proves well-formed metadata (prefixed labels, mixed-case annotation key, finalizers, a controller
    // owner) yields no errors.
    const obj = {
      metadata: {
        name: 'web',
        namespace: 'default',
        labels: { app: 'web', 'app.kubernetes.io/name': 'x' },
        annotations: { 'Example.com/Key': 'anything at all' },
        finalizers: ['example.com/hold', 'kubernetes'],
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u1', controller: true },
        ],
      },
    };
    expect(messages(obj)).toEqual([]);
  });

  it('requires name, requires namespace iff namespaced', () => {
    // Proves names and namespaces are required or forbidden with Kubernetes' wording.
    expect(messages({ metadata: { namespace: 'default' } })).toEqual([
      'metadata.name: Required value: name or generateName is required',
    ]);
    expect(messages({ metadata: { name: 'a' } })).toEqual(['metadata.namespace: Required value']);
    expect(messages({ metadata: { name: 'a', namespace: 'x' } }, clusterScoped)).toEqual([
      'metadata.namespace: Forbidden: not allowed on this type',
    ]);
    expect(messages({ metadata: { name: 'a', namespace: 'Bad_NS' } })[0]).toMatch(
      /^metadata\.namespace: Invalid value: "Bad_NS": a lowercase RFC 1123 label must consist of/,
    );
  });

  it('formats an invalid name like Kubernetes', () => {
    // Proves an invalid name yields, word for word, the Invalid status message kubectl prints.
    const errs = validateObjectMeta({ metadata: { name: 'Bad', namespace: 'default' } }, namespaced);
    expect(invalidStatus('ConfigMap', '', 'Bad', errs).message).toBe(
      `ConfigMap "Bad" is invalid: metadata.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    );
  });

  it('checks generateName as a prefix', () => {
    // Proves generateName is checked as a prefix and a bad one is reported.
    expect(messages({ metadata: { name: 'web-abcde', generateName: 'web-', namespace: 'd' } })).toEqual([]);
    expect(messages({ metadata: { name: 'web-abcde', generateName: 'Web-', namespace: 'd' } })[0]).toMatch(
      /^metadata\.generateName: Invalid value: "Web-"/,
    );
  });

  it('labels and annotations', () => {
    // Proves label keys and values, annotation keys and the annotation size limit are enforced.
    const bad = messages({
      metadata: { name: 'a', namespace: 'd', labels: { 'bad key': 'v', ok: 'bad value' } },
    });
    expect(bad).toHaveLength(2);
    expect(bad[0]).toMatch(/^metadata\.labels: Invalid value: "bad key": name part must consist of/);
    expect(bad[1]).toMatch(
      /^metadata\.labels: Invalid value: "bad value": a valid label must be an empty string/,
    );
    const big = { k: 'x'.repeat(ANNOTATIONS_SIZE_BYTES_MAX) };
    expect(messages({ metadata: { name: 'a', namespace: 'd', annotations: big } })).toEqual([
      'metadata.annotations: Too long: may not be more than 262144 bytes',
    ]);
  });

  it('ownerReferences', () => {
    // Proves ownerReferences need every field, at most one controller, and no Event owners.
    const refs = [
      { apiVersion: 'v1', kind: 'Pod', name: 'a', uid: '1', controller: true },
      { apiVersion: 'v1', kind: 'Pod', name: 'b', uid: '2', controller: true },
      { apiVersion: '', kind: '', name: '', uid: '' },
      { apiVersion: 'v1', kind: 'Event', name: 'e', uid: '3' },
    ];
    const msgs = messages({ metadata: { name: 'a', namespace: 'd', ownerReferences: refs } });
    expect(msgs).toContain(
      'metadata.ownerReferences: Invalid value: ' +
        JSON.stringify(refs) +
        ': Only one reference can have Controller set to true. Found "true" in references for Pod/a and Pod/b',
    );
    expect(msgs).toContain(
      'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
    );
    expect(msgs).toContain('metadata.ownerReferences.uid: Invalid value: "": uid must not be empty');
    expect(msgs.some((m) => m.endsWith('/v1, Kind=Event is disallowed from being an owner'))).toBe(true);
  });

  it('finalizers', () => {
    // Proves finalizers must be qualified names and orphan/foregroundDeletion exclude each other.
    const msgs = messages({
      metadata: { name: 'a', namespace: 'd', finalizers: ['orphan', 'foregroundDeletion', 'a b'] },
    });
    expect(msgs).toHaveLength(2);
    expect(msgs[1]).toBe(
      'metadata.finalizers: Invalid value: ["orphan","foregroundDeletion","a b"]: finalizer orphan and foregroundDeletion cannot be both set',
    );
  });
});

describe('validateObjectMetaUpdate', () => {
  const old: KubeObject = {
    metadata: {
      name: 'a',
      namespace: 'd',
      uid: 'u1',
      resourceVersion: '5',
      creationTimestamp: '2026-01-01T00:00:00Z',
      generation: 2,
    },
  };

  it('refuses identity changes', () => {
    // Proves identity fields are immutable with "field is immutable".
    const next = {
      metadata: { ...old.metadata, name: 'b', namespace: 'e', uid: 'u2', creationTimestamp: 'x' },
    };
    expect(validateObjectMetaUpdate(next, old).map(formatFieldError)).toEqual([
      'metadata.name: Invalid value: "b": field is immutable',
      'metadata.namespace: Invalid value: "e": field is immutable',
      'metadata.uid: Invalid value: "u2": field is immutable',
      'metadata.creationTimestamp: Invalid value: "x": field is immutable',
    ]);
  });

  it('resourceVersion and generation', () => {
    // Proves an update needs a resourceVersion and may not decrement generation.
    const next = { metadata: { ...old.metadata, resourceVersion: '', generation: 1 } };
    expect(validateObjectMetaUpdate(next, old).map(formatFieldError)).toEqual([
      'metadata.resourceVersion: Invalid value: "": must be specified for an update',
      'metadata.generation: Invalid value: 1: must not be decremented',
    ]);
  });

  it('no new finalizers while deleting', () => {
    // Proves an object being deleted cannot gain finalizers but may lose them.
    const deleting = { metadata: { ...old.metadata, deletionTimestamp: 't', finalizers: ['example.com/a'] } };
    const added = { metadata: { ...deleting.metadata, finalizers: ['example.com/a', 'example.com/b'] } };
    expect(validateObjectMetaUpdate(added, deleting).map(formatFieldError)).toEqual([
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/b"}',
    ]);
    const removed = { metadata: { ...deleting.metadata, finalizers: [] } };
    expect(validateObjectMetaUpdate(removed, deleting)).toEqual([]);
  });
});
