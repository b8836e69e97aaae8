// managedFields entries as structured-merge-diff's field manager keeps them: one field set per
// manager identity (manager, operation, apiVersion for Update, subresource), decoded from and
// encoded to FieldsV1, with the bookkeeping every write does to them.

import type { ManagedFieldsEntry } from '../types.js';
import {
  difference,
  emptySet,
  type FieldSet,
  FieldsV1Error,
  fieldElement,
  fromFieldsV1,
  insert,
  intersection,
  isEmpty,
  toFieldsV1,
  union,
} from './fieldsv1.js';
import { clone, isObject } from './util.js';

/** Fields nobody owns: identity and server-set metadata (the field manager's stripMeta set). */
export const STRIPPED: FieldSet = (() => {
  const set = emptySet();
  for (const path of [
    ['apiVersion'],
    ['kind'],
    ['metadata'],
    ['metadata', 'name'],
    ['metadata', 'namespace'],
    ['metadata', 'creationTimestamp'],
    ['metadata', 'selfLink'],
    ['metadata', 'uid'],
    ['metadata', 'clusterName'],
    ['metadata', 'generation'],
    ['metadata', 'managedFields'],
    ['metadata', 'resourceVersion'],
  ]) {
    insert(set, path.map(fieldElement));
  }
  return set;
})();

export interface Manager {
  entry: ManagedFieldsEntry;
  set: FieldSet;
}

/** structured-merge-diff's manager identifier: the entry without time and fields (and, for Apply, apiVersion). */
export function managerKey(entry: ManagedFieldsEntry): string {
  return JSON.stringify({
    manager: entry.manager,
    operation: entry.operation,
    apiVersion: entry.operation === 'Apply' ? undefined : entry.apiVersion,
    subresource: entry.subresource,
  });
}

/** Decodes managedFields; undefined when an entry is not a valid FieldsV1 set. */
export function decodeManagers(entries: unknown): Map<string, Manager> | undefined {
  const managers = new Map<string, Manager>();
  if (!Array.isArray(entries)) return managers;
  for (const raw of entries) {
    if (!isObject(raw)) return undefined;
    const entry = clone(raw) as ManagedFieldsEntry;
    let set: FieldSet;
    try {
      set = entry.fieldsV1 === undefined ? emptySet() : fromFieldsV1(entry.fieldsV1);
    } catch (err) {
      if (err instanceof FieldsV1Error) return undefined;
      throw err;
    }
    delete entry.fieldsV1;
    const key = managerKey(entry);
    const previous = managers.get(key);
    managers.set(key, { entry, set: previous === undefined ? set : union(previous.set, set) });
  }
  return managers;
}

/** managedFields as Kubernetes writes them: non-empty sets, sorted by operation, time, manager, apiVersion. */
export function encodeManagers(managers: Map<string, Manager>): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const { entry, set } of managers.values()) {
    if (isEmpty(set)) continue;
    const encoded: ManagedFieldsEntry = { manager: entry.manager, operation: entry.operation };
    if (entry.apiVersion !== undefined) encoded.apiVersion = entry.apiVersion;
    if (entry.time !== undefined) encoded.time = entry.time;
    encoded.fieldsType = 'FieldsV1';
    encoded.fieldsV1 = toFieldsV1(set);
    if (entry.subresource !== undefined && entry.subresource !== '') encoded.subresource = entry.subresource;
    out.push(encoded);
  }
  const cmp = (a: string | undefined, b: string | undefined): number =>
    (a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0;
  return out.sort(
    (a, b) =>
      cmp(a.operation, b.operation) ||
      cmp(a.time, b.time) ||
      cmp(a.manager, b.manager) ||
      cmp(a.apiVersion, b.apiVersion) ||
      cmp(a.subresource, b.subresource),
  );
}

/** RFC 3339 with whole seconds, as metav1.Time serialises. */
export function rfc3339Seconds(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Sets of other managers that a change touches, by manager key. */
export function touched(
  managers: Map<string, Manager>,
  skip: string,
  changed: FieldSet,
): Map<string, FieldSet> {
  const out = new Map<string, FieldSet>();
  for (const [key, m] of managers) {
    if (key === skip) continue;
    const hit = intersection(m.set, changed);
    if (!isEmpty(hit)) out.set(key, hit);
  }
  return out;
}

/** Takes changed fields away from their previous owners and removed fields from everyone but `skip`. */
export function disown(
  managers: Map<string, Manager>,
  skip: string,
  taken: Map<string, FieldSet>,
  removed: FieldSet,
): void {
  for (const [key, m] of managers) {
    if (key === skip) continue;
    m.set = difference(difference(m.set, taken.get(key) ?? emptySet()), removed);
    if (isEmpty(m.set)) managers.delete(key);
  }
}

/** Kubernetes keeps at most this many Update entries (DefaultMaxUpdateManagers). */
export const UPDATE_MANAGERS_MAX = 10;

/** The manager the oldest Update entries are folded into once there are too many. */
export const ANCIENT_CHANGES = 'ancient-changes';

/**
 * Folds the oldest Update entries into one `ancient-changes` entry per apiVersion until at most
 * UPDATE_MANAGERS_MAX remain, as the field manager's capManagersManager does.
 */
export function capUpdateManagers(managers: Map<string, Manager>): void {
  const updaters = [...managers.entries()]
    .filter(([, m]) => m.entry.operation !== 'Apply')
    .sort(([ka, a], [kb, b]) => {
      const ta = a.entry.time ?? '';
      const tb = b.entry.time ?? '';
      if (ta !== tb) return ta < tb ? -1 : 1;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
  let count = updaters.length;
  const firstByVersion = new Map<string, string>();
  for (const [key, m] of updaters) {
    if (count <= UPDATE_MANAGERS_MAX) break;
    const version = m.entry.apiVersion ?? '';
    const first = firstByVersion.get(version);
    if (first === undefined) {
      firstByVersion.set(version, key);
      continue;
    }
    const bucketEntry: ManagedFieldsEntry = {
      manager: ANCIENT_CHANGES,
      operation: 'Update',
      apiVersion: version,
    };
    const bucketKey = managerKey(bucketEntry);
    const bucket = managers.get(bucketKey) ?? (managers.get(first) as Manager);
    managers.delete(first);
    managers.delete(key);
    managers.set(bucketKey, { entry: { ...bucketEntry, time: m.entry.time }, set: union(bucket.set, m.set) });
    count--;
  }
}
