// A real kubectl 1.32 against a tiny HTTP server that answers discovery and a pod list with the
// Table this package builds: kubectl's own printer must show the columns and cells kube-apiserver's
// would.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTable } from '../src/tables/index.js';
import type { KubeObject } from '../src/types.js';

const KUBECTL_TIMEOUT_MS = 30_000;

function agoIso(now: number, seconds: number): string {
  return new Date(now - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Two pods whose rows exercise READY, STATUS, RESTARTS with "(… ago)" and the wide columns. */
function pods(now: number): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'web',
        namespace: 'default',
        uid: 'u1',
        resourceVersion: '10',
        creationTimestamp: agoIso(now, 300),
      },
      spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'nginx' }] },
      status: {
        phase: 'Running',
        podIP: '10.244.0.5',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [
          { name: 'app', ready: true, restartCount: 0, state: { running: { startedAt: agoIso(now, 290) } } },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'crashy',
        namespace: 'default',
        uid: 'u2',
        resourceVersion: '11',
        creationTimestamp: agoIso(now, 3600),
      },
      spec: { nodeName: 'node-2', containers: [{ name: 'app', image: 'busybox' }] },
      status: {
        phase: 'Running',
        podIP: '10.244.0.6',
        containerStatuses: [
          {
            name: 'app',
            ready: false,
            restartCount: 5,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: agoIso(now, 300) } },
          },
        ],
      },
    },
  ];
}

function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A NodePort service: PORT(S) with node ports, SELECTOR in the wide output. */
function services(now: number): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'web',
        namespace: 'default',
        uid: 'u3',
        resourceVersion: '12',
        creationTimestamp: agoIso(now, 90),
      },
      spec: {
        type: 'NodePort',
        clusterIP: '10.96.0.20',
        clusterIPs: ['10.96.0.20'],
        selector: { app: 'web' },
        ports: [{ port: 80, targetPort: 8080, nodePort: 30080, protocol: 'TCP' }],
      },
    },
  ];
}

const serviceResource = {
  name: 'services',
  singularName: 'service',
  namespaced: true,
  kind: 'Service',
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  shortNames: ['svc'],
  categories: ['all'],
};

const podResource = {
  name: 'pods',
  singularName: 'pod',
  namespaced: true,
  kind: 'Pod',
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  shortNames: ['po'],
  categories: ['all'],
};

describe('kubectl get against server-side Tables', () => {
  let server: Server;
  let dir: string;
  let kubeconfig: string;
  const accepts: string[] = [];

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/version') {
      sendJson(res, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
    } else if (path === '/api') {
      sendJson(res, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    } else if (path === '/apis') {
      sendJson(res, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    } else if (path === '/api/v1') {
      sendJson(res, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [podResource, serviceResource],
      });
    } else if (path === '/api/v1/namespaces/default/pods') {
      const accept = req.headers.accept ?? '';
      accepts.push(accept);
      const now = Date.now();
      if (accept.includes('as=Table'))
        sendJson(res, buildTable('Pod', pods(now), { now: new Date(now), resourceVersion: '12' }));
      else
        sendJson(res, {
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '12' },
          items: pods(now),
        });
    } else if (path === '/api/v1/namespaces/default/services') {
      const now = Date.now();
      sendJson(res, buildTable('Service', services(now), { now: new Date(now), resourceVersion: '12' }));
    } else {
      sendJson(
        res,
        {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'NotFound',
          code: 404,
          message: 'not found',
        },
        404,
      );
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keelson-tables-kubectl-'));
    server = createServer(handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- cluster: {server: "http://127.0.0.1:${port}"}`,
        '  name: local',
        'contexts:',
        '- context: {cluster: local, user: me, namespace: default}',
        '  name: local',
        'current-context: local',
        'users:',
        '- name: me',
        '  user: {}',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    const all = [
      ...args,
      '--kubeconfig',
      kubeconfig,
      '--cache-dir',
      join(dir, 'cache'),
      '--request-timeout',
      '20s',
    ];
    return new Promise((resolve, reject) => {
      execFile(
        'kubectl',
        all,
        { timeout: KUBECTL_TIMEOUT_MS, env: { ...process.env, HOME: dir, KUBECONFIG: kubeconfig } },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${err.message}\n${stderr}`));
          else resolve({ stdout, stderr });
        },
      );
    });
  }

  /** Splits kubectl's column output on runs of two or more spaces. */
  function columns(line: string): string[] {
    return line.trim().split(/\s{2,}/);
  }

  it('prints the wide pod columns and cells from the Table', async () => {
    // Proves kubectl asked for a Table and printed our columns, READY, STATUS and RESTARTS "(5m ago)".
    const { stdout } = await kubectl('get', 'pods', '-o', 'wide');
    expect(accepts.some((a) => a.includes('as=Table') && a.includes('g=meta.k8s.io'))).toBe(true);
    const lines = stdout.trimEnd().split('\n');
    expect(columns(lines[0] ?? '')).toEqual([
      'NAME',
      'READY',
      'STATUS',
      'RESTARTS',
      'AGE',
      'IP',
      'NODE',
      'NOMINATED NODE',
      'READINESS GATES',
    ]);
    expect(columns(lines[1] ?? '')).toEqual([
      'web',
      '1/1',
      'Running',
      '0',
      '5m',
      '10.244.0.5',
      'node-1',
      '<none>',
      '<none>',
    ]);
    expect(columns(lines[2] ?? '')).toEqual([
      'crashy',
      '0/1',
      'CrashLoopBackOff',
      '5 (5m ago)',
      '60m',
      '10.244.0.6',
      'node-2',
      '<none>',
      '<none>',
    ]);
  });

  it('drops the priority 1 columns without -o wide', async () => {
    // Proves the column priorities: kubectl hides IP, NODE, NOMINATED NODE and READINESS GATES.
    const { stdout } = await kubectl('get', 'pods');
    const lines = stdout.trimEnd().split('\n');
    expect(columns(lines[0] ?? '')).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']);
    expect(columns(lines[1] ?? '')).toEqual(['web', '1/1', 'Running', '0', '5m']);
  });

  it('prints a NodePort service with its ports and selector', async () => {
    // Proves the service columns end to end: TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S), AGE, SELECTOR.
    const { stdout } = await kubectl('get', 'svc', '-o', 'wide');
    const lines = stdout.trimEnd().split('\n');
    expect(columns(lines[0] ?? '')).toEqual([
      'NAME',
      'TYPE',
      'CLUSTER-IP',
      'EXTERNAL-IP',
      'PORT(S)',
      'AGE',
      'SELECTOR',
    ]);
    expect(columns(lines[1] ?? '')).toEqual([
      'web',
      'NodePort',
      '10.96.0.20',
      '<none>',
      '80:30080/TCP',
      '90s',
      'app=web',
    ]);
  });
});
