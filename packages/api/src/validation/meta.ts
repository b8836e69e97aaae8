// ObjectMeta validation on create and update, after k8s.io/apimachinery/pkg/api/validation
// (objectmeta.go) and metav1 validation (labels, managedFields). Field paths start at
// "metadata" the way Kubernetes prints them.

import type { FieldError, KubeObject, ObjectMeta } from '../types.js';
import { child, forbidden, immutable, invalid, nonNegative, required, tooLong } from './field.js';
import { isDNS1123Label, isQualifiedName, isValidLabelValue, type NameValidator } from './names.js';

/** TotalAnnotationSizeLimitB: 256 KiB over all keys and values. */
export const ANNOTATIONS_SIZE_BYTES_MAX = 256 * 1024;

/** metav1.FinalizerOrphanDependents and FinalizerDeleteDependents. */
export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_DELETE_DEPENDENTS = 'foregroundDeletion';

/** Namespace names are DNS-1123 labels (ValidateNamespaceName). */
export const validateNamespaceName: NameValidator = (name, prefix) =>
  isDNS1123Label(prefix && name.length > 1 && name.endsWith('-') ? `${name.slice(0, -1)}a` : name);

export function validateLabels(labels: unknown, fieldPath: string): FieldError[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels))
    return [invalid(fieldPath, labels, 'must be a map')];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const msg of isQualifiedName(k)) errs.push(invalid(fieldPath, k, msg));
    const value = typeof v === 'string' ? v : String(v);
    for (const msg of isValidLabelValue(value)) errs.push(invalid(fieldPath, value, msg));
  }
  return errs;
}

/** Annotation keys are qualified names regardless of case; the total size is bounded. */
export function validateAnnotations(annotations: unknown, fieldPath: string): FieldError[] {
  if (annotations === undefined || annotations === null) return [];
  if (typeof annotations !== 'object' || Array.isArray(annotations)) {
    return [invalid(fieldPath, annotations, 'must be a map')];
  }
  const errs: FieldError[] = [];
  let sizeBytes = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    for (const msg of isQualifiedName(k.toLowerCase())) errs.push(invalid(fieldPath, k, msg));
    sizeBytes += Buffer.byteLength(k) + Buffer.byteLength(typeof v === 'string' ? v : String(v));
  }
  if (sizeBytes > ANNOTATIONS_SIZE_BYTES_MAX) errs.push(tooLong(fieldPath, '', ANNOTATIONS_SIZE_BYTES_MAX));
  return errs;
}

/** The kinds that may never own other objects (BannedOwners). */
const BANNED_OWNERS = new Set(['v1/Event']);

export function validateOwnerReferences(refs: unknown, fieldPath: string): FieldError[] {
  if (refs === undefined || refs === null) return [];
  if (!Array.isArray(refs)) return [invalid(fieldPath, refs, 'must be a list')];
  const errs: FieldError[] = [];
  let firstController = '';
  for (const raw of refs) {
    const ref = (raw ?? {}) as Record<string, unknown>;
    const apiVersion = str(ref.apiVersion);
    const kind = str(ref.kind);
    const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
    if (version === '')
      errs.push(invalid(child(fieldPath, 'apiVersion'), apiVersion, 'version must not be empty'));
    if (kind === '') errs.push(invalid(child(fieldPath, 'kind'), kind, 'kind must not be empty'));
    if (str(ref.name) === '')
      errs.push(invalid(child(fieldPath, 'name'), str(ref.name), 'name must not be empty'));
    if (str(ref.uid) === '')
      errs.push(invalid(child(fieldPath, 'uid'), str(ref.uid), 'uid must not be empty'));
    if (BANNED_OWNERS.has(`${apiVersion}/${kind}`)) {
      const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
      errs.push(
        invalid(fieldPath, ref, `${group}/${version}, Kind=${kind} is disallowed from being an owner`),
      );
    }
    if (ref.controller === true) {
      const current = `${kind}/${str(ref.name)}`;
      if (firstController === '') firstController = current;
      else {
        errs.push(
          invalid(
            fieldPath,
            refs,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`,
          ),
        );
      }
    }
  }
  return errs;
}

export function validateFinalizers(finalizers: unknown, fieldPath: string): FieldError[] {
  if (finalizers === undefined || finalizers === null) return [];
  if (!Array.isArray(finalizers)) return [invalid(fieldPath, finalizers, 'must be a list')];
  const errs: FieldError[] = [];
  for (const f of finalizers) {
    const name = str(f);
    for (const msg of isQualifiedName(name)) errs.push(invalid(fieldPath, name, msg));
  }
  if (finalizers.includes(FINALIZER_ORPHAN) && finalizers.includes(FINALIZER_DELETE_DEPENDENTS)) {
    errs.push(
      invalid(
        fieldPath,
        finalizers,
        `finalizer ${FINALIZER_ORPHAN} and ${FINALIZER_DELETE_DEPENDENTS} cannot be both set`,
      ),
    );
  }
  return errs;
}

/** ValidateNoNewFinalizers: an object being deleted cannot gain finalizers. */
export function validateNoNewFinalizers(next: unknown, prev: unknown, fieldPath: string): FieldError[] {
  const before = new Set(Array.isArray(prev) ? prev.map(str) : []);
  const extra = [...new Set(Array.isArray(next) ? next.map(str) : [])].filter((f) => !before.has(f)).sort();
  if (extra.length === 0) return [];
  const list = `[]string{${extra.map((f) => `"${f}"`).join(', ')}}`;
  return [
    forbidden(
      fieldPath,
      `no new finalizers can be added if the object is being deleted, found new finalizers ${list}`,
    ),
  ];
}

function validateManagedFields(entries: unknown, fieldPath: string): FieldError[] {
  if (entries === undefined || entries === null) return [];
  if (!Array.isArray(entries)) return [invalid(fieldPath, entries, 'must be a list')];
  const errs: FieldError[] = [];
  entries.forEach((raw, i) => {
    const e = (raw ?? {}) as Record<string, unknown>;
    const path = `${fieldPath}[${i}]`;
    if (e.operation !== 'Apply' && e.operation !== 'Update') {
      errs.push(invalid(child(path, 'operation'), e.operation ?? '', 'must be `Apply` or `Update`'));
    }
    if (e.fieldsType !== undefined && e.fieldsType !== 'FieldsV1') {
      errs.push(invalid(child(path, 'fieldsType'), e.fieldsType, 'must be `FieldsV1`'));
    }
    if (typeof e.subresource === 'string' && e.subresource.length > 256) {
      errs.push(tooLong(child(path, 'subresource'), e.subresource, 256));
    }
  });
  return errs;
}

export interface MetaValidationOptions {
  namespaced: boolean;
  nameValidator: NameValidator;
}

/**
 * ValidateObjectMeta on create. The REST layer generates a name from generateName before
 * validation, so the name is required here; generateName is still checked as a prefix.
 */
export function validateObjectMeta(obj: KubeObject, opts: MetaValidationOptions): FieldError[] {
  const meta = (obj.metadata ?? {}) as ObjectMeta;
  const errs: FieldError[] = [];
  const generateName = str(meta.generateName);
  if (generateName !== '') {
    for (const msg of opts.nameValidator(generateName, true)) {
      errs.push(invalid('metadata.generateName', generateName, msg));
    }
  }
  const name = str(meta.name);
  if (name === '') errs.push(required('metadata.name', 'name or generateName is required'));
  else for (const msg of opts.nameValidator(name, false)) errs.push(invalid('metadata.name', name, msg));
  errs.push(...validateNamespaceField(str(meta.namespace), opts.namespaced));
  errs.push(...nonNegative(meta.generation, 'metadata.generation'));
  errs.push(...validateMetaCommon(meta));
  errs.push(...validateFinalizers(meta.finalizers, 'metadata.finalizers'));
  return errs;
}

function validateNamespaceField(namespace: string, namespaced: boolean): FieldError[] {
  if (!namespaced) {
    return namespace === '' ? [] : [forbidden('metadata.namespace', 'not allowed on this type')];
  }
  if (namespace === '') return [required('metadata.namespace')];
  return validateNamespaceName(namespace, false).map((msg) => invalid('metadata.namespace', namespace, msg));
}

function validateMetaCommon(meta: ObjectMeta): FieldError[] {
  return [
    ...validateLabels(meta.labels, 'metadata.labels'),
    ...validateAnnotations(meta.annotations, 'metadata.annotations'),
    ...validateOwnerReferences(meta.ownerReferences, 'metadata.ownerReferences'),
    ...validateManagedFields(meta.managedFields, 'metadata.managedFields'),
  ];
}

/** ValidateObjectMetaUpdate: identity fields are immutable; the rest is validated as on create. */
export function validateObjectMetaUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const meta = (obj.metadata ?? {}) as ObjectMeta;
  const prev = (old.metadata ?? {}) as ObjectMeta;
  const errs: FieldError[] = [];
  if (prev.deletionTimestamp !== undefined && prev.deletionTimestamp !== null) {
    errs.push(...validateNoNewFinalizers(meta.finalizers, prev.finalizers, 'metadata.finalizers'));
  }
  if (str(meta.resourceVersion) === '') {
    errs.push(invalid('metadata.resourceVersion', '', 'must be specified for an update'));
  }
  if ((meta.generation ?? 0) < (prev.generation ?? 0)) {
    errs.push(invalid('metadata.generation', meta.generation ?? 0, 'must not be decremented'));
  }
  errs.push(...immutable(meta.name, prev.name, 'metadata.name'));
  errs.push(...immutable(meta.namespace, prev.namespace, 'metadata.namespace'));
  errs.push(...immutable(meta.uid, prev.uid, 'metadata.uid'));
  errs.push(...immutable(meta.creationTimestamp, prev.creationTimestamp, 'metadata.creationTimestamp'));
  errs.push(...immutable(meta.deletionTimestamp, prev.deletionTimestamp, 'metadata.deletionTimestamp'));
  errs.push(
    ...immutable(
      meta.deletionGracePeriodSeconds,
      prev.deletionGracePeriodSeconds,
      'metadata.deletionGracePeriodSeconds',
    ),
  );
  errs.push(...validateMetaCommon(meta));
  errs.push(...validateFinalizers(meta.finalizers, 'metadata.finalizers'));
  return errs;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}
