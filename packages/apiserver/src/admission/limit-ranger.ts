// LimitRanger (plugin/pkg/admission/limitranger): the LimitRanges of a namespace give containers
// default requests and limits on create, and bound what containers, pods and claims may ask for.
// Comparisons follow Kubernetes exactly: milli-values rounded up, the same messages, an aggregate of
// every violated bound of the first LimitRange that refuses.

import type { KubeObject } from '@keelson/api';
import {
  compareQuantity,
  formatQuantity,
  milliValue,
  parseResourceList,
  type Quantity,
  wholeValue,
} from '@keelson/api';
import type { AdmissionContext, AdmissionPlugin, AdmissionRequest } from '../types.js';
import {
  admissionForbidden,
  aggregateMessage,
  ensureRecord,
  isCoreResource,
  objectField,
  recordsOf,
} from './errors.js';
import { podResourceTotals, type ResourceList } from './pod-resources.js';

export const LIMIT_RANGER = 'LimitRanger';

/** The annotation that records which defaults were applied. */
export const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger';

/** One spec.limits[] item with its resource lists parsed and LimitRange defaulting applied. */
interface LimitItem {
  type: string;
  min: ResourceList;
  max: ResourceList;
  default: ResourceList;
  defaultRequest: ResourceList;
  maxLimitRequestRatio: ResourceList;
}

/** Bound on the LimitRanges read per namespace; more than this is a misconfiguration, not a workload. */
const limitRangesMax = 1_000;

export interface LimitRangerOptions {
  /** --etcd-prefix: where objects live in the store ("/registry"). */
  etcdPrefix?: string;
}

export function limitRanger(opts: LimitRangerOptions = {}): AdmissionPlugin {
  const etcdPrefix = opts.etcdPrefix ?? '/registry';
  async function admit(req: AdmissionRequest, ctx: AdmissionContext): Promise<void> {
    if (!applies(req) || req.operation !== 'CREATE' || req.info.plural !== 'pods') return;
    const pod = req.object;
    if (pod === undefined) return;
    for (const items of await readLimitRanges(ctx, etcdPrefix, req.namespace)) applyPodDefaults(pod, items);
  }

  async function validate(req: AdmissionRequest, ctx: AdmissionContext): Promise<void> {
    if (!applies(req) || req.object === undefined) return;
    const check = req.info.plural === 'pods' ? podViolations : claimViolations;
    for (const items of await readLimitRanges(ctx, etcdPrefix, req.namespace)) {
      const errs = check(req.object, items);
      if (errs.length > 0) throw admissionForbidden(req, aggregateMessage(errs));
    }
  }

  return { name: LIMIT_RANGER, admit, validate };
}

/** DefaultLimitRangerActions.SupportsAttributes plus the skip of objects being deleted. */
function applies(req: AdmissionRequest): boolean {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return false;
  const pod = isCoreResource(req, 'pods');
  if (!pod && !isCoreResource(req, 'persistentvolumeclaims')) return false;
  // Containers cannot change on update, so Kubernetes neither defaults nor checks pod updates.
  if (pod && req.operation === 'UPDATE') return false;
  return req.oldObject?.metadata?.deletionTimestamp === undefined;
}

async function readLimitRanges(
  ctx: AdmissionContext,
  prefix: string,
  namespace: string,
): Promise<LimitItem[][]> {
  const listed = await ctx.storage.list(`${prefix}/limitranges/${namespace}/`, { limit: limitRangesMax });
  return listed.items.map((s) => recordsOf(objectField(s.obj, 'spec'), 'limits').map(toLimitItem));
}

/** Parses one limit and applies SetDefaults_LimitRangeItem (default ← max, defaultRequest ← default ← min). */
export function toLimitItem(raw: Record<string, unknown>): LimitItem {
  const item: LimitItem = {
    type: typeof raw.type === 'string' ? raw.type : '',
    min: parseResourceList(raw.min),
    max: parseResourceList(raw.max),
    default: parseResourceList(raw.default),
    defaultRequest: parseResourceList(raw.defaultRequest),
    maxLimitRequestRatio: parseResourceList(raw.maxLimitRequestRatio),
  };
  if (item.type !== 'Container') return item;
  for (const [k, v] of item.max) if (!item.default.has(k)) item.default.set(k, v);
  for (const [k, v] of item.default) if (!item.defaultRequest.has(k)) item.defaultRequest.set(k, v);
  for (const [k, v] of item.min) if (!item.defaultRequest.has(k)) item.defaultRequest.set(k, v);
  return item;
}

// ---- defaults ----------------------------------------------------------------------------------

/** mergePodResourceRequirements: fills missing container requests/limits and notes what it set. */
export function applyPodDefaults(pod: KubeObject, items: LimitItem[]): void {
  const requests: ResourceList = new Map();
  const limits: ResourceList = new Map();
  for (const item of items) {
    if (item.type !== 'Container') continue;
    for (const [k, v] of item.defaultRequest) requests.set(k, v);
    for (const [k, v] of item.default) limits.set(k, v);
  }
  if (requests.size === 0 && limits.size === 0) return;
  const spec = objectField(pod, 'spec');
  const notes: string[] = [];
  for (const c of recordsOf(spec, 'containers')) mergeContainer(c, requests, limits, 'container', notes);
  for (const c of recordsOf(spec, 'initContainers'))
    mergeContainer(c, requests, limits, 'init container', notes);
  if (notes.length === 0) return;
  const annotations = ensureRecord(ensureRecord(pod, 'metadata'), 'annotations');
  annotations[LIMIT_RANGER_ANNOTATION] = `LimitRanger plugin set: ${notes.join('; ')}`;
}

function mergeContainer(
  container: Record<string, unknown>,
  requests: ResourceList,
  limits: ResourceList,
  prefix: string,
  notes: string[],
): void {
  const resources = ensureRecord(container, 'resources');
  const setLimits = fillMissing(ensureRecord(resources, 'limits'), limits);
  const setRequests = fillMissing(ensureRecord(resources, 'requests'), requests);
  const name = typeof container.name === 'string' ? container.name : '';
  if (setRequests.length > 0) notes.push(`${setRequests.sort().join(', ')} request for ${prefix} ${name}`);
  if (setLimits.length > 0) notes.push(`${setLimits.sort().join(', ')} limit for ${prefix} ${name}`);
}

function fillMissing(target: Record<string, unknown>, defaults: ResourceList): string[] {
  const set: string[] = [];
  for (const [k, v] of defaults) {
    if (k in target) continue;
    target[k] = formatQuantity(v);
    set.push(k);
  }
  return set;
}

// ---- bounds ------------------------------------------------------------------------------------

/** PodValidateLimitFunc: every bound of every Container and Pod limit, as messages. */
export function podViolations(pod: KubeObject, items: LimitItem[]): string[] {
  const spec = objectField(pod, 'spec');
  const containers = [...recordsOf(spec, 'containers'), ...recordsOf(spec, 'initContainers')];
  const errs: string[] = [];
  for (const item of items) {
    if (item.type === 'Container') {
      for (const c of containers) {
        const resources = objectField(c, 'resources');
        const requests = parseResourceList(resources?.requests);
        const limits = parseResourceList(resources?.limits);
        errs.push(...itemViolations('Container', item, requests, limits));
      }
    } else if (item.type === 'Pod') {
      errs.push(
        ...itemViolations(
          'Pod',
          item,
          podResourceTotals(spec, 'requests', false),
          podResourceTotals(spec, 'limits', false),
        ),
      );
    }
  }
  return errs;
}

/** PersistentVolumeClaimValidateLimitFunc: min and max of spec.resources.requests. */
export function claimViolations(claim: KubeObject, items: LimitItem[]): string[] {
  const requests = parseResourceList(objectField(objectField(claim, 'spec'), 'resources')?.requests);
  const errs: string[] = [];
  for (const item of items) {
    if (item.type !== 'PersistentVolumeClaim') continue;
    for (const [k, v] of sorted(item.min)) push(errs, minConstraint(item.type, k, v, requests, new Map()));
    for (const [k, v] of sorted(item.max)) push(errs, maxRequestConstraint(item.type, k, v, requests));
  }
  return errs;
}

function itemViolations(
  type: string,
  item: LimitItem,
  requests: ResourceList,
  limits: ResourceList,
): string[] {
  const errs: string[] = [];
  for (const [k, v] of sorted(item.min)) push(errs, minConstraint(type, k, v, requests, limits));
  for (const [k, v] of sorted(item.max)) push(errs, maxConstraint(type, k, v, requests, limits));
  for (const [k, v] of sorted(item.maxLimitRequestRatio))
    push(errs, ratioConstraint(type, k, v, requests, limits));
  return errs;
}

/** Go iterates maps in random order; sorting makes the aggregate message stable. */
function sorted(list: ResourceList): [string, Quantity][] {
  return [...list].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function push(errs: string[], err: string | undefined): void {
  if (err !== undefined) errs.push(err);
}

/** requestLimitEnforcedValues: whole values, or milli-values when none would overflow int64. */
function observed(req: Quantity | undefined, lim: Quantity | undefined, enforced: Quantity) {
  const zero = { nanos: 0n, format: 'DecimalSI' } as const;
  const r = req ?? zero;
  const l = lim ?? zero;
  const maxMilliValue = 2n ** 63n / 1000n;
  const whole = [wholeValue(r), wholeValue(l), wholeValue(enforced)] as const;
  if (whole[0] > maxMilliValue || whole[1] > maxMilliValue || whole[2] > maxMilliValue) {
    return { request: whole[0], limit: whole[1], enforced: whole[2] };
  }
  return { request: milliValue(r), limit: milliValue(l), enforced: milliValue(enforced) };
}

function minConstraint(
  type: string,
  name: string,
  enforced: Quantity,
  requests: ResourceList,
  limits: ResourceList,
): string | undefined {
  const req = requests.get(name);
  const lim = limits.get(name);
  const v = observed(req, lim, enforced);
  const head = `minimum ${name} usage per ${type} is ${formatQuantity(enforced)}`;
  if (req === undefined) return `${head}.  No request is specified`;
  if (v.request < v.enforced) return `${head}, but request is ${formatQuantity(req)}`;
  if (lim !== undefined && v.limit < v.enforced) return `${head}, but limit is ${formatQuantity(lim)}`;
  return undefined;
}

function maxRequestConstraint(
  type: string,
  name: string,
  enforced: Quantity,
  requests: ResourceList,
): string | undefined {
  const req = requests.get(name);
  const v = observed(req, undefined, enforced);
  const head = `maximum ${name} usage per ${type} is ${formatQuantity(enforced)}`;
  if (req === undefined) return `${head}.  No request is specified`;
  if (v.request > v.enforced) return `${head}, but request is ${formatQuantity(req)}`;
  return undefined;
}

function maxConstraint(
  type: string,
  name: string,
  enforced: Quantity,
  requests: ResourceList,
  limits: ResourceList,
): string | undefined {
  const req = requests.get(name);
  const lim = limits.get(name);
  const v = observed(req, lim, enforced);
  const head = `maximum ${name} usage per ${type} is ${formatQuantity(enforced)}`;
  if (lim === undefined) return `${head}.  No limit is specified`;
  if (v.limit > v.enforced) return `${head}, but limit is ${formatQuantity(lim)}`;
  if (req !== undefined && v.request > v.enforced) return `${head}, but request is ${formatQuantity(req)}`;
  return undefined;
}

function ratioConstraint(
  type: string,
  name: string,
  enforced: Quantity,
  requests: ResourceList,
  limits: ResourceList,
): string | undefined {
  const req = requests.get(name);
  const lim = limits.get(name);
  const v = observed(req, lim, enforced);
  const head = `${name} max limit to request ratio per ${type} is ${formatQuantity(enforced)}`;
  if (req === undefined || v.request === 0n) return `${head}, but no request is specified or request is 0`;
  if (lim === undefined || v.limit === 0n) return `${head}, but no limit is specified or limit is 0`;
  // limit/request > enforced, compared exactly by cross-multiplying (Kubernetes uses float64 here).
  const exceeds = compareQuantity(
    { nanos: v.limit * 1_000_000_000n, format: 'DecimalSI' },
    { nanos: v.request * enforced.nanos, format: 'DecimalSI' },
  );
  if (exceeds > 0)
    return `${head}, but provided ratio is ${(Number(v.limit) / Number(v.request)).toFixed(6)}`;
  return undefined;
}
