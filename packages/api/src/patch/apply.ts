// Server-side apply and the managedFields bookkeeping of every write, as kube-apiserver's field
// manager does it (k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager over structured-merge-diff):
// - apply merges a configuration into the live object; the applier owns exactly the fields it
//   applied, fields it applied before and no longer does are removed unless someone else owns them,
//   and changing a field another manager owns is a conflict unless forced (force takes it over);
// - any other write (create, update, patch) makes its manager own the fields it changed, taking
//   them from everyone else.
// Apply and Update entries of one manager are separate; Update entries are per apiVersion.

import { badRequest } from '../status.js';
import type { KubeObject, ManagedFieldsEntry, SchemaNode } from '../types.js';
import { type ApplyConflict, conflictsOf } from './conflicts.js';
import {
  difference,
  emptySet,
  type FieldPath,
  type FieldSet,
  fieldElement,
  hasMemberBelow,
  insert,
  isEmpty,
  members,
  recursiveDifference,
  union,
} from './fieldsv1.js';
import {
  capUpdateManagers,
  decodeManagers,
  disown,
  encodeManagers,
  type Manager,
  managerKey,
  rfc3339Seconds,
  STRIPPED,
  touched,
} from './managers.js';
import { compareValues, mergeApplied, removePath, fieldSetOf as typedFieldSet } from './typed.js';
import { assert, canonicalJson, clone, deepEqual, isObject, type JsonObject } from './util.js';

/** The manager that owns the fields of an object first applied after it was written without SSA. */
export const BEFORE_FIRST_APPLY = 'before-first-apply';

/** The set of fields an applied configuration sets, without the fields nobody owns. */
export function fieldSetOf(obj: unknown, schema: SchemaNode | undefined): FieldSet {
  return difference(typedFieldSet(withoutManagedFields(obj), schema), STRIPPED);
}

function withoutManagedFields(obj: unknown): unknown {
  if (!isObject(obj) || !isObject(obj.metadata) || !Object.hasOwn(obj.metadata, 'managedFields')) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

function ignoredSet(paths: string[][] | undefined): FieldSet {
  const set = emptySet();
  for (const path of paths ?? []) insert(set, path.map(fieldElement));
  return set;
}

interface Changes {
  changed: FieldSet;
  removed: FieldSet;
}

function changesBetween(
  old: unknown,
  updated: unknown,
  schema: SchemaNode | undefined,
  ignored: FieldSet,
): Changes {
  const cmp = compareValues(withoutManagedFields(old), withoutManagedFields(updated), schema);
  return {
    changed: recursiveDifference(union(cmp.modified, cmp.added), ignored),
    removed: recursiveDifference(cmp.removed, ignored),
  };
}

export interface TrackUpdateInput {
  /** The object before the write; undefined (or {}) on create. */
  old: KubeObject | undefined;
  updated: KubeObject;
  manager: string;
  operation: 'Update';
  schema: SchemaNode | undefined;
  /** The apiVersion the request was made in, e.g. "apps/v1". */
  apiVersion: string;
  now: Date;
  subresource?: string;
  /** Fields this endpoint resets and nobody owns through it, e.g. [['status']] for a main resource. */
  ignoredFields?: string[][];
}

/**
 * The managedFields after a non-apply write: the manager owns what it changed, previous owners lose
 * what changed or was removed. A client may replace managedFields by sending them (not on a
 * subresource); `[{}]` clears them. An existing object written without managedFields stays untracked,
 * as Kubernetes does.
 */
export function trackUpdate(input: TrackUpdateInput): ManagedFieldsEntry[] {
  assert(input.operation === 'Update', 'trackUpdate records Update operations only');
  // Like the field manager: managedFields sent with the write win when they decode, else the stored ones.
  const sent = input.updated.metadata?.managedFields;
  const fromSent =
    Array.isArray(sent) && sent.length > 0 && input.subresource === undefined
      ? decodeManagers(sent)
      : undefined;
  const useSent = fromSent !== undefined;
  const managers =
    fromSent ?? decodeManagers(input.old?.metadata?.managedFields) ?? new Map<string, Manager>();
  const exists = input.old?.metadata?.uid !== undefined && input.old.metadata.uid !== '';
  if (managers.size === 0 && exists && !useSent) return [];
  recordUpdate(managers, input.old ?? {}, input.updated, input);
  capUpdateManagers(managers);
  return encodeManagers(managers);
}

function recordUpdate(
  managers: Map<string, Manager>,
  old: unknown,
  updated: unknown,
  input: Pick<
    TrackUpdateInput,
    'manager' | 'schema' | 'apiVersion' | 'now' | 'subresource' | 'ignoredFields'
  >,
): void {
  const { changed, removed } = changesBetween(old, updated, input.schema, ignoredSet(input.ignoredFields));
  // The writer acts as a fresh "current operation": it loses what it changed like everyone else,
  // then owns the changes, merged with its previous Update entry for this apiVersion.
  disown(managers, '', touched(managers, '', changed), removed);
  const owned = difference(changed, STRIPPED);
  if (isEmpty(owned)) return;
  const entry: ManagedFieldsEntry = {
    manager: input.manager,
    operation: 'Update',
    apiVersion: input.apiVersion,
    time: rfc3339Seconds(input.now),
  };
  if (input.subresource !== undefined) entry.subresource = input.subresource;
  const key = managerKey(entry);
  const previous = managers.get(key)?.set ?? emptySet();
  managers.set(key, { entry, set: union(previous, owned) });
}

export interface ApplyInput {
  /** The live object; undefined when apply creates it. */
  live: KubeObject | undefined;
  /** The configuration the client applied (already parsed from YAML). */
  applied: KubeObject;
  manager: string;
  schema: SchemaNode | undefined;
  force: boolean;
  apiVersion: string;
  now: Date;
  subresource?: string;
  ignoredFields?: string[][];
}

export type ApplyResult =
  | { object: KubeObject; managedFields: ManagedFieldsEntry[] }
  | { conflicts: ApplyConflict[]; message: string };

/** kubectl's client-side apply annotation, which server-side apply by "kubectl" honours and keeps. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The field manager kubectl apply --server-side uses by default. */
const KUBECTL_MANAGER = 'kubectl';

/**
 * Server-side apply of `applied` by `manager`. Returns the new object (with managedFields set) or
 * the conflicts with other managers when `force` is false. The object is unchanged, and so is the
 * applier's timestamp, when applying changes nothing. Throws a 400 StatusError for a configuration
 * of another apiVersion or one that carries managedFields.
 * As kube-apiserver does for the "kubectl" manager: conflicts on fields the last-applied annotation
 * set to their live values are allowed (upgrading from client-side apply), and an existing
 * annotation is rewritten to the applied configuration.
 */
export function applyConfiguration(input: ApplyInput): ApplyResult {
  checkConfiguration(input);
  let outcome = applyOnce(input, input.force);
  if ('taken' in outcome && input.manager === KUBECTL_MANAGER) {
    const allowed = allowedByLastApplied(input.live, input.schema);
    const remaining = new Map<string, FieldSet>();
    for (const [key, set] of outcome.taken) {
      const left = difference(set, allowed);
      if (!isEmpty(left)) remaining.set(key, left);
    }
    if (remaining.size === 0) outcome = applyOnce(input, true);
    else return conflictsOf(outcome.managers, remaining);
  }
  if ('taken' in outcome) return conflictsOf(outcome.managers, outcome.taken);
  if (input.manager === KUBECTL_MANAGER) syncLastApplied(outcome.object, input.applied);
  return outcome;
}

function checkConfiguration(input: ApplyInput): void {
  const version = input.applied.apiVersion ?? '';
  if (version !== input.apiVersion) {
    throw badRequest(
      `Incorrect version specified in apply patch. Specified patch version: ${version}, expected: ${input.apiVersion}`,
    );
  }
  const meta = input.applied.metadata;
  if (isObject(meta) && meta.managedFields !== undefined && meta.managedFields !== null) {
    throw badRequest('metadata.managedFields must be nil');
  }
}

type Outcome =
  | { object: KubeObject; managedFields: ManagedFieldsEntry[] }
  | { taken: Map<string, FieldSet>; managers: Map<string, Manager> };

function applyOnce(input: ApplyInput, force: boolean): Outcome {
  const live = (withoutManagedFields(input.live ?? {}) ?? {}) as JsonObject;
  const managers = decodeManagers(input.live?.metadata?.managedFields) ?? new Map<string, Manager>();
  if (managers.size === 0 && input.live?.metadata?.uid !== undefined) {
    // Fields written before anyone applied belong to a stand-in manager, so that apply neither
    // silently takes them nor prunes them.
    recordUpdate(managers, {}, live, { ...input, manager: BEFORE_FIRST_APPLY });
  }
  const ignored = ignoredSet(input.ignoredFields);
  const entry: ManagedFieldsEntry = {
    manager: input.manager,
    operation: 'Apply',
    apiVersion: input.apiVersion,
  };
  if (input.subresource !== undefined) entry.subresource = input.subresource;
  const key = managerKey(entry);
  const previous = managers.get(key);
  const applied = withoutManagedFields(input.applied);
  const newSet = recursiveDifference(fieldSetOf(applied, input.schema), ignored);
  let merged = (mergeApplied(live, applied, input.schema) ?? {}) as JsonObject;
  managers.set(key, { entry: { ...entry, time: previous?.entry.time }, set: newSet });
  if (previous !== undefined) merged = prune(merged, previous.set, managers, key, input.schema);

  const { changed, removed } = changesBetween(live, merged, input.schema, ignored);
  const taken = touched(managers, key, changed);
  if (taken.size > 0 && !force) return { taken, managers };
  disown(managers, key, taken, removed);

  const unchanged = deepEqual(live, merged);
  const applier = managers.get(key) as Manager;
  if (!unchanged || applier.entry.time === undefined) applier.entry.time = rfc3339Seconds(input.now);
  const managedFields = encodeManagers(managers);
  const object = clone(unchanged ? live : merged) as KubeObject;
  object.metadata = { ...(object.metadata ?? {}), managedFields };
  return { object, managedFields };
}

/**
 * Fields the last-applied annotation sets to the values the live object has: kubectl owned them
 * through client-side apply, so taking them over is an upgrade, not a conflict.
 */
function allowedByLastApplied(live: KubeObject | undefined, schema: SchemaNode | undefined): FieldSet {
  const text = live?.metadata?.annotations?.[LAST_APPLIED_ANNOTATION];
  if (typeof text !== 'string' || text === '') return emptySet();
  let lastApplied: unknown;
  try {
    lastApplied = JSON.parse(text);
  } catch {
    return emptySet();
  }
  if (!isObject(lastApplied)) return emptySet();
  const cmp = compareValues(lastApplied, withoutManagedFields(live), schema);
  const set = fieldSetOf(lastApplied, schema);
  return difference(difference(difference(set, cmp.modified), cmp.added), cmp.removed);
}

/** Rewrites an existing last-applied annotation to the configuration just applied (lastAppliedUpdater). */
function syncLastApplied(object: KubeObject, applied: KubeObject): void {
  const annotations = object.metadata?.annotations;
  if (annotations === undefined || !Object.hasOwn(annotations, LAST_APPLIED_ANNOTATION)) return;
  const config = clone(applied) as JsonObject;
  const meta = isObject(config.metadata) ? config.metadata : undefined;
  if (meta !== undefined && isObject(meta.annotations)) delete meta.annotations[LAST_APPLIED_ANNOTATION];
  annotations[LAST_APPLIED_ANNOTATION] = `${goJson(config)}\n`;
}

/** JSON as Go's encoding/json writes a map: keys sorted, HTML characters escaped. */
function goJson(value: unknown): string {
  return canonicalJson(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * Removes what the applier applied last time and no longer applies, unless another manager (or
 * the new configuration) still owns it or something below it. Key fields of a kept list item stay.
 */
function prune(
  merged: JsonObject,
  lastSet: FieldSet,
  managers: Map<string, Manager>,
  key: string,
  schema: SchemaNode | undefined,
): JsonObject {
  let owned = emptySet();
  for (const m of managers.values()) owned = union(owned, m.set);
  const candidates = members(difference(lastSet, owned));
  const out = clone(merged);
  for (const path of candidates.reverse()) {
    if (hasMemberBelow(owned, path) || isKeyField(path)) continue;
    removePath(out, path, schema);
  }
  assert(managers.has(key), 'the applier is recorded before pruning');
  return out;
}

/** Whether the path ends at a key field of a map-list item (`k:{"name":"a"}` then `f:name`). */
function isKeyField(path: FieldPath): boolean {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (last === undefined || parent === undefined || !last.startsWith('f:') || !parent.startsWith('k:'))
    return false;
  const key = JSON.parse(parent.slice(2)) as JsonObject;
  return Object.hasOwn(key, last.slice(2));
}
