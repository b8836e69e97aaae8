// RBAC and service-account checks on a real store process (Keelson's, or etcd with STORE_IMPL=etcd):
// the default policy written by racing apiservers, and a new binding seen through the watch.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EtcdObjectStorage,
  ensureBootstrapPolicy,
  ensureServiceAccountKey,
  RbacAuthorizer,
  type RequestAttributes,
  ServiceAccountTokens,
} from '@keelson/apiserver';
import { EtcdClient } from '@keelson/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster, waitFor } from '../../../test/store/harness.js';

const rbacGroup = 'rbac.authorization.k8s.io';
/** How long a binding may take to reach the authorizer through the watch before the test fails. */
const propagationMsMax = 5_000;

describe('auth on a real store', () => {
  let cluster: Cluster | undefined;
  const clients: EtcdClient[] = [];
  const storages: EtcdObjectStorage[] = [];
  const authorizers: RbacAuthorizer[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'keelson-auth-store-'));

  function newStorage(): EtcdObjectStorage {
    if (cluster === undefined) throw new Error('the store did not start (see beforeAll)');
    const client = new EtcdClient({ endpoints: cluster.endpoints });
    clients.push(client);
    const storage = new EtcdObjectStorage({ client, progressIntervalMs: 500 });
    storages.push(storage);
    return storage;
  }

  beforeAll(async () => {
    cluster = await startCluster({ size: 1, label: 'apiserver-auth' });
  }, 90_000);
  afterAll(async () => {
    for (const a of authorizers) a.stop();
    for (const s of storages) s.close();
    for (const c of clients) c.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('writes the default policy exactly once when two apiservers start together', async () => {
    // Proves create-if-absent over the etcd API: two racing writers create 14 objects between them.
    const [a, b] = await Promise.all([
      ensureBootstrapPolicy(newStorage()),
      ensureBootstrapPolicy(newStorage()),
    ]);
    expect(a.length + b.length).toBe(14);
    expect(new Set([...a, ...b]).size).toBe(14);
    expect(await ensureBootstrapPolicy(newStorage())).toEqual([]);
  });

  it('sees a new RoleBinding, and its removal, within a bounded delay', async () => {
    // Proves the cache is kept current by the watch: no restart needed for RBAC changes.
    const storage = newStorage();
    const authorizer = new RbacAuthorizer({ storage });
    authorizers.push(authorizer);
    await authorizer.start();
    const attrs: RequestAttributes = {
      user: {
        username: 'system:serviceaccount:team:bot',
        groups: ['system:serviceaccounts', 'system:authenticated'],
      },
      verb: 'list',
      resourceRequest: true,
      apiGroup: '',
      apiVersion: 'v1',
      resource: 'pods',
      subresource: '',
      namespace: 'team',
      name: '',
      path: '',
    };
    expect((await authorizer.authorize(attrs)).allowed).toBe(false);
    await storage.create('/registry/roles/team/pod-reader', {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'Role',
      metadata: { name: 'pod-reader', namespace: 'team', uid: 'r1' },
      rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods'] }],
    });
    const binding = await storage.create('/registry/rolebindings/team/bot-reads', {
      apiVersion: `${rbacGroup}/v1`,
      kind: 'RoleBinding',
      metadata: { name: 'bot-reads', namespace: 'team', uid: 'b1' },
      roleRef: { apiGroup: rbacGroup, kind: 'Role', name: 'pod-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'bot' }],
    });
    const t0 = Date.now();
    await waitFor(
      'the binding to take effect',
      async () => (await authorizer.authorize(attrs)).allowed,
      propagationMsMax,
      20,
    );
    expect(Date.now() - t0).toBeLessThan(propagationMsMax);
    await storage.delete('/registry/rolebindings/team/bot-reads', binding.modRevision);
    await waitFor(
      'the removal to take effect',
      async () => !(await authorizer.authorize(attrs)).allowed,
      propagationMsMax,
      20,
    );
  });

  it('refuses a service-account token once the account is deleted from the store', async () => {
    // Proves the token's account is looked up through ObjectStorage on the real store.
    const storage = newStorage();
    const tokens = new ServiceAccountTokens({
      signingKeyPem: ensureServiceAccountKey(dir),
      storage,
      lookupCacheMs: 0,
    });
    const sa = await storage.create('/registry/serviceaccounts/team/bot', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'bot', namespace: 'team', uid: 'sa-uid-1' },
    });
    const { token } = await tokens.issue(
      { namespace: 'team', name: 'bot', uid: 'sa-uid-1' },
      { audiences: [], expirationSeconds: 600 },
    );
    expect((await tokens.verify(token)).username).toBe('system:serviceaccount:team:bot');
    await storage.delete('/registry/serviceaccounts/team/bot', sa.modRevision);
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'SA_GONE' });
  });
});
