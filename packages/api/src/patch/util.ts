// Small helpers over JSON values shared by the patch modules: type tests, deep equality, cloning and
// the schema look-ups every walker needs. Nothing here knows about a particular patch format.

import { badRequest } from '../status.js';
import type { SchemaNode } from '../types.js';

export type JsonObject = Record<string, unknown>;

/** Deepest nesting a patch or object may have; deeper input is refused rather than walked. */
export const DEPTH_MAX = 1000;

export class PatchAssertionError extends Error {
  readonly code = 'PATCH_ASSERTION';
  constructor(message: string) {
    super(message);
    this.name = 'PatchAssertionError';
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new PatchAssertionError(message);
}

/** Refuses input nested deeper than DEPTH_MAX: it is the client's error, answered 400. */
export function checkDepth(depth: number): void {
  if (depth > DEPTH_MAX) throw badRequest(`json: exceeded max depth of ${DEPTH_MAX}`);
}

/** A value as Go's fmt %v prints the map[string]interface{} form of JSON (for error messages). */
export function goString(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goString(v[k])}`).join(' ')}]`;
  }
  return String(v);
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * Sets a member of a JSON object. JSON.parse makes `__proto__` an ordinary member, and so must
 * every copy and merge: plain assignment would replace the object's prototype instead.
 */
export function setField(obj: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** A deep copy of a JSON value (no functions, no cycles). */
export function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => clone(x)) as T;
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) setField(out, k, clone(x));
    return out as T;
  }
  return v;
}

/** The schema of field `key` of a node, or undefined when the field is not described. */
export function childSchema(node: SchemaNode | undefined, key: string): SchemaNode | undefined {
  if (node === undefined) return undefined;
  if (node.type === 'object') {
    const field = Object.hasOwn(node.fields, key) ? node.fields[key] : undefined;
    return field?.();
  }
  if (node.type === 'map') return node.values();
  return undefined;
}

/** The schema of a list's items, or undefined when the node is not a list. */
export function itemSchema(node: SchemaNode | undefined): SchemaNode | undefined {
  return node?.type === 'list' ? node.items() : undefined;
}

/** Whether `key` is a declared field of an object node (struct fields are not map entries). */
export function isDeclaredField(node: SchemaNode | undefined, key: string): boolean {
  return node?.type === 'object' && Object.hasOwn(node.fields, key);
}

/** JSON as Go's encoding/json writes it for keys in fieldsV1: compact, object keys sorted. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
