// kubectl 1.32 against `keelson apiserver` over HTTPS with RBAC: static tokens, a client certificate
// from the cluster CA, service-account tokens, `auth can-i`, and Kubernetes' 401 and 403 answers.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueClientCert } from '@keelson/apiserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/store/harness.js';
import { type RunningServer, startServer } from './server-harness.js';

const impl = process.env.APISERVER_STORE === 'etcd' ? 'etcd' : 'keelson';
const kubectlTimeoutMs = 30_000;
/** RBAC changes reach the authorizer through a watch; the service-account lookup cache is 3 s. */
const propagationMsMax = 8_000;
const dir = mkdtempSync(join(tmpdir(), 'keelson-auth-kubectl-'));
let server: RunningServer | undefined;

beforeAll(async () => {
  writeFileSync(join(dir, 'tokens.csv'), 'admin-token,admin,1,"system:masters"\ndev-token,dev,2\n');
  server = await startServer({
    impl,
    extraFlags: [
      '--authorization-mode=RBAC',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--anonymous-auth=false',
    ],
  });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with `args` and the KUBECONFIG given, bounded by kubectlTimeoutMs. */
function spawnKubectl(args: string[], kubeconfig: string, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', [`--cache-dir=${join(dir, 'kube-cache')}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), kubectlTimeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits before reading its stdin closes the pipe: EPIPE is its business, not ours.
    child.stdin.on('error', () => {});
    child.stdin.end(stdin ?? '');
  });
}

/** kubectl on the secure port, trusting the cluster CA of the server's cert dir. */
function kubectl(auth: string[], args: string[], stdin?: string): Promise<Run> {
  const s = server;
  if (s === undefined) throw new Error('the apiserver did not start (see beforeAll)');
  const base = [
    `--server=https://127.0.0.1:${s.securePort}`,
    `--certificate-authority=${join(s.dir, 'ca.crt')}`,
  ];
  return spawnKubectl([...base, ...auth, ...args], join(dir, 'no-kubeconfig'), stdin);
}

const admin = ['--token=admin-token'];
const dev = ['--token=dev-token'];

function getStatus(path: string): Promise<{ code: number; body: string }> {
  const s = server;
  if (s === undefined) throw new Error('the apiserver did not start (see beforeAll)');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: s.securePort, path, ca: readFileSync(join(s.dir, 'ca.crt')), agent: false },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

describe(`auth with kubectl on ${impl}`, () => {
  it('answers 401 without credentials and with a bad token', async () => {
    // Proves --anonymous-auth=false and the Unauthorized Status kubectl reports.
    const anon = await getStatus('/api/v1/namespaces');
    expect(anon.code).toBe(401);
    expect(JSON.parse(anon.body)).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    // Health and version still answer without credentials: load balancers probe /readyz that way.
    for (const path of ['/readyz', '/livez', '/healthz', '/version'])
      expect((await getStatus(path)).code).toBe(200);
    expect((await getStatus('/api')).code).toBe(401);
    const bad = await kubectl(['--token=nope'], ['get', 'pods']);
    expect(bad.code).toBe(1);
    // Without cached discovery kubectl reports the 401 of its discovery request; with it, of the list.
    expect(bad.stderr).toMatch(/\(Unauthorized\)|the server has asked for the client to provide credentials/);
  });

  it('lets system:masters do anything and forbids a user without bindings with Kubernetes’ message', async () => {
    // Proves `auth can-i` through SelfSubjectAccessReview and the exact 403 text.
    expect((await kubectl(admin, ['auth', 'can-i', 'create', 'pods'])).stdout.trim()).toBe('yes');
    const canI = await kubectl(dev, ['auth', 'can-i', 'list', 'pods']);
    expect(canI.stdout.trim()).toBe('no');
    expect(canI.code).toBe(1);
    const pods = await kubectl(dev, ['get', 'pods']);
    expect(pods.code).toBe(1);
    expect(pods.stderr.trim()).toBe(
      'Error from server (Forbidden): pods is forbidden: User "dev" cannot list resource "pods" in API group "" in the namespace "default"',
    );
    const nodes = await kubectl(dev, ['get', 'nodes']);
    expect(nodes.stderr.trim()).toBe(
      'Error from server (Forbidden): nodes is forbidden: User "dev" cannot list resource "nodes" in API group "" at the cluster scope',
    );
  });

  it('authenticates an admin client certificate issued by the cluster CA', async () => {
    // Proves x509 client authentication with a certificate from the CA the apiserver generated.
    const s = server as RunningServer;
    const ca = await ensureCa(s.dir);
    const cert = await issueClientCert({ ca, user: 'kubernetes-admin', groups: ['system:masters'] });
    writeFileSync(join(dir, 'admin.crt'), cert.certPem);
    writeFileSync(join(dir, 'admin.key'), cert.keyPem, { mode: 0o600 });
    const auth = [`--client-certificate=${join(dir, 'admin.crt')}`, `--client-key=${join(dir, 'admin.key')}`];
    const res = await kubectl(auth, ['get', 'namespaces', '-o', 'name']);
    expect(res.stderr).toBe('');
    expect(res.stdout).toContain('namespace/default');
  });

  it('serves a service account by its token, follows a new RoleBinding, and refuses the token once the account is gone', async () => {
    // Proves TokenRequest tokens verify, RBAC follows the store, and deleted accounts lose access.
    expect((await kubectl(admin, ['create', 'serviceaccount', 'bot'])).code).toBe(0);
    const created = await kubectl(admin, ['create', 'token', 'bot']);
    expect(created.code).toBe(0);
    const bot = [`--token=${created.stdout.trim()}`];
    const denied = await kubectl(bot, ['get', 'pods']);
    expect(denied.stderr).toContain('User "system:serviceaccount:default:bot" cannot list resource "pods"');
    const binding = [
      'apiVersion: rbac.authorization.k8s.io/v1',
      'kind: RoleBinding',
      'metadata: {name: bot-view, namespace: default}',
      'roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}',
      'subjects: [{kind: ServiceAccount, name: bot}]',
      '',
    ].join('\n');
    expect((await kubectl(admin, ['apply', '-f', '-'], binding)).code).toBe(0);
    await waitFor(
      'the RoleBinding to take effect',
      async () => (await kubectl(bot, ['auth', 'can-i', 'list', 'pods'])).stdout.trim() === 'yes',
      propagationMsMax,
    );
    expect((await kubectl(bot, ['auth', 'can-i', 'create', 'pods'])).stdout.trim()).toBe('no');
    expect((await kubectl(bot, ['get', 'pods'])).code).toBe(0);
    expect((await kubectl(admin, ['delete', 'serviceaccount', 'bot'])).code).toBe(0);
    await waitFor(
      'the token to stop working',
      async () => /\(Unauthorized\)|provide credentials/.test((await kubectl(bot, ['get', 'pods'])).stderr),
      propagationMsMax,
    );
  });

  it('writes an admin kubeconfig next to its CA that kubectl uses as is; auth whoami names the admin', async () => {
    // Proves the generated admin.kubeconfig (CA, secure URL, system:masters client cert) works unchanged.
    const s = server;
    if (s === undefined) throw new Error('the apiserver did not start (see beforeAll)');
    const run = (args: string[]) => spawnKubectl(args, join(s.dir, 'admin.kubeconfig'));
    const ns = await run(['get', 'namespaces', '-o', 'name']);
    expect(ns.stderr).toBe('');
    expect(ns.stdout).toContain('namespace/kube-system');
    const whoami = await run(['auth', 'whoami', '-o', 'json']);
    expect(whoami.code).toBe(0);
    const review = JSON.parse(whoami.stdout) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    expect(review.status.userInfo.username).toBe('kubernetes-admin');
    expect(review.status.userInfo.groups).toContain('system:masters');
    const svc = await run([
      'get',
      'service',
      'kubernetes',
      '-n',
      'default',
      '-o',
      'jsonpath={.spec.clusterIP}',
    ]);
    expect(svc.stdout).toBe('10.96.0.1');
  });
});
