// Every resource strategy, looked up by group, plural and (optionally) version. Without a version
// the storage version's strategy is returned (autoscaling: v2); with one, that version's (the v1
// HPA strategy works on v1 objects by converting through v2).

import type { KubeObject, ResourceStrategy } from '../types.js';
import { appsStrategies } from './apps.js';
import { autoscalingStrategies, convertHpa } from './autoscaling.js';
import { batchStrategies } from './batch.js';
import { coordinationStrategies } from './coordination.js';
import { coreStrategies } from './core.js';
import { discoveryStrategies } from './discovery.js';
import { StrategyAssertionError } from './generic.js';
import { networkingStrategies } from './networking.js';
import { policyStrategies } from './policy.js';
import { rbacStrategies } from './rbac.js';
import { storageStrategies } from './storage.js';

const ALL: readonly ResourceStrategy[] = Object.freeze([
  ...coreStrategies,
  ...appsStrategies,
  ...batchStrategies,
  ...autoscalingStrategies,
  ...coordinationStrategies,
  ...rbacStrategies,
  ...networkingStrategies,
  ...discoveryStrategies,
  ...storageStrategies,
  ...policyStrategies,
]);

const byVersion = new Map<string, ResourceStrategy>();
const byResource = new Map<string, ResourceStrategy>();
for (const s of ALL) {
  const { group, version, plural, storageVersion } = s.info;
  const key = `${group}/${version}/${plural}`;
  if (byVersion.has(key)) throw new StrategyAssertionError(`two strategies for ${key}`);
  byVersion.set(key, s);
  const resourceKey = `${group}/${plural}`;
  if (version === storageVersion || !byResource.has(resourceKey)) byResource.set(resourceKey, s);
}

/** The strategy of a served resource; undefined for resources without one (reviews) or unknown ones. */
export function getStrategy(group: string, plural: string, version?: string): ResourceStrategy | undefined {
  if (version !== undefined) return byVersion.get(`${group}/${version}/${plural}`);
  return byResource.get(`${group}/${plural}`);
}

/** Every strategy, core first, one per served group/version/resource. */
export function allStrategies(): readonly ResourceStrategy[] {
  return ALL;
}

/**
 * Converts an object to another served version of its resource, as a copy. Only HPAs are served
 * in two versions (v2 stored, v1 converted); for every other resource this only rewrites
 * apiVersion. The REST layer converts request bodies to `info.storageVersion` before storing
 * and stored objects to the requested version before answering.
 */
export function convertVersion(
  obj: KubeObject,
  group: string,
  plural: string,
  toVersion: string,
): KubeObject {
  if (group === 'autoscaling' && plural === 'horizontalpodautoscalers') {
    if (toVersion !== 'v1' && toVersion !== 'v2')
      throw new StrategyAssertionError(`no HPA version ${toVersion}`);
    return convertHpa(obj, toVersion);
  }
  const copy = structuredClone(obj);
  copy.apiVersion = group === '' ? toVersion : `${group}/${toVersion}`;
  return copy;
}
