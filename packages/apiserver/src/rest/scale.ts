// The scale subresource (autoscaling/v1 Scale) of deployments, replicasets, statefulsets and
// replicationcontrollers: reads and writes spec.replicas of the parent object.
import { applyScale, badRequest, invalid, type KubeObject, scaleOf, validateScale } from '@keelson/api';
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

export async function handleScale(deps: RestDeps, r: RestRequest): Promise<void> {
  if (r.verb === 'get') {
    writeJson(r.res, 200, scaleOf((await getObject(deps, r)).obj, r.info.kind));
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
    const currentScale = scaleOf(current.obj, r.info.kind);
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
    const errs = validateScale(scale);
    if (errs.length > 0) throw invalid('Scale', 'autoscaling', r.path.name, errs);
    const replicas = (scale.spec as { replicas?: number } | undefined)?.replicas ?? 0;
    const next = applyScale(deepCopy(current.obj), replicas, r.info.kind);
    const rv = scale.metadata?.resourceVersion;
    if (next.metadata !== undefined) {
      if (rv !== undefined && rv !== '') next.metadata.resourceVersion = rv;
      else delete next.metadata.resourceVersion;
    }
    return next;
  });
  writeJson(r.res, 200, scaleOf(result.stored.obj, r.info.kind));
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
