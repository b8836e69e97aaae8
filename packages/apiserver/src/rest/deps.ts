// What the REST layer needs from the rest of the API machinery, as narrow interfaces. server.ts adapts
// packages/api's registry, strategies, selectors, tables, patches and field validation to them, so the
// REST code does not depend on those modules' exact shapes.
import type { KubeObject, ResourceInfo, ResourceStrategy, TableColumnDefinition } from '@keelson/api';
import type { Logger } from 'pino';
import type { WatchCache } from '../cache/watch-cache.js';
import type { AdmissionPlugin, ObjectStorage, TokenIssuer } from '../types.js';

export interface ResourceCatalog {
  /** Every served resource (each group/version a resource is served in is its own entry). */
  all(): ResourceInfo[];
  find(group: string, version: string, plural: string): ResourceInfo | undefined;
  strategy(info: ResourceInfo): ResourceStrategy;
}

/** A predicate compiled from a selector string; the parse throws a 400 StatusError on bad syntax. */
export interface Selectors {
  labels(selector: string): (labels: Record<string, string>) => boolean;
  fields(selector: string, info: ResourceInfo): (fields: Record<string, string>) => boolean;
}

export interface TableConvertor {
  columns(info: ResourceInfo): TableColumnDefinition[];
  /** The cells of one row, in the order of columns(). */
  cells(info: ResourceInfo, obj: KubeObject): unknown[];
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

export interface PatchRequest {
  type: PatchType;
  info: ResourceInfo;
  /** undefined when the object does not exist (only apply may create). */
  current: KubeObject | undefined;
  /** The raw body; apply patches are YAML or JSON. */
  body: Buffer;
  fieldManager: string;
  force: boolean;
  subresource: string;
}

export interface Patcher {
  /** The patched object; throws a StatusError (400/409/422) when the patch cannot apply. */
  patch(req: PatchRequest): KubeObject;
}

export interface FieldValidator {
  /** Unknown fields of obj as Kubernetes names them: `.spec.foo`, `.metadata.bar`. */
  unknownFields(info: ResourceInfo, obj: KubeObject): string[];
  /**
   * Unknown and duplicate fields of a raw JSON body (duplicates vanish once parsed), as warnings
   * Kubernetes words them: `unknown field "spec.foo"`, `duplicate field "metadata.name"`.
   */
  jsonIssues?(info: ResourceInfo, rawJson: string): string[];
}

/** Records managedFields for non-apply writes (Update operations). */
export interface ManagedFieldsTracker {
  update(
    info: ResourceInfo,
    obj: KubeObject,
    old: KubeObject | undefined,
    manager: string,
    subresource: string,
  ): void;
}

export interface RestDeps {
  storage: ObjectStorage;
  /** Key prefix in the store, "/registry" by default (--etcd-prefix). */
  etcdPrefix: string;
  catalog: ResourceCatalog;
  selectors: Selectors;
  /** undefined: Kubernetes' default table (Name, Created At). */
  tables: TableConvertor | undefined;
  /** undefined: patch requests answer 415 for the types no module serves. */
  patcher: Patcher | undefined;
  /** undefined: fieldValidation Strict/Warn cannot see unknown fields (every field is accepted). */
  fieldValidator: FieldValidator | undefined;
  managedFields: ManagedFieldsTracker | undefined;
  admission: AdmissionPlugin[];
  tokens: TokenIssuer | undefined;
  logger: Logger;
  /** Called when a watch opens (+1) and closes (-1), for apiserver_registered_watchers. */
  watchers?: (info: ResourceInfo, delta: number) => void;
  /**
   * The lifetime in seconds of a watch that gave no timeoutSeconds, drawn for each watch: a random
   * time in [--min-request-timeout, 2 × that). ApiServer supplies it from its lifecycle options;
   * absent, kube-apiserver's default of 1800 s applies.
   */
  watchTimeoutSeconds?: () => number;
  /** Milliseconds between BOOKMARK events on watches that allow them. */
  bookmarkIntervalMs?: number;
  /** The watch cache (--watch-cache); undefined: every list and watch goes to the store. */
  watchCache?: WatchCache;
}
