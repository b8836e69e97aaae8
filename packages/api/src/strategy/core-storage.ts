// core/v1 PersistentVolumes and PersistentVolumeClaims: defaults (reclaim policy Retain, volume
// mode Filesystem, phase Pending), spec validation and the update rules of
// pkg/apis/core/validation (a PV's source is fixed; a PVC's spec is fixed but for requests and binding).

import type { FieldError, KubeObject } from '../types.js';
import { deepEqual, forbidden, invalid, key, notSupported, required } from '../validation/field.js';
import { nameIsPathSegment } from '../validation/names.js';
import { validateResources } from '../validation/pod.js';
import { QUANTITY_FORMAT_ERROR, quantityValue } from '../validation/quantity.js';
import { coreInfo } from './core-pods.js';
import { defineStrategy, ensureObj, getList, getObj, getStr, type Obj, setDefaultStr } from './generic.js';

const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const RECLAIM_POLICIES = ['Delete', 'Recycle', 'Retain'];
const VOLUME_MODES = ['Block', 'Filesystem'];
/** Fields of a PV spec that are not its volume source. */
const PV_NON_SOURCE = new Set([
  'accessModes',
  'capacity',
  'claimRef',
  'persistentVolumeReclaimPolicy',
  'storageClassName',
  'mountOptions',
  'volumeMode',
  'nodeAffinity',
  'volumeAttributesClassName',
]);

function validateAccessModes(spec: Obj, path: string, missingDetail = ''): FieldError[] {
  const modes = getList(spec, 'accessModes');
  if (modes.length === 0) return [required(path, missingDetail)];
  return modes
    .filter((m) => !ACCESS_MODES.includes(String(m)))
    .map((m) => notSupported(path, m, ACCESS_MODES));
}

function validateVolumeMode(spec: Obj, path: string): FieldError[] {
  const mode = spec.volumeMode;
  return mode === undefined || VOLUME_MODES.includes(String(mode))
    ? []
    : [notSupported(path, mode, VOLUME_MODES)];
}

function validatePVSpec(spec: Obj): FieldError[] {
  const errs = validateAccessModes(spec, 'spec.accessModes');
  const capacity = getObj(spec, 'capacity');
  if (!capacity) errs.push(required('spec.capacity'));
  else if (!('storage' in capacity) || Object.keys(capacity).length > 1) {
    errs.push(notSupported('spec.capacity', capacity, ['storage']));
  } else {
    const q = quantityValue(capacity.storage);
    if (q === undefined)
      errs.push(invalid(key('spec.capacity', 'storage'), capacity.storage, QUANTITY_FORMAT_ERROR));
  }
  const sources = Object.keys(spec).filter((k) => !PV_NON_SOURCE.has(k));
  if (sources.length === 0) errs.push(required('spec', 'must specify a volume type'));
  else if (sources.length > 1)
    errs.push(forbidden(`spec.${sources[1]}`, 'may not specify more than 1 volume type'));
  const policy = spec.persistentVolumeReclaimPolicy;
  if (policy !== undefined && !RECLAIM_POLICIES.includes(String(policy))) {
    errs.push(notSupported('spec.persistentVolumeReclaimPolicy', policy, RECLAIM_POLICIES));
  }
  errs.push(...validateVolumeMode(spec, 'spec.volumeMode'));
  return errs;
}

function validatePVUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const source = (o: KubeObject): Obj => {
    const spec = getObj(o, 'spec') ?? {};
    return Object.fromEntries(Object.entries(spec).filter(([k]) => !PV_NON_SOURCE.has(k)));
  };
  const errs: FieldError[] = [];
  if (!deepEqual(source(obj), source(old))) {
    errs.push(
      forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'),
    );
  }
  const mode = (o: KubeObject): unknown => getObj(o, 'spec')?.volumeMode;
  if (!deepEqual(mode(obj), mode(old)))
    errs.push(invalid('spec.volumeMode', mode(obj), 'field is immutable'));
  return errs;
}

export const persistentVolumeStrategy = defineStrategy({
  info: coreInfo('persistentvolumes'),
  nameValidator: nameIsPathSegment,
  hasStatus: true,
  hasGeneration: false,
  defaults: (obj) => {
    const spec = ensureObj(obj, 'spec');
    setDefaultStr(spec, 'persistentVolumeReclaimPolicy', 'Retain');
    setDefaultStr(spec, 'volumeMode', 'Filesystem');
    setDefaultStr(ensureObj(obj, 'status'), 'phase', 'Pending');
  },
  initialStatus: () => ({ phase: 'Pending' }),
  validate: (obj) => validatePVSpec(getObj(obj, 'spec') ?? {}),
  validateUpdate: validatePVUpdate,
});

function validatePVCSpec(spec: Obj): FieldError[] {
  const errs = validateAccessModes(spec, 'spec.accessModes', 'at least 1 access mode is required');
  const requests = getObj(getObj(spec, 'resources'), 'requests');
  if (!requests || requests.storage === undefined) errs.push(required(key('spec.resources', 'storage')));
  else if ((quantityValue(requests.storage) ?? 0) <= 0) {
    errs.push(invalid(key('spec.resources', 'storage'), requests.storage, 'must be greater than zero'));
  }
  errs.push(...validateResources(spec.resources, 'spec.resources'));
  errs.push(...validateVolumeMode(spec, 'spec.volumeMode'));
  return errs;
}

/** The spec of a claim may change only in resources.requests, and volumeName from "" when binding. */
function validatePVCUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const spec = structuredClone(getObj(obj, 'spec') ?? {});
  const prev = getObj(old, 'spec') ?? {};
  const resources = getObj(spec, 'resources');
  if (resources) resources.requests = structuredClone(getObj(prev, 'resources')?.requests);
  if (getStr(prev, 'volumeName') === '') spec.volumeName = prev.volumeName;
  if (deepEqual(spec, prev)) return [];
  return [forbidden('spec', 'spec is immutable after creation except resources.requests for bound claims')];
}

export const persistentVolumeClaimStrategy = defineStrategy({
  info: coreInfo('persistentvolumeclaims'),
  hasStatus: true,
  hasGeneration: false,
  defaults: (obj) => {
    setDefaultStr(ensureObj(obj, 'spec'), 'volumeMode', 'Filesystem');
    setDefaultStr(ensureObj(obj, 'status'), 'phase', 'Pending');
  },
  initialStatus: () => ({ phase: 'Pending' }),
  validate: (obj) => validatePVCSpec(getObj(obj, 'spec') ?? {}),
  validateUpdate: validatePVCUpdate,
});
