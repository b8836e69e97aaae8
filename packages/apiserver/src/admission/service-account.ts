// ServiceAccount (plugin/pkg/admission/serviceaccount): a pod created without serviceAccountName runs
// as "default"; the account must exist; and unless automounting is turned off (on the pod, else on
// the account) every container mounts the projected `kube-api-access-xxxxx` volume — a bound token,
// the cluster CA from the kube-root-ca.crt ConfigMap and the namespace — at the well-known path.
//
// The "default" ServiceAccount of each namespace is made by the ServiceAccount controller in
// Kubernetes; until Keelson runs one, whoever creates namespaces must create it too.

import { randomInt, randomUUID } from 'node:crypto';
import type { KubeObject } from '@keelson/api';
import {
  type AdmissionContext,
  type AdmissionPlugin,
  type AdmissionRequest,
  KeyExistsError,
  type ObjectStorage,
} from '../types.js';
import {
  admissionForbidden,
  arrayField,
  ensureRecord,
  isCoreResource,
  objectField,
  recordsOf,
} from './errors.js';

export const SERVICE_ACCOUNT = 'ServiceAccount';
export const DEFAULT_SERVICE_ACCOUNT_NAME = 'default';
export const SERVICE_ACCOUNT_VOLUME_PREFIX = 'kube-api-access-';
export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** serviceaccount.WarnOnlyBoundTokenExpirationSeconds: one hour plus seven seconds. */
export const BOUND_TOKEN_EXPIRATION_SECONDS = 3607;
const mirrorPodAnnotation = 'kubernetes.io/config.mirror';

/** names.SimpleNameGenerator's alphabet: no vowels, no confusable digits. */
const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
const randomSuffixLength = 5;

export interface ServiceAccountOptions {
  /** --etcd-prefix: where objects live in the store ("/registry"). */
  etcdPrefix?: string;
  /** Random index in [0, n), injectable for reproducible volume names in tests. */
  randomIndex?: (n: number) => number;
}

export function serviceAccountAdmission(opts: ServiceAccountOptions = {}): AdmissionPlugin {
  const randomIndex = opts.randomIndex ?? ((n: number) => randomInt(n));
  const etcdPrefix = opts.etcdPrefix ?? '/registry';

  async function admit(req: AdmissionRequest, ctx: AdmissionContext): Promise<void> {
    if (!isCoreResource(req, 'pods') || req.operation !== 'CREATE' || req.object === undefined) return;
    const pod = req.object;
    // Kubernetes leaves the spec of mirror pods (static pods reflected by a kubelet) alone.
    if (pod.metadata?.annotations?.[mirrorPodAnnotation] !== undefined) return;
    const spec = ensureRecord(pod, 'spec');
    if (typeof spec.serviceAccountName !== 'string' || spec.serviceAccountName === '') {
      spec.serviceAccountName = DEFAULT_SERVICE_ACCOUNT_NAME;
    }
    const saName = spec.serviceAccountName as string;
    const stored = await ctx.storage.get(`${etcdPrefix}/serviceaccounts/${req.namespace}/${saName}`);
    if (stored === undefined) {
      throw admissionForbidden(
        req,
        `error looking up service account ${req.namespace}/${saName}: serviceaccount "${saName}" not found`,
      );
    }
    if (shouldAutomount(stored.obj, spec)) mountToken(spec, randomVolumeName(randomIndex));
    copyImagePullSecrets(stored.obj, spec);
  }

  return { name: SERVICE_ACCOUNT, admit };
}

function randomVolumeName(randomIndex: (n: number) => number): string {
  let suffix = '';
  for (let i = 0; i < randomSuffixLength; i++)
    suffix += nameAlphabet[randomIndex(nameAlphabet.length)] ?? 'x';
  return SERVICE_ACCOUNT_VOLUME_PREFIX + suffix;
}

/** The pod's automountServiceAccountToken wins; else the account's; else true. */
function shouldAutomount(sa: KubeObject, podSpec: Record<string, unknown>): boolean {
  if (typeof podSpec.automountServiceAccountToken === 'boolean') return podSpec.automountServiceAccountToken;
  if (typeof sa.automountServiceAccountToken === 'boolean') return sa.automountServiceAccountToken;
  return true;
}

/** mountServiceAccountToken: every container without a mount at the path gets one; one volume. */
export function mountToken(spec: Record<string, unknown>, generatedName: string): void {
  const volumes = recordsOf(spec, 'volumes');
  const existing = volumes.find(
    (v) => typeof v.name === 'string' && v.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX),
  );
  const volumeName = typeof existing?.name === 'string' ? existing.name : generatedName;
  let needsVolume = false;
  for (const list of ['initContainers', 'containers'] as const) {
    for (const container of recordsOf(spec, list)) {
      const mounts = recordsOf(container, 'volumeMounts');
      if (mounts.some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH)) continue;
      container.volumeMounts = [
        ...arrayField(container, 'volumeMounts'),
        { name: volumeName, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH },
      ];
      needsVolume = true;
    }
  }
  if (existing === undefined && needsVolume) {
    spec.volumes = [...arrayField(spec, 'volumes'), tokenVolume(volumeName)];
  }
}

/** TokenVolumeSource(), with defaultMode 0644 set explicitly as Kubernetes does. */
export function tokenVolume(name: string): Record<string, unknown> {
  return {
    name,
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: BOUND_TOKEN_EXPIRATION_SECONDS } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    },
  };
}

/** A pod without imagePullSecrets inherits the account's. */
function copyImagePullSecrets(sa: KubeObject, spec: Record<string, unknown>): void {
  if (arrayField(spec, 'imagePullSecrets').length > 0) return;
  const secrets = recordsOf(sa, 'imagePullSecrets').filter((s) => typeof s.name === 'string');
  if (secrets.length === 0) return;
  spec.imagePullSecrets = secrets.map((s) => ({ name: s.name }));
}

/** Whether a pod spec already carries the token volume (used by tests and the core's checks). */
export function hasTokenVolume(pod: KubeObject): boolean {
  return recordsOf(objectField(pod, 'spec'), 'volumes').some(
    (v) => typeof v.name === 'string' && v.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX),
  );
}

/**
 * Creates the namespace's "default" ServiceAccount unless it exists: what the ServiceAccount
 * controller does, for an apiserver that runs without a controller-manager. Returns whether it
 * created one. Safe to call from several apiservers at once (the create is guarded).
 */
export async function ensureDefaultServiceAccount(
  storage: ObjectStorage,
  namespace: string,
  etcdPrefix = '/registry',
  now: Date = new Date(),
): Promise<boolean> {
  if (namespace === '') throw new Error('assertion failed: a service account needs a namespace');
  const obj: KubeObject = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: {
      name: DEFAULT_SERVICE_ACCOUNT_NAME,
      namespace,
      uid: randomUUID(),
      creationTimestamp: `${now.toISOString().slice(0, 19)}Z`,
    },
  };
  try {
    await storage.create(`${etcdPrefix}/serviceaccounts/${namespace}/${DEFAULT_SERVICE_ACCOUNT_NAME}`, obj);
    return true;
  } catch (err) {
    if (err instanceof KeyExistsError) return false;
    throw err;
  }
}
