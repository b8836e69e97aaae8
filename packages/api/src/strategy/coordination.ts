// coordination.k8s.io/v1 Leases: no defaults; validation of pkg/apis/coordination/validation.
// Leases carry no generation and no status: every holder renews by updating the spec.

import { findResource } from '../registry.js';
import type { FieldError, KubeObject, ResourceInfo } from '../types.js';
import { child, forbidden, invalid, notSupported } from '../validation/field.js';
import { defineStrategy, isObj, StrategyAssertionError } from './generic.js';

function info(plural: string): ResourceInfo {
  const found = findResource('coordination.k8s.io', 'v1', plural);
  if (found === undefined)
    throw new StrategyAssertionError(`coordination.k8s.io/v1 ${plural} is not in the registry`);
  return found;
}

const LEASE_STRATEGIES = ['OldestEmulationVersion'];

/** ValidateLeaseSpec. */
export function validateLease(obj: KubeObject): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const errs: FieldError[] = [];
  const duration = spec.leaseDurationSeconds;
  if (typeof duration === 'number' && duration <= 0) {
    errs.push(invalid(child('spec', 'leaseDurationSeconds'), duration, 'must be greater than 0'));
  }
  const transitions = spec.leaseTransitions;
  if (typeof transitions === 'number' && transitions < 0) {
    errs.push(invalid(child('spec', 'leaseTransitions'), transitions, 'must be greater than or equal to 0'));
  }
  const strategy = spec.strategy;
  if (strategy != null && !LEASE_STRATEGIES.includes(String(strategy))) {
    errs.push(notSupported('spec.strategy', strategy, LEASE_STRATEGIES));
  }
  if (spec.preferredHolder != null && spec.preferredHolder !== '' && (strategy == null || strategy === '')) {
    errs.push(forbidden('spec.preferredHolder', 'may only be specified if `strategy` is defined'));
  }
  return errs;
}

export const leaseStrategy = defineStrategy({
  info: info('leases'),
  validate: validateLease,
  hasStatus: false,
  hasGeneration: false,
});

export const coordinationStrategies = [leaseStrategy];
