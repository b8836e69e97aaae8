// JSON merge patch (RFC 7386), the `application/merge-patch+json` patch type. kubectl label,
// annotate and scale send these.

import { checkDepth, clone, deepEqual, isObject, type JsonObject, setField } from './util.js';

/**
 * Applies `patch` to `target` as RFC 7386 MergePatch does and returns the result; neither input
 * is changed. A non-object patch replaces the target whole; null members delete.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  return mergeAt(target, patch, 0);
}

function mergeAt(target: unknown, patch: unknown, depth: number): unknown {
  checkDepth(depth);
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else setField(out, key, mergeAt(out[key], value, depth + 1));
  }
  return out;
}

/**
 * The merge patch that turns `from` into `to` (what jsonpatch.CreateMergePatch gives). Values
 * that are null in `to` cannot be expressed by a merge patch; callers keep them out.
 */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return clone(to);
  const patch: JsonObject = {};
  for (const key of Object.keys(from)) {
    if (!Object.hasOwn(to, key)) setField(patch, key, null);
  }
  for (const [key, value] of Object.entries(to)) {
    const old = from[key];
    if (Object.hasOwn(from, key) && deepEqual(old, value)) continue;
    setField(patch, key, isObject(old) && isObject(value) ? createMergePatch(old, value) : clone(value));
  }
  return patch;
}
