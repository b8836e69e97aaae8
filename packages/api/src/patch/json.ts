// JSON patch (RFC 6902), the `application/json-patch+json` patch type. The operations are applied
// with fast-json-patch; every operation is checked first so that a failure carries the message
// kube-apiserver gives (it uses evanphx/json-patch v4 and answers 422 with the library's message as
// the cause), and the work a patch may cause is bounded.

import jsonpatch from 'fast-json-patch';
import { badRequest, StatusError } from '../status.js';
import { clone, deepEqual, isObject, type JsonObject } from './util.js';

/** kube-apiserver's maxJSONPatchOperations. */
export const JSON_PATCH_OPERATIONS_MAX = 10_000;

/** How much `copy` operations may grow a document in total, so that a patch that doubles an array
 * on every operation is refused long before it exhausts memory. */
export const JSON_PATCH_COPY_BYTES_MAX = 16 * 1024 * 1024;

/** errors.NewGenericServerResponse(422, …): the message is generic, the library's error is the cause. */
export function jsonPatchFailed(message: string): StatusError {
  return new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    causes: [{ reason: 'UnexpectedServerResponse', message }],
  });
}

function goTypeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

/**
 * Applies an RFC 6902 patch (already parsed from JSON) to `target` and returns the result; the
 * target is not changed. Throws StatusError: 400 for a body that is not a list of operations, 413
 * for more than 10,000 operations, 422 for an operation that does not apply.
 */
export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) {
    throw badRequest(`json: cannot unmarshal ${goTypeName(patch)} into Go value of type jsonpatch.Patch`);
  }
  for (const op of patch) {
    if (!isObject(op)) {
      throw badRequest(`json: cannot unmarshal ${goTypeName(op)} into Go value of type jsonpatch.Operation`);
    }
  }
  if (patch.length > JSON_PATCH_OPERATIONS_MAX) {
    throw new StatusError(
      413,
      'RequestEntityTooLarge',
      `The allowed maximum operations in a JSON patch is ${JSON_PATCH_OPERATIONS_MAX}, got ${patch.length}`,
    );
  }
  const state = { doc: clone(target), copiedBytes: 0 };
  for (const op of patch as JsonObject[]) applyOne(state, op);
  return state.doc;
}

interface PatchState {
  doc: unknown;
  copiedBytes: number;
}

type Located = { parent: JsonObject | unknown[]; key: string } | undefined;

/** Splits an RFC 6901 pointer; undefined when it is not one (it must be "" or start with "/"). */
function tokens(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The container that holds the value `pointer` names (evanphx's findObject). */
function locate(doc: unknown, pointer: string): Located {
  const parts = tokens(pointer);
  if (parts === undefined || parts.length === 0) return undefined;
  let node: unknown = doc;
  for (const part of parts.slice(0, -1)) {
    node = childOf(node, part);
    if (node === undefined) return undefined;
  }
  const key = parts[parts.length - 1] as string;
  if (Array.isArray(node) || isObject(node)) return { parent: node, key };
  return undefined;
}

function childOf(node: unknown, key: string): unknown {
  if (Array.isArray(node)) {
    if (!/^(0|[1-9][0-9]*)$/.test(key)) return undefined;
    return node[Number(key)];
  }
  if (isObject(node)) return Object.hasOwn(node, key) ? node[key] : undefined;
  return undefined;
}

function invalidIndex(op: string, path: string, key: string): StatusError {
  return jsonPatchFailed(
    `error in ${op} for path: '${path}': Unable to access invalid index: ${key}: invalid index referenced`,
  );
}

/** Checks that the value at a located position exists, with the message each operation gives. */
function requireExisting(op: string, path: string, at: NonNullable<Located>): void {
  if (Array.isArray(at.parent)) {
    const index = Number(at.key);
    if (!/^(0|[1-9][0-9]*)$/.test(at.key) || index >= at.parent.length) throw invalidIndex(op, path, at.key);
    return;
  }
  if (Object.hasOwn(at.parent, at.key)) return;
  if (op === 'remove') {
    throw jsonPatchFailed(
      `error in remove for path: '${path}': Unable to remove nonexistent key: ${at.key}: missing value`,
    );
  }
  throw jsonPatchFailed(`${op} operation does not apply: doc is missing key: ${path}: missing value`);
}

/** Checks where `add` (and the destination of move and copy) may insert. */
function requireInsertable(op: string, path: string, at: NonNullable<Located>): void {
  if (!Array.isArray(at.parent) || at.key === '-') return;
  const index = Number(at.key);
  if (!/^(0|[1-9][0-9]*)$/.test(at.key) || index > at.parent.length) throw invalidIndex(op, path, at.key);
}

function stringField(op: JsonObject, name: 'path' | 'from', kind: string): string {
  const v = op[name];
  if (typeof v === 'string') return v;
  const what = name === 'path' ? 'path' : 'from';
  throw jsonPatchFailed(
    `${kind} operation failed to decode ${what}: operation missing ${what} field: missing value`,
  );
}

function applyOne(state: PatchState, op: JsonObject): void {
  const kind = typeof op.op === 'string' ? op.op : 'unknown';
  if (!['add', 'remove', 'replace', 'move', 'copy', 'test'].includes(kind)) {
    throw jsonPatchFailed(`Unexpected kind: ${kind}`);
  }
  const path = stringField(op, 'path', kind);
  const value = op.value === undefined ? null : op.value;
  if (kind === 'test') {
    testOp(state.doc, path, value);
    return;
  }
  if (path === '' && (kind === 'add' || kind === 'replace')) {
    state.doc = clone(value);
    return;
  }
  const at = locate(state.doc, path);
  const missing = kind === 'add' || kind === 'remove' ? `"${path}"` : path;
  if (kind === 'add' || kind === 'remove' || kind === 'replace') {
    if (at === undefined)
      throw jsonPatchFailed(
        `${kind} operation does not apply: doc is missing path: ${missing}: missing value`,
      );
    if (kind === 'add') requireInsertable(kind, path, at);
    else requireExisting(kind, path, at);
    mutate(state, { op: kind, path, value: clone(value) });
    return;
  }
  const from = stringField(op, 'from', kind);
  const source = locate(state.doc, from);
  if (source === undefined)
    throw jsonPatchFailed(
      `${kind} operation does not apply: doc is missing from path: ${from}: missing value`,
    );
  if (!Array.isArray(source.parent) && !Object.hasOwn(source.parent, source.key)) {
    throw jsonPatchFailed(
      kind === 'move'
        ? `error in move for path: '${source.key}': Unable to remove nonexistent key: ${source.key}: missing value`
        : `error in copy for from: '${from}': missing value`,
    );
  }
  requireExisting(kind, from, source);
  if (kind === 'copy') {
    state.copiedBytes += JSON.stringify(childOf(source.parent, source.key) ?? null).length;
    if (state.copiedBytes > JSON_PATCH_COPY_BYTES_MAX) {
      throw jsonPatchFailed(
        `Unable to complete the copy, the accumulated size increase of copy is ${state.copiedBytes}, exceeding the limit ${JSON_PATCH_COPY_BYTES_MAX}`,
      );
    }
  }
  if (kind === 'move' && (path === from || path.startsWith(`${from}/`))) {
    if (path === from) return;
    throw jsonPatchFailed(
      `move operation does not apply: doc is missing destination path: ${path}: missing value`,
    );
  }
  // The RFC resolves a move's destination after the source is gone; a failure anywhere discards
  // the whole working copy, so removing first is safe.
  const moved = clone(childOf(source.parent, source.key));
  if (kind === 'move') mutate(state, { op: 'remove', path: from });
  const dest = locate(state.doc, path);
  if (dest === undefined)
    throw jsonPatchFailed(
      `${kind} operation does not apply: doc is missing destination path: ${path}: missing value`,
    );
  requireInsertable(kind, path, dest);
  mutate(state, { op: 'add', path, value: moved });
}

function mutate(state: PatchState, operation: jsonpatch.Operation): void {
  try {
    state.doc = jsonpatch.applyOperation(state.doc, operation, false, true).newDocument;
  } catch (err) {
    // Only the library's ban on __proto__ and constructor/prototype paths reaches here.
    throw jsonPatchFailed(err instanceof Error ? err.message : String(err));
  }
}

function testOp(doc: unknown, path: string, value: unknown): void {
  if (path === '') {
    if (!deepEqual(doc, value)) throw jsonPatchFailed(`testing value ${path} failed: test failed`);
    return;
  }
  const at = locate(doc, path);
  if (at === undefined)
    throw jsonPatchFailed(`test operation does not apply: is missing path: ${path}: missing value`);
  const actual = childOf(at.parent, at.key);
  // evanphx/json-patch v4 lets a test for null pass on a missing member.
  if (actual === undefined && value === null) return;
  if (actual === undefined || !deepEqual(actual, value)) {
    throw jsonPatchFailed(`testing value ${path} failed: test failed`);
  }
}
