// The Endpoints and EndpointSlices of the kubernetes Service, as kube-apiserver's EndpointsAdapter
// (pkg/controlplane/reconcilers/endpointsadapter.go) writes them: Endpoints default/kubernetes with
// the skip-mirror label (the mirroring controller must not copy it), and EndpointSlice
// default/kubernetes labelled kubernetes.io/service-name=kubernetes and nothing else (kube sets no
// endpointslice.kubernetes.io/managed-by on it). One difference: apiservers on one host may serve
// on different ports, so addresses are grouped by port: one Endpoints subset per port, and one
// EndpointSlice per (address type, port), since a slice has a single port list.
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '@keelson/api';
import type { Logger } from 'pino';
import { KeyExistsError, ModRevisionMismatchError, type ObjectStorage, type Stored } from '../types.js';
import type { MasterAddress } from './master-leases.js';

export const KUBERNETES_SERVICE_NAME = 'kubernetes';
export const KUBERNETES_SERVICE_NAMESPACE = 'default';
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';
/** The port name of the kubernetes Service (and so of its endpoints). */
const portName = 'https';
/** Whole sync attempts (read, compute, guarded write) before a conflict is given up until next time. */
const syncAttemptsMax = 5;
const conflictBackoffMs = 20;
/** Pages of EndpointSlices in default read per attempt; a page holds up to 10,000. */
const slicePagesMax = 10;

export type EndpointsReconcileErrorCode = 'NO_MASTER_LEASES' | 'CONFLICT_RETRIES_EXHAUSTED';

export class EndpointsReconcileError extends Error {
  constructor(
    readonly code: EndpointsReconcileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EndpointsReconcileError';
  }
}

export interface EndpointSubset {
  addresses: { ip: string }[];
  ports: { name: string; port: number; protocol: 'TCP' }[];
}

export interface DesiredSlice {
  name: string;
  addressType: 'IPv4' | 'IPv6';
  ips: string[];
  port: number;
}

function addressTypeOf(ip: string): 'IPv4' | 'IPv6' {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

/** Unique IPs per port, IPs sorted, ports ascending. */
function groupByPort(masters: readonly MasterAddress[]): Map<number, string[]> {
  const byPort = new Map<number, Set<string>>();
  for (const m of masters) {
    const ips = byPort.get(m.port) ?? new Set<string>();
    ips.add(m.ip);
    byPort.set(m.port, ips);
  }
  const ports = [...byPort.keys()].sort((a, b) => a - b);
  return new Map(ports.map((p) => [p, [...(byPort.get(p) ?? [])].sort()]));
}

/** The subsets of Endpoints default/kubernetes: one per port, as RepackSubsets would pack them. */
export function desiredSubsets(masters: readonly MasterAddress[]): EndpointSubset[] {
  return [...groupByPort(masters)].map(([port, ips]) => ({
    addresses: ips.map((ip) => ({ ip })),
    ports: [{ name: portName, port, protocol: 'TCP' as const }],
  }));
}

/**
 * The EndpointSlices: one per (address type, port), IPv4 first, ports ascending. The first is named
 * "kubernetes" as kube names its only one; the others carry their port (and -v6) in the name, so
 * that every apiserver computes the same names from the same leases.
 */
export function desiredSlices(masters: readonly MasterAddress[]): DesiredSlice[] {
  const slices: DesiredSlice[] = [];
  for (const addressType of ['IPv4', 'IPv6'] as const) {
    const ofType = masters.filter((m) => addressTypeOf(m.ip) === addressType);
    for (const [port, ips] of groupByPort(ofType)) {
      const suffix = addressType === 'IPv4' ? `${port}` : `v6-${port}`;
      const name = slices.length === 0 ? KUBERNETES_SERVICE_NAME : `${KUBERNETES_SERVICE_NAME}-${suffix}`;
      slices.push({ name, addressType, ips, port });
    }
  }
  return slices;
}

function newMetadata(name: string, labels: Record<string, string>): KubeObject['metadata'] {
  return {
    name,
    namespace: KUBERNETES_SERVICE_NAMESPACE,
    uid: randomUUID(),
    creationTimestamp: `${new Date().toISOString().slice(0, 19)}Z`,
    labels,
  };
}

/** The Endpoints object to write: the current one's metadata kept, labels and subsets replaced. */
export function endpointsObject(current: KubeObject | undefined, subsets: EndpointSubset[]): KubeObject {
  const labels = { [LABEL_SKIP_MIRROR]: 'true' };
  const metadata =
    current === undefined ? newMetadata(KUBERNETES_SERVICE_NAME, labels) : { ...current.metadata, labels };
  return { apiVersion: 'v1', kind: 'Endpoints', metadata, subsets };
}

export function endpointSliceObject(current: KubeObject | undefined, slice: DesiredSlice): KubeObject {
  const labels = { [LABEL_SERVICE_NAME]: KUBERNETES_SERVICE_NAME };
  const metadata = current === undefined ? newMetadata(slice.name, labels) : { ...current.metadata, labels };
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata,
    addressType: slice.addressType,
    endpoints: slice.ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: [{ name: portName, port: slice.port, protocol: 'TCP' }],
  };
}

/** JSON with sorted keys: objects written by others (kubectl edit) may order fields differently. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whether writing `next` over `current` would change a field the reconciler owns. */
function differs(current: KubeObject, next: KubeObject, fields: readonly string[]): boolean {
  if (canonical(current.metadata?.labels ?? {}) !== canonical(next.metadata?.labels ?? {})) return true;
  return fields.some((f) => canonical(current[f]) !== canonical(next[f]));
}

export interface EndpointsAdapterOptions {
  storage: ObjectStorage;
  etcdPrefix: string;
  logger: Logger;
  /** The backoff between attempts; injected by tests that schedule every step themselves. */
  sleep?: (ms: number) => Promise<void>;
}

export interface SyncResult {
  /** How many objects were created, updated or deleted (0: everything was already right). */
  writes: number;
  attempts: number;
}

class ConflictSignal extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Converges Endpoints and EndpointSlices of default/kubernetes to the live master leases. Every write
 * is guarded by the mod_revision the object was read at, and each attempt reads the objects before
 * the leases: an apiserver whose lease list is stale either read the object before the write that
 * followed it (its compare fails and it retries) or after it (then it also sees the leases written
 * before that write). So two apiservers reconciling at once never lose each other's address.
 */
export class EndpointsAdapter {
  constructor(private readonly o: EndpointsAdapterOptions) {}

  private get endpointsKey(): string {
    return `${this.o.etcdPrefix}/services/endpoints/${KUBERNETES_SERVICE_NAMESPACE}/${KUBERNETES_SERVICE_NAME}`;
  }

  private get slicesPrefix(): string {
    return `${this.o.etcdPrefix}/endpointslices/${KUBERNETES_SERVICE_NAMESPACE}/`;
  }

  /** Reads the objects, then the leases (`listMasters`), and writes what differs; bounded retries. */
  async sync(listMasters: () => Promise<MasterAddress[]>): Promise<SyncResult> {
    for (let attempt = 1; attempt <= syncAttemptsMax; attempt++) {
      try {
        const writes = await this.syncOnce(listMasters);
        return { writes, attempts: attempt };
      } catch (err) {
        if (!(err instanceof ConflictSignal)) throw err;
        this.o.logger.debug({ attempt }, 'kubernetes endpoints changed concurrently: reconciling again');
        // Jittered, so that two apiservers that collided do not collide again in step.
        await (this.o.sleep ?? sleep)(conflictBackoffMs * attempt * (1 + Math.random()));
      }
    }
    throw new EndpointsReconcileError(
      'CONFLICT_RETRIES_EXHAUSTED',
      `the kubernetes endpoints kept changing during ${syncAttemptsMax} attempts; retrying at the next interval`,
    );
  }

  private async syncOnce(listMasters: () => Promise<MasterAddress[]>): Promise<number> {
    const endpoints = await this.o.storage.get(this.endpointsKey);
    const slices = await this.listSlices();
    const masters = await listMasters();
    // As kube: our own lease was just written, so none at all means a broken read, not an empty
    // cluster; erasing every endpoint on it would cut in-cluster clients off.
    if (masters.length === 0)
      throw new EndpointsReconcileError(
        'NO_MASTER_LEASES',
        'no master leases were listed in storage, refusing to erase all endpoints for the kubernetes service',
      );
    let writes = await this.writeEndpoints(endpoints, masters);
    writes += await this.writeSlices(slices, masters);
    return writes;
  }

  private async listSlices(): Promise<Map<string, Stored>> {
    const found = new Map<string, Stored>();
    let continueToken: string | undefined;
    for (let page = 0; page < slicePagesMax; page++) {
      const res = await this.o.storage.list(this.slicesPrefix, { limit: 0, continueToken });
      for (const s of res.items) {
        const name = s.obj.metadata?.name;
        if (name !== undefined && s.obj.metadata?.labels?.[LABEL_SERVICE_NAME] === KUBERNETES_SERVICE_NAME)
          found.set(name, s);
      }
      continueToken = res.continueToken;
      if (continueToken === undefined) return found;
    }
    throw new Error(`assertion failed: more than ${slicePagesMax} pages of EndpointSlices in default`);
  }

  private async writeEndpoints(current: Stored | undefined, masters: MasterAddress[]): Promise<number> {
    const next = endpointsObject(current?.obj, desiredSubsets(masters));
    if (current !== undefined && !differs(current.obj, next, ['subsets'])) return 0;
    this.o.logger.info({ subsets: next.subsets }, 'resetting endpoints for the kubernetes service');
    await this.guarded(() =>
      current === undefined
        ? this.o.storage.create(this.endpointsKey, next)
        : this.o.storage.update(this.endpointsKey, next, current.modRevision),
    );
    return 1;
  }

  private async writeSlices(current: Map<string, Stored>, masters: MasterAddress[]): Promise<number> {
    let writes = 0;
    const wanted = desiredSlices(masters);
    for (const slice of wanted) {
      const existing = current.get(slice.name);
      const next = endpointSliceObject(existing?.obj, slice);
      if (existing !== undefined && !differs(existing.obj, next, ['addressType', 'endpoints', 'ports']))
        continue;
      const key = `${this.slicesPrefix}${slice.name}`;
      await this.guarded(() =>
        existing === undefined
          ? this.o.storage.create(key, next)
          : this.o.storage.update(key, next, existing.modRevision),
      );
      writes++;
    }
    // As kube: any other slice of the kubernetes Service should not exist (a port no apiserver serves).
    const names = new Set(wanted.map((s) => s.name));
    for (const [name, stale] of current) {
      if (names.has(name)) continue;
      await this.guarded(() => this.o.storage.delete(`${this.slicesPrefix}${name}`, stale.modRevision));
      writes++;
    }
    return writes;
  }

  /** Runs a guarded write; a lost compare (someone wrote in between) restarts the whole attempt. */
  private async guarded(write: () => Promise<Stored>): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (err instanceof KeyExistsError || err instanceof ModRevisionMismatchError)
        throw new ConflictSignal();
      throw err;
    }
  }
}
