// ResourceQuota (plugin/pkg/admission/resourcequota), made safe for several apiservers without a
// quota controller.
//
// How usage is known. Kubernetes charges status.used in admission and relies on the quota controller
// to release usage after deletes. Keelson has no controller yet, so enforcement never trusts
// status.used: at check time it recomputes usage from the objects in the store (a list of the
// namespace's pods, services…), which is right after deletes by construction.
//
// Why concurrent creates cannot overshoot. Every admitted charge also writes the quota (status.used)
// in the same txn as the object, guarded by a compare on the quota's mod_revision read *before* the
// objects were listed. Of two racing creates, the second either sees the first's object in its list
// or fails its compare (the first changed the quota) and is re-admitted by the core. Deletes can only
// lower usage, so a delete racing a check makes the check conservative, never too lenient.
//
// Deletes also refresh status.used (a compare-and-put through the delete's extras) so that `kubectl
// describe quota` is current; enforcement would be correct without it.

import {
  addQuantity,
  compareQuantity,
  formatQuantity,
  type KubeObject,
  parseResourceList,
  type Quantity,
  quantityFromInt,
  RESOURCES,
  type ResourceInfo,
  subQuantity,
} from '@keelson/api';
import type { AdmissionContext, AdmissionPlugin, AdmissionRequest, Stored } from '../types.js';
import { admissionForbidden, arrayField, objectField, recordsOf } from './errors.js';
import { containerResources, podResourceTotals, type ResourceList } from './pod-resources.js';
import { listAll, objectKey } from './reads.js';

export const RESOURCE_QUOTA = 'ResourceQuota';

export interface ResourceQuotaOptions {
  /** --etcd-prefix: where objects live in the store ("/registry"). */
  etcdPrefix?: string;
  nowMs?: () => number;
  /** Where a resource's objects are stored; Keelson's registry (RESOURCES) by default. */
  resolve?: (plural: string, group: string) => ResourceInfo | undefined;
}

/** A resource the quota system counts: the resource, and how one object is charged. */
interface Evaluator {
  plural: string;
  group: string;
  /** Whether this evaluator computes the quota resource name. */
  covers(name: string): boolean;
  usage(obj: KubeObject, nowMs: number): ResourceList;
  /** Kubernetes charges updates only where usage can change (services, claims). */
  chargesUpdates: boolean;
}

interface QuotaView {
  stored: Stored;
  key: string;
  name: string;
  hard: ResourceList;
}

export function resourceQuota(opts: ResourceQuotaOptions = {}): AdmissionPlugin {
  const prefix = opts.etcdPrefix ?? '/registry';
  const nowMs = opts.nowMs ?? Date.now;
  const resolve = opts.resolve ?? resolveFromRegistry;

  async function validate(req: AdmissionRequest, ctx: AdmissionContext): Promise<void> {
    if (req.subresource !== '' || req.namespace === '') return;
    const evaluator = evaluatorFor(req.info.plural, req.info.group);
    if (req.operation === 'CREATE' || req.operation === 'UPDATE') await charge(req, ctx, evaluator);
    // A delete that only marks the object (req.object is the marked object) releases nothing yet.
    if (req.operation === 'DELETE' && req.object === undefined) await release(req, ctx, evaluator);
    if (isQuota(req.info) && req.object !== undefined && req.operation !== 'DELETE') {
      await fillQuotaStatus(req, ctx, req.object);
    }
  }

  function ownKey(req: AdmissionRequest): string {
    return objectKey(prefix, req.info.storageResource, req.namespace, req.name);
  }

  async function readQuotas(ctx: AdmissionContext, req: AdmissionRequest): Promise<QuotaView[]> {
    const stored = await listAll(ctx.storage, `${prefix}/resourcequotas/${req.namespace}/`);
    const own = ownKey(req);
    // The quota being written is never also an extra put: etcd refuses a txn that puts a key twice.
    return stored.map((s) => toQuotaView(prefix, req.namespace, s)).filter((q) => q.key !== own);
  }

  /** The stored objects of a resource in the request's namespace, except the one at `excludeKey`. */
  async function objectsOf(ctx: AdmissionContext, namespace: string, info: ResourceInfo, excludeKey: string) {
    const stored = await listAll(ctx.storage, `${prefix}/${info.storageResource}/${namespace}/`);
    return stored.filter((s) => keyOf(s, prefix, info, namespace) !== excludeKey).map((s) => s.obj);
  }

  async function charge(req: AdmissionRequest, ctx: AdmissionContext, ev: Evaluator): Promise<void> {
    if (req.object === undefined) return;
    const now = nowMs();
    const newUsage = ev.usage(req.object, now);
    let delta = newUsage;
    if (req.operation === 'UPDATE') {
      if (!ev.chargesUpdates || req.oldObject === undefined) return;
      delta = subtractNonNegative(newUsage, ev.usage(req.oldObject, now));
      if ([...delta.values()].every((q) => q.nanos === 0n)) return;
    }
    // Quotas are read before the objects are listed: see the header for why the order matters.
    const quotas = await readQuotas(ctx, req);
    let others: KubeObject[] | undefined;
    const charged: { quota: QuotaView; used: ResourceList }[] = [];
    for (const quota of quotas) {
      const interesting = [...quota.hard.keys()].filter((n) => ev.covers(n));
      if (interesting.length === 0 || !scopesMatch(quota.stored.obj, req.info, req.object)) continue;
      if (req.operation === 'CREATE') checkConstraints(req, ev, quota, interesting);
      others ??= await objectsOf(ctx, req.namespace, req.info, ownKey(req));
      const counted = others.filter((o) => scopesMatch(quota.stored.obj, req.info, o));
      const oldIncluded = req.operation === 'UPDATE' && req.oldObject !== undefined ? [req.oldObject] : [];
      const used = sumUsage(ev, [...counted, ...oldIncluded], interesting, now);
      const requested = mask(delta, interesting);
      const after = addLists(used, requested);
      const exceeded = [...requested.keys()].filter((k) => exceeds(after.get(k), quota.hard.get(k))).sort();
      if (exceeded.length > 0) throw exceededError(req, quota, requested, used, exceeded);
      charged.push({ quota, used: after });
    }
    for (const { quota, used } of charged) addQuotaWrite(ctx, quota, used);
  }

  async function release(req: AdmissionRequest, ctx: AdmissionContext, ev: Evaluator): Promise<void> {
    const old = req.oldObject;
    if (old === undefined) return;
    const quotas = await readQuotas(ctx, req);
    let others: KubeObject[] | undefined;
    const now = nowMs();
    for (const quota of quotas) {
      const interesting = [...quota.hard.keys()].filter((n) => ev.covers(n));
      if (interesting.length === 0 || !scopesMatch(quota.stored.obj, req.info, old)) continue;
      others ??= await objectsOf(ctx, req.namespace, req.info, ownKey(req));
      const counted = others.filter((o) => scopesMatch(quota.stored.obj, req.info, o));
      addQuotaWrite(ctx, quota, sumUsage(ev, counted, interesting, now));
    }
  }

  /** status.hard mirrors spec.hard; status.used is computed for every hard resource. */
  async function fillQuotaStatus(
    req: AdmissionRequest,
    ctx: AdmissionContext,
    quota: KubeObject,
  ): Promise<void> {
    const hardRaw = objectField(objectField(quota, 'spec'), 'hard') ?? {};
    const hard = parseResourceList(hardRaw);
    const used: ResourceList = new Map();
    const now = nowMs();
    const byResource = new Map<Evaluator, string[]>();
    for (const name of hard.keys()) {
      const ev = evaluatorForQuotaName(name, resolve);
      if (ev === undefined) continue;
      byResource.set(ev, [...(byResource.get(ev) ?? []), name]);
    }
    for (const [ev, names] of byResource) {
      const info = resolve(ev.plural, ev.group);
      if (info === undefined) continue;
      const objects = await objectsOf(ctx, req.namespace, info, isQuota(info) ? ownKey(req) : '');
      if (isQuota(info)) objects.push(quota);
      const counted = objects.filter((o) => scopesMatch(quota, info, o));
      for (const [k, v] of sumUsage(ev, counted, names, now)) used.set(k, v);
    }
    const status = { ...(objectField(quota, 'status') ?? {}) };
    status.hard = { ...hardRaw };
    status.used = { ...(objectField(status, 'used') ?? {}), ...formatList(used) };
    quota.status = status;
  }

  return { name: RESOURCE_QUOTA, validate };
}

function isQuota(info: { plural: string; group: string }): boolean {
  return info.group === '' && info.plural === 'resourcequotas';
}

function resolveFromRegistry(plural: string, group: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.plural === plural && r.group === group && r.storageResource !== '');
}

function keyOf(s: Stored, prefix: string, info: ResourceInfo, namespace: string): string {
  return objectKey(prefix, info.storageResource, namespace, s.obj.metadata?.name ?? '');
}

function toQuotaView(prefix: string, namespace: string, stored: Stored): QuotaView {
  const name = stored.obj.metadata?.name ?? '';
  return {
    stored,
    key: objectKey(prefix, 'resourcequotas', namespace, name),
    name,
    hard: parseResourceList(objectField(objectField(stored.obj, 'spec'), 'hard')),
  };
}

/** The charge: the quota must be unchanged since it was read, and gets the new status.used. */
function addQuotaWrite(ctx: AdmissionContext, quota: QuotaView, used: ResourceList): void {
  const obj = structuredClone(quota.stored.obj);
  const metadata = { ...(obj.metadata ?? {}) };
  delete metadata.resourceVersion;
  obj.metadata = metadata;
  const status = { ...(objectField(obj, 'status') ?? {}) };
  status.hard = { ...(objectField(objectField(obj, 'spec'), 'hard') ?? {}) };
  status.used = { ...(objectField(status, 'used') ?? {}), ...formatList(used) };
  obj.status = status;
  ctx.extras.compares.push({ key: quota.key, modRevision: quota.stored.modRevision });
  ctx.extras.puts.push({ key: quota.key, value: JSON.stringify(obj) });
}

function exceeds(after: Quantity | undefined, hard: Quantity | undefined): boolean {
  return after !== undefined && hard !== undefined && compareQuantity(after, hard) > 0;
}

function exceededError(
  req: AdmissionRequest,
  quota: QuotaView,
  requested: ResourceList,
  used: ResourceList,
  exceeded: string[],
) {
  const show = (list: ResourceList) =>
    exceeded
      .filter((k) => list.has(k))
      .map((k) => `${k}=${formatQuantity(list.get(k) as Quantity)}`)
      .join(',');
  return admissionForbidden(
    req,
    `exceeded quota: ${quota.name}, requested: ${show(requested)}, used: ${show(used)}, limited: ${show(quota.hard)}`,
  );
}

/** Pods quota'd on cpu or memory must say what each container asks for (a historical requirement). */
function checkConstraints(
  req: AdmissionRequest,
  ev: Evaluator,
  quota: QuotaView,
  interesting: string[],
): void {
  if (ev.plural !== 'pods' || ev.group !== '' || req.object === undefined) return;
  const required = interesting.filter((n) => computeValidationSet.has(n));
  if (required.length === 0) return;
  const spec = objectField(req.object, 'spec');
  const missing = new Map<string, Set<string>>();
  for (const c of [...recordsOf(spec, 'containers'), ...recordsOf(spec, 'initContainers')]) {
    const have = containerUsage(containerResources(c, 'requests'), containerResources(c, 'limits'));
    for (const r of required) {
      if (have.has(r)) continue;
      const names = missing.get(r) ?? new Set<string>();
      names.add(typeof c.name === 'string' ? c.name : '');
      missing.set(r, names);
    }
  }
  if (missing.size === 0) return;
  const parts = [...missing.keys()]
    .sort()
    .map((r) => `${r} for: ${[...(missing.get(r) ?? [])].sort().join(',')}`);
  throw admissionForbidden(req, `failed quota: ${quota.name}: must specify ${parts.join('; ')}`);
}

const computeValidationSet = new Set([
  'cpu',
  'memory',
  'requests.cpu',
  'requests.memory',
  'limits.cpu',
  'limits.memory',
]);

// ---- usage arithmetic ----------------------------------------------------------------------------

function sumUsage(ev: Evaluator, objects: KubeObject[], names: string[], nowMs: number): ResourceList {
  const total: ResourceList = new Map(names.map((n) => [n, quantityFromInt(0)]));
  for (const o of objects) {
    for (const [k, v] of mask(ev.usage(o, nowMs), names))
      total.set(k, addQuantity(total.get(k) ?? quantityFromInt(0), v));
  }
  return total;
}

function mask(list: ResourceList, names: string[]): ResourceList {
  const out: ResourceList = new Map();
  for (const n of names) {
    const v = list.get(n);
    if (v !== undefined) out.set(n, v);
  }
  return out;
}

function addLists(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = new Map(a);
  for (const [k, v] of b) out.set(k, addQuantity(out.get(k) ?? quantityFromInt(0), v));
  return out;
}

/** quota.SubtractWithNonNegativeResult. */
function subtractNonNegative(a: ResourceList, b: ResourceList): ResourceList {
  const out: ResourceList = new Map();
  for (const [k, v] of a) {
    const diff = subQuantity(v, b.get(k) ?? quantityFromInt(0));
    out.set(k, diff.nanos < 0n ? quantityFromInt(0) : diff);
  }
  return out;
}

function formatList(list: ResourceList): Record<string, string> {
  return Object.fromEntries([...list].map(([k, v]) => [k, formatQuantity(v)]));
}

// ---- scopes --------------------------------------------------------------------------------------

/** Scoped quotas (spec.scopes, spec.scopeSelector) only ever match pods, as in Kubernetes. */
export function scopesMatch(
  quota: KubeObject,
  info: { plural: string; group: string },
  obj: KubeObject,
): boolean {
  const spec = objectField(quota, 'spec');
  const scopes = arrayField(spec, 'scopes').filter((s): s is string => typeof s === 'string');
  const expressions = recordsOf(objectField(spec, 'scopeSelector'), 'matchExpressions');
  if (scopes.length === 0 && expressions.length === 0) return true;
  if (info.plural !== 'pods' || info.group !== '') return false;
  const podSpec = objectField(obj, 'spec');
  for (const scope of scopes) if (!podMatchesScope(podSpec, scope, 'Exists', [])) return false;
  for (const e of expressions) {
    const values = arrayField(e, 'values').filter((v): v is string => typeof v === 'string');
    if (!podMatchesScope(podSpec, String(e.scopeName), String(e.operator), values)) return false;
  }
  return true;
}

function podMatchesScope(
  spec: Record<string, unknown> | undefined,
  scope: string,
  op: string,
  values: string[],
): boolean {
  const priorityClass = typeof spec?.priorityClassName === 'string' ? spec.priorityClassName : '';
  const has = (() => {
    switch (scope) {
      case 'Terminating':
        return typeof spec?.activeDeadlineSeconds === 'number' && spec.activeDeadlineSeconds >= 0;
      case 'NotTerminating':
        return !(typeof spec?.activeDeadlineSeconds === 'number' && spec.activeDeadlineSeconds >= 0);
      case 'BestEffort':
        return isBestEffort(spec);
      case 'NotBestEffort':
        return !isBestEffort(spec);
      case 'PriorityClass':
        if (op === 'In') return values.includes(priorityClass);
        if (op === 'NotIn') return !values.includes(priorityClass);
        return priorityClass !== '';
      default:
        // Scopes Keelson does not know (CrossNamespacePodAffinity) match nothing rather than everything.
        return false;
    }
  })();
  return op === 'DoesNotExist' ? !has : has;
}

function isBestEffort(spec: Record<string, unknown> | undefined): boolean {
  for (const c of [...recordsOf(spec, 'containers'), ...recordsOf(spec, 'initContainers')]) {
    for (const which of ['requests', 'limits'] as const) {
      const list = containerResources(c, which);
      if (list.has('cpu') || list.has('memory')) return false;
    }
  }
  return true;
}

// ---- evaluators ----------------------------------------------------------------------------------

const one = () => quantityFromInt(1);
const podComputeNames = new Set(['cpu', 'memory', 'ephemeral-storage', 'pods', 'count/pods']);

const podEvaluator: Evaluator = {
  plural: 'pods',
  group: '',
  chargesUpdates: false,
  covers: (n) =>
    podComputeNames.has(n) ||
    n.startsWith('hugepages-') ||
    (n.startsWith('limits.') && n !== 'limits.storage') ||
    (n.startsWith('requests.') && n !== 'requests.storage'),
  usage: podUsage,
};

/** PodUsageFunc: count/pods always; pods and compute only while the pod is alive. */
export function podUsage(pod: KubeObject, nowMs: number): ResourceList {
  const usage: ResourceList = new Map([['count/pods', one()]]);
  if (!podCountsForQuota(pod, nowMs)) return usage;
  const spec = objectField(pod, 'spec');
  const compute = containerUsage(
    podResourceTotals(spec, 'requests', true),
    podResourceTotals(spec, 'limits', true),
  );
  for (const [k, v] of compute) usage.set(k, v);
  return usage;
}

/** podComputeUsageHelper. */
function containerUsage(requests: ResourceList, limits: ResourceList): ResourceList {
  const usage: ResourceList = new Map([['pods', one()]]);
  for (const r of ['cpu', 'memory', 'ephemeral-storage']) {
    const req = requests.get(r);
    if (req !== undefined) {
      usage.set(r, req);
      usage.set(`requests.${r}`, req);
    }
    const lim = limits.get(r);
    if (lim !== undefined) usage.set(`limits.${r}`, lim);
  }
  for (const [k, v] of requests) {
    if (k.startsWith('hugepages-')) {
      usage.set(k, v);
      usage.set(`requests.${k}`, v);
    } else if (k.includes('/') && !k.startsWith('kubernetes.io/')) {
      usage.set(`requests.${k}`, v);
    }
  }
  return usage;
}

/** QuotaV1Pod: terminal pods and pods past their deletion grace period are not charged. */
function podCountsForQuota(pod: KubeObject, nowMs: number): boolean {
  const phase = objectField(pod, 'status')?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  const meta = pod.metadata ?? {};
  if (meta.deletionTimestamp !== undefined && typeof meta.deletionGracePeriodSeconds === 'number') {
    const deadlineMs = Date.parse(meta.deletionTimestamp) + meta.deletionGracePeriodSeconds * 1000;
    if (nowMs > deadlineMs) return false;
  }
  return true;
}

const serviceEvaluator: Evaluator = {
  plural: 'services',
  group: '',
  chargesUpdates: true,
  covers: (n) => ['services', 'count/services', 'services.nodeports', 'services.loadbalancers'].includes(n),
  usage: (svc) => {
    const spec = objectField(svc, 'spec');
    const ports = recordsOf(spec, 'ports');
    let nodePorts = 0;
    let loadBalancers = 0;
    if (spec?.type === 'NodePort') nodePorts = ports.length;
    if (spec?.type === 'LoadBalancer') {
      loadBalancers = 1;
      // With node-port allocation turned off only explicitly requested node ports count.
      nodePorts =
        spec.allocateLoadBalancerNodePorts === false
          ? ports.filter((p) => typeof p.nodePort === 'number' && p.nodePort !== 0).length
          : ports.length;
    }
    return new Map([
      ['services', one()],
      ['count/services', one()],
      ['services.nodeports', quantityFromInt(nodePorts)],
      ['services.loadbalancers', quantityFromInt(loadBalancers)],
    ]);
  },
};

const storageClassSuffixes = [
  '.storageclass.storage.k8s.io/requests.storage',
  '.storageclass.storage.k8s.io/persistentvolumeclaims',
];

const claimEvaluator: Evaluator = {
  plural: 'persistentvolumeclaims',
  group: '',
  chargesUpdates: true,
  covers: (n) =>
    ['persistentvolumeclaims', 'count/persistentvolumeclaims', 'requests.storage'].includes(n) ||
    storageClassSuffixes.some((s) => n.endsWith(s)),
  usage: (pvc) => {
    const spec = objectField(pvc, 'spec');
    const usage: ResourceList = new Map([
      ['persistentvolumeclaims', one()],
      ['count/persistentvolumeclaims', one()],
    ]);
    const storage = parseResourceList(objectField(spec, 'resources')?.requests).get('storage');
    if (storage !== undefined) usage.set('requests.storage', storage);
    const sc = typeof spec?.storageClassName === 'string' ? spec.storageClassName : '';
    if (sc !== '') {
      usage.set(`${sc}.storageclass.storage.k8s.io/persistentvolumeclaims`, one());
      if (storage !== undefined) usage.set(`${sc}.storageclass.storage.k8s.io/requests.storage`, storage);
    }
    return usage;
  },
};

/** Core resources that Kubernetes also quotas under their bare name ("configmaps": 10). */
const legacyCountedCore = new Set(['configmaps', 'secrets', 'replicationcontrollers', 'resourcequotas']);

/** The object-count evaluator: count/<resource>.<group> (and the bare name for legacy core kinds). */
function countEvaluator(plural: string, group: string): Evaluator {
  const countName = group === '' ? `count/${plural}` : `count/${plural}.${group}`;
  const legacy = group === '' && legacyCountedCore.has(plural);
  return {
    plural,
    group,
    chargesUpdates: false,
    covers: (n) => n === countName || (legacy && n === plural),
    usage: () =>
      new Map(
        legacy
          ? [
              [countName, one()],
              [plural, one()],
            ]
          : [[countName, one()]],
      ),
  };
}

const countEvaluators = new Map<string, Evaluator>();

export function evaluatorFor(plural: string, group: string): Evaluator {
  if (group === '' && plural === 'pods') return podEvaluator;
  if (group === '' && plural === 'services') return serviceEvaluator;
  if (group === '' && plural === 'persistentvolumeclaims') return claimEvaluator;
  const key = `${plural}.${group}`;
  let ev = countEvaluators.get(key);
  if (ev === undefined) {
    ev = countEvaluator(plural, group);
    countEvaluators.set(key, ev);
  }
  return ev;
}

/** Which resource a quota's hard entry counts ("requests.cpu" → pods, "count/deployments.apps" → deployments). */
function evaluatorForQuotaName(
  name: string,
  resolve: (plural: string, group: string) => ResourceInfo | undefined,
): Evaluator | undefined {
  for (const ev of [podEvaluator, serviceEvaluator, claimEvaluator]) if (ev.covers(name)) return ev;
  if (legacyCountedCore.has(name)) return evaluatorFor(name, '');
  if (!name.startsWith('count/')) return undefined;
  const resource = name.slice('count/'.length);
  const dot = resource.indexOf('.');
  const plural = dot < 0 ? resource : resource.slice(0, dot);
  const group = dot < 0 ? '' : resource.slice(dot + 1);
  return resolve(plural, group) === undefined ? undefined : evaluatorFor(plural, group);
}
