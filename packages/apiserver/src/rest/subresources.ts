// The special subresources: pods/binding (the scheduler's write), pods/eviction (a delete that honours
// PodDisruptionBudgets) and serviceaccounts/token (TokenRequest). Each is a POST of its own kind.
import { badRequest, conflict, type KubeObject, notFound, StatusError } from '@keelson/api';
import { ModRevisionMismatchError, type Stored } from '../types.js';
import { decodeObject, mediaType, readBody } from './body.js';
import { dryRunOf, type RestRequest } from './context.js';
import { deleteWithOptions } from './delete.js';
import type { RestDeps } from './deps.js';
import { deepCopy, keyPrefix, metaOf, nowTimestamp, objectKey } from './objects.js';
import { successStatus, writeJson } from './respond.js';
import { updateObject } from './write.js';

const attemptsMax = 10;
const tokenExpirationSecondsDefault = 3600;

async function mustGet(deps: RestDeps, r: RestRequest): Promise<{ key: string; stored: Stored }> {
  const key = objectKey(deps.etcdPrefix, r.info, r.path.namespace, r.path.name);
  const stored = await deps.storage.get(key);
  if (stored === undefined) throw notFound(r.info.plural, r.info.group, r.path.name);
  return { key, stored };
}

export async function handleSubresourceCreate(deps: RestDeps, r: RestRequest): Promise<void> {
  if (r.verb !== 'create')
    throw new StatusError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    );
  const body = decodeObject(await readBody(r.req), mediaType(r.req));
  if (r.info.plural === 'pods' && r.path.subresource === 'binding') return bind(deps, r, body);
  if (r.info.plural === 'pods' && r.path.subresource === 'eviction') return evict(deps, r, body);
  if (r.info.plural === 'serviceaccounts' && r.path.subresource === 'token')
    return requestToken(deps, r, body);
  throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
}

/** registry/core/pod/storage BindingREST: sets spec.nodeName once, and the PodScheduled condition. */
async function bind(deps: RestDeps, r: RestRequest, binding: KubeObject): Promise<void> {
  const target = binding.target as { kind?: string; name?: string } | undefined;
  if (target?.name === undefined || target.name === '')
    throw badRequest('Binding.target.name: Required value');
  if (target.kind !== undefined && target.kind !== '' && target.kind !== 'Node')
    throw badRequest('Binding.target.kind: Unsupported value: must be Node');
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const { key, stored } = await mustGet(deps, r);
    const pod = deepCopy(stored.obj);
    const spec = (pod.spec ?? {}) as { nodeName?: string };
    const meta = metaOf(pod);
    if (meta.deletionTimestamp !== undefined)
      throw conflict('pods/binding', '', r.path.name, 'pod is being deleted, cannot be assigned to a host');
    if (spec.nodeName !== undefined && spec.nodeName !== '') {
      throw conflict(
        'pods/binding',
        '',
        r.path.name,
        `pod ${r.path.name} is already assigned to node "${spec.nodeName}"`,
      );
    }
    spec.nodeName = target.name;
    pod.spec = spec;
    const annotations = binding.metadata?.annotations;
    if (annotations !== undefined) meta.annotations = { ...(meta.annotations ?? {}), ...annotations };
    const status = (pod.status ?? {}) as { conditions?: Record<string, unknown>[] };
    const conditions = (status.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
    conditions.push({
      type: 'PodScheduled',
      status: 'True',
      lastProbeTime: null,
      lastTransitionTime: nowTimestamp(),
    });
    pod.status = { ...status, conditions };
    if (dryRunOf(r.url.searchParams)) return writeJson(r.res, 201, successStatus(undefined, 201));
    try {
      await deps.storage.update(key, pod, stored.modRevision);
      return writeJson(r.res, 201, successStatus(undefined, 201));
    } catch (err) {
      if (!(err instanceof ModRevisionMismatchError)) throw err;
    }
  }
  throw conflict('pods/binding', '', r.path.name, 'too many concurrent changes, please retry');
}

function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  const s = (selector ?? {}) as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  for (const [k, v] of Object.entries(s.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions ?? []) {
    const has = e.key in labels;
    const value = labels[e.key];
    const inValues = value !== undefined && (e.values ?? []).includes(value);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return (
    (s.matchLabels !== undefined && Object.keys(s.matchLabels).length > 0) ||
    (s.matchExpressions ?? []).length > 0
  );
}

/** registry/core/pod/storage EvictionREST: charge one disruption to the pod's PDB, then delete the pod. */
async function evict(deps: RestDeps, r: RestRequest, eviction: KubeObject): Promise<void> {
  const { stored } = await mustGet(deps, r);
  const pod = stored.obj;
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  // Pods that are not running (or already going) cannot disrupt anything: no budget is charged.
  const ignoresBudget =
    phase === 'Succeeded' ||
    phase === 'Failed' ||
    phase === 'Pending' ||
    pod.metadata?.deletionTimestamp !== undefined;
  const dryRun = dryRunOf(r.url.searchParams);
  if (!ignoresBudget) await chargeBudget(deps, r, pod, dryRun);
  const opts = (eviction.deleteOptions ?? {}) as Record<string, unknown>;
  if (!dryRun) await deleteWithOptions(deps, { ...r, info: r.info }, r.path.namespace, r.path.name, opts);
  writeJson(r.res, 201, successStatus(undefined, 201));
}

async function chargeBudget(deps: RestDeps, r: RestRequest, pod: KubeObject, dryRun: boolean): Promise<void> {
  const pdbInfo = deps.catalog.find('policy', 'v1', 'poddisruptionbudgets');
  if (pdbInfo === undefined) return;
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const list = await deps.storage.list(keyPrefix(deps.etcdPrefix, pdbInfo, r.path.namespace), { limit: 0 });
    const labels = pod.metadata?.labels ?? {};
    const matching = list.items.filter((s) =>
      selectorMatches((s.obj.spec as { selector?: unknown } | undefined)?.selector, labels),
    );
    if (matching.length === 0) return;
    if (matching.length > 1)
      throw new StatusError(
        500,
        'InternalError',
        'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      );
    const pdb = matching[0] as Stored;
    const status = (pdb.obj.status ?? {}) as {
      disruptionsAllowed?: number;
      disruptedPods?: Record<string, string>;
      currentHealthy?: number;
      desiredHealthy?: number;
    };
    if ((status.disruptionsAllowed ?? 0) <= 0) {
      const name = pdb.obj.metadata?.name ?? '';
      throw new StatusError(
        429,
        'TooManyRequests',
        "Cannot evict pod as it would violate the pod's disruption budget.",
        {
          causes: [
            {
              reason: 'DisruptionBudget',
              message: `The disruption budget ${name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently`,
            },
          ],
        },
      );
    }
    if (dryRun) return;
    const next = deepCopy(pdb.obj);
    next.status = {
      ...status,
      disruptionsAllowed: (status.disruptionsAllowed ?? 0) - 1,
      disruptedPods: { ...(status.disruptedPods ?? {}), [r.path.name]: nowTimestamp() },
    };
    try {
      await deps.storage.update(
        objectKey(deps.etcdPrefix, pdbInfo, r.path.namespace, pdb.obj.metadata?.name ?? ''),
        next,
        pdb.modRevision,
      );
      return;
    } catch (err) {
      if (!(err instanceof ModRevisionMismatchError)) throw err;
    }
  }
  throw new StatusError(429, 'TooManyRequests', 'too many concurrent evictions, please retry', {
    retryAfterSeconds: 1,
  });
}

/** TokenRequest: a bound service-account token signed by the apiserver. */
async function requestToken(deps: RestDeps, r: RestRequest, request: KubeObject): Promise<void> {
  if (deps.tokens === undefined)
    throw new StatusError(
      404,
      'NotFound',
      'the server could not find the requested resource (token issuing is not configured)',
    );
  const { stored } = await mustGet(deps, r);
  const spec = (request.spec ?? {}) as {
    audiences?: string[];
    expirationSeconds?: number;
    boundObjectRef?: { kind: string; name: string; uid?: string; apiVersion?: string };
  };
  const bound = spec.boundObjectRef;
  const issued = await deps.tokens.issue(
    { namespace: r.path.namespace, name: r.path.name, uid: stored.obj.metadata?.uid ?? '' },
    {
      audiences: spec.audiences ?? [],
      expirationSeconds: spec.expirationSeconds ?? tokenExpirationSecondsDefault,
      boundObject:
        bound === undefined
          ? undefined
          : {
              kind: bound.kind,
              name: bound.name,
              uid: bound.uid ?? '',
              apiVersion: bound.apiVersion ?? 'v1',
            },
    },
  );
  writeJson(r.res, 201, {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name: r.path.name, namespace: r.path.namespace, creationTimestamp: null },
    spec: { ...spec, expirationSeconds: spec.expirationSeconds ?? tokenExpirationSecondsDefault },
    status: issued,
  });
}

/** PUT namespaces/<name>/finalize: only spec.finalizers changes (the namespace controller's last step). */
export async function handleNamespaceFinalize(deps: RestDeps, r: RestRequest): Promise<void> {
  const body = decodeObject(await readBody(r.req), mediaType(r.req));
  const finalizers = (body.spec as { finalizers?: unknown } | undefined)?.finalizers;
  if (
    finalizers !== undefined &&
    (!Array.isArray(finalizers) || finalizers.some((f) => typeof f !== 'string'))
  ) {
    throw badRequest('spec.finalizers must be a list of strings');
  }
  const opts = {
    dryRun: dryRunOf(r.url.searchParams),
    fieldValidation: 'Ignore' as const,
    fieldManager: 'finalize',
    warnings: [] as string[],
  };
  const result = await updateObject(deps, r, opts, (current) => {
    if (current === undefined) throw notFound('namespaces', '', r.path.name);
    const next = deepCopy(current.obj);
    next.spec = {
      ...((next.spec as object | undefined) ?? {}),
      finalizers: (finalizers as string[] | undefined) ?? [],
    };
    const rv = body.metadata?.resourceVersion;
    if (next.metadata !== undefined) {
      if (rv !== undefined && rv !== '') next.metadata.resourceVersion = rv;
      else delete next.metadata.resourceVersion;
    }
    return next;
  });
  writeJson(r.res, 200, result.stored.obj);
}
