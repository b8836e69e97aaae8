// The admin kubeconfig an apiserver writes next to the CA it generated (like kubeadm's admin.conf):
// the cluster CA, the secure URL, and a client certificate of user kubernetes-admin in
// system:masters. Written only when the apiserver owns the CA (no --tls-cert-file), so a user of a
// bare `keelson apiserver` can run `kubectl --kubeconfig <cert-dir>/admin.kubeconfig` at once.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureCa, issueClientCert } from './tls.js';

export const ADMIN_USER = 'kubernetes-admin';

/** Writes (or rewrites, for a new port) <certDir>/admin.kubeconfig; returns its path. */
export async function writeAdminKubeconfig(certDir: string, serverUrl: string): Promise<string> {
  const ca = await ensureCa(certDir);
  const certPath = join(certDir, 'admin.crt');
  const keyPath = join(certDir, 'admin.key');
  // The client certificate is made once and kept, so that a restart does not invalidate copies.
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    const admin = await issueClientCert({ ca, user: ADMIN_USER, groups: ['system:masters'] });
    writeFileSync(keyPath, admin.keyPem, { mode: 0o600 });
    writeFileSync(certPath, admin.certPem, { mode: 0o644 });
  }
  const b64 = (path: string) => Buffer.from(readFileSync(path)).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'keelson',
        cluster: { server: serverUrl, 'certificate-authority-data': b64(join(certDir, 'ca.crt')) },
      },
    ],
    users: [
      {
        name: ADMIN_USER,
        user: { 'client-certificate-data': b64(certPath), 'client-key-data': b64(keyPath) },
      },
    ],
    contexts: [{ name: `${ADMIN_USER}@keelson`, context: { cluster: 'keelson', user: ADMIN_USER } }],
    'current-context': `${ADMIN_USER}@keelson`,
    preferences: {},
  };
  const path = join(certDir, 'admin.kubeconfig');
  // Written whole and renamed, so a reader never sees half a file.
  writeFileSync(`${path}.tmp`, stringify(config), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return path;
}
