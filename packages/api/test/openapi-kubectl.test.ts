// Runs the real kubectl 1.32 against a tiny loopback HTTP server that serves legacy discovery for a
// few hand-written resources and the /openapi/v3 documents built here, proving that `kubectl explain`
// renders them and that kubectl's validation decision (server-side fieldValidation=Strict) is made
// from them.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildOpenApiV2,
  buildOpenApiV2Proto,
  buildOpenApiV3Document,
  buildOpenApiV3Root,
  OPENAPI_V2_PROTOBUF_ACCEPT_MARK,
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  type ResourceInfo,
} from '@keelson/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_RESOURCES } from './openapi-fixtures.js';

const KUBECTL_TIMEOUT_MS = 30_000;

function apiResourceList(groupVersion: string, resources: ResourceInfo[]): object {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: resources.map((r) => ({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      shortNames: r.shortNames,
    })),
  };
}

function discovery(path: string): object | undefined {
  const groups = [
    ...new Set(TEST_RESOURCES.filter((r) => r.group !== '').map((r) => `${r.group}/${r.version}`)),
  ];
  if (path === '/version') return { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' };
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (path === '/apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((gv) => {
        const [name, version] = gv.split('/') as [string, string];
        const v = { groupVersion: gv, version };
        return { name, versions: [v], preferredVersion: v };
      }),
    };
  }
  if (path === '/api/v1')
    return apiResourceList(
      'v1',
      TEST_RESOURCES.filter((r) => r.group === ''),
    );
  const m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
  if (m !== null) {
    const mine = TEST_RESOURCES.filter((r) => r.group === m[1] && r.version === m[2]);
    if (mine.length > 0) return apiResourceList(`${m[1]}/${m[2]}`, mine);
  }
  return undefined;
}

/** The JSON text served at a GET path, or undefined for a 404. */
function answer(path: string): string | undefined {
  if (path === '/openapi/v3') return JSON.stringify(buildOpenApiV3Root(TEST_RESOURCES));
  if (path.startsWith('/openapi/v3/'))
    return buildOpenApiV3Document(TEST_RESOURCES, path.slice('/openapi/v3/'.length))?.json;
  // kubectl lists CRDs to decide how to validate a kind without a PATCH operation (cli-runtime's
  // QueryParamVerifier): an apiserver must answer this, an empty list is enough.
  if (path === '/apis/apiextensions.k8s.io/v1/customresourcedefinitions') {
    return JSON.stringify({
      kind: 'CustomResourceDefinitionList',
      apiVersion: 'apiextensions.k8s.io/v1',
      metadata: {},
      items: [],
    });
  }
  const body = discovery(path);
  return body === undefined ? undefined : JSON.stringify(body);
}

/** What the server saw, for assertions. */
const seen: string[] = [];
/** Objects created through the server, by item path; PATCH bodies as received. */
const objects = new Map<string, { metadata: { name: string } }>();
const patches: Array<{ contentType: string; body: string }> = [];

/**
 * A create stores and echoes the object; a patch is recorded and answered with the stored object
 * unchanged: enough for kubectl's apply, which only needs the GET and the PATCH to succeed.
 */
function write(
  req: IncomingMessage,
  path: string,
  body: string,
  send: (code: number, body: string) => void,
): void {
  if (req.method === 'PATCH') {
    patches.push({ contentType: req.headers['content-type'] ?? '', body });
    send(200, JSON.stringify(objects.get(path) ?? {}));
    return;
  }
  const obj = JSON.parse(body) as { metadata?: { name: string } };
  if (obj.metadata?.name !== undefined)
    objects.set(`${path}/${obj.metadata.name}`, obj as { metadata: { name: string } });
  send(201, body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  seen.push(`${req.method} ${url.pathname}${url.search}`);
  const send = (code: number, body: string): void => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(body);
  };
  if (req.method === 'POST' || req.method === 'PATCH') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => write(req, url.pathname, Buffer.concat(chunks).toString('utf8'), send));
    return;
  }
  const stored = objects.get(url.pathname);
  if (stored !== undefined) {
    send(200, JSON.stringify(stored));
    return;
  }
  if (url.pathname === '/openapi/v2') {
    const proto = (req.headers.accept ?? '').includes(OPENAPI_V2_PROTOBUF_ACCEPT_MARK);
    const body = proto ? buildOpenApiV2Proto(TEST_RESOURCES) : JSON.stringify(buildOpenApiV2(TEST_RESOURCES));
    res.writeHead(200, { 'Content-Type': proto ? OPENAPI_V2_PROTOBUF_CONTENT_TYPE : 'application/json' });
    res.end(body);
    return;
  }
  const body = answer(url.pathname);
  if (body !== undefined) {
    send(200, body);
    return;
  }
  send(
    404,
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
      message: 'not found',
    }),
  );
}

describe('kubectl against the generated OpenAPI', () => {
  let server: Server;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keelson-openapi-kubectl-'));
    server = createServer((req, res) => {
      try {
        handle(req, res);
      } catch (err) {
        // A bug in the handler must fail the test quickly, not leave kubectl waiting.
        res.writeHead(500);
        res.end(String(err));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: t, cluster: {server: "http://127.0.0.1:${port}"}}]`,
        'users: [{name: t, user: {token: test}}]',
        'contexts: [{name: t, context: {cluster: t, user: t, namespace: default}}]',
        'current-context: t',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, HOME: dir, KUBECACHEDIR: join(dir, 'cache'), KUBECONFIG: kubeconfig };
    return new Promise((resolve) => {
      execFile(
        'kubectl',
        ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
        { env, timeout: KUBECTL_TIMEOUT_MS },
        (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
      );
    });
  }

  it('explains pods.spec.containers', async () => {
    // Proves `kubectl explain` finds a nested field of a core kind and renders its type and fields.
    const out = await kubectl('explain', 'pods.spec.containers');
    if (process.env.H1_DEBUG) console.log(out.stdout);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('KIND:       Pod');
    expect(out.stdout).toContain('VERSION:    v1');
    expect(out.stdout).toMatch(/FIELD: containers <\[\]Container>/);
    expect(out.stdout).toContain('List of containers belonging to the pod.');
    expect(out.stdout).toMatch(/name\s+<string> -required-/);
    expect(out.stdout).toMatch(/ports\s+<\[\]ContainerPort>/);
    expect(out.stdout).toMatch(/resources\s+<ResourceRequirements>/);
    expect(seen.some((s) => s.startsWith('GET /openapi/v3/api/v1?hash='))).toBe(true);
  });

  it('explains deployments', async () => {
    // Proves `kubectl explain` renders a kind of a named group, a nested IntOrString field, and the
    // plaintext-openapiv2 output.
    const out = await kubectl('explain', 'deployments');
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('GROUP:      apps');
    expect(out.stdout).toContain('KIND:       Deployment');
    expect(out.stdout).toContain('Deployment enables declarative updates for Pods and ReplicaSets.');
    expect(out.stdout).toMatch(/spec\s+<DeploymentSpec>/);
    const nested = await kubectl('explain', 'deployment.spec.strategy.rollingUpdate.maxSurge');
    expect(nested.code).toBe(0);
    expect(nested.stdout).toMatch(/FIELD: maxSurge <IntOrString>/);
    const v2 = await kubectl('explain', 'deployments.spec.replicas', '--output', 'plaintext-openapiv2');
    if (process.env.H1_DEBUG) console.log(v2.stdout, v2.stderr);
    expect(v2.code).toBe(0);
    expect(v2.stdout).toMatch(/FIELD:\s+replicas <integer>/);
  });

  it('applies a changed Deployment with a strategic merge patch', async () => {
    // Proves kubectl's client-side apply computes a strategic merge patch from these schemas (merge keys
    // of containers) without falling back with a warning.
    const file = join(dir, 'deploy.yaml');
    const manifest = (image: string): string =>
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: {name: web}',
        'spec:',
        '  selector: {matchLabels: {app: web}}',
        '  template:',
        '    metadata: {labels: {app: web}}',
        '    spec:',
        `      containers: [{name: web, image: ${image}, ports: [{containerPort: 80}]}, {name: side, image: busybox}]`,
        '',
      ].join('\n');
    writeFileSync(file, manifest('nginx:1'));
    const created = await kubectl('apply', '-f', file);
    expect(created.stderr).toBe('');
    expect(created.stdout).toContain('deployment.apps/web created');
    writeFileSync(file, manifest('nginx:2'));
    const configured = await kubectl('apply', '-f', file);
    expect(configured.stderr).toBe('');
    expect(configured.code).toBe(0);
    const patch = patches.at(-1);
    expect(patch?.contentType).toBe('application/strategic-merge-patch+json');
    const body = JSON.parse(patch?.body ?? '{}');
    expect(body.spec.template.spec['$setElementOrder/containers']).toEqual([
      { name: 'web' },
      { name: 'side' },
    ]);
    expect(body.spec.template.spec.containers).toEqual([{ image: 'nginx:2', name: 'web' }]);
  });

  it('validates a create-only kind client-side from the protobuf /openapi/v2', async () => {
    // Proves kubectl fetches the protobuf /openapi/v2 for a kind without PATCH and refuses its unknown fields
    // client-side.
    const good = join(dir, 'ssar.yaml');
    const spec = 'spec:\n  resourceAttributes:\n    verb: get\n    resource: pods\n';
    writeFileSync(good, `apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\n${spec}`);
    const ok = await kubectl('create', '-f', good, '-o', 'json');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(seen).toContain('GET /openapi/v2?timeout=32s');
    const bad = join(dir, 'ssar-bad.yaml');
    writeFileSync(
      bad,
      `apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\n${spec}  bogus: 1\n`,
    );
    const refused = await kubectl('create', '-f', bad);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('unknown field "bogus"');
    if (process.env.H1_DEBUG) console.log(refused.stderr);
  });

  it('sends fieldValidation=Strict on create because the schema advertises it', async () => {
    // Proves kubectl, seeing the fieldValidation parameter in the schema, sends fieldValidation=Strict on
    // create.
    const file = join(dir, 'cm.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\ndata:\n  a: b\n');
    const out = await kubectl('create', '-f', file);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const post = seen.find((s) => s.startsWith('POST /api/v1/namespaces/default/configmaps'));
    expect(post).toContain('fieldValidation=Strict');
    if (process.env.H1_DEBUG) console.log(seen.join('\n'));
  });
});
