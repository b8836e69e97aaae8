// delete and deletecollection: preconditions, graceful deletion (pods), finalizers (the object stays,
// marked with deletionTimestamp, until an update removes the last finalizer) and propagation policy.
import { badRequest, conflict, type KubeObject, notFound, StatusError } from '@keelson/api';
import { ExtrasConflictError, ModRevisionMismatchError, type Stored } from '../types.js';
import {
  admitMutating,
  admitValidating,
  EXTRAS_ATTEMPTS_MAX,
  extrasOf,
  extrasRetryPause,
  newAdmission,
} from './admission.js';
import { decodeDocument, mediaType, readBody } from './body.js';
import { dryRunOf, intParam, type RestRequest } from './context.js';
import type { RestDeps } from './deps.js';
import {
  asServed,
  deepCopy,
  deletionBlocked,
  isNamespace,
  metaOf,
  nowTimestamp,
  objectKey,
} from './objects.js';
import { filterOf, listBody, listObjects, planList } from './read.js';
import { writeJson } from './respond.js';

const deleteAttemptsMax = 10;
/** deletecollection removes at most this many objects per request; the client repeats for more. */
const collectionItemsMax = 10_000;

interface DeleteOptions {
  gracePeriodSeconds: number | undefined;
  propagationPolicy: 'Orphan' | 'Background' | 'Foreground' | undefined;
  preconditions: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

async function deleteOptionsOf(r: RestRequest): Promise<DeleteOptions> {
  const body = await readBody(r.req);
  const doc = (body.length === 0 ? {} : decodeDocument(body, mediaType(r.req))) as Record<
    string,
    unknown
  > | null;
  return parseDeleteOptions(r, typeof doc === 'object' && doc !== null ? doc : {});
}

function parseDeleteOptions(r: RestRequest, opts: Record<string, unknown>): DeleteOptions {
  const q = r.url.searchParams;
  const grace =
    typeof opts.gracePeriodSeconds === 'number' ? opts.gracePeriodSeconds : intParam(q, 'gracePeriodSeconds');
  const policy = (opts.propagationPolicy as string | undefined) ?? q.get('propagationPolicy') ?? undefined;
  if (policy !== undefined && policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
    throw badRequest(
      `propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`,
    );
  }
  if (opts.orphanDependents !== undefined && policy !== undefined) {
    throw badRequest(
      'propagationPolicy: Invalid value: "": orphanDependents and propagationPolicy cannot be both set',
    );
  }
  const bodyDryRun = Array.isArray(opts.dryRun) && opts.dryRun.includes('All');
  return {
    gracePeriodSeconds: grace,
    propagationPolicy:
      opts.orphanDependents === true ? 'Orphan' : (policy as DeleteOptions['propagationPolicy']),
    preconditions: (opts.preconditions as DeleteOptions['preconditions'] | undefined) ?? {},
    dryRun: dryRunOf(q) || bodyDryRun,
  };
}

export async function handleDelete(deps: RestDeps, r: RestRequest): Promise<void> {
  const opts = await deleteOptionsOf(r);
  const { obj, deleted } = await deleteOne(deps, r, r.path.namespace, r.path.name, opts);
  // Kubernetes answers 200 with the deleted object, or 202 when it only marked it for deletion.
  writeJson(r.res, deleted || opts.dryRun ? 200 : 202, asServed(obj, r.info));
}

async function deleteOne(
  deps: RestDeps,
  r: RestRequest,
  namespace: string,
  name: string,
  opts: DeleteOptions,
): Promise<{ obj: KubeObject; deleted: boolean }> {
  const key = objectKey(deps.etcdPrefix, r.info, namespace, name);
  let conflicts = 0;
  for (let attempt = 0; attempt < EXTRAS_ATTEMPTS_MAX && conflicts < deleteAttemptsMax; attempt++) {
    const current = await deps.storage.get(key);
    if (current === undefined) throw notFound(r.info.plural, r.info.group, name);
    checkPreconditions(r, name, current, opts);
    try {
      return await deleteStored(deps, r, key, current, opts);
    } catch (err) {
      // Lost a race on admission extras (quota status, a released ClusterIP): admit again.
      if (err instanceof ExtrasConflictError) {
        await extrasRetryPause();
        continue;
      }
      if (!(err instanceof ModRevisionMismatchError)) throw err;
      if (err.current === undefined) throw notFound(r.info.plural, r.info.group, name);
      conflicts++;
    }
  }
  throw conflict(r.info.plural, r.info.group, name, 'too many concurrent changes, please retry');
}

function checkPreconditions(r: RestRequest, name: string, current: Stored, opts: DeleteOptions): void {
  const { uid, resourceVersion } = opts.preconditions;
  const meta = current.obj.metadata ?? {};
  if (uid !== undefined && uid !== meta.uid) {
    throw conflict(
      r.info.plural,
      r.info.group,
      name,
      `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${meta.uid ?? ''}`,
    );
  }
  if (resourceVersion !== undefined && resourceVersion !== String(current.modRevision)) {
    throw conflict(
      r.info.plural,
      r.info.group,
      name,
      `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${current.modRevision}`,
    );
  }
}

async function deleteStored(
  deps: RestDeps,
  r: RestRequest,
  key: string,
  current: Stored,
  opts: DeleteOptions,
): Promise<{ obj: KubeObject; deleted: boolean }> {
  const strategy = deps.catalog.strategy(r.info);
  const pending = isNamespace(r.info)
    ? pendingNamespaceDeletion(current.obj)
    : pendingDeletion(current.obj, opts, strategy.defaultGracePeriodSeconds?.(current.obj) ?? 0);
  // A delete that only marks the object (finalizers, a grace period) hands admission the marked
  // object, so plugins that release resources (a service's ClusterIP) know it is not gone yet.
  const run = newAdmission(deps, r, 'DELETE', pending, current.obj, opts.dryRun);
  run.req.name = current.obj.metadata?.name ?? '';
  await admitMutating(deps, run);
  await admitValidating(deps, run);
  if (pending !== undefined) {
    if (opts.dryRun || pending === current.obj) return { obj: pending, deleted: false };
    const stored = await deps.storage.update(key, pending, current.modRevision, extrasOf(run));
    return { obj: stored.obj, deleted: false };
  }
  if (opts.dryRun) return { obj: current.obj, deleted: true };
  const stored = await deps.storage.delete(key, current.modRevision, extrasOf(run));
  return { obj: stored.obj, deleted: true };
}

/**
 * The object marked for deletion when it cannot go at once (finalizers, or a grace period), or
 * undefined when it is deleted now. Returns `obj` itself when it is already marked as asked.
 */
function pendingDeletion(obj: KubeObject, opts: DeleteOptions, defaultGrace: number): KubeObject | undefined {
  const meta = obj.metadata ?? {};
  const finalizers = [...(meta.finalizers ?? [])];
  if (opts.propagationPolicy === 'Orphan' && finalizers.length > 0 && !finalizers.includes('orphan'))
    finalizers.push('orphan');
  if (opts.propagationPolicy === 'Foreground' && !finalizers.includes('foregroundDeletion'))
    finalizers.push('foregroundDeletion');
  const grace =
    opts.gracePeriodSeconds ?? (meta.deletionGracePeriodSeconds as number | undefined) ?? defaultGrace;
  if (finalizers.length === 0 && grace === 0) return undefined;
  const alreadyMarked = meta.deletionTimestamp !== undefined;
  const currentGrace = meta.deletionGracePeriodSeconds as number | undefined;
  if (alreadyMarked && finalizers.length === (meta.finalizers ?? []).length) {
    // A second delete may only shorten the grace period; a zero grace of a finalized object deletes nothing more.
    if (currentGrace === undefined || grace >= currentGrace) return obj;
    if (finalizers.length === 0 && grace === 0) return undefined;
  }
  const marked = deepCopy(obj);
  const m = metaOf(marked);
  const deletionMs = Date.now() + grace * 1000;
  m.deletionTimestamp = `${new Date(deletionMs).toISOString().slice(0, 19)}Z`;
  if (alreadyMarked && finalizers.length > 0 && grace >= (currentGrace ?? 0))
    m.deletionTimestamp = meta.deletionTimestamp;
  m.deletionGracePeriodSeconds = grace;
  if (finalizers.length > 0) m.finalizers = finalizers;
  return marked;
}

/** A delete with DeleteOptions given as an object (pods/eviction's deleteOptions). */
export async function deleteWithOptions(
  deps: RestDeps,
  r: RestRequest,
  namespace: string,
  name: string,
  options: Record<string, unknown>,
): Promise<KubeObject> {
  return (await deleteOne(deps, r, namespace, name, parseDeleteOptions(r, options))).obj;
}

/**
 * A namespace with spec.finalizers is not deleted but marked Terminating, as the namespace REST
 * storage does; the namespace controller empties it and removes the finalizer through
 * namespaces/<name>/finalize, and that update deletes it.
 */
function pendingNamespaceDeletion(ns: KubeObject): KubeObject | undefined {
  const nsInfo = { group: '', plural: 'namespaces' } as Parameters<typeof deletionBlocked>[0];
  if (!deletionBlocked(nsInfo, ns)) return undefined;
  if (ns.metadata?.deletionTimestamp !== undefined) return ns;
  const marked = deepCopy(ns);
  const m = metaOf(marked);
  m.deletionTimestamp = nowTimestamp();
  m.deletionGracePeriodSeconds = 0;
  marked.status = { ...((marked.status as object | undefined) ?? {}), phase: 'Terminating' };
  return marked;
}

export async function handleDeleteCollection(deps: RestDeps, r: RestRequest): Promise<void> {
  const opts = await deleteOptionsOf(r);
  const plan = planList(r.url.searchParams);
  plan.limit = plan.limit === 0 ? collectionItemsMax : Math.min(plan.limit, collectionItemsMax);
  const listed = await listObjects(deps, r.info, r.path.namespace, plan, filterOf(deps, r));
  const deleted: KubeObject[] = [];
  for (const s of listed.items) {
    const meta = s.obj.metadata ?? {};
    try {
      const res = await deleteOne(deps, r, meta.namespace ?? '', meta.name ?? '', opts);
      deleted.push(asServed(res.obj, r.info));
    } catch (err) {
      // An object deleted by someone else meanwhile is what we wanted anyway.
      if (!(err instanceof StatusError && err.code === 404)) throw err;
    }
  }
  writeJson(r.res, 200, listBody(r.info, deleted, { resourceVersion: String(listed.revision) }));
}
