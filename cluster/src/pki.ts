// The cluster's certificates, all under <dir>/pki and all from ONE cluster CA: a serving certificate
// per apiserver, the shared service-account key, and the admin client certificate of the kubeconfig.
// Everything is created once and reused, so `up` on an existing dir keeps the same certificates.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ensureCa, ensureServiceAccountKey, issueClientCert, issueServingCert } from '@keelson/apiserver';
import { stringify } from 'yaml';
import { type ClusterPaths, SERVING_HOSTS } from './components.js';
import type { ClusterLayout } from './layout.js';

export const ADMIN_USER = 'kubernetes-admin';
const CONTEXT = `${ADMIN_USER}@keelson`;

/** Creates what is missing (or re-issues a serving certificate that no longer fits); idempotent. */
export async function ensurePki(paths: ClusterPaths, layout: ClusterLayout): Promise<void> {
  const ca = await ensureCa(paths.pki);
  for (const a of layout.apiservers) {
    await issueServingCert({ ca, hosts: SERVING_HOSTS, dir: paths.pki, name: a.name });
  }
  ensureServiceAccountKey(paths.pki);
  // The admin certificate is made once and kept, so that copies of the kubeconfig stay valid.
  if (!existsSync(paths.adminCert) || !existsSync(paths.adminKey)) {
    const admin = await issueClientCert({ ca, user: ADMIN_USER, groups: ['system:masters'] });
    writeFileSync(paths.adminKey, admin.keyPem, { mode: 0o600 });
    writeFileSync(paths.adminCert, admin.certPem, { mode: 0o644 });
  }
}

/** The LB's URL: what the kubeconfig (and so kubectl) talks to. */
export function serverUrl(layout: ClusterLayout): string {
  return `https://127.0.0.1:${layout.lb.port}`;
}

/** Writes <dir>/kubeconfig: the admin user, the LB as server, the cluster CA. */
export function writeKubeconfig(paths: ClusterPaths, layout: ClusterLayout): void {
  const b64 = (path: string) => readFileSync(path).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'keelson',
        cluster: { server: serverUrl(layout), 'certificate-authority-data': b64(paths.caCert) },
      },
    ],
    users: [
      {
        name: ADMIN_USER,
        user: {
          'client-certificate-data': b64(paths.adminCert),
          'client-key-data': b64(paths.adminKey),
        },
      },
    ],
    contexts: [{ name: CONTEXT, context: { cluster: 'keelson', user: ADMIN_USER } }],
    'current-context': CONTEXT,
    preferences: {},
  };
  // Written whole and renamed, so kubectl never reads half a file.
  writeFileSync(`${paths.kubeconfig}.tmp`, stringify(config), { mode: 0o600 });
  renameSync(`${paths.kubeconfig}.tmp`, paths.kubeconfig);
}
