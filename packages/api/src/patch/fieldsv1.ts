// Field sets as structured-merge-diff keeps them, and their FieldsV1 JSON form in managedFields.
// A set is a tree whose edges are path elements written the FieldsV1 way: `f:<field>` for a field
// or map key, `k:{"name":"nginx"}` for an item of a map-list, `v:"a"` for an element of a set-list,
// `i:<n>` for a position; a node is a member of the set when it carries the `.` marker. The empty
// path is never a member.

import { canonicalJson, checkDepth, isObject } from './util.js';

export interface FieldSet {
  /** Whether the path leading here is itself in the set (`.` in FieldsV1). */
  member: boolean;
  children: Map<string, FieldSet>;
}

/** A path as a list of FieldsV1 element strings (`f:spec`, `k:{"name":"a"}`). */
export type FieldPath = string[];

export function emptySet(): FieldSet {
  return { member: false, children: new Map() };
}

export function fieldElement(name: string): string {
  return `f:${name}`;
}

/** `k:{…}` with the key fields in name order, as structured-merge-diff serialises keys. */
export function keyElement(key: Record<string, unknown>): string {
  return `k:${canonicalJson(key)}`;
}

export function valueElement(value: unknown): string {
  return `v:${canonicalJson(value)}`;
}

export function insert(set: FieldSet, path: FieldPath): void {
  if (path.length === 0) return;
  let node = set;
  for (const element of path) {
    let next = node.children.get(element);
    if (next === undefined) {
      next = emptySet();
      node.children.set(element, next);
    }
    node = next;
  }
  node.member = true;
}

export function has(set: FieldSet, path: FieldPath): boolean {
  const node = nodeAt(set, path);
  return node?.member === true;
}

function nodeAt(set: FieldSet, path: FieldPath): FieldSet | undefined {
  let node: FieldSet | undefined = set;
  for (const element of path) {
    node = node.children.get(element);
    if (node === undefined) return undefined;
  }
  return node;
}

/** Whether any member lies strictly below `path`. */
export function hasMemberBelow(set: FieldSet, path: FieldPath): boolean {
  const node = nodeAt(set, path);
  if (node === undefined) return false;
  for (const child of node.children.values()) if (!isEmpty(child)) return true;
  return false;
}

export function isEmpty(set: FieldSet): boolean {
  if (set.member) return false;
  for (const child of set.children.values()) if (!isEmpty(child)) return false;
  return true;
}

export function union(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { member: a.member || b.member, children: new Map() };
  for (const [k, child] of a.children) {
    const other = b.children.get(k);
    out.children.set(k, other === undefined ? copySet(child) : union(child, other));
  }
  for (const [k, child] of b.children) if (!a.children.has(k)) out.children.set(k, copySet(child));
  return prune(out);
}

/** Members of `a` that are not members of `b` (exact paths, not subtrees). */
export function difference(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { member: a.member && !b.member, children: new Map() };
  for (const [k, child] of a.children) {
    const other = b.children.get(k);
    out.children.set(k, other === undefined ? copySet(child) : difference(child, other));
  }
  return prune(out);
}

export function intersection(a: FieldSet, b: FieldSet): FieldSet {
  const out: FieldSet = { member: a.member && b.member, children: new Map() };
  for (const [k, child] of a.children) {
    const other = b.children.get(k);
    if (other !== undefined) out.children.set(k, intersection(child, other));
  }
  return prune(out);
}

/** Members of `a` that are neither in nor below any member of `b` (RecursiveDifference). */
export function recursiveDifference(a: FieldSet, b: FieldSet): FieldSet {
  if (b.member) return emptySet();
  const out: FieldSet = { member: a.member, children: new Map() };
  for (const [k, child] of a.children) {
    const other = b.children.get(k);
    out.children.set(k, other === undefined ? copySet(child) : recursiveDifference(child, other));
  }
  return prune(out);
}

function copySet(set: FieldSet): FieldSet {
  const out: FieldSet = { member: set.member, children: new Map() };
  for (const [k, child] of set.children) out.children.set(k, copySet(child));
  return out;
}

/** Drops children that hold no member, so that equal sets have equal trees. */
function prune(set: FieldSet): FieldSet {
  for (const [k, child] of set.children) if (isEmpty(child)) set.children.delete(k);
  return set;
}

/** Every member path, in FieldsV1 order. */
export function members(set: FieldSet): FieldPath[] {
  const out: FieldPath[] = [];
  const walk = (node: FieldSet, path: FieldPath): void => {
    if (node.member && path.length > 0) out.push(path);
    for (const k of sortedElements(node.children.keys()))
      walk(node.children.get(k) as FieldSet, [...path, k]);
  };
  walk(set, []);
  return out;
}

const ELEMENT_RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

/** Fields, then keys, then values, then indices (structured-merge-diff's PathElement order). */
function sortedElements(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => {
    const ra = ELEMENT_RANK[a.slice(0, 1)] ?? 4;
    const rb = ELEMENT_RANK[b.slice(0, 1)] ?? 4;
    if (ra !== rb) return ra - rb;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** The FieldsV1 JSON of a set. */
export function toFieldsV1(set: FieldSet): Record<string, unknown> {
  const children: Record<string, unknown> = {};
  for (const k of sortedElements(set.children.keys())) {
    const child = set.children.get(k) as FieldSet;
    if (!isEmpty(child)) children[k] = toFieldsV1(child);
  }
  // A member without members below is written `{}`; one with members below is marked with `.`.
  if (!set.member || Object.keys(children).length === 0) return children;
  return { '.': {}, ...children };
}

export class FieldsV1Error extends Error {
  readonly code = 'FIELDSV1_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'FieldsV1Error';
  }
}

/** Parses FieldsV1 JSON; the root itself is never a member. */
export function fromFieldsV1(json: unknown): FieldSet {
  const set = parseNode(json, 0);
  set.member = false;
  return set;
}

function parseNode(json: unknown, depth: number): FieldSet {
  checkDepth(depth);
  if (!isObject(json)) throw new FieldsV1Error('fieldsV1 nodes must be objects');
  const node = emptySet();
  // `{}` is a leaf member; the root's emptiness is undone by fromFieldsV1.
  if (Object.keys(json).length === 0) node.member = true;
  for (const [k, v] of Object.entries(json)) {
    if (k === '.') {
      node.member = true;
      continue;
    }
    if (!/^[fkvi]:/.test(k)) throw new FieldsV1Error(`unknown fieldsV1 path element ${JSON.stringify(k)}`);
    if (k.startsWith('k:') || k.startsWith('v:')) checkJsonElement(k);
    node.children.set(k, parseNode(v, depth + 1));
  }
  return node;
}

/** Key and value elements carry JSON (a key is an object); anything else is corrupt data. */
function checkJsonElement(element: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(element.slice(2));
  } catch {
    throw new FieldsV1Error(`invalid fieldsV1 path element ${JSON.stringify(element)}`);
  }
  if (element.startsWith('k:') && !isObject(parsed)) {
    throw new FieldsV1Error(`fieldsV1 key element is not an object: ${JSON.stringify(element)}`);
  }
}

/** A path as Kubernetes prints it in conflicts: `.spec.containers[name="nginx"].image`. */
export function pathString(path: FieldPath): string {
  return path.map(elementString).join('');
}

function elementString(element: string): string {
  const body = element.slice(2);
  switch (element.slice(0, 2)) {
    case 'f:':
      return `.${body}`;
    case 'k:': {
      const key = JSON.parse(body) as Record<string, unknown>;
      return `[${Object.keys(key)
        .sort()
        .map((k) => `${k}=${canonicalJson(key[k])}`)
        .join(',')}]`;
    }
    case 'v:':
      return `[=${body}]`;
    default:
      return `[${body}]`;
  }
}
