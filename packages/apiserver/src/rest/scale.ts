// The scale subresource (autoscaling/v1 Scale) of deployments, replicasets, statefulsets and
// replicationcontrollers: reads and writes spec.replicas of the parent object.
import { badRequest, type KubeObject } from '@keelson/api';
import { decodeObject, mediaType, readBody } from './body.js';
import {
  dryRunOf,
  type FieldValidation,
  fieldManagerOf,
  fieldValidationOf,
  type RestRequest,
} from './context.js';
import type { PatchType, RestDeps } from './deps.js';
import { deepCopy } from './objects.js';
import { getObject } from './read.js';
import { writeJson } from './respond.js';
import { updateObject } from './write.js';

/** A LabelSelector (matchLabels/matchExpressions) or an RC's plain map, as the selector string Scale reports. */
export function selectorString(selector: unknown): string {
  if (typeof selector !== 'object' || selector === null) return '';
  const s = selector as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const isLabelSelector = 'matchLabels' in s || 'matchExpressions' in s;
  const labels = isLabelSelector ? (s.matchLabels ?? {}) : (selector as Record<string, string>);
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`);
  for (const e of (isLabelSelector ? s.matchExpressions : undefined) ?? []) {
    const values = [...(e.values ?? [])].sort().join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.sort().join(',');
}

export function scaleOf(obj: KubeObject): KubeObject {
  const spec = (obj.spec ?? {}) as { replicas?: number; selector?: unknown };
  const status = (obj.status ?? {}) as { replicas?: number };
  const meta = obj.metadata ?? {};
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
      creationTimestamp: meta.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: selectorString(spec.selector) },
  };
}

export async function handleScale(deps: RestDeps, r: RestRequest): Promise<void> {
  if (r.verb === 'get') {
    writeJson(r.res, 200, scaleOf((await getObject(deps, r)).obj));
    return;
  }
  const q = r.url.searchParams;
  const opts = {
    dryRun: dryRunOf(q),
    fieldValidation: fieldValidationOf(q) as FieldValidation,
    fieldManager: fieldManagerOf(q, r.req, false),
    warnings: [] as string[],
  };
  const body = await readBody(r.req);
  const patchType = patchTypeOf(mediaType(r.req));
  const result = await updateObject(deps, r, opts, (current) => {
    if (current === undefined) throw badRequest('not found');
    const currentScale = scaleOf(current.obj);
    let scale: KubeObject;
    if (r.verb === 'patch') {
      if (deps.patcher === undefined || patchType === undefined) throw badRequest('unsupported patch type');
      scale = deps.patcher.patch({
        type: patchType,
        info: { ...r.info, kind: 'Scale', group: 'autoscaling', version: 'v1' },
        current: currentScale,
        body,
        fieldManager: opts.fieldManager,
        force: q.get('force') === 'true',
        subresource: 'scale',
      });
    } else scale = decodeObject(body, mediaType(r.req));
    const replicas = (scale.spec as { replicas?: unknown } | undefined)?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw badRequest(
        `Scale.autoscaling "${r.path.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
      );
    }
    const next = deepCopy(current.obj);
    next.spec = { ...((next.spec as object | undefined) ?? {}), replicas };
    const rv = scale.metadata?.resourceVersion;
    if (next.metadata !== undefined) {
      if (rv !== undefined && rv !== '') next.metadata.resourceVersion = rv;
      else delete next.metadata.resourceVersion;
    }
    return next;
  });
  writeJson(r.res, 200, scaleOf(result.stored.obj));
}

function patchTypeOf(type: string): PatchType | undefined {
  const types: Record<string, PatchType> = {
    'application/merge-patch+json': 'merge',
    'application/json-patch+json': 'json',
    'application/strategic-merge-patch+json': 'strategic',
    'application/apply-patch+yaml': 'apply',
  };
  return types[type];
}
