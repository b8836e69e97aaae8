// JSON patch (RFC 6902): the RFC's examples and kube-apiserver's error shapes and bounds.

import { applyJsonPatch, isStatusError, JSON_PATCH_OPERATIONS_MAX, type StatusError } from '@keelson/api';
import { describe, expect, it } from 'vitest';

function failure(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    if (isStatusError(err)) return err;
    throw err;
  }
  throw new Error('expected a StatusError');
}

describe('applyJsonPatch: RFC 6902 Appendix A', () => {
  it('adds, removes, replaces, moves and tests as the RFC examples show', () => {
    // Proves examples A.1–A.8, A.10, A.11, A.14 and A.16 of RFC 6902.
    const ok: [unknown, unknown[], unknown][] = [
      [{ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { baz: 'qux', foo: 'bar' }],
      [
        { foo: ['bar', 'baz'] },
        [{ op: 'add', path: '/foo/1', value: 'qux' }],
        { foo: ['bar', 'qux', 'baz'] },
      ],
      [{ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
      [{ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }], { foo: ['bar', 'baz'] }],
      [
        { baz: 'qux', foo: 'bar' },
        [{ op: 'replace', path: '/baz', value: 'boo' }],
        { baz: 'boo', foo: 'bar' },
      ],
      [
        { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
        [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
        { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
      ],
      [
        { foo: ['all', 'grass', 'cows', 'eat'] },
        [{ op: 'move', from: '/foo/1', path: '/foo/3' }],
        { foo: ['all', 'cows', 'eat', 'grass'] },
      ],
      [
        { baz: 'qux', foo: ['a', 2, 'c'] },
        [
          { op: 'test', path: '/baz', value: 'qux' },
          { op: 'test', path: '/foo/1', value: 2 },
        ],
        { baz: 'qux', foo: ['a', 2, 'c'] },
      ],
      [
        { foo: 'bar' },
        [{ op: 'add', path: '/child', value: { grandchild: {} } }],
        { foo: 'bar', child: { grandchild: {} } },
      ],
      [{ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }], { foo: 'bar', baz: 'qux' }],
      [{ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
      [
        { foo: ['bar'] },
        [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }],
        { foo: ['bar', ['abc', 'def']] },
      ],
      [{ a: { b: 1 } }, [{ op: 'copy', from: '/a', path: '/c' }], { a: { b: 1 }, c: { b: 1 } }],
    ];
    for (const [doc, patch, result] of ok) expect(applyJsonPatch(doc, patch)).toEqual(result);
  });

  it('fails a test that does not hold and an add under a missing parent (A.9, A.12, A.15)', () => {
    // Proves the RFC's error examples fail, with evanphx/json-patch's messages as the cause.
    const testFailed = failure(() =>
      applyJsonPatch({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]),
    );
    expect(testFailed.code).toBe(422);
    expect(testFailed.reason).toBe('Invalid');
    expect(testFailed.message).toBe('the server rejected our request due to an error in our request');
    expect(testFailed.details?.causes?.[0]?.message).toBe('testing value /baz failed: test failed');
    const missing = failure(() =>
      applyJsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }]),
    );
    expect(missing.details?.causes?.[0]?.message).toBe(
      'add operation does not apply: doc is missing path: "/baz/bat": missing value',
    );
    const typed = failure(() =>
      applyJsonPatch({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }]),
    );
    expect(typed.code).toBe(422);
  });
});

describe('applyJsonPatch: Kubernetes behaviour', () => {
  it('gives kube-apiserver messages for operations that do not apply', () => {
    // Proves the 422 causes for remove/replace of missing members, bad indices and unknown ops.
    const doc = { spec: { replicas: 1, list: ['a'] } };
    const cause = (ops: unknown[]) => failure(() => applyJsonPatch(doc, ops)).details?.causes?.[0]?.message;
    expect(cause([{ op: 'remove', path: '/spec/x' }])).toBe(
      "error in remove for path: '/spec/x': Unable to remove nonexistent key: x: missing value",
    );
    expect(cause([{ op: 'replace', path: '/spec/x', value: 1 }])).toBe(
      'replace operation does not apply: doc is missing key: /spec/x: missing value',
    );
    expect(cause([{ op: 'remove', path: '/nope/x' }])).toBe(
      'remove operation does not apply: doc is missing path: "/nope/x": missing value',
    );
    expect(cause([{ op: 'add', path: '/spec/list/5', value: 'z' }])).toBe(
      "error in add for path: '/spec/list/5': Unable to access invalid index: 5: invalid index referenced",
    );
    expect(cause([{ op: 'frobnicate', path: '/spec' }])).toBe('Unexpected kind: frobnicate');
    expect(cause([{ op: 'move', from: '/nope/none', path: '/x' }])).toBe(
      'move operation does not apply: doc is missing from path: /nope/none: missing value',
    );
    expect(cause([{ op: 'move', from: '/spec/none', path: '/x' }])).toBe(
      "error in move for path: 'none': Unable to remove nonexistent key: none: missing value",
    );
  });

  it('answers 400 for a body that is not a list of operations', () => {
    // Proves jsonpatch.DecodePatch's unmarshal error becomes a BadRequest.
    const err = failure(() => applyJsonPatch({}, { op: 'add', path: '/a', value: 1 }));
    expect(err.code).toBe(400);
    expect(err.message).toBe('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  });

  it('refuses more than 10,000 operations with 413', () => {
    // Proves the operation-count bound and its message.
    const ops = Array.from({ length: JSON_PATCH_OPERATIONS_MAX + 1 }, () => ({
      op: 'test',
      path: '',
      value: {},
    }));
    const err = failure(() => applyJsonPatch({}, ops));
    expect(err.code).toBe(413);
    expect(err.message).toBe('The allowed maximum operations in a JSON patch is 10000, got 10001');
  });

  it('bounds the growth copy operations may cause', () => {
    // Proves a patch that doubles an array on every operation is refused instead of exhausting memory.
    const ops = Array.from({ length: 60 }, () => ({ op: 'copy', from: '/a', path: '/a/-' }));
    const err = failure(() => applyJsonPatch({ a: ['x'.repeat(1000)] }, ops));
    expect(err.code).toBe(422);
    expect(err.details?.causes?.[0]?.message).toMatch(/accumulated size increase of copy/);
  });

  it('is all or nothing and never changes its input', () => {
    // Proves a failing later operation leaves the caller's object untouched.
    const doc = { a: 1 };
    expect(() =>
      applyJsonPatch(doc, [
        { op: 'add', path: '/b', value: 2 },
        { op: 'test', path: '/a', value: 5 },
      ]),
    ).toThrow();
    expect(doc).toEqual({ a: 1 });
  });

  it('refuses prototype pollution paths', () => {
    // Proves __proto__ paths are rejected as an unprocessable patch.
    const err = failure(() =>
      applyJsonPatch({ a: {} }, [{ op: 'add', path: '/__proto__/polluted', value: 1 }]),
    );
    expect(err.code).toBe(422);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
