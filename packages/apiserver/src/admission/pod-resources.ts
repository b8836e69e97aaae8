// Pod-level resource totals as Kubernetes computes them (component-helpers' PodRequests/PodLimits and
// LimitRanger's podRequests/podLimits): app containers summed, restartable init containers (sidecars)
// added and carried, ordinary init containers taking the maximum, pod overhead optionally added.

import { addQuantity, maxQuantity, parseResourceList, type Quantity } from '@keelson/api';
import { objectField, recordsOf } from './errors.js';

export type ResourceList = Map<string, Quantity>;

export function podResourceTotals(
  spec: Record<string, unknown> | undefined,
  which: 'requests' | 'limits',
  withOverhead: boolean,
): ResourceList {
  const total: ResourceList = new Map();
  for (const c of recordsOf(spec, 'containers')) addInto(total, containerResources(c, which));
  const restartable: ResourceList = new Map();
  const initMax: ResourceList = new Map();
  for (const c of recordsOf(spec, 'initContainers')) {
    const own = containerResources(c, which);
    const effective: ResourceList = new Map();
    if (c.restartPolicy === 'Always') {
      addInto(total, own);
      addInto(restartable, own);
      addInto(effective, restartable);
    } else {
      addInto(effective, own);
      addInto(effective, restartable);
    }
    maxInto(initMax, effective);
  }
  maxInto(total, initMax);
  if (withOverhead) addInto(total, parseResourceList(spec?.overhead));
  return total;
}

export function containerResources(
  container: Record<string, unknown>,
  which: 'requests' | 'limits',
): ResourceList {
  return parseResourceList(objectField(container, 'resources')?.[which]);
}

export function addInto(target: ResourceList, add: ResourceList): void {
  for (const [k, v] of add) {
    const cur = target.get(k);
    target.set(k, cur === undefined ? v : addQuantity(cur, v));
  }
}

export function maxInto(target: ResourceList, other: ResourceList): void {
  for (const [k, v] of other) {
    const cur = target.get(k);
    target.set(k, cur === undefined ? v : maxQuantity(cur, v));
  }
}
