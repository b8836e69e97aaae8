// core/v1 Pods: defaults (SetDefaults_Pod), the initial status (phase Pending, qosClass), the
// update rule that leaves a pod's spec immutable but for images, activeDeadlineSeconds and added
// tolerations, field selectors and graceful deletion (pkg/registry/core/pod/strategy.go).

import { findResource } from '../registry.js';
import type { FieldError, KubeObject, ResourceInfo } from '../types.js';
import { deepEqual, forbidden, invalid } from '../validation/field.js';
import {
  DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
  defaultPod,
  podQOSClass,
  syncServiceAccount,
  validatePodSpec,
} from '../validation/pod.js';
import {
  defineStrategy,
  getList,
  getObj,
  getStr,
  isObj,
  type Obj,
  StrategyAssertionError,
} from './generic.js';

export function coreInfo(plural: string): ResourceInfo {
  const found = findResource('', 'v1', plural);
  if (found === undefined) throw new StrategyAssertionError(`core/v1 ${plural} is not in the registry`);
  return found;
}

const UPDATABLE_POD_SPEC_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];
const INT32_MAX = 2147483647;

/** The spec as it would be if only the updatable fields had changed (ValidatePodUpdate's munging). */
function mungePodSpec(spec: Obj, old: Obj): Obj {
  const munged = structuredClone(spec);
  for (const key of ['containers', 'initContainers']) {
    const oldList = getList(old, key);
    const newList = getList(munged, key);
    if (oldList.length !== newList.length) continue;
    newList.forEach((c, i) => {
      if (isObj(c)) c.image = getStr(oldList[i], 'image');
    });
  }
  if (old.activeDeadlineSeconds === undefined) delete munged.activeDeadlineSeconds;
  else munged.activeDeadlineSeconds = old.activeDeadlineSeconds;
  const oldTolerations = getList(old, 'tolerations');
  const newTolerations = getList(munged, 'tolerations');
  if (oldTolerations.every((t) => newTolerations.some((n) => deepEqual(n, t)))) {
    munged.tolerations = structuredClone(old.tolerations);
    if (old.tolerations === undefined) delete munged.tolerations;
  }
  const oldGrace = old.terminationGracePeriodSeconds;
  if (typeof oldGrace === 'number' && oldGrace < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = oldGrace;
  }
  return munged;
}

/** Top-level spec fields that differ, standing in for Kubernetes' cmp.Diff in the message. */
function specDiff(a: Obj, b: Obj): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const changed = keys.filter((k) => !deepEqual(a[k], b[k]));
  return changed
    .map((k) => `  core.PodSpec{${k}: ${JSON.stringify(b[k]) ?? 'nil'} -> ${JSON.stringify(a[k]) ?? 'nil'}}`)
    .join('\n');
}

function validateActiveDeadlineUpdate(spec: Obj, old: Obj): FieldError[] {
  const path = 'spec.activeDeadlineSeconds';
  const next = spec.activeDeadlineSeconds;
  const prev = old.activeDeadlineSeconds;
  if (typeof next === 'number') {
    if (next < 0 || next > INT32_MAX)
      return [invalid(path, next, `must be between 0 and ${INT32_MAX}, inclusive`)];
    if (typeof prev === 'number' && prev < next)
      return [invalid(path, next, 'must be less than or equal to previous value')];
    return [];
  }
  return prev !== undefined
    ? [invalid(path, null, 'must not update from a positive integer to nil value')]
    : [];
}

export function validatePodUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const spec = getObj(obj, 'spec') ?? {};
  const prev = getObj(old, 'spec') ?? {};
  const errs = validateActiveDeadlineUpdate(spec, prev);
  if (errs.length > 0) return errs;
  const munged = mungePodSpec(spec, prev);
  if (!deepEqual(munged, prev)) {
    errs.push(
      forbidden(
        'spec',
        `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(',')}\n${specDiff(munged, prev)}`,
      ),
    );
  }
  return errs;
}

/** CheckGracefulDelete: unscheduled and terminated pods go at once. */
function podGracePeriodSeconds(obj: KubeObject): number {
  const spec = getObj(obj, 'spec') ?? {};
  const phase = getStr(obj.status, 'phase');
  if (getStr(spec, 'nodeName') === '' || phase === 'Failed' || phase === 'Succeeded') return 0;
  const grace = spec.terminationGracePeriodSeconds;
  if (typeof grace !== 'number') return DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS;
  // A negative period is treated as 1 second, as the kubelet does.
  return grace < 0 ? 1 : grace;
}

function podFields(obj: KubeObject): Record<string, string> {
  const spec = getObj(obj, 'spec');
  const status = getObj(obj, 'status');
  const podIPs = getList(status, 'podIPs');
  return {
    'spec.nodeName': getStr(spec, 'nodeName'),
    'spec.restartPolicy': getStr(spec, 'restartPolicy'),
    'spec.schedulerName': getStr(spec, 'schedulerName'),
    'spec.serviceAccountName': getStr(spec, 'serviceAccountName'),
    'spec.hostNetwork': String(spec?.hostNetwork === true),
    'status.phase': getStr(status, 'phase'),
    'status.podIP': getStr(podIPs[0], 'ip') || getStr(status, 'podIP'),
    'status.nominatedNodeName': getStr(status, 'nominatedNodeName'),
  };
}

function syncPodServiceAccount(obj: KubeObject): void {
  const spec = getObj(obj, 'spec');
  if (spec) syncServiceAccount(spec);
}

export const podStrategy = defineStrategy({
  info: coreInfo('pods'),
  hasStatus: true,
  hasGeneration: false,
  defaults: (obj) => defaultPod(obj),
  initialStatus: (obj) => ({ phase: 'Pending', qosClass: podQOSClass(obj.spec) }),
  // Admission (ServiceAccount) names the account after the defaults ran.
  prepareForCreate: (obj) => syncPodServiceAccount(obj),
  prepareForUpdate: (obj) => syncPodServiceAccount(obj),
  // Old kubelets corrupted ownerReferences through pods/status, so Kubernetes ignores them there.
  statusResetMetadata: ['ownerReferences'],
  validate: (obj) => validatePodSpec(obj.spec, 'spec'),
  validateUpdate: validatePodUpdate,
  fields: podFields,
  gracePeriod: podGracePeriodSeconds,
});
