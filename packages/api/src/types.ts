// The shapes every part of the API machinery agrees on: objects, their metadata, the description of a
// resource, field errors, the per-resource strategy and the schema view that patches and field
// validation walk. Implementations live in the other modules of this package; the apiserver only
// uses what is exported from index.ts.

/** metav1.OwnerReference. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** metav1.ManagedFieldsEntry (server-side apply). fieldsV1 is the structured-merge-diff set. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: 'FieldsV1';
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/** metav1.ObjectMeta. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
  [field: string]: unknown;
}

/** Any Kubernetes object as it travels as JSON. Kind-specific parts stay untyped on purpose. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface GroupVersionKind {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** Subresources the apiserver serves. `status` and `scale` are generic; the rest are special. */
export type SubresourceName = 'status' | 'scale' | 'binding' | 'eviction' | 'token';

/** One served resource, as discovery and the REST layer see it. */
export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  listKind: string;
  /** The URL segment: "pods". */
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: Verb[];
  subresources: SubresourceName[];
  /**
   * The etcd key segment under /registry (Kubernetes' own choices, e.g. "services/specs" for
   * services, "deployments" for apps/v1 deployments, "horizontalpodautoscalers" for both HPA
   * versions so that v1 and v2 share storage).
   */
  storageResource: string;
  /** The version objects are stored as when a resource is served in several (HPA: v2). */
  storageVersion: string;
}

/** field.ErrorType of apimachinery's validation; the message format follows field.Error.Error(). */
export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueNotFound';

export interface FieldError {
  type: FieldErrorType;
  /** The JSON path as Kubernetes prints it: `spec.containers[0].name`, `metadata.labels`. */
  field: string;
  /** The bad value where Kubernetes prints it. */
  value?: unknown;
  /** The detail, e.g. `a lowercase RFC 1123 label must consist of …`. */
  detail: string;
}

/** A column of a meta.k8s.io/v1 Table. */
export interface TableColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: string;
  description: string;
  /** 0 shown always, 1 only with -o wide. */
  priority: number;
}

/**
 * What the REST layer needs to know about a resource beyond its name: defaulting, validation,
 * the spec/status split and the values field selectors match. Kubernetes calls this the
 * registry strategy. Functions are pure apart from mutating the object they are given.
 */
export interface ResourceStrategy {
  info: ResourceInfo;
  /** Fills in defaults in place (SetDefaults_*), on every create and update body. */
  applyDefaults(obj: KubeObject): void;
  /** On create, after defaulting: e.g. clear status, set pod phase Pending, generation 1. */
  prepareForCreate(obj: KubeObject): void;
  /**
   * On update of the main resource: keep the old status (the main resource ignores status) and
   * bump metadata.generation when the spec changed, for kinds that have a generation.
   */
  prepareForUpdate(obj: KubeObject, old: KubeObject): void;
  /** On update of the status subresource: keep everything of `old` but status (and labels/annotations as Kubernetes does). */
  prepareForStatusUpdate?(obj: KubeObject, old: KubeObject): void;
  validateCreate(obj: KubeObject): FieldError[];
  /** Includes immutability (e.g. a Job's selector, a Secret with immutable: true, a Service's clusterIP). */
  validateUpdate(obj: KubeObject, old: KubeObject): FieldError[];
  /** Field selector values, always with metadata.name and metadata.namespace. */
  selectableFields(obj: KubeObject): Record<string, string>;
  /** Whether deletion is graceful by default (pods: terminationGracePeriodSeconds). */
  defaultGracePeriodSeconds?(obj: KubeObject): number;
}

/**
 * The schema of a type as patches, apply and field validation need it: what kind of node each
 * field is, and how lists merge. Built from the OpenAPI definitions plus Kubernetes' patch tags.
 */
export type SchemaNode =
  | {
      type: 'object';
      fields: Record<string, () => SchemaNode>;
      required?: string[];
      preserveUnknown?: boolean;
    }
  | { type: 'map'; values: () => SchemaNode }
  | {
      type: 'list';
      items: () => SchemaNode;
      /** x-kubernetes-list-type: atomic lists are replaced whole; map lists merge by listMapKeys. */
      listType: 'atomic' | 'set' | 'map';
      listMapKeys?: string[];
      /** x-kubernetes-patch-strategy / -merge-key for strategic merge patch. */
      patchStrategy?: 'merge' | 'replace' | 'retainKeys' | 'merge,retainKeys';
      patchMergeKey?: string;
    }
  | { type: 'string' | 'integer' | 'number' | 'boolean' | 'int-or-string' | 'quantity' | 'time' | 'any' };
