// The seams inside the apiserver: the object storage over the etcd v3 API, authentication,
// authorisation and admission. The REST layer (rest/) composes them; tests swap in fakes.

import type { IncomingMessage } from 'node:http';
import type { KubeObject, ResourceInfo } from '@keelson/api';

// ---------------------------------------------------------------------------------------------
// Storage: objects as JSON under /registry/<storageResource>/<namespace>/<name> (cluster-scoped:
// /registry/<storageResource>/<name>). Every write is one etcd txn guarded by a mod_revision compare.

/** A stored object with the store revision that last modified it (its resourceVersion). */
export interface Stored {
  obj: KubeObject;
  modRevision: number;
}

/**
 * Extra compares and writes that must commit atomically with an object write, e.g. the quota
 * usage charge of ResourceQuota admission. If an extra compare fails the write fails with
 * `ExtrasConflictError` and the caller re-runs admission (bounded retries).
 */
export interface TxnExtras {
  /** key → the mod_revision it must still have (0: must not exist). */
  compares: { key: string; modRevision: number }[];
  puts: { key: string; value: string }[];
}

export class ExtrasConflictError extends Error {
  constructor() {
    super('a compare of the admission extras failed');
    this.name = 'ExtrasConflictError';
  }
}

export interface ListOptions {
  /** 0: no limit. */
  limit: number;
  /** The opaque continue token from a previous page. */
  continueToken?: string;
  /** Read at this store revision (resourceVersion + resourceVersionMatch=Exact, or a continue). 0: latest. */
  revision?: number;
}

export interface ListResult {
  items: Stored[];
  /** The store revision the list was read at: the list's resourceVersion. */
  revision: number;
  /** Set when more items remain. */
  continueToken?: string;
  /** Items left after this page, when known (metadata.remainingItemCount). */
  remainingItemCount?: number;
}

export interface StorageWatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  /** For DELETED: the last state before deletion, with the deletion revision as resourceVersion. */
  obj: KubeObject;
  revision: number;
  /** For MODIFIED: the state before this change, when the store sent it (selectors need it). */
  prevObj?: KubeObject;
}

export interface StorageWatch {
  cancel(): void;
  /** Asks for a progress notification as soon as possible, where the store supports it. */
  requestProgress?(): void;
}

export interface StorageWatchSink {
  events(events: StorageWatchEvent[]): void;
  /** A progress notification: everything up to `revision` has been delivered. */
  progress(revision: number): void;
  /** The watch ended: compacted (410 for the client), store gone, or cancelled. */
  closed(err: Error | undefined): void;
}

/** Object storage over any etcd v3 endpoint (Keelson's store or etcd 3.4). */
export interface ObjectStorage {
  get(key: string): Promise<Stored | undefined>;
  list(prefix: string, opts: ListOptions): Promise<ListResult>;
  /** Fails with AlreadyExists (a StatusError needs the resource: callers map `KeyExistsError`). */
  create(key: string, obj: KubeObject, extras?: TxnExtras): Promise<Stored>;
  /** Writes only if the key still has `expectedModRevision`; else `ModRevisionMismatchError` carrying the current state. */
  update(key: string, obj: KubeObject, expectedModRevision: number, extras?: TxnExtras): Promise<Stored>;
  delete(key: string, expectedModRevision: number, extras?: TxnExtras): Promise<Stored>;
  /** Events after `fromRevision` (exclusive) under `prefix`; a compacted revision closes with `CompactedError`. */
  watch(prefix: string, fromRevision: number, sink: StorageWatchSink): StorageWatch;
  /** The store's current revision, read linearizably. */
  currentRevision(): Promise<number>;
  /** Lowest revision still readable (for 410 decisions), if known. */
  compactRevision(): number;
  /** Whether the store answers (used by /readyz). */
  ping(): Promise<boolean>;
  close(): void;
}

export class KeyExistsError extends Error {
  constructor(readonly key: string) {
    super(`key ${key} already exists`);
    this.name = 'KeyExistsError';
  }
}

export class KeyNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`key ${key} not found`);
    this.name = 'KeyNotFoundError';
  }
}

export class ModRevisionMismatchError extends Error {
  constructor(
    readonly key: string,
    readonly current: Stored | undefined,
  ) {
    super(`key ${key} was modified`);
    this.name = 'ModRevisionMismatchError';
  }
}

export class CompactedError extends Error {
  constructor(
    readonly revision: number,
    readonly compactRevision: number,
  ) {
    super(`required revision ${revision} has been compacted (compact revision ${compactRevision})`);
    this.name = 'CompactedError';
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication and authorisation.

/** user.Info. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export const ANONYMOUS: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'] };

export interface Authenticator {
  /**
   * The user the request proves to be; undefined when it carries no credentials (anonymous,
   * subject to --anonymous-auth). Throws `unauthorized()` for credentials that are present but bad.
   */
  authenticate(req: IncomingMessage): Promise<UserInfo | undefined>;
}

/** authorizer.Attributes. */
export interface RequestAttributes {
  user: UserInfo;
  /** Kubernetes verbs: get list watch create update patch delete deletecollection; for non-resource URLs the HTTP verb lowercased. */
  verb: string;
  resourceRequest: boolean;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** For non-resource requests: the URL path. */
  path: string;
}

export interface Decision {
  allowed: boolean;
  /** Why not, for the 403 message's trailing reason (empty for plain RBAC denials). */
  reason: string;
}

export interface Authorizer {
  authorize(attrs: RequestAttributes): Promise<Decision>;
}

/** Signs and verifies service-account JWTs (TokenRequest and the ServiceAccount admission). */
export interface TokenIssuer {
  issue(
    sa: { namespace: string; name: string; uid: string },
    opts: {
      audiences: string[];
      expirationSeconds: number;
      boundObject?: { kind: string; name: string; uid: string; apiVersion: string };
    },
  ): Promise<{ token: string; expirationTimestamp: string }>;
}

// ---------------------------------------------------------------------------------------------
// Admission.

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** admission.Attributes. `object` is what will be written (mutators change it in place). */
export interface AdmissionRequest {
  operation: Operation;
  info: ResourceInfo;
  subresource: string;
  namespace: string;
  name: string;
  object: KubeObject | undefined;
  oldObject: KubeObject | undefined;
  user: UserInfo;
  dryRun: boolean;
}

/** What admission plugins may use: the storage (to read quotas, namespaces…) and the write's txn extras. */
export interface AdmissionContext {
  storage: ObjectStorage;
  /** Compares and puts to commit with this write (ResourceQuota's usage charge). */
  extras: TxnExtras;
  /** Service-account tokens, for plugins that need them. */
  tokens: TokenIssuer | undefined;
}

export interface AdmissionPlugin {
  name: string;
  /** Mutating phase: may change `req.object`. Throws a StatusError to refuse. */
  admit?(req: AdmissionRequest, ctx: AdmissionContext): Promise<void>;
  /** Validating phase, after all mutations. Throws a StatusError to refuse. */
  validate?(req: AdmissionRequest, ctx: AdmissionContext): Promise<void>;
}
