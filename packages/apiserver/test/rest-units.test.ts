// Pure pieces of the REST layer: path parsing, verbs, content negotiation, list planning, continue
// tokens, protobuf request bodies and Scale's selector string.

import { scaleOf } from '@keelson/api';
import { decodeContinue, encodeContinue, InvalidContinueError, parseResourcePath } from '@keelson/apiserver';
import { describe, expect, it } from 'vitest';
import { verbOf } from '../src/rest/context.js';
import { decodeProtobufObject } from '../src/rest/protobuf.js';
import { planList } from '../src/rest/read.js';
import { negotiate } from '../src/rest/respond.js';

describe('parseResourcePath', () => {
  it('parses core, group, namespaced and subresource paths as RequestInfoFactory does', () => {
    // Proves the URL shapes kubectl and clients use.
    expect(parseResourcePath('/api/v1/pods')).toEqual({
      group: '',
      version: 'v1',
      namespace: '',
      plural: 'pods',
      name: '',
      subresource: '',
    });
    expect(parseResourcePath('/api/v1/namespaces/ns/pods/p/status')).toEqual({
      group: '',
      version: 'v1',
      namespace: 'ns',
      plural: 'pods',
      name: 'p',
      subresource: 'status',
    });
    expect(parseResourcePath('/apis/apps/v1/namespaces/ns/deployments/d/scale')).toMatchObject({
      group: 'apps',
      plural: 'deployments',
      name: 'd',
      subresource: 'scale',
    });
    expect(parseResourcePath('/api/v1/namespaces/ns')).toMatchObject({
      plural: 'namespaces',
      name: 'ns',
      namespace: 'ns',
    });
    expect(parseResourcePath('/api/v1/namespaces/ns/finalize')).toMatchObject({
      plural: 'namespaces',
      name: 'ns',
      subresource: 'finalize',
    });
    expect(parseResourcePath('/api/v1/namespaces')).toMatchObject({ plural: 'namespaces', name: '' });
    expect(parseResourcePath('/apis/apps/v1')).toBeUndefined();
    expect(parseResourcePath('/version')).toBeUndefined();
    expect(parseResourcePath('/api/v1/namespaces/ns/pods/p/status/extra')).toBeUndefined();
  });

  it('derives the Kubernetes verb from method, name and watch', () => {
    // Proves list vs get vs watch vs deletecollection.
    const q = (s: string) => new URLSearchParams(s);
    const path = (name: string) => ({
      group: '',
      version: 'v1',
      namespace: 'n',
      plural: 'pods',
      name,
      subresource: '',
    });
    expect(verbOf('GET', path(''), q(''))).toBe('list');
    expect(verbOf('GET', path(''), q('watch=true'))).toBe('watch');
    expect(verbOf('GET', path('p'), q('watch=1'))).toBe('watch');
    expect(verbOf('GET', path('p'), q(''))).toBe('get');
    expect(verbOf('DELETE', path(''), q(''))).toBe('deletecollection');
    expect(verbOf('PATCH', path('p'), q(''))).toBe('patch');
    expect(verbOf('OPTIONS', path('p'), q(''))).toBeUndefined();
  });
});

describe('negotiate', () => {
  it('picks the first acceptable form of Accept, as kubectl sends it', () => {
    // Proves Table negotiation and the fallbacks.
    expect(
      negotiate(
        'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
      ),
    ).toEqual({ form: 'table', version: 'v1' });
    expect(negotiate('application/vnd.kubernetes.protobuf,application/json')).toEqual({
      form: 'object',
      version: 'v1',
    });
    expect(negotiate('application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io')).toEqual({
      form: 'metadata',
      version: 'v1',
    });
    expect(negotiate(undefined)).toEqual({ form: 'object', version: 'v1' });
    expect(() => negotiate('application/vnd.kubernetes.protobuf')).toThrow(/only the following media types/);
  });
});

describe('planList', () => {
  it('applies the resourceVersion / resourceVersionMatch / limit / continue rules', () => {
    // Proves Kubernetes' list semantics and its validation messages.
    const q = (s: string) => new URLSearchParams(s);
    expect(planList(q(''))).toMatchObject({ revision: 0, minRevision: 0 });
    expect(planList(q('resourceVersion=0'))).toMatchObject({ revision: 0, minRevision: 0 });
    expect(planList(q('resourceVersion=7'))).toMatchObject({ revision: 0, minRevision: 7 });
    expect(planList(q('resourceVersion=7&resourceVersionMatch=Exact'))).toMatchObject({ revision: 7 });
    expect(planList(q('resourceVersion=7&limit=5'))).toMatchObject({ revision: 7, limit: 5 });
    expect(planList(q('resourceVersion=7&resourceVersionMatch=NotOlderThan&limit=5'))).toMatchObject({
      revision: 0,
      minRevision: 7,
    });
    expect(() => planList(q('resourceVersionMatch=Exact'))).toThrow(
      /forbidden unless resourceVersion is provided/,
    );
    expect(() => planList(q('resourceVersion=0&resourceVersionMatch=Exact'))).toThrow(
      /forbidden for resourceVersion "0"/,
    );
    expect(() => planList(q('resourceVersion=5&continue=abc'))).toThrow(/not allowed when using continue/);
    expect(() => planList(q('resourceVersion=x'))).toThrow(/invalid resource version/);
    expect(() => planList(q('limit=-1'))).toThrow();
  });
});

describe('continue tokens', () => {
  it('round-trip in Kubernetes’ format and refuse tampering', () => {
    // Proves the token is base64url JSON with v, rv and start.
    const token = encodeContinue({ rv: 42, start: 'b\u0000' });
    expect(JSON.parse(Buffer.from(token, 'base64url').toString())).toEqual({
      v: 'meta.k8s.io/v1',
      rv: 42,
      start: 'b\u0000',
    });
    expect(decodeContinue(token)).toEqual({ rv: 42, start: 'b\u0000' });
    const bad = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    expect(() => decodeContinue('!!!')).toThrow(InvalidContinueError);
    expect(() => decodeContinue(bad({ v: 'other', rv: 1, start: 'a' }))).toThrow(InvalidContinueError);
    expect(() => decodeContinue(bad({ v: 'meta.k8s.io/v1', rv: 0, start: 'a' }))).toThrow(
      InvalidContinueError,
    );
    expect(() => decodeContinue(bad({ v: 'meta.k8s.io/v1', rv: 1, start: '../etc' }))).toThrow(
      InvalidContinueError,
    );
  });
});

/** Protobuf encoding helpers, enough to build what client-go sends. */
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
function field(num: number, payload: Buffer | string): Buffer {
  const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([varint((num << 3) | 2), varint(b.length), b]);
}
function fieldInt(num: number, n: number): Buffer {
  return Buffer.concat([varint(num << 3), varint(n)]);
}

describe('decodeProtobufObject', () => {
  it('decodes the k8s envelope and a ConfigMap as JSON would carry it', () => {
    // Proves kubectl's protobuf create bodies are understood.
    const meta = Buffer.concat([
      field(1, 'cm1'),
      field(2, ''),
      fieldInt(7, 0),
      field(11, Buffer.concat([field(1, 'app'), field(2, 'web')])),
    ]);
    const raw = Buffer.concat([
      field(1, meta),
      field(2, Buffer.concat([field(1, 'a'), field(2, 'b')])),
      field(2, Buffer.concat([field(1, 'c'), field(2, 'd')])),
    ]);
    const envelope = Buffer.concat([
      Buffer.from('k8s\u0000'),
      field(1, Buffer.concat([field(1, 'v1'), field(2, 'ConfigMap')])),
      field(2, raw),
    ]);
    expect(decodeProtobufObject(envelope)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm1', labels: { app: 'web' } },
      data: { a: 'b', c: 'd' },
    });
  });

  it('refuses kinds it has no schema for (415) and malformed bodies (400)', () => {
    // Proves unknown protobuf kinds and garbage fail as Status errors.
    const envelope = Buffer.concat([
      Buffer.from('k8s\u0000'),
      field(1, Buffer.concat([field(1, 'example.com/v1'), field(2, 'Widget')])),
      field(2, Buffer.alloc(0)),
    ]);
    expect(() => decodeProtobufObject(envelope)).toThrow(expect.objectContaining({ code: 415 }));
    expect(() => decodeProtobufObject(Buffer.from('nope'))).toThrow(expect.objectContaining({ code: 400 }));
    expect(() =>
      decodeProtobufObject(Buffer.concat([Buffer.from('k8s\u0000'), Buffer.from([0x0a, 0x7f])])),
    ).toThrow(expect.objectContaining({ code: 400 }));
  });
});

/** Scale.status.selector of a Deployment (LabelSelector) or a ReplicationController (plain map). */
function selectorString(selector: unknown): string {
  const isMap =
    typeof selector === 'object' &&
    selector !== null &&
    !('matchLabels' in selector) &&
    !('matchExpressions' in selector);
  const kind = isMap ? 'ReplicationController' : 'Deployment';
  const scale = scaleOf({ kind, metadata: { name: 'x' }, spec: { selector } }, kind);
  return (scale.status as { selector: string }).selector;
}

describe('selectorString', () => {
  it('formats label selectors as Scale.status.selector does', () => {
    // Proves the selector string of the scale subresource.
    expect(selectorString({ matchLabels: { b: '2', a: '1' } })).toBe('a=1,b=2');
    expect(
      selectorString({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }),
    ).toBe('tier in (api,web)');
    expect(selectorString({ app: 'rc' })).toBe('app=rc');
    expect(selectorString(undefined)).toBe('');
  });
});
