// ClusterIP and NodePort allocation for services, as an admission plugin the core runs in the mutating
// phase (Kubernetes does this in the service REST storage; the effect and the messages are the same).
// The plugin reads the bitmaps, decides, writes spec.clusterIP(s) and nodePorts into the object, and
// leaves the bitmap compare-and-puts in ctx.extras, so the allocation commits with the service write
// or not at all: no leaks when a later step refuses the request, no duplicates across apiservers.

import { randomInt as cryptoRandomInt } from 'node:crypto';
import { internalError, type KubeObject, StatusError } from '@keelson/api';
import { objectField, recordsOf } from '../admission/errors.js';
import type {
  AdmissionContext,
  AdmissionPlugin,
  AdmissionRequest,
  ObjectStorage,
  TxnExtras,
} from '../types.js';
import { RangeBitmap } from './bitmap.js';
import {
  DEFAULT_NODE_PORT_RANGE,
  type NodePortRange,
  parseNodePortRange,
  SERVICE_NODE_PORTS_KEY,
} from './node-port.js';
import { parseIPv4, parseServiceIPRange, SERVICE_IPS_KEY, type ServiceIPRange } from './service-ip.js';

export const SERVICE_ALLOCATION = 'ServiceAllocation';
/** kube-apiserver's default --service-cluster-ip-range. */
export const DEFAULT_SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';

export interface ServiceAllocationOptions {
  serviceClusterIPRange?: string;
  serviceNodePortRange?: string;
  /** --etcd-prefix ("/registry"). */
  etcdPrefix?: string;
  /** Random integer in [0, n); injectable for reproducible tests. */
  randomInt?: (n: number) => number;
}

type Spec = Record<string, unknown>;

/** The bitmaps one request touches, read lazily so a ClusterIP service never reads the port bitmap. */
export class AllocationSession {
  private ipBitmap: RangeBitmap | undefined;
  private portBitmap: RangeBitmap | undefined;

  constructor(
    private readonly storage: ObjectStorage,
    readonly ipRange: ServiceIPRange,
    readonly portRange: NodePortRange,
    private readonly prefix: string,
    readonly randomInt: (n: number) => number,
  ) {}

  async ips(): Promise<RangeBitmap> {
    if (this.ipBitmap === undefined) {
      const key = `${this.prefix}/${SERVICE_IPS_KEY}`;
      this.ipBitmap = RangeBitmap.fromStored(key, this.ipRange, await this.storage.get(key));
    }
    return this.ipBitmap;
  }

  async ports(): Promise<RangeBitmap> {
    if (this.portBitmap === undefined) {
      const key = `${this.prefix}/${SERVICE_NODE_PORTS_KEY}`;
      this.portBitmap = RangeBitmap.fromStored(key, this.portRange, await this.storage.get(key));
    }
    return this.portBitmap;
  }

  addTo(extras: TxnExtras): void {
    this.ipBitmap?.addTo(extras);
    this.portBitmap?.addTo(extras);
  }
}

export function serviceAllocation(opts: ServiceAllocationOptions = {}): AdmissionPlugin {
  const ipRange = parseServiceIPRange(opts.serviceClusterIPRange ?? DEFAULT_SERVICE_CLUSTER_IP_RANGE);
  const portRange = parseNodePortRange(opts.serviceNodePortRange ?? DEFAULT_NODE_PORT_RANGE);
  const prefix = opts.etcdPrefix ?? '/registry';
  const randomInt = opts.randomInt ?? ((n: number) => cryptoRandomInt(n));

  async function admit(req: AdmissionRequest, ctx: AdmissionContext): Promise<void> {
    if (req.info.group !== '' || req.info.plural !== 'services' || req.subresource !== '') return;
    const session = new AllocationSession(ctx.storage, ipRange, portRange, prefix, randomInt);
    await allocateForRequest(session, req);
    session.addTo(ctx.extras);
  }

  return { name: SERVICE_ALLOCATION, admit };
}

/** What the plugin does for one request; exported for cores that call allocation directly. */
export async function allocateForRequest(session: AllocationSession, req: AdmissionRequest): Promise<void> {
  const { object: obj, oldObject: old } = req;
  if (req.operation === 'CREATE' && obj !== undefined) return allocateCreate(session, obj);
  if (req.operation === 'UPDATE' && obj !== undefined && old !== undefined) {
    if (isFinalDeletion(obj, old)) return releaseAll(session, old);
    return allocateUpdate(session, obj, old);
  }
  // A DELETE that only marks the object (finalizers remain; the core passes the marked object) keeps
  // its allocations until the update that removes the last finalizer.
  if (
    req.operation === 'DELETE' &&
    old !== undefined &&
    obj === undefined &&
    finalizersOf(old).length === 0
  ) {
    return releaseAll(session, old);
  }
}

/** The update that removes the last finalizer of an object being deleted deletes it. */
function isFinalDeletion(obj: KubeObject, old: KubeObject): boolean {
  return (
    obj.metadata?.deletionTimestamp !== undefined &&
    finalizersOf(obj).length === 0 &&
    finalizersOf(old).length > 0
  );
}

function finalizersOf(obj: KubeObject): unknown[] {
  const f = obj.metadata?.finalizers;
  return Array.isArray(f) ? f : [];
}

// ---- create --------------------------------------------------------------------------------------

export async function allocateCreate(session: AllocationSession, svc: KubeObject): Promise<void> {
  const spec = specOf(svc);
  if (typeOf(spec) === 'ExternalName') return;
  await allocateClusterIP(session, svc, spec);
  await updateNodePorts(session, svc, spec, undefined);
  if (needsHealthCheck(spec)) await allocateHealthCheckPort(session, spec);
}

async function allocateClusterIP(session: AllocationSession, svc: KubeObject, spec: Spec): Promise<void> {
  const requested = requestedClusterIP(spec);
  if (requested === 'None') {
    spec.clusterIP = 'None';
    if (!Array.isArray(spec.clusterIPs) || spec.clusterIPs.length === 0) spec.clusterIPs = ['None'];
    defaultFamilies(spec);
    return;
  }
  const bitmap = await session.ips();
  let ip: string;
  if (requested === '') {
    const offset = bitmap.allocateNext(session.randomInt);
    if (offset === undefined) throw internalError('failed to allocate a serviceIP: range is full');
    ip = session.ipRange.ipAt(offset);
  } else {
    const value = parseIPv4(requested);
    // Not an address at all: validation answers with its own message.
    if (value === undefined && !requested.includes(':')) return;
    const offset = value === undefined ? undefined : session.ipRange.offsetOf(value);
    if (offset === undefined) {
      throw ipInvalid(
        svc,
        spec,
        requested,
        `the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${session.ipRange.text}`,
      );
    }
    if (!bitmap.allocate(offset)) throw ipInvalid(svc, spec, requested, 'provided IP is already allocated');
    ip = requested;
  }
  spec.clusterIP = ip;
  spec.clusterIPs = [ip];
  defaultFamilies(spec);
}

function requestedClusterIP(spec: Spec): string {
  if (typeof spec.clusterIP === 'string' && spec.clusterIP !== '') return spec.clusterIP;
  const first = Array.isArray(spec.clusterIPs) ? spec.clusterIPs[0] : undefined;
  return typeof first === 'string' ? first : '';
}

function defaultFamilies(spec: Spec): void {
  if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) spec.ipFamilies = ['IPv4'];
  if (typeof spec.ipFamilyPolicy !== 'string' || spec.ipFamilyPolicy === '')
    spec.ipFamilyPolicy = 'SingleStack';
}

// ---- node ports ----------------------------------------------------------------------------------

/** updateNodePorts: honour requested ports, fill in missing ones, release the ones no longer used. */
async function updateNodePorts(
  session: AllocationSession,
  svc: KubeObject,
  spec: Spec,
  old: Spec | undefined,
) {
  const oldNumbers = old === undefined || !needsNodePorts(old) ? [] : nodePortsOf(old);
  if (needsNodePorts(spec)) {
    const takenNow = new Set<number>();
    const ports = recordsOf(spec, 'ports');
    for (const [i, port] of ports.entries()) {
      const requested = typeof port.nodePort === 'number' ? port.nodePort : 0;
      if (requested === 0 && !allocatesNodePorts(spec)) continue;
      // A port the service already held (or listed twice, for TCP and UDP) is not taken again.
      if (requested !== 0 && (oldNumbers.includes(requested) || takenNow.has(requested))) continue;
      const bitmap = await session.ports();
      if (requested === 0) {
        const offset = bitmap.allocateNext(session.randomInt);
        if (offset === undefined) throw internalError('failed to allocate a nodePort: range is full');
        port.nodePort = session.portRange.portAt(offset);
        continue;
      }
      allocatePort(session, bitmap, requested, (why) =>
        portInvalid(svc, `spec.ports[${i}].nodePort`, requested, why),
      );
      takenNow.add(requested);
    }
  } else if (old !== undefined && needsNodePorts(old)) {
    dropUnchangedNodePorts(spec, old);
  }
  const newNumbers = needsNodePorts(spec) ? nodePortsOf(spec) : [];
  for (const n of oldNumbers) if (!newNumbers.includes(n)) await releasePort(session, n);
}

function allocatePort(
  session: AllocationSession,
  bitmap: RangeBitmap,
  port: number,
  invalidWith: (why: string) => StatusError,
): void {
  const offset = session.portRange.offsetOf(port);
  if (offset === undefined) {
    throw invalidWith(
      `provided port is not in the valid range. The range of valid ports is ${session.portRange.text}`,
    );
  }
  if (!bitmap.allocate(offset)) throw invalidWith('provided port is already allocated');
}

async function releasePort(session: AllocationSession, port: number): Promise<void> {
  const offset = session.portRange.offsetOf(port);
  if (offset !== undefined) (await session.ports()).release(offset);
}

async function allocateHealthCheckPort(session: AllocationSession, spec: Spec): Promise<void> {
  const bitmap = await session.ports();
  const requested = typeof spec.healthCheckNodePort === 'number' ? spec.healthCheckNodePort : 0;
  if (requested !== 0) {
    allocatePort(session, bitmap, requested, (why) =>
      internalError(`failed to allocate requested HealthCheck NodePort ${requested}: ${why}`),
    );
    return;
  }
  const offset = bitmap.allocateNext(session.randomInt);
  if (offset === undefined) throw internalError('failed to allocate a HealthCheck NodePort: range is full');
  spec.healthCheckNodePort = session.portRange.portAt(offset);
}

function needsNodePorts(spec: Spec): boolean {
  const t = typeOf(spec);
  return t === 'NodePort' || t === 'LoadBalancer';
}

function allocatesNodePorts(spec: Spec): boolean {
  return (
    typeOf(spec) === 'NodePort' ||
    (typeOf(spec) === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false)
  );
}

function needsHealthCheck(spec: Spec): boolean {
  return typeOf(spec) === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
}

function nodePortsOf(spec: Spec): number[] {
  return recordsOf(spec, 'ports')
    .map((p) => p.nodePort)
    .filter((n): n is number => typeof n === 'number' && n !== 0);
}

/** dropTypeDependentFields: node ports the user left unchanged go when the type no longer has them. */
function dropUnchangedNodePorts(spec: Spec, old: Spec): void {
  const oldPorts = recordsOf(old, 'ports');
  for (const [i, port] of recordsOf(spec, 'ports').entries()) {
    if (port.nodePort !== undefined && port.nodePort === oldPorts[i]?.nodePort) delete port.nodePort;
  }
}

// ---- update --------------------------------------------------------------------------------------

export async function allocateUpdate(
  session: AllocationSession,
  svc: KubeObject,
  oldSvc: KubeObject,
): Promise<void> {
  const spec = specOf(svc);
  const old = objectField(oldSvc, 'spec') ?? {};
  patchAllocatedValues(spec, old);
  await updateClusterIP(session, svc, spec, old);
  await updateNodePorts(session, svc, spec, old);
  const hadCheck = needsHealthCheck(old);
  const hasCheck = needsHealthCheck(spec);
  if (!hadCheck && hasCheck) await allocateHealthCheckPort(session, spec);
  if (hadCheck && !hasCheck && typeof old.healthCheckNodePort === 'number') {
    await releasePort(session, old.healthCheckNodePort);
    if (spec.healthCheckNodePort === old.healthCheckNodePort) delete spec.healthCheckNodePort;
  }
}

/** patchAllocatedValues: an update that leaves out allocated values (kubectl replace) keeps them. */
function patchAllocatedValues(spec: Spec, old: Spec): void {
  if (needsClusterIP(old) && needsClusterIP(spec)) {
    if (typeof spec.clusterIP !== 'string' || spec.clusterIP === '') spec.clusterIP = old.clusterIP;
    if (!Array.isArray(spec.clusterIPs) || spec.clusterIPs.length === 0) spec.clusterIPs = old.clusterIPs;
    if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) spec.ipFamilies = old.ipFamilies;
    if (spec.ipFamilyPolicy === undefined) spec.ipFamilyPolicy = old.ipFamilyPolicy;
  }
  if (needsNodePorts(old) && needsNodePorts(spec)) {
    const used = new Set(nodePortsOf(spec));
    const byName = new Map(recordsOf(old, 'ports').map((p) => [p.name ?? '', p.nodePort]));
    for (const port of recordsOf(spec, 'ports')) {
      if (typeof port.nodePort === 'number' && port.nodePort !== 0) continue;
      const previous = byName.get(port.name ?? '');
      if (typeof previous === 'number' && !used.has(previous)) port.nodePort = previous;
    }
  }
  if (needsHealthCheck(old) && needsHealthCheck(spec) && !spec.healthCheckNodePort) {
    spec.healthCheckNodePort = old.healthCheckNodePort;
  }
}

/** ExternalName → other types allocates; other types → ExternalName releases; else nothing changes. */
async function updateClusterIP(
  session: AllocationSession,
  svc: KubeObject,
  spec: Spec,
  old: Spec,
): Promise<void> {
  const wasExternal = typeOf(old) === 'ExternalName';
  const isExternal = typeOf(spec) === 'ExternalName';
  if (wasExternal && !isExternal) return allocateClusterIP(session, svc, spec);
  if (!wasExternal && isExternal && needsClusterIP(old)) {
    await releaseIP(session, old);
    if (spec.clusterIP === old.clusterIP) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
      delete spec.ipFamilies;
      delete spec.ipFamilyPolicy;
    }
  }
}

function needsClusterIP(spec: Spec): boolean {
  return typeOf(spec) !== 'ExternalName' && requestedClusterIP(spec) !== 'None';
}

// ---- delete --------------------------------------------------------------------------------------

export async function releaseAll(session: AllocationSession, svc: KubeObject): Promise<void> {
  const spec = objectField(svc, 'spec') ?? {};
  if (needsClusterIP(spec)) await releaseIP(session, spec);
  for (const n of nodePortsOf(spec)) await releasePort(session, n);
  if (needsHealthCheck(spec) && typeof spec.healthCheckNodePort === 'number') {
    await releasePort(session, spec.healthCheckNodePort);
  }
}

async function releaseIP(session: AllocationSession, spec: Spec): Promise<void> {
  const value = parseIPv4(requestedClusterIP(spec));
  const offset = value === undefined ? undefined : session.ipRange.offsetOf(value);
  if (offset !== undefined) (await session.ips()).release(offset);
}

// ---- helpers -------------------------------------------------------------------------------------

function specOf(svc: KubeObject): Spec {
  const spec = objectField(svc, 'spec');
  if (spec !== undefined) return spec;
  const created: Spec = {};
  svc.spec = created;
  return created;
}

function typeOf(spec: Spec): string {
  return typeof spec.type === 'string' && spec.type !== '' ? spec.type : 'ClusterIP';
}

/** errors.NewInvalid for spec.clusterIPs, with Go's %#v of the []string as Kubernetes prints it. */
function ipInvalid(svc: KubeObject, spec: Spec, ip: string, why: string): StatusError {
  const ips = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length > 0 ? spec.clusterIPs : [ip];
  const goValue = `[]string{${ips.map((v) => JSON.stringify(String(v))).join(', ')}}`;
  return fieldInvalid(svc, 'spec.clusterIPs', goValue, `failed to allocate IP ${ip}: ${why}`);
}

function portInvalid(svc: KubeObject, field: string, port: number, why: string): StatusError {
  return fieldInvalid(svc, field, String(port), why);
}

function fieldInvalid(svc: KubeObject, field: string, value: string, detail: string): StatusError {
  const name = svc.metadata?.name ?? '';
  const body = `Invalid value: ${value}: ${detail}`;
  return new StatusError(422, 'Invalid', `Service "${name}" is invalid: ${field}: ${body}`, {
    name,
    group: '',
    kind: 'Service',
    causes: [{ reason: 'FieldValueInvalid', message: body, field }],
  });
}
