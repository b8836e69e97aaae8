// A first kubectl 1.32 scenario against `keelson apiserver` over its loopback plain-HTTP port
// (AlwaysAllow): version, api-resources, create, get in every output, get -w, label, annotate,
// patch of three types, delete.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from './server-harness.js';

const impl = process.env.APISERVER_STORE === 'etcd' ? 'etcd' : 'keelson';
const kubectlTimeoutMs = 30_000;
let server: RunningServer | undefined;
let kubeconfig = '';

beforeAll(async () => {
  server = await startServer({ impl });
  kubeconfig = join(server.dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: keelson',
      '  cluster:',
      `    server: ${server.url}`,
      'users:',
      '- name: admin',
      '  user: {}',
      'contexts:',
      '- name: keelson',
      '  context: {cluster: keelson, user: admin}',
      'current-context: keelson',
      '',
    ].join('\n'),
  );
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 30_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kubectl(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const dir = server?.dir ?? '';
    const child = spawn(
      'kubectl',
      [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, 'kube-cache')}`, ...args],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? kubectlTimeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits before reading its stdin closes the pipe: EPIPE is its business, not ours.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}

async function ok(args: string[], stdin?: string): Promise<string> {
  const r = await kubectl(args, { stdin });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

describe(`kubectl against keelson apiserver on ${impl}`, () => {
  it('version and api-resources', async () => {
    // Proves kubectl's discovery: /version and aggregated discovery.
    const version = JSON.parse(await ok(['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string };
    };
    expect(version.serverVersion.gitVersion).toBe('v1.32.0-keelson');
    const resources = await ok(['api-resources']);
    expect(resources).toMatch(/^pods\s+po\s+v1\s+true\s+Pod$/m);
    expect(resources).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
  });

  it('create, get in yaml/json/jsonpath, label, annotate, patch and delete', async () => {
    // Proves the everyday verbs through kubectl's own requests.
    expect(await ok(['create', 'namespace', 'demo'])).toContain('namespace/demo created');
    expect(await ok(['-n', 'demo', 'create', 'configmap', 'c1', '--from-literal=a=b'])).toContain(
      'configmap/c1 created',
    );
    expect(await ok(['-n', 'demo', 'get', 'configmap', 'c1', '-o', 'yaml'])).toMatch(/^ {2}a: b$/m);
    const json = JSON.parse(await ok(['-n', 'demo', 'get', 'configmap', 'c1', '-o', 'json'])) as {
      data: Record<string, string>;
    };
    expect(json.data).toEqual({ a: 'b' });
    expect(await ok(['-n', 'demo', 'get', 'configmap', 'c1', '-o', 'jsonpath={.data.a}'])).toBe('b');
    const table = await ok(['-n', 'demo', 'get', 'configmaps']);
    expect(table).toMatch(/^NAME\s+DATA\s+AGE$/m);
    expect(table).toMatch(/^c1\s+1\s+/m);
    expect(await ok(['-n', 'demo', 'label', 'configmap', 'c1', 'tier=web'])).toContain(
      'configmap/c1 labeled',
    );
    expect(await ok(['-n', 'demo', 'annotate', 'configmap', 'c1', 'note=hi'])).toContain(
      'configmap/c1 annotated',
    );
    expect(await ok(['-n', 'demo', 'get', 'configmaps', '-l', 'tier=web', '-o', 'name'])).toBe(
      'configmap/c1\n',
    );
    await ok(['-n', 'demo', 'patch', 'configmap', 'c1', '--type', 'merge', '-p', '{"data":{"m":"1"}}']);
    await ok([
      '-n',
      'demo',
      'patch',
      'configmap',
      'c1',
      '--type',
      'json',
      '-p',
      '[{"op":"add","path":"/data/j","value":"2"}]',
    ]);
    await ok(['-n', 'demo', 'patch', 'configmap', 'c1', '--type', 'strategic', '-p', '{"data":{"s":"3"}}']);
    const patched = JSON.parse(await ok(['-n', 'demo', 'get', 'configmap', 'c1', '-o', 'json'])) as {
      data: Record<string, string>;
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };
    expect(patched.data).toEqual({ a: 'b', m: '1', j: '2', s: '3' });
    expect(patched.metadata.labels).toEqual({ tier: 'web' });
    expect(patched.metadata.annotations).toEqual({ note: 'hi' });
    expect(await ok(['-n', 'demo', 'delete', 'configmap', 'c1'])).toContain('configmap "c1" deleted');
    const gone = await kubectl(['-n', 'demo', 'get', 'configmap', 'c1']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('Error from server (NotFound): configmaps "c1" not found');
  });

  it('get -w sees a change made by another client', async () => {
    // Proves kubectl's list-then-watch against a change made over the API.
    await ok(['create', 'namespace', 'watching']);
    await ok(['-n', 'watching', 'create', 'configmap', 'w1', '--from-literal=a=b']);
    const dir = server?.dir ?? '';
    const child = spawn(
      'kubectl',
      [
        `--kubeconfig=${kubeconfig}`,
        `--cache-dir=${join(dir, 'kube-cache')}`,
        '-n',
        'watching',
        'get',
        'configmaps',
        '-w',
        '--output-watch-events',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, HOME: dir },
      },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    try {
      const deadline = Date.now() + 15_000;
      while (!/w1/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const res = await fetch(`${server?.url}/api/v1/namespaces/watching/configmaps`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'w2' },
          data: { x: 'y' },
        }),
      });
      expect(res.status).toBe(201);
      while (!/ADDED\s+w2/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(out).toMatch(/ADDED\s+w2\s+1\s+/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
