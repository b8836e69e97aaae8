// storage.k8s.io/v1 StorageClasses: reclaimPolicy Delete and volumeBindingMode Immediate by
// default (pkg/apis/storage/v1/defaults.go); provisioner, parameters, reclaimPolicy and
// volumeBindingMode are fixed once created (pkg/apis/storage/validation).

import { findResource } from '../registry.js';
import type { FieldError, KubeObject, ResourceInfo } from '../types.js';
import {
  deepEqual,
  forbidden,
  immutable,
  invalid,
  notSupported,
  required,
  tooLong,
} from '../validation/field.js';
import { isQualifiedName } from '../validation/names.js';
import { defineStrategy, isObj, StrategyAssertionError, setDefaultStr } from './generic.js';

function info(plural: string): ResourceInfo {
  const found = findResource('storage.k8s.io', 'v1', plural);
  if (found === undefined)
    throw new StrategyAssertionError(`storage.k8s.io/v1 ${plural} is not in the registry`);
  return found;
}

const PARAMETERS_COUNT_MAX = 512;
const PARAMETERS_SIZE_BYTES_MAX = 256 * 1024;
const RECLAIM_POLICIES = ['Delete', 'Retain'];
const BINDING_MODES = ['Immediate', 'WaitForFirstConsumer'];

export function defaultStorageClass(obj: KubeObject): void {
  setDefaultStr(obj, 'reclaimPolicy', 'Delete');
  setDefaultStr(obj, 'volumeBindingMode', 'Immediate');
}

function validateParameters(params: unknown): FieldError[] {
  if (!isObj(params)) return [];
  const entries = Object.entries(params);
  if (entries.length > PARAMETERS_COUNT_MAX) {
    return [tooLong('parameters', 'Provisioner Parameters exceeded max allowed', PARAMETERS_COUNT_MAX)];
  }
  const errs: FieldError[] = [];
  let sizeBytes = 0;
  for (const [k, v] of entries) {
    if (k.length < 1) errs.push(invalid('parameters', k, 'field can not be empty.'));
    sizeBytes += Buffer.byteLength(k) + Buffer.byteLength(String(v));
  }
  if (sizeBytes > PARAMETERS_SIZE_BYTES_MAX) errs.push(tooLong('parameters', '', PARAMETERS_SIZE_BYTES_MAX));
  return errs;
}

/** ValidateStorageClass. */
export function validateStorageClass(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const provisioner = typeof obj.provisioner === 'string' ? obj.provisioner : '';
  if (provisioner === '') errs.push(required('provisioner'));
  else
    for (const msg of isQualifiedName(provisioner.toLowerCase()))
      errs.push(invalid('provisioner', provisioner, msg));
  errs.push(...validateParameters(obj.parameters));
  const reclaim = obj.reclaimPolicy ?? '';
  if (reclaim !== '' && !RECLAIM_POLICIES.includes(String(reclaim))) {
    errs.push(notSupported('reclaimPolicy', reclaim, RECLAIM_POLICIES));
  }
  const mode = obj.volumeBindingMode;
  if (mode == null) errs.push(required('volumeBindingMode'));
  else if (!BINDING_MODES.includes(String(mode)))
    errs.push(notSupported('volumeBindingMode', mode, BINDING_MODES));
  return errs;
}

/** ValidateStorageClassUpdate. */
export function validateStorageClassUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (!deepEqual(obj.parameters, old.parameters))
    errs.push(forbidden('parameters', 'updates to parameters are forbidden.'));
  if (obj.provisioner !== old.provisioner)
    errs.push(forbidden('provisioner', 'updates to provisioner are forbidden.'));
  if (!deepEqual(obj.reclaimPolicy, old.reclaimPolicy)) {
    errs.push(forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
  }
  errs.push(...immutable(obj.volumeBindingMode, old.volumeBindingMode, 'volumeBindingMode'));
  return errs;
}

export const storageClassStrategy = defineStrategy({
  info: info('storageclasses'),
  defaults: defaultStorageClass,
  validate: validateStorageClass,
  validateUpdate: validateStorageClassUpdate,
  hasStatus: false,
  hasGeneration: false,
});

export const storageStrategies = [storageClassStrategy];
