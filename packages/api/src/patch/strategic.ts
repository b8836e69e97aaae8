// Strategic merge patch, the `application/strategic-merge-patch+json` patch type, as
// k8s.io/apimachinery/pkg/util/strategicpatch applies it on the server (MergeParallelList and
// IgnoreUnmatchedNulls on): maps merge recursively and null deletes; lists whose schema says
// patchStrategy merge merge by patchMergeKey (lists of primitives become a union); other lists are
// replaced. Directives: `$patch: replace|delete` in maps, `$patch: replace|delete` as list
// elements, `$retainKeys`, `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.
// kubectl's client-side apply sends exactly such a (three-way) patch.

import { badRequest, StatusError } from '../status.js';
import type { SchemaNode } from '../types.js';
import {
  canonicalJson,
  checkDepth,
  childSchema,
  clone,
  deepEqual,
  goString,
  isObject,
  itemSchema,
  type JsonObject,
  setField,
} from './util.js';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

// The mergepatch errors kube-apiserver answers 400 (interpretStrategicMergePatchError).
const ERR_BAD_RETAIN_KEYS = 'invalid patch format of retainKeys';
const ERR_BAD_SET_ELEMENT_ORDER = 'invalid patch format of setElementOrder list';
// And those it answers 422.
const ERR_NO_LIST_OF_LISTS = 'lists of lists are not supported';
const ERR_RETAIN_KEYS_MISMATCH = "patch content doesn't match retainKeys list";

function unprocessable(message: string): StatusError {
  return new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    causes: [{ reason: 'UnexpectedServerResponse', message }],
  });
}

/**
 * Any other strategicpatch error reaches the client as a bare error, which kube-apiserver turns
 * into a 500 Status carrying the message (reason Unknown; the closest reason we have is
 * InternalError).
 */
function bareError(message: string): StatusError {
  return new StatusError(500, 'InternalError', message);
}

function errBadPatchType(t: unknown, m: JsonObject): StatusError {
  return bareError(`unknown patch type: ${goString(t)} in map: ${goString(m)}`);
}

function errNoMergeKey(m: unknown, key: string): StatusError {
  return bareError(`map: ${goString(m)} does not contain declared merge key: ${key}`);
}

/**
 * Applies a strategic merge patch (already parsed from JSON) to `original` using `schema` for the
 * list merge strategies; neither input is changed. Throws StatusError as kube-apiserver answers.
 */
export function applyStrategicMergePatch(
  original: unknown,
  patch: unknown,
  schema: SchemaNode | undefined,
): JsonObject {
  if (!isObject(patch)) {
    const what = Array.isArray(patch) ? 'array' : patch === null ? 'null' : typeof patch;
    throw badRequest(`json: cannot unmarshal ${what} into Go value of type map[string]interface {}`);
  }
  const base = isObject(original) ? clone(original) : {};
  return mergeMap(base, clone(patch), schema, 0);
}

interface ListStrategy {
  merge: boolean;
  mergeKey: string;
  items: SchemaNode | undefined;
}

function listStrategy(node: SchemaNode | undefined): ListStrategy {
  if (node?.type !== 'list') return { merge: false, mergeKey: '', items: undefined };
  const merge = node.patchStrategy === 'merge' || node.patchStrategy === 'merge,retainKeys';
  return { merge, mergeKey: node.patchMergeKey ?? '', items: itemSchema(node) };
}

type Kind = 'object' | 'array' | 'null' | 'string' | 'number' | 'boolean';

function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (isObject(v)) return 'object';
  return typeof v as Kind;
}

/** Merges `patch` into `original` (which it owns and changes) and returns the result. */
function mergeMap(
  original: JsonObject,
  patch: JsonObject,
  schema: SchemaNode | undefined,
  depth: number,
): JsonObject {
  checkDepth(depth);
  if (Object.hasOwn(patch, DIRECTIVE)) return mapDirective(patch);
  applyRetainKeys(original, patch);
  mergeSetElementOrder(original, patch, schema, depth);
  for (const [rawKey, patchValue] of Object.entries(patch)) {
    const isDeleteList = rawKey.startsWith(DELETE_FROM_PRIMITIVE_LIST);
    const key = isDeleteList ? rawKey.slice(DELETE_FROM_PRIMITIVE_LIST.length) : rawKey;
    if (patchValue === null) {
      delete original[key];
      continue;
    }
    if (!Object.hasOwn(original, key)) {
      if (!isDeleteList) setField(original, key, fresh(patchValue, childSchema(schema, key), depth + 1));
      continue;
    }
    const originalValue = original[key];
    if (kindOf(originalValue) !== kindOf(patchValue)) {
      if (!isDeleteList) setField(original, key, fresh(patchValue, childSchema(schema, key), depth + 1));
      continue;
    }
    if (isObject(originalValue) && isObject(patchValue)) {
      setField(original, key, mergeMap(originalValue, patchValue, childSchema(schema, key), depth + 1));
    } else if (Array.isArray(originalValue) && Array.isArray(patchValue)) {
      const strategy = listStrategy(childSchema(schema, key));
      setField(original, key, mergeListField(originalValue, patchValue, strategy, isDeleteList, depth + 1));
    } else {
      setField(original, key, patchValue);
    }
  }
  return original;
}

/**
 * A patch value for a field the original lacks. Kubernetes takes it with nulls discarded; maps are
 * merged into an empty map so that directives inside them are honoured rather than stored.
 */
function fresh(value: unknown, schema: SchemaNode | undefined, depth: number): unknown {
  checkDepth(depth);
  if (isObject(value)) return mergeMap({}, value, schema, depth);
  if (Array.isArray(value)) return discardNulls(value, depth);
  return value;
}

function discardNulls(value: unknown, depth: number): unknown {
  checkDepth(depth);
  if (Array.isArray(value)) return value.map((v) => discardNulls(v, depth + 1));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) setField(out, k, discardNulls(v, depth + 1));
  return out;
}

/** `$patch` in a map: replace uses the patch as the whole map, delete empties it. */
function mapDirective(patch: JsonObject): JsonObject {
  const directive = patch[DIRECTIVE];
  if (directive === 'replace') {
    const rest: JsonObject = {};
    for (const [k, v] of Object.entries(patch)) if (k !== DIRECTIVE && v !== null) setField(rest, k, v);
    return rest;
  }
  if (directive === 'delete') return {};
  throw errBadPatchType(directive, patch);
}

/** `$retainKeys`: fields of the original not listed are cleared; the patch may only set listed ones. */
function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const retain = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retain)) throw badRequest(ERR_BAD_RETAIN_KEYS);
  const keep = new Set(retain.map((k) => (typeof k === 'string' ? k : JSON.stringify(k))));
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!keep.has(k)) throw unprocessable(ERR_RETAIN_KEYS_MISMATCH);
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

function mergeListField(
  original: unknown[],
  patch: unknown[],
  strategy: ListStrategy,
  isDeleteList: boolean,
  depth: number,
): unknown[] {
  if (!strategy.merge && !isDeleteList) return patch;
  return mergeList(original, patch, strategy, isDeleteList, depth);
}

/** The one kind all elements share; lists of lists and mixed lists are refused. */
function elementKind(...lists: unknown[][]): Kind {
  let kind: Kind | undefined;
  for (const list of lists) {
    for (const v of list) {
      const k = kindOf(v);
      if (kind === undefined) {
        if (k === 'array') throw unprocessable(ERR_NO_LIST_OF_LISTS);
        kind = k;
      } else if (k !== kind) {
        throw bareError(`list element types are not identical: ${goString(lists)}`);
      }
    }
  }
  if (kind === undefined) throw bareError('no elements in any of the given slices');
  return kind;
}

function mergeList(
  original: unknown[],
  patch: unknown[],
  strategy: ListStrategy,
  isDeleteList: boolean,
  depth: number,
): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(original, patch);
  let merged: unknown[];
  let order = patch;
  let server = original;
  if (kind !== 'object') {
    if (isDeleteList) {
      const doomed = new Set(patch.map((d) => identity(d, '', kind)));
      return original.filter((v) => !doomed.has(identity(v, '', kind)));
    }
    merged = dedupe([...original, ...patch]);
  } else {
    if (strategy.mergeKey === '') throw bareError('cannot merge lists without merge key');
    const special = listDirectives(original, patch as JsonObject[], strategy, depth);
    server = special.original;
    order = special.patch;
    merged = mergeByKey(server, special.patch, strategy, depth);
  }
  const [patchItems, serverOnly] = partition(merged, order, strategy.mergeKey, kind);
  return normalizeOrder(patchItems, serverOnly, order, server, strategy.mergeKey, kind);
}

function dedupe(values: unknown[]): unknown[] {
  const seen = new Set<string | undefined>();
  const out: unknown[] = [];
  for (const v of values) {
    const id = identity(v, '', 'string');
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(v);
  }
  return out;
}

/** List elements with `$patch`: delete removes the matching items, replace makes the patch the list. */
function listDirectives(
  original: unknown[],
  patch: JsonObject[],
  strategy: ListStrategy,
  depth: number,
): { original: unknown[]; patch: unknown[] } {
  const plain: unknown[] = [];
  let replace = false;
  const mergeKey = strategy.mergeKey;
  const doomed = new Set<string | undefined>();
  for (const item of patch) {
    if (!Object.hasOwn(item, DIRECTIVE)) {
      plain.push(item);
      continue;
    }
    const directive = item[DIRECTIVE];
    if (directive === 'delete') {
      if (!Object.hasOwn(item, mergeKey)) throw errNoMergeKey(item, mergeKey);
      doomed.add(identity(item, mergeKey, 'object'));
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw bareError('merging lists cannot yet be specified in the patch');
    } else {
      throw errBadPatchType(directive, item);
    }
  }
  if (replace) return { original: plain.map((p) => fresh(p, strategy.items, depth + 1)), patch: [] };
  const kept = original.filter((o) => {
    const id = identity(o, mergeKey, 'object');
    return id === undefined || !doomed.has(id);
  });
  return { original: kept, patch: plain };
}

function mergeByKey(original: unknown[], patch: unknown[], strategy: ListStrategy, depth: number): unknown[] {
  const out = [...original];
  const positions = new OrderIndex(out, strategy.mergeKey, 'object');
  for (const item of patch) {
    if (!isObject(item) || !Object.hasOwn(item, strategy.mergeKey)) {
      throw errNoMergeKey(item, strategy.mergeKey);
    }
    const at = positions.of(item);
    const existing = at >= 0 ? out[at] : undefined;
    if (isObject(existing)) {
      out[at] = mergeMap(existing, item, strategy.items, depth + 1);
    } else {
      positions.add(item, out.length);
      out.push(mergeMap({}, item, strategy.items, depth + 1));
    }
  }
  return out;
}

function sameItem(a: unknown, b: unknown, mergeKey: string, kind: Kind): boolean {
  if (kind !== 'object') return deepEqual(a, b);
  return isObject(a) && isObject(b) && Object.hasOwn(a, mergeKey) && deepEqual(a[mergeKey], b[mergeKey]);
}

/** What identifies a list item: its merge key's value for maps, itself for primitives. */
function identity(item: unknown, mergeKey: string, kind: Kind): string | undefined {
  if (kind !== 'object') return canonicalJson(item);
  return isObject(item) && Object.hasOwn(item, mergeKey) ? canonicalJson(item[mergeKey]) : undefined;
}

/** First positions of items in a list by identity, so that ordering stays linear in list length. */
class OrderIndex {
  private readonly positions = new Map<string, number>();
  constructor(
    list: unknown[],
    private readonly mergeKey: string,
    private readonly kind: Kind,
  ) {
    for (const [i, item] of list.entries()) this.add(item, i);
  }

  add(item: unknown, position: number): void {
    const id = identity(item, this.mergeKey, this.kind);
    if (id !== undefined && !this.positions.has(id)) this.positions.set(id, position);
  }

  of(item: unknown): number {
    const id = identity(item, this.mergeKey, this.kind);
    return id === undefined ? -1 : (this.positions.get(id) ?? -1);
  }
}

/** Splits `merged` into the items `by` names and the rest, keeping order. */
function partition(merged: unknown[], by: unknown[], mergeKey: string, kind: Kind): [unknown[], unknown[]] {
  const index = new OrderIndex(by, mergeKey, kind);
  const inBy: unknown[] = [];
  const rest: unknown[] = [];
  for (const item of merged) (index.of(item) >= 0 ? inBy : rest).push(item);
  return [inBy, rest];
}

/**
 * Orders patch items by the patch (or $setElementOrder) order and server-only items by the live
 * order, then interleaves them keeping both relative orders (strategicpatch's
 * normalizeElementOrder and mergeSortedSlice).
 */
function normalizeOrder(
  patchItems: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: Kind,
): unknown[] {
  const sortedPatch = sortByOrder(patchItems, patchOrder, mergeKey, kind);
  const sortedServer = sortByOrder(serverOnly, serverOrder, mergeKey, kind);
  const server = new OrderIndex(serverOrder, mergeKey, kind);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < sortedServer.length || j < sortedPatch.length) {
    if (i >= sortedServer.length) out.push(sortedPatch[j++]);
    else if (j >= sortedPatch.length) out.push(sortedServer[i++]);
    else {
      const li = server.of(sortedServer[i]);
      const ri = server.of(sortedPatch[j]);
      if (li >= 0 && ri >= 0 && li < ri) out.push(sortedServer[i++]);
      else out.push(sortedPatch[j++]);
    }
  }
  return out;
}

/** Items found in `order` are put in that order within the slots they occupy; others stay put. */
function sortByOrder(items: unknown[], order: unknown[], mergeKey: string, kind: Kind): unknown[] {
  const index = new OrderIndex(order, mergeKey, kind);
  const ranked = items.map((item, slot) => ({ item, slot, rank: index.of(item) }));
  const found = ranked.filter((r) => r.rank >= 0);
  const sorted = [...found].sort((a, b) => a.rank - b.rank);
  const out = [...items];
  found.forEach((r, n) => {
    out[r.slot] = (sorted[n] as { item: unknown }).item;
  });
  return out;
}

/** `$setElementOrder/<field>`: merge the field's list, then order it as the directive lists. */
function mergeSetElementOrder(
  original: JsonObject,
  patch: JsonObject,
  schema: SchemaNode | undefined,
  depth: number,
): void {
  for (const directiveKey of Object.keys(patch)) {
    if (!directiveKey.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[directiveKey];
    delete patch[directiveKey];
    const field = directiveKey.slice(SET_ELEMENT_ORDER.length);
    if (!Array.isArray(order)) throw badRequest(ERR_BAD_SET_ELEMENT_ORDER);
    const originalList = original[field];
    const patchList = patch[field];
    if (originalList === undefined && patchList === undefined) continue;
    if (originalList !== undefined && !Array.isArray(originalList))
      throw badRequest(ERR_BAD_SET_ELEMENT_ORDER);
    if (patchList !== undefined && !Array.isArray(patchList)) throw badRequest(ERR_BAD_SET_ELEMENT_ORDER);
    const strategy = listStrategy(childSchema(schema, field));
    checkOrderMatchesPatch(patchList ?? [], order, strategy.mergeKey);
    let merged: unknown[];
    if (patchList === undefined) merged = originalList as unknown[];
    else if (originalList === undefined) merged = fresh(patchList, undefined, depth + 1) as unknown[];
    else merged = mergeListField(originalList as unknown[], patchList, strategy, false, depth + 1);
    const kind = merged.length === 0 && order.length === 0 ? 'object' : elementKind(merged, order);
    const [patchItems, serverOnly] = partition(merged, order, strategy.mergeKey, kind);
    setField(
      original,
      field,
      normalizeOrder(patchItems, serverOnly, order, originalList ?? [], strategy.mergeKey, kind),
    );
    delete patch[field];
  }
}

/** The patch list's items must appear in the $setElementOrder list in the same relative order. */
function checkOrderMatchesPatch(patchList: unknown[], order: unknown[], mergeKey: string): void {
  const items = patchList.filter((p) => !(isObject(p) && Object.hasOwn(p, DIRECTIVE)));
  if (order.length === 0 || items.length === 0) return;
  const kind: Kind = mergeKey === '' ? 'string' : 'object';
  let p = 0;
  for (let o = 0; o < order.length && p < items.length; o++) {
    if (sameItem(items[p], order[o], mergeKey, kind)) p++;
  }
  if (p < items.length) {
    throw bareError(
      `The order in patch list:\n${goString(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goString(order)}\n`,
    );
  }
}
