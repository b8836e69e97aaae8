// The schema-aware walks server-side apply needs, after structured-merge-diff's typed package:
// the field set of a value (ToFieldSet), the comparison of two values (Compare), the merge of an
// applied configuration into a live object (Merge) and the removal of fields (RemoveItems).
// Lists are walked by their x-kubernetes-list-type: map-lists by their keys, set-lists by value,
// atomic lists as one leaf; fields without a schema are walked as maps when they hold objects.

import type { SchemaNode } from '../types.js';
import {
  emptySet,
  type FieldPath,
  type FieldSet,
  fieldElement,
  insert,
  keyElement,
  valueElement,
} from './fieldsv1.js';
import {
  assert,
  checkDepth,
  childSchema,
  clone,
  deepEqual,
  isDeclaredField,
  isObject,
  type JsonObject,
  setField,
} from './util.js';

type Shape =
  | { kind: 'leaf' }
  | { kind: 'struct'; node: SchemaNode | undefined }
  | { kind: 'listMap'; keys: string[]; items: SchemaNode | undefined }
  | { kind: 'listSet'; items: SchemaNode | undefined };

/**
 * Defaults of list-map key fields that clients may omit: Kubernetes fills a missing key from the
 * schema default (a container port's protocol is TCP), so an applied port without a protocol is
 * the same item as the live, defaulted one.
 */
const KEY_FIELD_DEFAULTS: Readonly<Record<string, unknown>> = { protocol: 'TCP' };

/** How a value with schema `node` is walked; every defined value must fit the shape, else it is a leaf. */
function shapeFor(node: SchemaNode | undefined, ...values: unknown[]): Shape {
  const present = values.filter((v) => v !== undefined);
  const allObjects = present.length > 0 && present.every(isObject);
  const allLists = present.length > 0 && present.every(Array.isArray);
  if (node === undefined || node.type === 'any') {
    return allObjects ? { kind: 'struct', node: undefined } : { kind: 'leaf' };
  }
  if (node.type === 'object' || node.type === 'map') {
    return allObjects && !isAtomicMap(node) ? { kind: 'struct', node } : { kind: 'leaf' };
  }
  if (node.type !== 'list' || !allLists) return { kind: 'leaf' };
  const items = node.items();
  if (node.listType === 'map' && node.listMapKeys !== undefined && node.listMapKeys.length > 0) {
    return { kind: 'listMap', keys: node.listMapKeys, items };
  }
  if (node.listType === 'set') return { kind: 'listSet', items };
  return { kind: 'leaf' };
}

/**
 * x-kubernetes-map-type: atomic (a LabelSelector, a NodeSelector) makes a struct or map one field.
 * SchemaNode has no member for it yet; a schema that carries `mapType: 'atomic'` is honoured.
 */
function isAtomicMap(node: SchemaNode): boolean {
  return (node as { mapType?: unknown }).mapType === 'atomic';
}

/** The path element of a list item, or undefined for an item the list type cannot name. */
function itemElement(shape: Shape, item: unknown): string | undefined {
  if (shape.kind === 'listSet') {
    return item === null || isObject(item) || Array.isArray(item) ? undefined : valueElement(item);
  }
  if (shape.kind !== 'listMap' || !isObject(item)) return undefined;
  const key: JsonObject = {};
  for (const k of shape.keys) {
    const v = Object.hasOwn(item, k) ? item[k] : KEY_FIELD_DEFAULTS[k];
    if (v !== undefined && v !== null) key[k] = v;
  }
  return Object.keys(key).length === 0 ? undefined : keyElement(key);
}

/** Items of a list by path element; the first of duplicates wins. */
function indexItems(shape: Shape, list: unknown[] | undefined): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const item of list ?? []) {
    const element = itemElement(shape, item);
    if (element !== undefined && !out.has(element)) out.set(element, item);
  }
  return out;
}

function itemsOf(shape: Shape): SchemaNode | undefined {
  return shape.kind === 'listMap' || shape.kind === 'listSet' ? shape.items : undefined;
}

/** The set of fields a configuration sets (structured-merge-diff's ToFieldSet). */
export function fieldSetOf(value: unknown, schema: SchemaNode | undefined): FieldSet {
  const set = emptySet();
  collect(value, schema, [], set, 0);
  return set;
}

function collect(
  value: unknown,
  node: SchemaNode | undefined,
  path: FieldPath,
  set: FieldSet,
  depth: number,
): void {
  checkDepth(depth);
  const shape = shapeFor(node, value);
  if (shape.kind === 'leaf') {
    insert(set, path);
    return;
  }
  if (shape.kind === 'struct') {
    for (const [k, v] of Object.entries(value as JsonObject)) {
      const child = [...path, fieldElement(k)];
      const emptyMap = isObject(v) && Object.keys(v).length === 0;
      if (v === null || emptyMap || !isDeclaredField(shape.node, k)) insert(set, child);
      collect(v, childSchema(shape.node, k), child, set, depth + 1);
    }
    return;
  }
  for (const item of value as unknown[]) {
    const element = itemElement(shape, item);
    if (element === undefined) continue;
    const child = [...path, element];
    collect(item, shape.items, child, set, depth + 1);
    insert(set, child);
  }
}

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** What changed from `lhs` to `rhs`, path by path (structured-merge-diff's Compare). */
export function compareValues(lhs: unknown, rhs: unknown, schema: SchemaNode | undefined): Comparison {
  const cmp: Comparison = { added: emptySet(), modified: emptySet(), removed: emptySet() };
  compareAt(lhs, rhs, schema, [], cmp, 0);
  return cmp;
}

function compareAt(
  lhs: unknown,
  rhs: unknown,
  node: SchemaNode | undefined,
  path: FieldPath,
  cmp: Comparison,
  depth: number,
): void {
  checkDepth(depth);
  const shape = shapeFor(node, lhs, rhs);
  if (shape.kind === 'leaf') {
    if (lhs === undefined) insert(cmp.added, path);
    else if (rhs === undefined) insert(cmp.removed, path);
    else if (!deepEqual(lhs, rhs)) insert(cmp.modified, path);
    return;
  }
  if (shape.kind === 'struct') {
    const l = (lhs ?? {}) as JsonObject;
    const r = (rhs ?? {}) as JsonObject;
    const keys = new Set([...Object.keys(l), ...Object.keys(r)]);
    for (const k of keys) {
      const child = childSchema(shape.node, k);
      compareAt(l[k], r[k], child, [...path, fieldElement(k)], cmp, depth + 1);
    }
  } else {
    const l = indexItems(shape, lhs as unknown[] | undefined);
    const r = indexItems(shape, rhs as unknown[] | undefined);
    for (const element of new Set([...l.keys(), ...r.keys()])) {
      compareAt(l.get(element), r.get(element), shape.items, [...path, element], cmp, depth + 1);
    }
  }
  if (lhs === undefined) insert(cmp.added, path);
  else if (rhs === undefined) insert(cmp.removed, path);
}

/**
 * Merges an applied configuration into a live value (structured-merge-diff's Merge): the applied
 * value wins at leaves and atomic lists, maps merge field by field, map- and set-lists merge item by
 * item with new items appended. A null in the configuration removes the field. Returns undefined
 * when the result is "no value".
 */
export function mergeApplied(live: unknown, applied: unknown, schema: SchemaNode | undefined): unknown {
  return mergeAt(live, applied, schema, 0);
}

function mergeAt(live: unknown, applied: unknown, node: SchemaNode | undefined, depth: number): unknown {
  checkDepth(depth);
  if (applied === undefined) return clone(live);
  if (applied === null) return undefined;
  const shape = shapeFor(node, live, applied);
  if (shape.kind === 'leaf' || live === undefined) return withoutNulls(applied, depth);
  if (shape.kind === 'struct') {
    const out = clone(live) as JsonObject;
    for (const [k, v] of Object.entries(applied as JsonObject)) {
      const merged = mergeAt(out[k], v, childSchema(shape.node, k), depth + 1);
      if (merged === undefined) delete out[k];
      else setField(out, k, merged);
    }
    return out;
  }
  return mergeListItems(shape, live as unknown[], applied as unknown[], depth);
}

/**
 * Merges two map- or set-lists item by item in structured-merge-diff's order: live-only items keep
 * their place, applied items follow the applied order, shared items are merged.
 */
function mergeListItems(shape: Shape, live: unknown[], applied: unknown[], depth: number): unknown[] {
  const lhs = namedItems(shape, live, 'l');
  const rhs = namedItems(shape, applied, 'r');
  const out: unknown[] = [];
  for (const element of mergedOrder(lhs.order, rhs.order)) {
    const l = lhs.items.get(element);
    const r = rhs.items.get(element);
    const merged = r === undefined ? clone(l) : mergeAt(l, r, itemsOf(shape), depth + 1);
    if (merged !== undefined) out.push(merged);
  }
  return out;
}

/** Items by path element; items the list type cannot name, and duplicates, get names of their own. */
function namedItems(
  shape: Shape,
  list: unknown[],
  side: string,
): { order: string[]; items: Map<string, unknown> } {
  const order: string[] = [];
  const items = new Map<string, unknown>();
  for (const [i, item] of list.entries()) {
    let element = itemElement(shape, item);
    if (element === undefined || items.has(element)) element = `#${side}${i}`;
    order.push(element);
    items.set(element, item);
  }
  return { order, items };
}

/** The two-pointer walk of structured-merge-diff's mergingWalker.visitListItems. */
function mergedOrder(lhs: string[], rhs: string[]): string[] {
  const inLhs = new Set(lhs);
  const inRhs = new Set(rhs);
  const shared = rhs.filter((e) => inLhs.has(e));
  const merged = new Set<string>();
  const out: string[] = [];
  let next = 0;
  let l = 0;
  let r = 0;
  for (let step = 0; l < lhs.length || r < rhs.length; step++) {
    assert(step <= 2 * (lhs.length + rhs.length), 'list merge makes progress');
    const pe = lhs[l];
    if (pe !== undefined && r < rhs.length) {
      if (pe === rhs[r]) {
        merged.add(pe);
        out.push(pe);
        l++;
        r++;
        next++;
        continue;
      }
      // A shared item that is not the next one in applied order waits for its turn.
      if (inRhs.has(pe) && next < shared.length && shared[next] !== pe) {
        l++;
        continue;
      }
    }
    if (pe !== undefined && (!inRhs.has(pe) || merged.has(pe))) {
      if (!inRhs.has(pe)) out.push(pe);
      l++;
      continue;
    }
    const taken = rhs[r];
    assert(taken !== undefined, 'an applied item is left when a shared live item is unmerged');
    merged.add(taken);
    out.push(taken);
    r++;
    if (shared[next] === taken) next++;
  }
  return out;
}

function withoutNulls(value: unknown, depth: number): unknown {
  checkDepth(depth);
  if (Array.isArray(value)) return value.map((v) => withoutNulls(v, depth + 1));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) setField(out, k, withoutNulls(v, depth + 1));
  return out;
}

/**
 * Removes the field at `path` from `root` in place. A map or list left empty by the removal goes
 * too, as Go's omitempty drops it when Kubernetes serialises the object.
 */
export function removePath(root: JsonObject, path: FieldPath, schema: SchemaNode | undefined): void {
  const trail: { container: JsonObject | unknown[]; at: string | number; node: SchemaNode | undefined }[] =
    [];
  let value: unknown = root;
  let node = schema;
  for (const element of path) {
    const step = stepInto(value, node, element);
    if (step === undefined) return;
    trail.push({ container: value as JsonObject | unknown[], at: step.at, node });
    value = step.value;
    node = step.node;
  }
  for (let i = trail.length - 1; i >= 0; i--) {
    const { container, at } = trail[i] as (typeof trail)[number];
    if (Array.isArray(container)) container.splice(at as number, 1);
    else delete container[at as string];
    const emptied = Array.isArray(container) ? container.length === 0 : Object.keys(container).length === 0;
    const containerNode = (trail[i] as (typeof trail)[number]).node;
    if (!emptied || i === 0 || !(Array.isArray(container) || containerNode?.type === 'map')) return;
  }
}

function stepInto(
  value: unknown,
  node: SchemaNode | undefined,
  element: string,
): { at: string | number; value: unknown; node: SchemaNode | undefined } | undefined {
  if (element.startsWith('f:')) {
    const name = element.slice(2);
    if (!isObject(value) || !Object.hasOwn(value, name)) return undefined;
    return { at: name, value: value[name], node: childSchema(node, name) };
  }
  if (!Array.isArray(value)) return undefined;
  const shape = shapeFor(node, value);
  if (element.startsWith('i:')) {
    const at = Number(element.slice(2));
    return at < value.length ? { at, value: value[at], node: itemsOf(shape) } : undefined;
  }
  const at = value.findIndex((item) => itemElement(shape, item) === element);
  return at < 0 ? undefined : { at, value: value[at], node: itemsOf(shape) };
}
