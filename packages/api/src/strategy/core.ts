// core/v1 strategies (pkg/registry/core/* and pkg/apis/core/{v1/defaults,validation}.go) for
// every core resource the apiserver serves. Pods live in core-pods.ts, Services and Endpoints in
// core-services.ts, PersistentVolumes and claims in core-storage.ts; this file has the rest and
// `coreStrategies`. Pod template helpers are re-exported for the workload strategies.

import type { FieldError, KubeObject, ResourceStrategy } from '../types.js';
import {
  deepEqual,
  forbidden,
  immutable,
  invalid,
  key,
  nonNegative,
  notSupported,
  required,
  tooLong,
} from '../validation/field.js';
import { validateLabels, validateNamespaceName } from '../validation/meta.js';
import { isConfigMapKey, isQualifiedName } from '../validation/names.js';
import { defaultPodTemplate, validatePodTemplateSpec } from '../validation/pod.js';
import { QUANTITY_FORMAT_ERROR, quantityValue } from '../validation/quantity.js';
import { coreInfo, podStrategy } from './core-pods.js';
import { endpointsStrategy, serviceStrategy } from './core-services.js';
import { persistentVolumeClaimStrategy, persistentVolumeStrategy } from './core-storage.js';
import {
  defineStrategy,
  ensureObj,
  getList,
  getObj,
  getStr,
  isObj,
  meta,
  type Obj,
  setDefault,
  setDefaultStr,
} from './generic.js';

export { defaultPodTemplate } from '../validation/pod.js';
export { coreInfo, podStrategy, validatePodUpdate } from './core-pods.js';
export {
  endpointsStrategy,
  serviceStrategy,
  validateService,
  validateServiceUpdate,
} from './core-services.js';
export { persistentVolumeClaimStrategy, persistentVolumeStrategy } from './core-storage.js';

/** A pod template at `path` (e.g. "spec.template"): labels, annotations and pod spec. */
export const validatePodTemplate = validatePodTemplateSpec;

/** ConfigMaps and Secrets hold at most 1 MiB (core.MaxSecretSize). */
export const DATA_SIZE_BYTES_MAX = 1024 * 1024;
const STANDARD_FINALIZERS = ['kubernetes', 'orphan', 'foregroundDeletion'];

// ---------------------------------------------------------------------------------------------
// Namespaces.

function validateNamespaceSpec(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of getList(getObj(obj, 'spec'), 'finalizers')) {
    const name = String(f);
    for (const msg of isQualifiedName(name)) errs.push(invalid('spec.finalizers', name, msg));
    if (!name.includes('/') && !STANDARD_FINALIZERS.includes(name)) {
      errs.push(
        invalid(
          'spec.finalizers',
          name,
          'name is neither a standard finalizer name nor is it fully qualified',
        ),
      );
    }
  }
  return errs;
}

/** SetDefaults_Namespace and Canonicalize: every namespace carries its name as a label, for selectors. */
function labelNamespaceName(obj: KubeObject): void {
  const m = meta(obj);
  if (m.name) m.labels = { ...(m.labels ?? {}), 'kubernetes.io/metadata.name': m.name };
}

export const namespaceStrategy = defineStrategy({
  info: coreInfo('namespaces'),
  nameValidator: validateNamespaceName,
  hasStatus: true,
  hasGeneration: false,
  defaults: labelNamespaceName,
  initialStatus: () => ({ phase: 'Active' }),
  prepareForCreate: (obj) => {
    // The "kubernetes" finalizer is required on create but may be removed later, so it is not a default.
    const spec = ensureObj(obj, 'spec');
    const finalizers = getList(spec, 'finalizers');
    if (!finalizers.includes('kubernetes')) spec.finalizers = [...finalizers, 'kubernetes'];
    // Canonicalize: a name generated from generateName was not there when the defaults ran.
    labelNamespaceName(obj);
  },
  prepareForUpdate: (obj, old) => {
    // Only the finalize subresource changes spec.finalizers.
    const finalizers = getObj(old, 'spec')?.finalizers;
    const spec = ensureObj(obj, 'spec');
    if (finalizers !== undefined) spec.finalizers = structuredClone(finalizers);
    else delete spec.finalizers;
    labelNamespaceName(obj);
  },
  validate: validateNamespaceSpec,
  fields: (obj) => ({ 'status.phase': getStr(getObj(obj, 'status'), 'phase') }),
});

// ---------------------------------------------------------------------------------------------
// Nodes.

const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'PreferNoSchedule'];

function validateNode(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  getList(getObj(obj, 'spec'), 'taints').forEach((t, i) => {
    const at = `spec.taints[${i}]`;
    const k = getStr(t, 'key');
    for (const msg of isQualifiedName(k)) errs.push(invalid(`${at}.key`, k, msg));
    const effect = getStr(t, 'effect');
    if (effect === '') errs.push(required(`${at}.effect`));
    else if (!TAINT_EFFECTS.includes(effect)) errs.push(notSupported(`${at}.effect`, effect, TAINT_EFFECTS));
  });
  return errs;
}

function validateNodeUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const spec = getObj(obj, 'spec') ?? {};
  const prev = getObj(old, 'spec') ?? {};
  const errs: FieldError[] = [];
  if (getList(prev, 'podCIDRs').length > 0 && !deepEqual(spec.podCIDRs, prev.podCIDRs)) {
    errs.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
  }
  if (getStr(prev, 'providerID') !== '' && spec.providerID !== prev.providerID) {
    errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  return errs;
}

export const nodeStrategy = defineStrategy({
  info: coreInfo('nodes'),
  hasStatus: true,
  hasGeneration: false,
  // The kubelet registers a node with its status; Kubernetes keeps it.
  resetStatusOnCreate: false,
  defaults: (obj) => {
    const status = getObj(obj, 'status');
    const capacity = getObj(status, 'capacity');
    if (status && capacity && status.allocatable === undefined)
      status.allocatable = structuredClone(capacity);
  },
  prepareForCreate: (obj) => {
    const spec = getObj(obj, 'spec');
    if (spec) delete spec.configSource;
    const status = getObj(obj, 'status');
    if (status) delete status.config;
  },
  validate: validateNode,
  validateUpdate: validateNodeUpdate,
  fields: (obj) => ({ 'spec.unschedulable': String(getObj(obj, 'spec')?.unschedulable === true) }),
});

// ---------------------------------------------------------------------------------------------
// ConfigMaps and Secrets.

function validateDataKeys(data: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of Object.keys(isObj(data) ? data : {})) {
    for (const msg of isConfigMapKey(k)) errs.push(invalid(key(path, k), k, msg));
  }
  return errs;
}

function validateConfigMap(obj: KubeObject): FieldError[] {
  const data = isObj(obj.data) ? obj.data : {};
  const binary = isObj(obj.binaryData) ? obj.binaryData : {};
  const errs = [...validateDataKeys(data, 'data'), ...validateDataKeys(binary, 'binaryData')];
  let sizeBytes = 0;
  // Only values count towards the limit, as in ValidateConfigMap.
  for (const [k, v] of Object.entries(data)) {
    sizeBytes += Buffer.byteLength(String(v));
    if (k in binary) errs.push(invalid(key('data', k), k, 'duplicate of key present in binaryData'));
  }
  for (const [k, v] of Object.entries(binary)) {
    const problem = typeof v === 'string' ? base64Error(v) : 'must be a base64-encoded string';
    if (problem) errs.push(invalid(key('binaryData', k), v, problem));
    else sizeBytes += base64Bytes(v as string);
  }
  if (sizeBytes > DATA_SIZE_BYTES_MAX) errs.push(tooLong('', '', DATA_SIZE_BYTES_MAX));
  return errs;
}

/** `immutable: true` freezes the data and itself (ConfigMaps and Secrets alike). */
function validateImmutableData(obj: KubeObject, old: KubeObject, dataFields: string[]): FieldError[] {
  if (old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (obj.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of dataFields) {
    if (!deepEqual(obj[f], old[f])) errs.push(forbidden(f, 'field is immutable when `immutable` is set'));
  }
  return errs;
}

export const configMapStrategy = defineStrategy({
  info: coreInfo('configmaps'),
  hasStatus: false,
  hasGeneration: false,
  validate: validateConfigMap,
  validateUpdate: (obj, old) => validateImmutableData(obj, old, ['data', 'binaryData']),
});

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function base64Bytes(raw: string): number {
  const value = raw.replace(/[\r\n]/g, '');
  return Math.floor((value.length * 3) / 4) - (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0);
}

/** Go's encoding/json decodes []byte with StdEncoding; report where it would fail. */
export function base64Error(raw: string): string | undefined {
  // StdEncoding skips line breaks.
  const value = raw.replace(/[\r\n]/g, '');
  if (BASE64_RE.test(value) && value.length % 4 === 0) return undefined;
  const bad = value.search(/[^A-Za-z0-9+/=]/);
  const at = bad >= 0 ? bad : value.length - (value.length % 4 === 0 ? 1 : value.length % 4);
  return `illegal base64 data at input byte ${Math.max(0, at)}`;
}

/** The v1 → internal conversion folds stringData into data (stringData wins) and never stores it. */
function foldStringData(obj: KubeObject): void {
  if (!isObj(obj.stringData)) return;
  const data = ensureObj(obj, 'data');
  for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
  delete obj.stringData;
}

const SECRET_REQUIRED_KEYS: Record<string, string[]> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

function validateSecretType(obj: KubeObject, data: Obj): FieldError[] {
  const type = getStr(obj, 'type');
  const errs: FieldError[] = [];
  if (type === 'kubernetes.io/service-account-token') {
    const name = obj.metadata?.annotations?.['kubernetes.io/service-account.name'];
    if (!name) errs.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
  }
  for (const k of SECRET_REQUIRED_KEYS[type] ?? []) if (!(k in data)) errs.push(required(key('data', k)));
  if (type === 'kubernetes.io/basic-auth' && !('username' in data) && !('password' in data)) {
    errs.push(required(key('data', 'username')));
    errs.push(required(key('data', 'password')));
  }
  return errs;
}

function validateSecret(obj: KubeObject): FieldError[] {
  const data = isObj(obj.data) ? obj.data : {};
  const errs = validateDataKeys(data, 'data');
  let sizeBytes = 0;
  for (const [k, v] of Object.entries(data)) {
    const problem = typeof v === 'string' ? base64Error(v) : 'must be a base64-encoded string';
    if (problem) errs.push(invalid(key('data', k), '<secret contents redacted>', problem));
    else sizeBytes += base64Bytes(v as string);
  }
  if (sizeBytes > DATA_SIZE_BYTES_MAX) errs.push(tooLong('data', '', DATA_SIZE_BYTES_MAX));
  errs.push(...validateSecretType(obj, data));
  return errs;
}

export const secretStrategy = defineStrategy({
  info: coreInfo('secrets'),
  hasStatus: false,
  hasGeneration: false,
  defaults: (obj) => {
    foldStringData(obj);
    setDefaultStr(obj, 'type', 'Opaque');
  },
  validate: validateSecret,
  validateUpdate: (obj, old) => [
    ...immutable(obj.type, old.type, 'type'),
    ...validateImmutableData(obj, old, ['data']),
  ],
  fields: (obj) => ({ type: getStr(obj, 'type') }),
});

export const serviceAccountStrategy = defineStrategy({
  info: coreInfo('serviceaccounts'),
  hasStatus: false,
  hasGeneration: false,
});

// ---------------------------------------------------------------------------------------------
// Events.

function validateEvent(obj: KubeObject): FieldError[] {
  const involved = getObj(obj, 'involvedObject') ?? {};
  const eventNamespace = obj.metadata?.namespace ?? '';
  const involvedNamespace = getStr(involved, 'namespace');
  // Events about cluster-scoped objects live in "default" (or nowhere, for old clients).
  const ok =
    involvedNamespace === ''
      ? eventNamespace === '' || eventNamespace === 'default'
      : eventNamespace === involvedNamespace;
  return ok ? [] : [invalid('involvedObject.namespace', involvedNamespace, 'does not match event.namespace')];
}

function eventFields(obj: KubeObject): Record<string, string> {
  const involved = getObj(obj, 'involvedObject');
  const out: Record<string, string> = {};
  for (const f of ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) {
    out[`involvedObject.${f}`] = getStr(involved, f);
  }
  out.reason = getStr(obj, 'reason');
  out.reportingComponent = getStr(obj, 'reportingComponent');
  out.source = getStr(getObj(obj, 'source'), 'component');
  out.type = getStr(obj, 'type');
  return out;
}

export const eventStrategy = defineStrategy({
  info: coreInfo('events'),
  hasStatus: false,
  hasGeneration: false,
  validate: validateEvent,
  fields: eventFields,
});

// ---------------------------------------------------------------------------------------------
// ResourceQuotas and LimitRanges.

function validateQuantities(list: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [name, q] of Object.entries(isObj(list) ? list : {})) {
    const at = key(path, name);
    for (const msg of isQualifiedName(name)) errs.push(invalid(at, name, msg));
    const v = quantityValue(q);
    if (v === undefined) errs.push(invalid(at, q, QUANTITY_FORMAT_ERROR));
    else if (v < 0) errs.push(invalid(at, q, 'must be greater than or equal to 0'));
  }
  return errs;
}

const QUOTA_SCOPES = [
  'BestEffort',
  'CrossNamespacePodAffinity',
  'NotBestEffort',
  'NotTerminating',
  'PriorityClass',
  'Terminating',
];

function validateResourceQuota(obj: KubeObject): FieldError[] {
  const spec = getObj(obj, 'spec') ?? {};
  const errs = validateQuantities(spec.hard, 'spec.hard');
  getList(spec, 'scopes').forEach((s, i) => {
    if (!QUOTA_SCOPES.includes(String(s))) errs.push(notSupported(`spec.scopes[${i}]`, s, QUOTA_SCOPES));
  });
  const status = getObj(obj, 'status') ?? {};
  errs.push(
    ...validateQuantities(status.hard, 'status.hard'),
    ...validateQuantities(status.used, 'status.used'),
  );
  return errs;
}

export const resourceQuotaStrategy = defineStrategy({
  info: coreInfo('resourcequotas'),
  hasStatus: true,
  hasGeneration: false,
  validate: validateResourceQuota,
});

const LIMIT_TYPES = ['Container', 'PersistentVolumeClaim', 'Pod'];

/** SetDefaults_LimitRangeItem: container defaults fall back to max, default requests to defaults then min. */
function defaultLimitRangeItem(item: Obj): void {
  if (item.type !== 'Container') return;
  const fill = (target: string, from: unknown): void => {
    if (!isObj(from) || Object.keys(from).length === 0) return;
    const dst = ensureObj(item, target);
    for (const [k, v] of Object.entries(from)) setDefault(dst, k, v);
  };
  fill('default', item.max);
  fill('defaultRequest', item.default);
  fill('defaultRequest', item.min);
}

function validateLimitRangeItem(item: Obj, at: string): FieldError[] {
  const errs: FieldError[] = [];
  const type = getStr(item, 'type');
  if (type === '') errs.push(required(`${at}.type`));
  else if (!LIMIT_TYPES.includes(type) && isQualifiedName(type).length > 0)
    errs.push(notSupported(`${at}.type`, type, LIMIT_TYPES));
  for (const f of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) {
    errs.push(...validateQuantities(item[f], `${at}.${f}`));
  }
  const min = getObj(item, 'min') ?? {};
  const max = getObj(item, 'max') ?? {};
  for (const [name, q] of Object.entries(min)) {
    const lo = quantityValue(q);
    const hi = quantityValue(max[name]);
    if (lo !== undefined && hi !== undefined && lo > hi) {
      errs.push(
        invalid(
          key(`${at}.min`, name),
          q,
          `min value ${String(q)} is greater than max value ${String(max[name])}`,
        ),
      );
    }
  }
  return errs;
}

export const limitRangeStrategy = defineStrategy({
  info: coreInfo('limitranges'),
  hasStatus: false,
  hasGeneration: false,
  defaults: (obj) => {
    for (const item of getList(getObj(obj, 'spec'), 'limits')) if (isObj(item)) defaultLimitRangeItem(item);
  },
  validate: (obj) =>
    getList(getObj(obj, 'spec'), 'limits').flatMap((item, i) =>
      validateLimitRangeItem(isObj(item) ? item : {}, `spec.limits[${i}]`),
    ),
});

// ---------------------------------------------------------------------------------------------
// ReplicationControllers.

/** SetDefaults_ReplicationController: selector and labels from the template, one replica. */
function defaultReplicationController(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  const labels = getObj(getObj(spec.template, 'metadata'), 'labels');
  if (labels) {
    if (!isObj(spec.selector) || Object.keys(spec.selector).length === 0) spec.selector = { ...labels };
    const m = meta(obj);
    if (!m.labels || Object.keys(m.labels).length === 0) m.labels = { ...(labels as Record<string, string>) };
  }
  setDefault(spec, 'replicas', 1);
  defaultPodTemplate(spec.template);
}

function validateReplicationController(obj: KubeObject): FieldError[] {
  const spec = getObj(obj, 'spec') ?? {};
  const errs = [
    ...nonNegative(spec.replicas, 'spec.replicas'),
    ...nonNegative(spec.minReadySeconds, 'spec.minReadySeconds'),
  ];
  const selector = getObj(spec, 'selector') ?? {};
  if (Object.keys(selector).length === 0) errs.push(required('spec.selector'));
  else errs.push(...validateLabels(selector, 'spec.selector'));
  const template = getObj(spec, 'template');
  if (!template) return [...errs, required('spec.template')];
  const labels = getObj(getObj(template, 'metadata'), 'labels') ?? {};
  if (Object.keys(selector).length > 0 && !Object.entries(selector).every(([k, v]) => labels[k] === v)) {
    errs.push(
      invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'),
    );
  }
  errs.push(...validatePodTemplateSpec(template, 'spec.template'));
  const restart = getObj(template, 'spec')?.restartPolicy;
  if (restart !== undefined && restart !== 'Always') {
    errs.push(notSupported('spec.template.spec.restartPolicy', restart, ['Always']));
  }
  const deadline = getObj(template, 'spec')?.activeDeadlineSeconds;
  if (deadline !== undefined && deadline !== null) {
    errs.push(
      invalid(
        'spec.template.spec.activeDeadlineSeconds',
        deadline,
        'activeDeadlineSeconds in ReplicationController is not Supported',
      ),
    );
  }
  return errs;
}

export const replicationControllerStrategy = defineStrategy({
  info: coreInfo('replicationcontrollers'),
  hasStatus: true,
  hasGeneration: true,
  defaults: defaultReplicationController,
  initialStatus: () => ({ replicas: 0 }),
  validate: validateReplicationController,
  fields: (obj) => ({ 'status.replicas': String(getObj(obj, 'status')?.replicas ?? 0) }),
});

/** Every core/v1 strategy, in registry order. */
export const coreStrategies: ResourceStrategy[] = [
  namespaceStrategy,
  nodeStrategy,
  podStrategy,
  serviceStrategy,
  endpointsStrategy,
  configMapStrategy,
  secretStrategy,
  serviceAccountStrategy,
  eventStrategy,
  resourceQuotaStrategy,
  limitRangeStrategy,
  persistentVolumeStrategy,
  persistentVolumeClaimStrategy,
  replicationControllerStrategy,
];
