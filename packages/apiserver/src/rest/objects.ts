// Object metadata the server owns: keys in the store, generated names, uid and timestamps, and the
// system fields an update may not change.
import { randomInt, randomUUID } from 'node:crypto';
import { convertVersion, type KubeObject, type ObjectMeta, type ResourceInfo } from '@keelson/api';

/** utilrand's alphabet: no vowels (no accidental words) and no look-alike characters. */
const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
const generatedSuffixLength = 5;
const nameLengthMax = 63;

export function keyPrefix(etcdPrefix: string, info: ResourceInfo, namespace: string): string {
  const base = `${etcdPrefix}/${info.storageResource}/`;
  return info.namespaced && namespace !== '' ? `${base}${namespace}/` : base;
}

export function objectKey(etcdPrefix: string, info: ResourceInfo, namespace: string, name: string): string {
  if (name === '' || name.includes('/')) throw new Error(`assertion failed: bad object name "${name}"`);
  if (info.namespaced && namespace === '')
    throw new Error('assertion failed: namespaced key without namespace');
  return `${keyPrefix(etcdPrefix, info, info.namespaced ? namespace : '')}${name}`;
}

/** names.SimpleNameGenerator: the prefix (cut to leave room) plus five random characters. */
export function generateName(prefix: string): string {
  const base =
    prefix.length > nameLengthMax - generatedSuffixLength
      ? prefix.slice(0, nameLengthMax - generatedSuffixLength)
      : prefix;
  let suffix = '';
  for (let i = 0; i < generatedSuffixLength; i++) suffix += nameAlphabet[randomInt(nameAlphabet.length)];
  return base + suffix;
}

export function nowTimestamp(): string {
  // RFC 3339 with second precision, as metav1.Time marshals.
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

export function metaOf(obj: KubeObject): ObjectMeta {
  if (obj.metadata === undefined || obj.metadata === null || typeof obj.metadata !== 'object')
    obj.metadata = {};
  return obj.metadata;
}

/** rest.FillObjectMetaSystemFields: a fresh uid and creation time; clears what a client may not set. */
export function fillSystemFieldsOnCreate(obj: KubeObject): void {
  const meta = metaOf(obj);
  meta.uid = randomUUID();
  meta.creationTimestamp = nowTimestamp();
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  delete meta.resourceVersion;
  delete meta.selfLink;
}

/** The fields of the stored object an update keeps no matter what the body says. */
export function keepSystemFieldsOnUpdate(obj: KubeObject, old: KubeObject): void {
  const meta = metaOf(obj);
  const oldMeta = metaOf(old);
  meta.uid = oldMeta.uid;
  meta.creationTimestamp = oldMeta.creationTimestamp;
  setOrDelete(meta, 'deletionTimestamp', oldMeta.deletionTimestamp);
  setOrDelete(meta, 'deletionGracePeriodSeconds', oldMeta.deletionGracePeriodSeconds);
  setOrDelete(meta, 'generation', oldMeta.generation);
  if (meta.managedFields === undefined && oldMeta.managedFields !== undefined)
    meta.managedFields = oldMeta.managedFields;
  delete meta.selfLink;
}

function setOrDelete(meta: ObjectMeta, field: string, value: unknown): void {
  if (value === undefined) delete meta[field];
  else meta[field] = value;
}

/** Whether two objects are the same apart from resourceVersion (an update that changes nothing is not written). */
export function sameObject(a: KubeObject, b: KubeObject): boolean {
  return canonical(withoutVersion(a)) === canonical(withoutVersion(b));
}

function withoutVersion(obj: KubeObject): KubeObject {
  const metadata = { ...(obj.metadata ?? {}) };
  delete metadata.resourceVersion;
  delete metadata.managedFields;
  return { ...obj, metadata };
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
    );
  });
}

export function deepCopy<T>(value: T): T {
  return structuredClone(value);
}

/** apiVersion as objects of this resource carry it. */
export function apiVersionOf(info: ResourceInfo): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

/**
 * Objects are served in the version the request addressed: a stored object of another version
 * (HPA v2 read through autoscaling/v1) is converted, every other one only relabelled.
 */
export function asServed(obj: KubeObject, info: ResourceInfo): KubeObject {
  const apiVersion = apiVersionOf(info);
  const converted =
    obj.apiVersion === undefined || obj.apiVersion === apiVersion
      ? obj
      : convertVersion(obj, info.group, info.plural, info.version);
  return { ...converted, apiVersion, kind: info.kind };
}

/** The object as the store keeps it: in the resource's storage version. */
export function toStorageVersion(obj: KubeObject, info: ResourceInfo): KubeObject {
  if (info.storageVersion === info.version) return obj;
  return convertVersion(obj, info.group, info.plural, info.storageVersion);
}

/**
 * Whether something still holds a deleted object: metadata.finalizers, and for namespaces also
 * spec.finalizers (the namespace controller's "kubernetes", removed through namespaces/finalize).
 */
export function deletionBlocked(info: ResourceInfo, obj: KubeObject): boolean {
  if ((obj.metadata?.finalizers ?? []).length > 0) return true;
  return (
    isNamespace(info) && ((obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []).length > 0
  );
}

export function isNamespace(info: ResourceInfo): boolean {
  return info.group === '' && info.plural === 'namespaces';
}
