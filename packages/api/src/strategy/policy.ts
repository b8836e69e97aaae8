// policy/v1 PodDisruptionBudgets: minAvailable xor maxUnavailable, each a non-negative integer or
// a percentage of at most 100% (pkg/apis/policy/validation). The spec is mutable since 1.15.

import { findResource } from '../registry.js';
import type { FieldError, KubeObject, ResourceInfo } from '../types.js';
import { invalid, notSupported } from '../validation/field.js';
import { isNotMoreThan100Percent, validateLabelSelector, validatePositiveIntOrPercent } from './apps.js';
import { defineStrategy, isObj, StrategyAssertionError } from './generic.js';

function info(plural: string): ResourceInfo {
  const found = findResource('policy', 'v1', plural);
  if (found === undefined) throw new StrategyAssertionError(`policy/v1 ${plural} is not in the registry`);
  return found;
}

const EVICTION_POLICIES = ['AlwaysAllow', 'IfHealthyBudget'];

/** ValidatePodDisruptionBudgetSpec. */
export function validatePodDisruptionBudget(obj: KubeObject): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const errs: FieldError[] = [];
  const min = spec.minAvailable;
  const max = spec.maxUnavailable;
  if (min != null && max != null)
    errs.push(invalid('spec', spec, 'minAvailable and maxUnavailable cannot be both set'));
  if (min != null) {
    errs.push(...validatePositiveIntOrPercent(min, 'spec.minAvailable'));
    errs.push(...isNotMoreThan100Percent(min, 'spec.minAvailable'));
  }
  if (max != null) {
    errs.push(...validatePositiveIntOrPercent(max, 'spec.maxUnavailable'));
    errs.push(...isNotMoreThan100Percent(max, 'spec.maxUnavailable'));
  }
  errs.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  const eviction = spec.unhealthyPodEvictionPolicy;
  if (eviction != null && !EVICTION_POLICIES.includes(String(eviction))) {
    errs.push(notSupported('spec.unhealthyPodEvictionPolicy', eviction, EVICTION_POLICIES));
  }
  return errs;
}

export const podDisruptionBudgetStrategy = defineStrategy({
  info: info('poddisruptionbudgets'),
  validate: validatePodDisruptionBudget,
  hasStatus: true,
  hasGeneration: true,
});

export const policyStrategies = [podDisruptionBudgetStrategy];
