// The generic half of every registry strategy (k8s.io/apiserver/pkg/registry/rest BeforeCreate /
// BeforeUpdate plus what each Kubernetes strategy repeats): the spec/status split, generation,
// the identity fields an update may not touch, ObjectMeta validation and the default field
// selectors. Kind-specific strategies pass their defaults, validation and selectable fields in.
//
// What Kubernetes does, and so what this does:
// - Create: status is reset ({} or a kind's initial status) for kinds with a status subresource,
//   except where the creator legitimately writes it (nodes: kubelet registers with a status;
//   set `resetStatusOnCreate: false`). Kinds with a generation start at 1.
// - Update of the main resource: the old status is kept; uid, creationTimestamp,
//   deletionTimestamp and deletionGracePeriodSeconds come from the old object when it has them;
//   generation is the old one, +1 when anything outside metadata and status changed (or what the
//   kind's `bumpsGeneration` says, e.g. Deployments also bump on annotation changes).
// - Update of the status subresource: everything but status and metadata comes from the old
//   object. Metadata changes (labels, annotations, finalizers, ownerReferences) pass through as
//   they do in Kubernetes' status strategies, except the fields a kind lists in
//   `statusResetMetadata` (pods reset ownerReferences; Deployments reset labels). The protected
//   identity fields and generation are kept as for the main resource.

import type { FieldError, KubeObject, ObjectMeta, ResourceInfo, ResourceStrategy } from '../types.js';
import { deepEqual } from '../validation/field.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../validation/meta.js';
import { type NameValidator, nameIsDNSSubdomain } from '../validation/names.js';

export class StrategyAssertionError extends Error {
  readonly code = 'STRATEGY_ASSERTION';
  constructor(message: string) {
    super(message);
    this.name = 'StrategyAssertionError';
  }
}

function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new StrategyAssertionError(message);
}

export interface StrategyOptions {
  info: ResourceInfo;
  /** ValidateNameFunc for metadata.name and generateName; DNS-1123 subdomain when omitted. */
  nameValidator?: NameValidator;
  /** SetDefaults_* for the kind, in place. Must be idempotent. */
  defaults?(obj: KubeObject): void;
  /** Kind validation on create and (of the new object) on update; metadata is validated generically. */
  validate?(obj: KubeObject): FieldError[];
  /** Update-only checks, typically immutability; runs after `validate(obj)`. */
  validateUpdate?(obj: KubeObject, old: KubeObject): FieldError[];
  /** Whether the kind has a status (subresource): reset on create, kept on main-resource updates. */
  hasStatus: boolean;
  /** Whether metadata.generation is maintained (1 on create, +1 on spec changes). */
  hasGeneration: boolean;
  /** Reset status on create (default: hasStatus). Nodes keep what the kubelet registers. */
  resetStatusOnCreate?: boolean;
  /** The status a new object starts with (after the reset), e.g. pods' phase Pending. */
  initialStatus?(obj: KubeObject): Record<string, unknown>;
  /** Top-level fields whose change bumps generation; default every field but apiVersion, kind, metadata, status. */
  specFields?: string[];
  /** Overrides the generation rule (called with old and new after status has been carried over). */
  bumpsGeneration?(obj: KubeObject, old: KubeObject): boolean;
  /** Metadata fields a status update takes from the old object (beyond the identity fields). */
  statusResetMetadata?: string[];
  /** Kind-specific extras run after the generic steps. */
  prepareForCreate?(obj: KubeObject): void;
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  prepareForStatusUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Field selector values beyond metadata.name and metadata.namespace. */
  fields?(obj: KubeObject): Record<string, string>;
  /** Default grace period for deletes (pods: terminationGracePeriodSeconds). */
  gracePeriod?(obj: KubeObject): number;
}

const NOT_SPEC = new Set(['apiVersion', 'kind', 'metadata', 'status']);

/** Identity fields an update never changes (rest.BeforeUpdate). */
const PROTECTED_META = [
  'uid',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
] as const;

export function meta(obj: KubeObject): ObjectMeta {
  if (obj.metadata === undefined || obj.metadata === null || typeof obj.metadata !== 'object')
    obj.metadata = {};
  return obj.metadata;
}

/** The fields that count as "spec" for the generation rule. */
export function specOf(obj: KubeObject, specFields?: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (specFields ? specFields.includes(k) : !NOT_SPEC.has(k)) out[k] = v;
  }
  return out;
}

/** Copies uid (when missing), creationTimestamp, deletion* and generation from old, as BeforeUpdate does. */
export function carryOverSystemMeta(obj: KubeObject, old: KubeObject): void {
  const m: Record<string, unknown> = meta(obj);
  const o: Record<string, unknown> = old.metadata ?? {};
  // A uid the client changed is left for validation to refuse ("field is immutable"), as in
  // Kubernetes; a missing one is filled in. Timestamps and grace periods always win from old.
  for (const f of PROTECTED_META) {
    const keep = o[f] !== undefined && o[f] !== null;
    if (keep && (f !== 'uid' || m[f] === undefined || m[f] === '')) m[f] = o[f];
  }
  if (typeof o.generation === 'number') m.generation = o.generation;
  else delete m.generation;
}

function prepareCreate(opts: StrategyOptions, obj: KubeObject): void {
  const m = meta(obj);
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
  if (opts.hasGeneration) m.generation = 1;
  if (opts.hasStatus && (opts.resetStatusOnCreate ?? true)) {
    obj.status = opts.initialStatus ? opts.initialStatus(obj) : {};
  }
  opts.prepareForCreate?.(obj);
  assert(
    !opts.hasGeneration || obj.metadata?.generation === 1,
    `${opts.info.kind}: generation must start at 1`,
  );
}

function prepareUpdate(opts: StrategyOptions, obj: KubeObject, old: KubeObject): void {
  carryOverSystemMeta(obj, old);
  if (opts.hasStatus) {
    if (old.status !== undefined) obj.status = structuredClone(old.status);
    else delete obj.status;
  }
  if (opts.hasGeneration) {
    const changed = opts.bumpsGeneration
      ? opts.bumpsGeneration(obj, old)
      : !deepEqual(specOf(obj, opts.specFields), specOf(old, opts.specFields));
    const base = old.metadata?.generation ?? 1;
    meta(obj).generation = changed ? base + 1 : base;
  }
  opts.prepareForUpdate?.(obj, old);
  const before = old.metadata?.generation ?? 0;
  assert(
    (obj.metadata?.generation ?? 0) >= before || !opts.hasGeneration,
    `${opts.info.kind}: generation went backwards`,
  );
}

function prepareStatusUpdate(opts: StrategyOptions, obj: KubeObject, old: KubeObject): void {
  assert(opts.hasStatus, `${opts.info.plural} has no status subresource`);
  for (const k of Object.keys(obj)) if (!NOT_SPEC.has(k)) delete obj[k];
  for (const [k, v] of Object.entries(old)) if (!NOT_SPEC.has(k)) obj[k] = structuredClone(v);
  carryOverSystemMeta(obj, old);
  const m = meta(obj);
  const o = old.metadata ?? {};
  for (const f of opts.statusResetMetadata ?? []) {
    if (o[f] !== undefined) m[f] = structuredClone(o[f]);
    else delete m[f];
  }
  opts.prepareForStatusUpdate?.(obj, old);
  assert(
    obj.metadata?.generation === old.metadata?.generation,
    `${opts.info.kind}: a status update changed generation`,
  );
}

export function defineStrategy(opts: StrategyOptions): ResourceStrategy {
  assert(opts.info.plural !== '', 'a strategy needs a resource');
  assert(!opts.hasGeneration || opts.info.kind !== '', 'a strategy needs a kind');
  const nameValidator = opts.nameValidator ?? nameIsDNSSubdomain;
  const metaOpts = { namespaced: opts.info.namespaced, nameValidator };
  const strategy: ResourceStrategy = {
    info: opts.info,
    applyDefaults: (obj) => opts.defaults?.(obj),
    prepareForCreate: (obj) => prepareCreate(opts, obj),
    prepareForUpdate: (obj, old) => prepareUpdate(opts, obj, old),
    validateCreate: (obj) => [...validateObjectMeta(obj, metaOpts), ...(opts.validate?.(obj) ?? [])],
    validateUpdate: (obj, old) => [
      ...validateObjectMetaUpdate(obj, old),
      ...(opts.validate?.(obj) ?? []),
      ...(opts.validateUpdate?.(obj, old) ?? []),
    ],
    selectableFields: (obj) => ({
      'metadata.name': obj.metadata?.name ?? '',
      'metadata.namespace': obj.metadata?.namespace ?? '',
      ...(opts.fields?.(obj) ?? {}),
    }),
  };
  if (opts.hasStatus) strategy.prepareForStatusUpdate = (obj, old) => prepareStatusUpdate(opts, obj, old);
  const gracePeriod = opts.gracePeriod;
  if (gracePeriod) strategy.defaultGracePeriodSeconds = (obj) => gracePeriod(obj);
  return strategy;
}

// ---------------------------------------------------------------------------------------------
// Small accessors for untyped objects, shared by the kind strategies.

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object at obj[key], created empty when missing (for defaulting). */
export function ensureObj(obj: Obj, key: string): Obj {
  const v = obj[key];
  if (isObj(v)) return v;
  const fresh: Obj = {};
  obj[key] = fresh;
  return fresh;
}

/** obj[key] as an object, or undefined. */
export function getObj(obj: unknown, key: string): Obj | undefined {
  if (!isObj(obj)) return undefined;
  const v = obj[key];
  return isObj(v) ? v : undefined;
}

export function getList(obj: unknown, key: string): unknown[] {
  if (!isObj(obj)) return [];
  const v = obj[key];
  return Array.isArray(v) ? v : [];
}

export function getStr(obj: unknown, key: string): string {
  if (!isObj(obj)) return '';
  const v = obj[key];
  return typeof v === 'string' ? v : '';
}

/** Sets obj[key] = value only when the field is missing (null counts as missing, like Go's nil). */
export function setDefault(obj: Obj, key: string, value: unknown): void {
  if (obj[key] === undefined || obj[key] === null) obj[key] = value;
}

/** Sets a default string also when the field is "" (Go defaulting of non-pointer strings). */
export function setDefaultStr(obj: Obj, key: string, value: string): void {
  if (obj[key] === undefined || obj[key] === null || obj[key] === '') obj[key] = value;
}
