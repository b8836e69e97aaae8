// apps/v1 strategies: Deployments, ReplicaSets, StatefulSets, DaemonSets and ControllerRevisions,
// with the defaults of pkg/apis/apps/v1/defaults.go, the validation of pkg/apis/apps/validation and
// the strategy quirks of pkg/registry/apps (selector immutability, generation rules, the DaemonSet
// template generation). Also the scale subresource helpers for every scalable kind.

import { findResource } from '../registry.js';
import {
  isEverything,
  type LabelSelector,
  labelSelectorFromMeta,
  type MetaLabelSelector,
  matchesLabels,
  selectorToString,
} from '../selectors.js';
import type { FieldError, KubeObject, ResourceInfo } from '../types.js';
import {
  child,
  deepEqual,
  forbidden,
  IS_NEGATIVE,
  immutable,
  index,
  invalid,
  nonNegative,
  notSupported,
  required,
} from '../validation/field.js';
import { validateAnnotations, validateLabels } from '../validation/meta.js';
import { isQualifiedName, isValidLabelValue, nameIsDNSLabel, regexError } from '../validation/names.js';
import { defaultPodTemplate, validatePodTemplate } from './core.js';
import {
  defineStrategy,
  ensureObj,
  getObj,
  getStr,
  isObj,
  meta,
  type Obj,
  StrategyAssertionError,
  setDefault,
  setDefaultStr,
} from './generic.js';

function info(plural: string): ResourceInfo {
  const found = findResource('apps', 'v1', plural);
  if (found === undefined) throw new StrategyAssertionError(`apps/v1 ${plural} is not in the registry`);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Shared validators of workload specs (also used by batch and policy).

const PERCENT_FMT = '[0-9]+%';
const PERCENT_RE = /^[0-9]+%$/;
const PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'";

/** ValidatePositiveIntOrPercent: a non-negative integer or a percent string. */
export function validatePositiveIntOrPercent(value: unknown, field: string): FieldError[] {
  if (typeof value === 'string') {
    return PERCENT_RE.test(value)
      ? []
      : [invalid(field, value, regexError(PERCENT_MSG, PERCENT_FMT, '1%', '93%'))];
  }
  if (typeof value === 'number' && Number.isInteger(value)) return nonNegative(value, field);
  return [invalid(field, value, "must be an integer or percentage (e.g '5%')")];
}

/** The number in an int-or-percent (25 for "25%"), and whether it was a percentage. */
export function intOrPercentValue(value: unknown): { value: number; percent: boolean } {
  if (typeof value === 'number') return { value, percent: false };
  if (typeof value === 'string' && PERCENT_RE.test(value))
    return { value: Number.parseInt(value, 10), percent: true };
  return { value: 0, percent: false };
}

/** IsNotMoreThan100Percent. */
export function isNotMoreThan100Percent(value: unknown, field: string): FieldError[] {
  const v = intOrPercentValue(value);
  return v.percent && v.value > 100 ? [invalid(field, value, 'must not be greater than 100%')] : [];
}

/** metav1validation.ValidateLabelSelector with AllowInvalidLabelValueInSelector false. */
export function validateLabelSelector(selector: unknown, field: string): FieldError[] {
  if (selector === undefined || selector === null) return [];
  if (!isObj(selector)) return [invalid(field, selector, 'must be a label selector')];
  const errs = validateLabels(selector.matchLabels, child(field, 'matchLabels'));
  const exprs = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  errs.push(
    ...exprs.flatMap((raw, i) =>
      validateSelectorRequirement(raw, index(child(field, 'matchExpressions'), i)),
    ),
  );
  return errs;
}

function validateSelectorRequirement(raw: unknown, path: string): FieldError[] {
  const req = isObj(raw) ? raw : {};
  const values = Array.isArray(req.values) ? req.values : [];
  const errs: FieldError[] = [];
  switch (req.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) {
        errs.push(required(child(path, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
      }
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) {
        errs.push(
          forbidden(
            child(path, 'values'),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
          ),
        );
      }
      break;
    default:
      errs.push(invalid(child(path, 'operator'), req.operator ?? '', 'not a valid selector operator'));
  }
  const key = getStr(req, 'key');
  for (const msg of isQualifiedName(key)) errs.push(invalid(child(path, 'key'), key, msg));
  values.forEach((v, j) => {
    const s = typeof v === 'string' ? v : String(v);
    for (const msg of isValidLabelValue(s)) errs.push(invalid(index(child(path, 'values'), j), s, msg));
  });
  return errs;
}

/**
 * The selector checks every workload repeats (ValidateDeploymentSpec and its siblings): present
 * when `requiredSelector`, valid, not empty (`kindWord` is the word in "empty selector is invalid
 * for <kindWord>"), parseable, and matching the template's labels. A nil selector selects nothing,
 * so it also fails the match, which is why kube-apiserver reports both errors for it.
 */
export function validateWorkloadSelector(
  spec: Obj,
  path: string,
  kindWord: string,
  requiredSelector: boolean,
): FieldError[] {
  const selector = spec.selector;
  const selPath = child(path, 'selector');
  const errs: FieldError[] = [];
  if (selector == null) {
    if (requiredSelector) errs.push(required(selPath));
  } else {
    errs.push(...validateLabelSelector(selector, selPath));
    const labelCount = Object.keys(getObj(selector, 'matchLabels') ?? {}).length;
    const exprCount =
      isObj(selector) && Array.isArray(selector.matchExpressions) ? selector.matchExpressions.length : 0;
    if (labelCount + exprCount === 0)
      errs.push(invalid(selPath, selector, `empty selector is invalid for ${kindWord}`));
  }
  const parsed = parseMetaSelector(selector);
  if (parsed === undefined) {
    errs.push(invalid(selPath, selector, kindWord === 'statefulset' ? '' : 'invalid label selector'));
    return errs;
  }
  const labels = (getObj(getObj(spec, 'template'), 'metadata')?.labels ?? {}) as Record<string, string>;
  if (!isEverything(parsed) && !matchesLabels(parsed, labels)) {
    errs.push(
      invalid(
        child(path, 'template', 'metadata', 'labels'),
        labels,
        '`selector` does not match template `labels`',
      ),
    );
  }
  return errs;
}

/** metav1.LabelSelectorAsSelector, or undefined when the selector cannot be parsed. */
function parseMetaSelector(selector: unknown): LabelSelector | undefined {
  try {
    return labelSelectorFromMeta(selector == null ? undefined : (selector as MetaLabelSelector));
  } catch {
    return undefined;
  }
}

/** Whether a metav1.LabelSelector selects the labels; an invalid or nil selector selects nothing. */
export function selectorMatchesLabels(selector: unknown, labels: Record<string, string>): boolean {
  const parsed = parseMetaSelector(selector);
  return parsed !== undefined && matchesLabels(parsed, labels);
}

/** The rules of ValidatePodTemplateSpecForReplicaSet and ValidateDaemonSetSpec past the selector. */
function validateAlwaysRestartTemplate(spec: Obj, path: string, kind: string): FieldError[] {
  const template = spec.template;
  if (!isObj(template)) return [required(child(path, 'template'))];
  const errs = validatePodTemplate(template, child(path, 'template'));
  const podSpec = getObj(template, 'spec') ?? {};
  const restartPolicy = podSpec.restartPolicy ?? '';
  if (restartPolicy !== 'Always') {
    errs.push(notSupported(child(path, 'template', 'spec', 'restartPolicy'), restartPolicy, ['Always']));
  }
  if (podSpec.activeDeadlineSeconds != null) {
    const at = child(path, 'template', 'spec', 'activeDeadlineSeconds');
    errs.push(forbidden(at, `activeDeadlineSeconds in ${kind} is not Supported`));
  }
  return errs;
}

/**
 * ValidatePodTemplateSpecForStatefulSet: only labels and annotations (at Kubernetes' own paths,
 * without "metadata"), because volume mounts may name volumeClaimTemplates the pod spec lacks.
 */
function validateStatefulSetTemplate(spec: Obj): FieldError[] {
  const template = getObj(spec, 'template') ?? {};
  const templateMeta = getObj(template, 'metadata') ?? {};
  const podSpec = getObj(template, 'spec') ?? {};
  const errs = [
    ...validateLabels(templateMeta.labels, 'spec.template.labels'),
    ...validateAnnotations(templateMeta.annotations, 'spec.template.annotations'),
  ];
  if ((podSpec.restartPolicy ?? '') !== 'Always') {
    errs.push(notSupported('spec.template.spec.restartPolicy', podSpec.restartPolicy ?? '', ['Always']));
  }
  if (podSpec.activeDeadlineSeconds != null) {
    errs.push(
      forbidden(
        'spec.template.spec.activeDeadlineSeconds',
        'activeDeadlineSeconds in StatefulSet is not Supported',
      ),
    );
  }
  return errs;
}

function nonNegativeFields(spec: Obj, path: string, names: string[]): FieldError[] {
  return names.flatMap((n) => nonNegative(spec[n], child(path, n)));
}

function specOf(obj: KubeObject): Obj {
  return isObj(obj.spec) ? obj.spec : {};
}

/** Defaults of the pod template inside a workload spec (SetObjectDefaults_* reach into it). */
function defaultTemplateOf(spec: Obj): void {
  const template = ensureObj(spec, 'template');
  defaultPodTemplate(template);
}

// ---------------------------------------------------------------------------------------------
// Deployments.

export function defaultDeployment(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  setDefault(spec, 'replicas', 1);
  const strategy = ensureObj(spec, 'strategy');
  setDefaultStr(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const rolling = ensureObj(strategy, 'rollingUpdate');
    setDefault(rolling, 'maxUnavailable', '25%');
    setDefault(rolling, 'maxSurge', '25%');
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  setDefault(spec, 'progressDeadlineSeconds', 600);
  defaultTemplateOf(spec);
}

function validateDeploymentStrategy(strategy: unknown, path: string): FieldError[] {
  const s = isObj(strategy) ? strategy : {};
  const rolling = s.rollingUpdate;
  switch (s.type) {
    case 'Recreate':
      if (rolling === undefined || rolling === null) return [];
      return [
        forbidden(child(path, 'rollingUpdate'), "may not be specified when strategy `type` is 'Recreate'"),
      ];
    case 'RollingUpdate': {
      if (!isObj(rolling))
        return [required(child(path, 'rollingUpdate'), 'this should be defaulted and never be nil')];
      return validateRollingUpdateDeployment(rolling, child(path, 'rollingUpdate'));
    }
    default:
      return [notSupported(path, strategy, ['Recreate', 'RollingUpdate'])];
  }
}

function validateRollingUpdateDeployment(rolling: Obj, path: string): FieldError[] {
  const errs = [
    ...validatePositiveIntOrPercent(rolling.maxUnavailable, child(path, 'maxUnavailable')),
    ...validatePositiveIntOrPercent(rolling.maxSurge, child(path, 'maxSurge')),
  ];
  if (
    intOrPercentValue(rolling.maxUnavailable).value === 0 &&
    intOrPercentValue(rolling.maxSurge).value === 0
  ) {
    errs.push(
      invalid(child(path, 'maxUnavailable'), rolling.maxUnavailable, 'may not be 0 when `maxSurge` is 0'),
    );
  }
  errs.push(...isNotMoreThan100Percent(rolling.maxUnavailable, child(path, 'maxUnavailable')));
  return errs;
}

/** ValidateDeploymentSpec. */
export function validateDeployment(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const errs = nonNegativeFields(spec, 'spec', ['replicas', 'minReadySeconds', 'revisionHistoryLimit']);
  errs.push(...validateWorkloadSelector(spec, 'spec', 'deployment', true));
  errs.push(...validateAlwaysRestartTemplate(spec, 'spec', 'ReplicaSet'));
  errs.push(...validateDeploymentStrategy(spec.strategy, 'spec.strategy'));
  const deadline = spec.progressDeadlineSeconds;
  if (typeof deadline === 'number') {
    errs.push(...nonNegative(deadline, 'spec.progressDeadlineSeconds'));
    const minReady = typeof spec.minReadySeconds === 'number' ? spec.minReadySeconds : 0;
    if (deadline <= minReady) {
      errs.push(invalid('spec.progressDeadlineSeconds', deadline, 'must be greater than minReadySeconds'));
    }
  }
  return errs;
}

/** apps/v1 refuses selector changes (only extensions/v1beta1 allowed them). */
function selectorImmutable(obj: KubeObject, old: KubeObject): FieldError[] {
  return immutable(specOf(obj).selector, specOf(old).selector, 'spec.selector');
}

export const deploymentStrategy = defineStrategy({
  info: info('deployments'),
  defaults: defaultDeployment,
  validate: validateDeployment,
  validateUpdate: selectorImmutable,
  hasStatus: true,
  hasGeneration: true,
  // Annotations are copied to the ReplicaSets, so their changes are a new generation too.
  bumpsGeneration: (obj, old) =>
    !deepEqual(obj.spec, old.spec) || !deepEqual(obj.metadata?.annotations, old.metadata?.annotations),
  statusResetMetadata: ['labels'],
});

// ---------------------------------------------------------------------------------------------
// ReplicaSets.

export function defaultReplicaSet(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  setDefault(spec, 'replicas', 1);
  defaultTemplateOf(spec);
}

/** ValidateReplicaSetSpec. */
export function validateReplicaSet(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const errs = nonNegativeFields(spec, 'spec', ['replicas', 'minReadySeconds']);
  errs.push(...validateWorkloadSelector(spec, 'spec', 'deployment', true));
  errs.push(...validateAlwaysRestartTemplate(spec, 'spec', 'ReplicaSet'));
  return errs;
}

export const replicaSetStrategy = defineStrategy({
  info: info('replicasets'),
  defaults: defaultReplicaSet,
  validate: validateReplicaSet,
  validateUpdate: selectorImmutable,
  hasStatus: true,
  hasGeneration: true,
  fields: (obj) => ({ 'status.replicas': String(getObj(obj, 'status')?.replicas ?? 0) }),
});

// ---------------------------------------------------------------------------------------------
// StatefulSets.

export function defaultStatefulSet(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  setDefaultStr(spec, 'podManagementPolicy', 'OrderedReady');
  const update = ensureObj(spec, 'updateStrategy');
  if (update.type === undefined || update.type === null || update.type === '') {
    update.type = 'RollingUpdate';
    ensureObj(update, 'rollingUpdate');
  }
  if (update.type === 'RollingUpdate' && isObj(update.rollingUpdate))
    setDefault(update.rollingUpdate, 'partition', 0);
  const retention = ensureObj(spec, 'persistentVolumeClaimRetentionPolicy');
  setDefaultStr(retention, 'whenDeleted', 'Retain');
  setDefaultStr(retention, 'whenScaled', 'Retain');
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'revisionHistoryLimit', 10);
  defaultTemplateOf(spec);
  for (const claim of Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates : []) {
    if (isObj(claim)) defaultClaimTemplate(claim);
  }
}

/** SetDefaults_PersistentVolumeClaim(Spec) as applied to volumeClaimTemplates. */
function defaultClaimTemplate(claim: Obj): void {
  const spec = ensureObj(claim, 'spec');
  setDefaultStr(spec, 'volumeMode', 'Filesystem');
  const status = ensureObj(claim, 'status');
  setDefaultStr(status, 'phase', 'Pending');
}

const RETENTION_TYPES = ['Retain', 'Delete'];

function validateRetentionPolicy(policy: unknown, path: string): FieldError[] {
  if (!isObj(policy)) return [];
  const errs: FieldError[] = [];
  for (const f of ['whenDeleted', 'whenScaled']) {
    const v = policy[f];
    if (!RETENTION_TYPES.includes(String(v)))
      errs.push(notSupported(child(path, f), v ?? '', RETENTION_TYPES));
  }
  return errs;
}

function validateStatefulSetUpdateStrategy(update: Obj, path: string): FieldError[] {
  switch (update.type) {
    case undefined:
    case null:
    case '':
      return [required(path)];
    case 'OnDelete':
      if (update.rollingUpdate === undefined || update.rollingUpdate === null) return [];
      return [
        invalid(
          child(path, 'rollingUpdate'),
          update.rollingUpdate,
          "only allowed for updateStrategy 'RollingUpdate'",
        ),
      ];
    case 'RollingUpdate': {
      const rolling = getObj(update, 'rollingUpdate');
      if (rolling === undefined) return [];
      const errs = nonNegative(rolling.partition, child(path, 'rollingUpdate', 'partition'));
      if (rolling.maxUnavailable !== undefined && rolling.maxUnavailable !== null) {
        const p = child(path, 'rollingUpdate', 'maxUnavailable');
        errs.push(...validatePositiveIntOrPercent(rolling.maxUnavailable, p));
        if (intOrPercentValue(rolling.maxUnavailable).value === 0) {
          errs.push(invalid(p, rolling.maxUnavailable, 'cannot be 0'));
        }
        errs.push(...isNotMoreThan100Percent(rolling.maxUnavailable, p));
      }
      return errs;
    }
    default:
      return [invalid(path, update, "must be 'RollingUpdate' or 'OnDelete'")];
  }
}

/** ValidateStatefulSetSpec. */
export function validateStatefulSet(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const errs: FieldError[] = [];
  const policy = spec.podManagementPolicy;
  if (policy === undefined || policy === null || policy === '')
    errs.push(required('spec.podManagementPolicy'));
  else if (policy !== 'OrderedReady' && policy !== 'Parallel') {
    errs.push(invalid('spec.podManagementPolicy', policy, "must be 'OrderedReady' or 'Parallel'"));
  }
  errs.push(
    ...validateStatefulSetUpdateStrategy(getObj(spec, 'updateStrategy') ?? {}, 'spec.updateStrategy'),
  );
  errs.push(
    ...validateRetentionPolicy(
      spec.persistentVolumeClaimRetentionPolicy,
      'spec.persistentVolumeClaimRetentionPolicy',
    ),
  );
  errs.push(...nonNegativeFields(spec, 'spec', ['replicas', 'minReadySeconds', 'revisionHistoryLimit']));
  const ordinals = getObj(spec, 'ordinals');
  if (ordinals !== undefined) errs.push(...nonNegative(ordinals.start, 'spec.ordinals.start'));
  errs.push(...validateWorkloadSelector(spec, 'spec', 'statefulset', true));
  errs.push(...validateStatefulSetTemplate(spec));
  return errs;
}

/** The spec fields a StatefulSet update may change; everything else (serviceName, selector, volumeClaimTemplates…) is fixed. */
const STATEFULSET_MUTABLE = [
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'revisionHistoryLimit',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
];

export function validateStatefulSetUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const next: Obj = { ...specOf(obj) };
  const prev: Obj = { ...specOf(old) };
  for (const f of STATEFULSET_MUTABLE) {
    delete next[f];
    delete prev[f];
  }
  if (deepEqual(next, prev)) return [];
  return [
    forbidden(
      'spec',
      "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ),
  ];
}

export const statefulSetStrategy = defineStrategy({
  info: info('statefulsets'),
  // Pod names are <statefulset>-<ordinal> and also hostnames, so the name is a DNS label.
  nameValidator: nameIsDNSLabel,
  defaults: defaultStatefulSet,
  validate: validateStatefulSet,
  validateUpdate: validateStatefulSetUpdate,
  hasStatus: true,
  hasGeneration: true,
});

// ---------------------------------------------------------------------------------------------
// DaemonSets.

/** apps/v1 keeps the internal spec.templateGeneration in this annotation. */
export const DAEMONSET_TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation';

export function defaultDaemonSet(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  const update = ensureObj(spec, 'updateStrategy');
  setDefaultStr(update, 'type', 'RollingUpdate');
  if (update.type === 'RollingUpdate') {
    const rolling = ensureObj(update, 'rollingUpdate');
    setDefault(rolling, 'maxUnavailable', 1);
    setDefault(rolling, 'maxSurge', 0);
  }
  setDefault(spec, 'revisionHistoryLimit', 10);
  defaultTemplateOf(spec);
}

function validateDaemonSetUpdateStrategy(update: Obj, path: string): FieldError[] {
  switch (update.type) {
    case 'OnDelete':
      return [];
    case 'RollingUpdate': {
      const rolling = getObj(update, 'rollingUpdate');
      if (rolling === undefined) return [required(child(path, 'rollingUpdate'))];
      return validateRollingUpdateDaemonSet(rolling, child(path, 'rollingUpdate'));
    }
    default:
      return [notSupported(path, update, ['RollingUpdate', 'OnDelete'])];
  }
}

/** ValidateRollingUpdateDaemonSet: exactly one of maxUnavailable and maxSurge is non-zero. */
function validateRollingUpdateDaemonSet(rolling: Obj, path: string): FieldError[] {
  const unavailable = rolling.maxUnavailable ?? 0;
  const surge = rolling.maxSurge ?? 0;
  const errs = [
    ...validatePositiveIntOrPercent(unavailable, child(path, 'maxUnavailable')),
    ...validatePositiveIntOrPercent(surge, child(path, 'maxSurge')),
    ...isNotMoreThan100Percent(unavailable, child(path, 'maxUnavailable')),
    ...isNotMoreThan100Percent(surge, child(path, 'maxSurge')),
  ];
  const hasUnavailable = intOrPercentValue(unavailable).value !== 0;
  const hasSurge = intOrPercentValue(surge).value !== 0;
  if (hasUnavailable && hasSurge) {
    errs.push(invalid(child(path, 'maxSurge'), surge, 'may not be set when maxUnavailable is non-zero'));
  } else if (!hasUnavailable && !hasSurge) {
    errs.push(required(child(path, 'maxUnavailable'), 'cannot be 0 when maxSurge is 0'));
  }
  return errs;
}

/** ValidateDaemonSetSpec: the selector is not required as such, but nil matches no template. */
export function validateDaemonSet(obj: KubeObject): FieldError[] {
  const spec = specOf(obj);
  const errs = validateWorkloadSelector(spec, 'spec', 'daemonset', false);
  errs.push(...validateAlwaysRestartTemplate(spec, 'spec', 'DaemonSet'));
  errs.push(...nonNegativeFields(spec, 'spec', ['minReadySeconds']));
  errs.push(...validateDaemonSetUpdateStrategy(getObj(spec, 'updateStrategy') ?? {}, 'spec.updateStrategy'));
  errs.push(...nonNegativeFields(spec, 'spec', ['revisionHistoryLimit']));
  return errs;
}

function templateGenerationOf(obj: KubeObject): number {
  const raw = obj.metadata?.annotations?.[DAEMONSET_TEMPLATE_GENERATION];
  const n = raw === undefined ? 0 : Number.parseInt(raw, 10);
  return Number.isFinite(n) ? n : 0;
}

function setTemplateGeneration(obj: KubeObject, generation: number): void {
  const m = meta(obj);
  m.annotations = { ...(m.annotations ?? {}), [DAEMONSET_TEMPLATE_GENERATION]: String(generation) };
}

export const daemonSetStrategy = defineStrategy({
  info: info('daemonsets'),
  defaults: defaultDaemonSet,
  validate: validateDaemonSet,
  validateUpdate: selectorImmutable,
  hasStatus: true,
  hasGeneration: true,
  prepareForCreate: (obj) => {
    if (templateGenerationOf(obj) < 1) setTemplateGeneration(obj, 1);
  },
  // The template generation is the server's: kept from the old object, +1 on template changes.
  prepareForUpdate: (obj, old) => {
    const previous = Math.max(templateGenerationOf(old), 1);
    const changed = !deepEqual(specOf(obj).template, specOf(old).template);
    setTemplateGeneration(obj, changed ? previous + 1 : previous);
  },
});

// ---------------------------------------------------------------------------------------------
// ControllerRevisions.

/** ValidateControllerRevision. */
export function validateControllerRevision(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  if (obj.data === undefined || obj.data === null) errs.push(required('data', 'data is mandatory'));
  errs.push(...nonNegative(obj.revision, 'revision'));
  return errs;
}

/** Only data is immutable: the DaemonSet controller renumbers `revision` when it rolls back. */
export function validateControllerRevisionUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  return immutable(obj.data, old.data, 'data');
}

export const controllerRevisionStrategy = defineStrategy({
  info: info('controllerrevisions'),
  validate: validateControllerRevision,
  validateUpdate: validateControllerRevisionUpdate,
  hasStatus: false,
  hasGeneration: false,
});

export const appsStrategies = [
  deploymentStrategy,
  replicaSetStrategy,
  statefulSetStrategy,
  daemonSetStrategy,
  controllerRevisionStrategy,
];

// ---------------------------------------------------------------------------------------------
// The scale subresource (autoscaling/v1 Scale), for every kind that has one.

/** Kinds with a scale subresource and how their selector is written. */
const SCALABLE_KINDS: Record<string, 'labelSelector' | 'map'> = {
  Deployment: 'labelSelector',
  ReplicaSet: 'labelSelector',
  StatefulSet: 'labelSelector',
  ReplicationController: 'map',
};

export class ScaleError extends Error {
  readonly code = 'SCALE_UNSUPPORTED';
  constructor(kind: string) {
    super(`kind ${JSON.stringify(kind)} has no scale subresource`);
    this.name = 'ScaleError';
  }
}

export function isScalableKind(kind: string): boolean {
  return Object.hasOwn(SCALABLE_KINDS, kind);
}

/** status.selector of the Scale: the selector's string form, as LabelSelectorAsSelector prints it. */
function scaleSelectorString(obj: KubeObject, style: 'labelSelector' | 'map'): string {
  const selector = specOf(obj).selector;
  if (style === 'map') {
    const set = isObj(selector) ? (selector as Record<string, string>) : {};
    return selectorStringOf({ matchLabels: set });
  }
  return isObj(selector) ? selectorStringOf(selector as MetaLabelSelector) : '';
}

function selectorStringOf(selector: MetaLabelSelector): string {
  try {
    return selectorToString(labelSelectorFromMeta(selector));
  } catch {
    return '';
  }
}

/** The autoscaling/v1 Scale of a scalable object; `kind` defaults to obj.kind. */
export function scaleOf(obj: KubeObject, kind = obj.kind ?? ''): KubeObject {
  const style = SCALABLE_KINDS[kind];
  if (style === undefined) throw new ScaleError(kind);
  const m = obj.metadata ?? {};
  const metadata: Obj = {};
  for (const f of ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp'] as const) {
    if (m[f] !== undefined) metadata[f] = m[f];
  }
  const replicas = specOf(obj).replicas;
  const status = getObj(obj, 'status');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata,
    spec: { replicas: typeof replicas === 'number' ? replicas : 0 },
    status: {
      replicas: typeof status?.replicas === 'number' ? status.replicas : 0,
      selector: scaleSelectorString(obj, style),
    },
  };
}

/** Sets spec.replicas of a scalable object in place and returns it (the write half of PUT …/scale). */
export function applyScale(obj: KubeObject, replicas: number, kind = obj.kind ?? ''): KubeObject {
  if (!isScalableKind(kind)) throw new ScaleError(kind);
  ensureObj(obj, 'spec').replicas = replicas;
  return obj;
}

/** ValidateScale: the Scale a client sends. */
export function validateScale(scale: KubeObject): FieldError[] {
  const replicas = getObj(scale, 'spec')?.replicas;
  if (replicas === undefined || replicas === null) return [];
  if (typeof replicas !== 'number' || !Number.isInteger(replicas)) {
    return [invalid('spec.replicas', replicas, 'must be an integer')];
  }
  return replicas < 0 ? [invalid('spec.replicas', replicas, IS_NEGATIVE)] : [];
}
