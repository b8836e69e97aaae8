// Shared by the admission tests: a single-member store (Keelson's, or etcd with STORE_IMPL=etcd) in a
// temp dir on free ports, EtcdObjectStorage clients over it, and a miniature of the core's write path
// (admit → validate → one txn with the extras → bounded re-admission on ExtrasConflictError).
import { type KubeObject, RESOURCES, type ResourceInfo } from '@keelson/api';
import {
  type AdmissionContext,
  type AdmissionPlugin,
  type AdmissionRequest,
  EtcdObjectStorage,
  ExtrasConflictError,
  type ObjectStorage,
  type Operation,
  type Stored,
} from '@keelson/apiserver';
import { EtcdClient } from '@keelson/store';
import { type Cluster, startCluster } from '../../../test/store/harness.js';

export interface AdmissionStore {
  cluster: Cluster;
  /** A fresh storage client (each one plays a separate apiserver). */
  connect(): ObjectStorage;
  stop(): Promise<void>;
}

export async function startAdmissionStore(label: string): Promise<AdmissionStore> {
  const cluster = await startCluster({ size: 1, label });
  const clients: EtcdObjectStorage[] = [];
  try {
    await cluster.waitHealthy(30_000);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return {
    cluster,
    connect() {
      const storage = new EtcdObjectStorage({ client: new EtcdClient({ endpoints: cluster.endpoints }) });
      clients.push(storage);
      return storage;
    },
    async stop() {
      for (const c of clients) c.close();
      await cluster.stop();
    },
  };
}

export function info(plural: string, group = ''): ResourceInfo {
  const found = RESOURCES.find((r) => r.plural === plural && r.group === group);
  if (found === undefined) throw new Error(`no resource ${plural}.${group} in the registry`);
  return found;
}

export function keyOf(i: ResourceInfo, namespace: string, name: string): string {
  return i.namespaced
    ? `/registry/${i.storageResource}/${namespace}/${name}`
    : `/registry/${i.storageResource}/${name}`;
}

/** Writes an object straight to the store (setup, not under test). */
export async function seed(storage: ObjectStorage, plural: string, obj: KubeObject): Promise<Stored> {
  const i = info(plural);
  return storage.create(keyOf(i, obj.metadata?.namespace ?? '', obj.metadata?.name ?? ''), obj);
}

export function request(
  operation: Operation,
  plural: string,
  namespace: string,
  object: KubeObject | undefined,
  oldObject?: KubeObject,
): AdmissionRequest {
  return {
    operation,
    info: info(plural),
    subresource: '',
    namespace,
    name: object?.metadata?.name ?? oldObject?.metadata?.name ?? '',
    object,
    oldObject,
    user: { username: 'admin', groups: ['system:masters'] },
    dryRun: false,
  };
}

export function context(storage: ObjectStorage): AdmissionContext {
  return { storage, extras: { compares: [], puts: [] }, tokens: undefined };
}

/** Every mutating phase, then every validating phase, as the core runs them. */
export async function runAdmission(plugins: AdmissionPlugin[], req: AdmissionRequest, ctx: AdmissionContext) {
  for (const p of plugins) await p.admit?.(req, ctx);
  for (const p of plugins) await p.validate?.(req, ctx);
}

const attemptsMax = 200;

/**
 * The core's create: admission on a fresh copy, then one txn with the extras; a lost extras race
 * re-admits after a short random pause (bounded). Returns the stored object and how many attempts.
 */
export async function admitAndCreate(
  plugins: AdmissionPlugin[],
  storage: ObjectStorage,
  plural: string,
  body: KubeObject,
): Promise<{ stored: Stored; attempts: number }> {
  const namespace = body.metadata?.namespace ?? '';
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    const obj = structuredClone(body);
    const req = request('CREATE', plural, namespace, obj);
    const ctx = context(storage);
    await runAdmission(plugins, req, ctx);
    const extras = ctx.extras.compares.length + ctx.extras.puts.length > 0 ? ctx.extras : undefined;
    try {
      const stored = await storage.create(keyOf(req.info, namespace, obj.metadata?.name ?? ''), obj, extras);
      return { stored, attempts: attempt };
    } catch (err) {
      if (!(err instanceof ExtrasConflictError)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
    }
  }
  throw new Error(`create of ${body.metadata?.name} lost the extras race ${attemptsMax} times`);
}

/** The core's delete: admission with the old object, then a guarded delete with the extras. */
export async function admitAndDelete(
  plugins: AdmissionPlugin[],
  storage: ObjectStorage,
  plural: string,
  namespace: string,
  name: string,
): Promise<void> {
  const i = info(plural);
  const key = keyOf(i, namespace, name);
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    const current = await storage.get(key);
    if (current === undefined) throw new Error(`${key} is gone`);
    const req = request('DELETE', plural, namespace, undefined, current.obj);
    const ctx = context(storage);
    await runAdmission(plugins, req, ctx);
    const extras = ctx.extras.compares.length + ctx.extras.puts.length > 0 ? ctx.extras : undefined;
    try {
      await storage.delete(key, current.modRevision, extras);
      return;
    } catch (err) {
      if (!(err instanceof ExtrasConflictError)) throw err;
    }
  }
  throw new Error(`delete of ${key} lost the extras race ${attemptsMax} times`);
}

/** The core's update: admission with old and new, then a guarded update with the extras. */
export async function admitAndUpdate(
  plugins: AdmissionPlugin[],
  storage: ObjectStorage,
  plural: string,
  change: (obj: KubeObject) => void,
  namespace: string,
  name: string,
): Promise<Stored> {
  const i = info(plural);
  const key = keyOf(i, namespace, name);
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    const current = await storage.get(key);
    if (current === undefined) throw new Error(`${key} is gone`);
    const obj = structuredClone(current.obj);
    change(obj);
    const req = request('UPDATE', plural, namespace, obj, current.obj);
    const ctx = context(storage);
    await runAdmission(plugins, req, ctx);
    const extras = ctx.extras.compares.length + ctx.extras.puts.length > 0 ? ctx.extras : undefined;
    try {
      return await storage.update(key, obj, current.modRevision, extras);
    } catch (err) {
      if (!(err instanceof ExtrasConflictError)) throw err;
    }
  }
  throw new Error(`update of ${key} lost the extras race ${attemptsMax} times`);
}

export function pod(namespace: string, name: string, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'app', image: 'nginx' }], ...spec },
  };
}

export function namespace(name: string, phase = 'Active'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
    spec: { finalizers: ['kubernetes'] },
    status: { phase },
  };
}

/** Runs `fn` and returns the StatusError-like it throws (fails the test if it does not throw). */
export async function rejection(
  fn: () => Promise<unknown>,
): Promise<{ code: number; reason: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    const e = err as { code?: number; reason?: string; message?: string };
    return { code: e.code ?? 0, reason: e.reason ?? '', message: e.message ?? String(err) };
  }
  throw new Error('expected a rejection, but the call succeeded');
}
