// NamespaceLifecycle (plugin/pkg/admission/namespace/lifecycle): no content in a namespace that does
// not exist, no new content in one that is being terminated, and the system namespaces may never be
// deleted. Kubernetes answers from an informer and falls back to a live read on a miss; here a small
// TTL cache of namespaces seen Active plays the informer, and every miss reads the store, so a create
// right after the namespace's own create always succeeds, on any apiserver.

import { notFound, type StatusError } from '@keelson/api';
import type { AdmissionContext, AdmissionPlugin, AdmissionRequest } from '../types.js';
import { admissionForbidden, forbiddenFor } from './errors.js';

export const NAMESPACE_LIFECYCLE = 'NamespaceLifecycle';

/** metav1.NamespaceDefault, NamespaceSystem, NamespacePublic: the immortal namespaces. */
export const IMMORTAL_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-public'];

/** Resources that live in a namespace but are only questions, never stored content. */
const accessReviewResources = new Set(['localsubjectaccessreviews.authorization.k8s.io']);

export interface NamespaceLifecycleOptions {
  /** --etcd-prefix: where objects live in the store ("/registry"). */
  etcdPrefix?: string;
  /** How long a namespace seen Active is trusted without a read (Kubernetes' informer lag). */
  cacheTtlMs?: number;
  /** Bound on cached namespaces; the oldest entry is dropped beyond it. */
  cacheEntriesMax?: number;
  nowMs?: () => number;
}

interface CacheEntry {
  seenAtMs: number;
}

export function namespaceLifecycle(opts: NamespaceLifecycleOptions = {}): AdmissionPlugin {
  const cacheTtlMs = opts.cacheTtlMs ?? 1_000;
  const cacheEntriesMax = opts.cacheEntriesMax ?? 4_096;
  const nowMs = opts.nowMs ?? Date.now;
  const etcdPrefix = opts.etcdPrefix ?? '/registry';
  // Invariant: only namespaces last read as existing and not Terminating are cached; anything else
  // is read live, so the cache can only delay noticing a deletion, never refuse a valid create.
  const activeSeen = new Map<string, CacheEntry>();

  function remember(name: string): void {
    activeSeen.delete(name);
    activeSeen.set(name, { seenAtMs: nowMs() });
    if (activeSeen.size > cacheEntriesMax) {
      const oldest = activeSeen.keys().next().value;
      if (oldest !== undefined) activeSeen.delete(oldest);
    }
  }

  function cachedActive(name: string): boolean {
    const entry = activeSeen.get(name);
    if (entry === undefined) return false;
    if (nowMs() - entry.seenAtMs <= cacheTtlMs) return true;
    activeSeen.delete(name);
    return false;
  }

  async function admit(req: AdmissionRequest, ctx: AdmissionContext): Promise<void> {
    if (isNamespaceResource(req)) {
      if (req.operation === 'DELETE') {
        refuseImmortalDeletion(req);
        // Like Kubernetes' "recently deleted" set: stop trusting the cache for this namespace.
        activeSeen.delete(req.name);
      }
      return;
    }
    if (req.namespace === '' || req.operation === 'CONNECT' || isAccessReview(req)) return;
    // Kubernetes trusts its informer for every operation but a create into a namespace it
    // believes is terminating; a cached Active namespace is enough here too.
    if (cachedActive(req.namespace)) return;
    const stored = await ctx.storage.get(`${etcdPrefix}/namespaces/${req.namespace}`);
    if (stored === undefined) throw notFound('namespaces', '', req.namespace);
    const terminating = namespacePhase(stored.obj) === 'Terminating';
    if (!terminating) {
      remember(req.namespace);
      return;
    }
    if (req.operation === 'CREATE') throw terminatingError(req);
  }

  return { name: NAMESPACE_LIFECYCLE, admit };
}

function isNamespaceResource(req: AdmissionRequest): boolean {
  return req.info.group === '' && req.info.plural === 'namespaces';
}

function isAccessReview(req: AdmissionRequest): boolean {
  return accessReviewResources.has(`${req.info.plural}.${req.info.group}`);
}

function refuseImmortalDeletion(req: AdmissionRequest): void {
  if (!IMMORTAL_NAMESPACES.includes(req.name)) return;
  throw forbiddenFor('namespaces', '', req.name, 'this namespace may not be deleted');
}

function namespacePhase(obj: { [field: string]: unknown }): unknown {
  const status = obj.status;
  if (status === null || typeof status !== 'object') return undefined;
  return (status as Record<string, unknown>).phase;
}

function terminatingError(req: AdmissionRequest): StatusError {
  return admissionForbidden(
    req,
    `unable to create new content in namespace ${req.namespace} because it is being terminated`,
    [
      {
        reason: 'NamespaceTerminating',
        message: `namespace ${req.namespace} is being terminated`,
        field: 'metadata.namespace',
      },
    ],
  );
}
