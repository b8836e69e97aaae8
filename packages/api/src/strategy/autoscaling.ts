// autoscaling HorizontalPodAutoscalers: stored as v2, also served as v1. The v1 view is a
// conversion of the v2 object the way pkg/apis/autoscaling/v1/conversion.go does it: the first
// CPU utilization metric becomes targetCPUUtilizationPercentage, every other metric, the current
// metrics, the conditions and the behavior travel in the autoscaling.alpha.kubernetes.io/*
// annotations so that v1 → v2 → v1 and v2 → v1 → v2 lose nothing. Defaults and validation follow
// pkg/apis/autoscaling/v2/defaults.go and pkg/apis/autoscaling/validation.

import { findResource } from '../registry.js';
import type { FieldError, KubeObject, ResourceInfo, ResourceStrategy } from '../types.js';
import { child, forbidden, index, invalid, notSupported, required } from '../validation/field.js';
import { isValidPathSegmentName } from '../validation/names.js';
import {
  defineStrategy,
  ensureObj,
  getObj,
  getStr,
  isObj,
  type Obj,
  StrategyAssertionError,
  setDefault,
} from './generic.js';

const GROUP = 'autoscaling';

function info(version: 'v1' | 'v2'): ResourceInfo {
  const found = findResource(GROUP, version, 'horizontalpodautoscalers');
  if (found === undefined)
    throw new StrategyAssertionError(`autoscaling/${version} HPAs are not in the registry`);
  return found;
}

export const HPA_ANNOTATIONS = {
  metrics: 'autoscaling.alpha.kubernetes.io/metrics',
  currentMetrics: 'autoscaling.alpha.kubernetes.io/current-metrics',
  conditions: 'autoscaling.alpha.kubernetes.io/conditions',
  behavior: 'autoscaling.alpha.kubernetes.io/behavior',
} as const;

/** autoscaling.DefaultCPUUtilization. */
export const DEFAULT_CPU_UTILIZATION_PERCENT = 80;
const MAX_PERIOD_SECONDS = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS = 3600;

// ---------------------------------------------------------------------------------------------
// v2 defaults.

function defaultScaleUpRules(): Obj {
  return {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  };
}

function defaultScaleDownRules(): Obj {
  // No stabilization window: the controller's --horizontal-pod-autoscaler-downscale-stabilization applies.
  return { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };
}

/** copyHPAScalingRules: the user's non-nil fields over the defaults. */
function mergeScalingRules(given: unknown, defaults: Obj): Obj {
  if (!isObj(given)) return defaults;
  for (const f of ['selectPolicy', 'stabilizationWindowSeconds', 'policies']) {
    if (given[f] !== undefined && given[f] !== null) defaults[f] = given[f];
  }
  for (const [k, v] of Object.entries(given)) if (!(k in defaults)) defaults[k] = v;
  return defaults;
}

/** SetDefaults_HorizontalPodAutoscaler (v2). */
export function defaultHpaV2(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  setDefault(spec, 'minReplicas', 1);
  if (!Array.isArray(spec.metrics) || spec.metrics.length === 0) {
    spec.metrics = [cpuUtilizationMetric(DEFAULT_CPU_UTILIZATION_PERCENT)];
  }
  const behavior = spec.behavior;
  if (isObj(behavior)) {
    behavior.scaleUp = mergeScalingRules(behavior.scaleUp, defaultScaleUpRules());
    behavior.scaleDown = mergeScalingRules(behavior.scaleDown, defaultScaleDownRules());
  }
}

function cpuUtilizationMetric(percent: number): Obj {
  return {
    type: 'Resource',
    resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: percent } },
  };
}

// ---------------------------------------------------------------------------------------------
// v2 validation.

function validateObjectReference(ref: unknown, path: string): FieldError[] {
  const r = isObj(ref) ? ref : {};
  const errs: FieldError[] = [];
  for (const f of ['kind', 'name']) {
    const v = getStr(r, f);
    if (v === '') errs.push(required(child(path, f)));
    else for (const msg of isValidPathSegmentName(v)) errs.push(invalid(child(path, f), v, msg));
  }
  return errs;
}

/** Whether a quantity is > 0 (resource.Quantity.Sign() == 1). */
function quantityPositive(q: unknown): boolean {
  if (typeof q === 'number') return q > 0;
  const m = /^([+-]?[0-9]*\.?[0-9]*)/.exec(String(q));
  return Number.parseFloat(m?.[1] ?? '') > 0;
}

function validateMetricTarget(target: unknown, path: string): FieldError[] {
  const t = isObj(target) ? target : {};
  const errs: FieldError[] = [];
  const type = t.type ?? '';
  if (type === '') errs.push(required(child(path, 'type'), 'must specify a metric target type'));
  if (type !== 'Utilization' && type !== 'Value' && type !== 'AverageValue') {
    errs.push(invalid(child(path, 'type'), type, 'must be either Utilization, Value, or AverageValue'));
  }
  if (t.value != null && !quantityPositive(t.value))
    errs.push(invalid(child(path, 'value'), t.value, 'must be positive'));
  if (t.averageValue != null && !quantityPositive(t.averageValue)) {
    errs.push(invalid(child(path, 'averageValue'), t.averageValue, 'must be positive'));
  }
  if (typeof t.averageUtilization === 'number' && t.averageUtilization < 1) {
    errs.push(invalid(child(path, 'averageUtilization'), t.averageUtilization, 'must be greater than 0'));
  }
  return errs;
}

function validateMetricIdentifier(metric: unknown, path: string): FieldError[] {
  return getStr(metric, 'name') === '' ? [required(child(path, 'name'), 'must specify a metric name')] : [];
}

function validateResourceSource(src: Obj, path: string, container: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (getStr(src, 'name') === '') errs.push(required(child(path, 'name'), 'must specify a resource name'));
  if (container && getStr(src, 'container') === '') {
    errs.push(required(child(path, 'container'), 'must specify a container'));
  }
  const target = getObj(src, 'target') ?? {};
  errs.push(...validateMetricTarget(target, child(path, 'target')));
  if (target.averageUtilization == null && target.averageValue == null) {
    errs.push(
      required(
        child(path, 'target', 'averageUtilization'),
        'must set either a target raw value or a target utilization',
      ),
    );
  }
  if (target.averageUtilization != null && target.averageValue != null) {
    errs.push(
      forbidden(
        child(path, 'target', 'averageValue'),
        'may not set both a target raw value and a target utilization',
      ),
    );
  }
  return errs;
}

function validateSourceByType(type: string, src: Obj, path: string): FieldError[] {
  const target = getObj(src, 'target') ?? {};
  switch (type) {
    case 'Resource':
      return validateResourceSource(src, path, false);
    case 'ContainerResource':
      return validateResourceSource(src, path, true);
    case 'Pods': {
      const errs = [...validateMetricIdentifier(src.metric, child(path, 'metric'))];
      errs.push(...validateMetricTarget(target, child(path, 'target')));
      if (target.averageValue == null) {
        errs.push(
          required(child(path, 'target', 'averageValue'), 'must specify a positive target averageValue'),
        );
      }
      return errs;
    }
    case 'Object': {
      const errs = validateObjectReference(src.describedObject, child(path, 'describedObject'));
      errs.push(...validateMetricIdentifier(src.metric, child(path, 'metric')));
      errs.push(...validateMetricTarget(target, child(path, 'target')));
      if (target.value == null && target.averageValue == null) {
        errs.push(required(child(path, 'target', 'value'), 'must set either a target value or averageValue'));
      }
      return errs;
    }
    default: {
      const errs = [...validateMetricIdentifier(src.metric, child(path, 'metric'))];
      errs.push(...validateMetricTarget(target, child(path, 'target')));
      if (target.value == null && target.averageValue == null) {
        errs.push(
          required(
            child(path, 'target', 'value'),
            'must set either a target value for metric or a per-pod target',
          ),
        );
      }
      return errs;
    }
  }
}

/** MetricSourceType → the field that carries it. */
const METRIC_SOURCE_FIELDS: Record<string, string> = {
  ContainerResource: 'containerResource',
  External: 'external',
  Object: 'object',
  Pods: 'pods',
  Resource: 'resource',
};

function validateMetricSpec(spec: unknown, path: string): FieldError[] {
  const m = isObj(spec) ? spec : {};
  const type = getStr(m, 'type');
  const errs: FieldError[] = [];
  if (type === '') errs.push(required(child(path, 'type'), 'must specify a metric source type'));
  const expected = METRIC_SOURCE_FIELDS[type];
  if (expected === undefined) {
    errs.push(notSupported(child(path, 'type'), type, Object.keys(METRIC_SOURCE_FIELDS)));
  }
  const present = Object.values(METRIC_SOURCE_FIELDS).filter((f) => isObj(m[f]));
  const first = present[0];
  if (first !== undefined) {
    const firstType = Object.keys(METRIC_SOURCE_FIELDS).find((k) => METRIC_SOURCE_FIELDS[k] === first) ?? '';
    errs.push(...validateSourceByType(firstType, m[first] as Obj, child(path, first)));
  }
  if (expected !== undefined && !isObj(m[expected])) {
    errs.push(required(child(path, expected), 'must populate information for the given metric source'));
  }
  if (present.length > 1) {
    for (const f of present.filter((p) => p !== expected).sort()) {
      errs.push(forbidden(child(path, f), 'must populate the given metric source only'));
    }
  }
  return errs;
}

function validateScalingRules(rules: unknown, path: string): FieldError[] {
  if (!isObj(rules)) return [];
  const errs: FieldError[] = [];
  const window = rules.stabilizationWindowSeconds;
  if (typeof window === 'number' && window < 0) {
    errs.push(
      invalid(child(path, 'stabilizationWindowSeconds'), window, 'must be greater than or equal to zero'),
    );
  }
  if (typeof window === 'number' && window > MAX_STABILIZATION_WINDOW_SECONDS) {
    errs.push(
      invalid(
        child(path, 'stabilizationWindowSeconds'),
        window,
        `must be less than or equal to ${MAX_STABILIZATION_WINDOW_SECONDS}`,
      ),
    );
  }
  const select = rules.selectPolicy;
  if (select != null && !['Disabled', 'Max', 'Min'].includes(String(select))) {
    errs.push(notSupported(child(path, 'selectPolicy'), select, ['Disabled', 'Max', 'Min']));
  }
  const policies = Array.isArray(rules.policies) ? rules.policies : [];
  if (policies.length === 0) errs.push(required(child(path, 'policies'), 'must specify at least one Policy'));
  errs.push(...policies.flatMap((p, i) => validateScalingPolicy(p, index(child(path, 'policies'), i))));
  return errs;
}

function validateScalingPolicy(policy: unknown, path: string): FieldError[] {
  const p = isObj(policy) ? policy : {};
  const errs: FieldError[] = [];
  if (p.type !== 'Pods' && p.type !== 'Percent')
    errs.push(notSupported(child(path, 'type'), p.type ?? '', ['Percent', 'Pods']));
  const value = typeof p.value === 'number' ? p.value : 0;
  if (value <= 0) errs.push(invalid(child(path, 'value'), value, 'must be greater than zero'));
  const period = typeof p.periodSeconds === 'number' ? p.periodSeconds : 0;
  if (period <= 0) errs.push(invalid(child(path, 'periodSeconds'), period, 'must be greater than zero'));
  if (period > MAX_PERIOD_SECONDS) {
    errs.push(
      invalid(child(path, 'periodSeconds'), period, `must be less than or equal to ${MAX_PERIOD_SECONDS}`),
    );
  }
  return errs;
}

/** validateHorizontalPodAutoscalerSpec (scale to zero is an alpha feature, so minReplicas ≥ 1). */
export function validateHpaV2(obj: KubeObject): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const errs: FieldError[] = [];
  const min = spec.minReplicas;
  if (typeof min === 'number' && min < 1)
    errs.push(invalid('spec.minReplicas', min, 'must be greater than or equal to 1'));
  const max = typeof spec.maxReplicas === 'number' ? spec.maxReplicas : 0;
  if (max < 1) errs.push(invalid('spec.maxReplicas', max, 'must be greater than 0'));
  if (typeof min === 'number' && max < min) {
    errs.push(invalid('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
  }
  errs.push(...validateObjectReference(spec.scaleTargetRef, 'spec.scaleTargetRef'));
  const metrics = Array.isArray(spec.metrics) ? spec.metrics : [];
  errs.push(...metrics.flatMap((m, i) => validateMetricSpec(m, index('spec.metrics', i))));
  const behavior = getObj(spec, 'behavior');
  if (behavior !== undefined) {
    errs.push(...validateScalingRules(behavior.scaleUp, 'spec.behavior.scaleUp'));
    errs.push(...validateScalingRules(behavior.scaleDown, 'spec.behavior.scaleDown'));
  }
  return errs;
}

export const hpaV2Strategy = defineStrategy({
  info: info('v2'),
  defaults: defaultHpaV2,
  validate: validateHpaV2,
  hasStatus: true,
  // Kubernetes' HPA strategy never sets metadata.generation.
  hasGeneration: false,
});

// ---------------------------------------------------------------------------------------------
// Conversion between v2 and v1.

export type HpaVersion = 'v1' | 'v2';

/** Converts an HPA to the other version (a copy; the same version is returned as a copy too). */
export function convertHpa(obj: KubeObject, toVersion: HpaVersion): KubeObject {
  const from = obj.apiVersion === 'autoscaling/v1' ? 'v1' : 'v2';
  const copy = structuredClone(obj);
  if (from === toVersion) return copy;
  return toVersion === 'v1' ? v2ToV1(copy) : v1ToV2(copy);
}

function isCpuUtilization(metric: unknown): boolean {
  const r = getObj(metric, 'resource');
  return (
    getStr(metric, 'type') === 'Resource' &&
    getStr(r, 'name') === 'cpu' &&
    getObj(r, 'target')?.averageUtilization != null
  );
}

/** Drops the round-trip annotations; returns the rest (undefined when none remain). */
function withoutRoundTripAnnotations(
  annotations: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  const reserved = new Set<string>(Object.values(HPA_ANNOTATIONS));
  for (const [k, v] of Object.entries(annotations ?? {})) if (!reserved.has(k)) out[k] = v;
  return out;
}

function setMetadataAnnotations(obj: KubeObject, annotations: Record<string, string>): void {
  const m = ensureObj(obj, 'metadata') as Obj;
  if (Object.keys(annotations).length > 0) m.annotations = annotations;
  else delete m.annotations;
}

function v2ToV1(obj: KubeObject): KubeObject {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const status = getObj(obj, 'status');
  const metrics = Array.isArray(spec.metrics) ? spec.metrics : [];
  const annotations = withoutRoundTripAnnotations(obj.metadata?.annotations);
  const others = metrics.filter((m) => !isCpuUtilization(m)).map(metricSpecToV1);
  if (others.length > 0) annotations[HPA_ANNOTATIONS.metrics] = JSON.stringify(others);
  const current = Array.isArray(status?.currentMetrics) ? status.currentMetrics : [];
  // Current metrics and conditions keep their v2 shape in the annotations (Kubernetes writes the
  // v2beta1 shape of current metrics; only Keelson reads them back).
  if (current.length > 0) annotations[HPA_ANNOTATIONS.currentMetrics] = JSON.stringify(current);
  if (spec.behavior != null) annotations[HPA_ANNOTATIONS.behavior] = JSON.stringify(spec.behavior);
  const conditions = Array.isArray(status?.conditions) ? status.conditions : [];
  if (conditions.length > 0) annotations[HPA_ANNOTATIONS.conditions] = JSON.stringify(conditions);
  const out: KubeObject = { ...obj, apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler' };
  setMetadataAnnotations(out, annotations);
  const v1Spec: Obj = {};
  copyFields(spec, v1Spec, ['scaleTargetRef', 'minReplicas', 'maxReplicas']);
  const cpu = metrics.find(isCpuUtilization);
  if (cpu !== undefined) {
    v1Spec.targetCPUUtilizationPercentage = (
      getObj(getObj(cpu, 'resource'), 'target') as Obj
    ).averageUtilization;
  }
  out.spec = v1Spec;
  if (status !== undefined) out.status = statusToV1(status, current);
  return out;
}

function statusToV1(status: Obj, current: unknown[]): Obj {
  const out: Obj = {};
  copyFields(status, out, ['observedGeneration', 'lastScaleTime', 'currentReplicas', 'desiredReplicas']);
  for (const m of current) {
    const r = getObj(m, 'resource');
    const utilization = getObj(r, 'current')?.averageUtilization;
    if (getStr(m, 'type') === 'Resource' && getStr(r, 'name') === 'cpu' && utilization != null) {
      out.currentCPUUtilizationPercentage = utilization;
    }
  }
  return out;
}

function v1ToV2(obj: KubeObject): KubeObject {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const status = getObj(obj, 'status');
  const given = obj.metadata?.annotations ?? {};
  const out: KubeObject = { ...obj, apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' };
  setMetadataAnnotations(out, withoutRoundTripAnnotations(given));
  const v2Spec: Obj = {};
  copyFields(spec, v2Spec, ['scaleTargetRef', 'minReplicas', 'maxReplicas']);
  const metrics = parseJsonList(given[HPA_ANNOTATIONS.metrics]).map(metricSpecFromV1);
  if (typeof spec.targetCPUUtilizationPercentage === 'number') {
    metrics.push(cpuUtilizationMetric(spec.targetCPUUtilizationPercentage));
  }
  if (metrics.length > 0) v2Spec.metrics = metrics;
  const behavior = parseJson(given[HPA_ANNOTATIONS.behavior]);
  if (isObj(behavior)) v2Spec.behavior = behavior;
  out.spec = v2Spec;
  if (status !== undefined) out.status = statusToV2(status, given);
  return out;
}

function statusToV2(status: Obj, annotations: Record<string, string>): Obj {
  const out: Obj = {};
  copyFields(status, out, ['observedGeneration', 'lastScaleTime', 'currentReplicas', 'desiredReplicas']);
  const fromAnnotation = annotations[HPA_ANNOTATIONS.currentMetrics];
  if (fromAnnotation !== undefined) {
    out.currentMetrics = parseJsonList(fromAnnotation);
  } else if (typeof status.currentCPUUtilizationPercentage === 'number') {
    out.currentMetrics = [
      {
        type: 'Resource',
        resource: { name: 'cpu', current: { averageUtilization: status.currentCPUUtilizationPercentage } },
      },
    ];
  }
  const conditions = parseJsonList(annotations[HPA_ANNOTATIONS.conditions]);
  if (conditions.length > 0) out.conditions = conditions;
  return out;
}

function copyFields(from: Obj, to: Obj, fields: string[]): void {
  for (const f of fields) if (from[f] !== undefined) to[f] = from[f];
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // Kubernetes ignores round-trip annotations it cannot decode.
    return undefined;
  }
}

function parseJsonList(text: string | undefined): unknown[] {
  const v = parseJson(text);
  return Array.isArray(v) ? v : [];
}

/** Drops undefined members so that converted objects compare and print cleanly. */
function compact(o: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/** v2 MetricSpec → v1 (v2beta1-shaped) MetricSpec, as stored in the metrics annotation. */
function metricSpecToV1(metric: unknown): Obj {
  const m = isObj(metric) ? metric : {};
  const type = getStr(m, 'type');
  const src = getObj(m, METRIC_SOURCE_FIELDS[type] ?? '') ?? {};
  const target = getObj(src, 'target') ?? {};
  const id = getObj(src, 'metric') ?? {};
  switch (type) {
    case 'Resource':
    case 'ContainerResource':
      return compact({
        type,
        [METRIC_SOURCE_FIELDS[type] as string]: compact({
          name: src.name,
          container: src.container,
          targetAverageUtilization: target.averageUtilization,
          targetAverageValue: target.averageValue,
        }),
      });
    case 'Pods':
      return {
        type,
        pods: compact({
          metricName: id.name,
          selector: id.selector,
          targetAverageValue: target.averageValue,
        }),
      };
    case 'Object':
      return {
        type,
        object: compact({
          target: src.describedObject,
          metricName: id.name,
          selector: id.selector,
          targetValue: target.value,
          averageValue: target.averageValue,
        }),
      };
    case 'External':
      return {
        type,
        external: compact({
          metricName: id.name,
          metricSelector: id.selector,
          targetValue: target.value,
          targetAverageValue: target.averageValue,
        }),
      };
    default:
      return structuredClone(m);
  }
}

/** v1 MetricSpec → v2, as the v1 conversion decodes the metrics annotation. */
function metricSpecFromV1(metric: unknown): Obj {
  const m = isObj(metric) ? metric : {};
  const type = getStr(m, 'type');
  const src = getObj(m, METRIC_SOURCE_FIELDS[type] ?? '') ?? {};
  const metricId = (name: unknown, selector: unknown): Obj => compact({ name, selector });
  switch (type) {
    case 'Resource':
    case 'ContainerResource': {
      const utilization = src.targetAverageUtilization;
      const target = compact({
        type: utilization == null ? 'AverageValue' : 'Utilization',
        averageUtilization: utilization,
        averageValue: src.targetAverageValue,
      });
      return {
        type,
        [METRIC_SOURCE_FIELDS[type] as string]: compact({ name: src.name, container: src.container, target }),
      };
    }
    case 'Pods':
      return {
        type,
        pods: {
          metric: metricId(src.metricName, src.selector),
          target: compact({ type: 'AverageValue', averageValue: src.targetAverageValue }),
        },
      };
    case 'Object':
      return {
        type,
        object: compact({
          describedObject: src.target,
          metric: metricId(src.metricName, src.selector),
          target: compact({
            type: src.averageValue == null ? 'Value' : 'AverageValue',
            value: src.targetValue,
            averageValue: src.averageValue,
          }),
        }),
      };
    case 'External':
      return {
        type,
        external: {
          metric: metricId(src.metricName, src.metricSelector),
          target: compact({
            type: src.targetAverageValue == null ? 'Value' : 'AverageValue',
            value: src.targetValue,
            averageValue: src.targetAverageValue,
          }),
        },
      };
    default:
      return structuredClone(m);
  }
}

// ---------------------------------------------------------------------------------------------
// The v1 strategy: the v2 strategy applied through conversion, in place on the v1 object.

function replaceContents(target: KubeObject, source: KubeObject): void {
  for (const k of Object.keys(target)) delete target[k];
  Object.assign(target, source);
}

/** Runs `fn` on the v2 form of a v1 object and writes the (possibly changed) v2 form back as v1. */
function throughV2<T>(obj: KubeObject, fn: (v2: KubeObject) => T): T {
  const v2 = convertHpa({ ...obj, apiVersion: 'autoscaling/v1' }, 'v2');
  const result = fn(v2);
  const back = convertHpa(v2, 'v1');
  if (obj.apiVersion === undefined) delete back.apiVersion;
  if (obj.kind === undefined) delete back.kind;
  replaceContents(obj, back);
  return result;
}

function asV2(obj: KubeObject): KubeObject {
  return convertHpa({ ...obj, apiVersion: 'autoscaling/v1' }, 'v2');
}

export const hpaV1Strategy: ResourceStrategy = {
  info: info('v1'),
  applyDefaults: (obj) => throughV2(obj, (v2) => hpaV2Strategy.applyDefaults(v2)),
  prepareForCreate: (obj) => throughV2(obj, (v2) => hpaV2Strategy.prepareForCreate(v2)),
  prepareForUpdate: (obj, old) => throughV2(obj, (v2) => hpaV2Strategy.prepareForUpdate(v2, asV2(old))),
  prepareForStatusUpdate: (obj, old) =>
    throughV2(obj, (v2) => hpaV2Strategy.prepareForStatusUpdate?.(v2, asV2(old))),
  validateCreate: (obj) => hpaV2Strategy.validateCreate(asV2(obj)),
  validateUpdate: (obj, old) => hpaV2Strategy.validateUpdate(asV2(obj), asV2(old)),
  selectableFields: (obj) => hpaV2Strategy.selectableFields(obj),
};

export const autoscalingStrategies = [hpaV2Strategy, hpaV1Strategy];
