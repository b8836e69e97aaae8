// The kubectl 1.32 scenario over HTTPS with the cluster CA, an admin token and RBAC:
// discovery, create/apply (client- and server-side), get in every form, watch, describe, label,
// annotate, patch, scale, delete (with --wait and with a finalizer), explain, auth can-i and 403.
// It runs on Keelson's 3-member store and on a real etcd 3.4.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreImpl } from '../../../test/store/harness.js';
import { kubectlRunner, writeKubeconfig } from './kubectl-harness.js';
import { type RunningServer, startServer } from './server-harness.js';

const manifests = `apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: shop, labels: {app: web}}
data: {color: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: shop, labels: {app: solo}}
spec:
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: configmap-reader, namespace: shop}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bot-reads-configmaps, namespace: shop}
subjects: [{kind: ServiceAccount, name: bot, namespace: shop}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmap-reader}
`;

function scenario(impl: StoreImpl): void {
  describe(`kubectl scenario over HTTPS with RBAC on ${impl}`, () => {
    const adminToken = 'admin-token-0123456789';
    let server: RunningServer | undefined;
    let admin: ReturnType<typeof kubectlRunner>;
    let adminConfig = '';

    function dir(): string {
      if (server === undefined) throw new Error('the apiserver did not start (see beforeAll)');
      return server.dir;
    }

    beforeAll(async () => {
      const tokenDir = (await import('node:fs')).mkdtempSync(
        join((await import('node:os')).tmpdir(), 'keelson-tokens-'),
      );
      const tokenFile = join(tokenDir, 'tokens.csv');
      writeFileSync(tokenFile, `${adminToken},admin,admin-uid,"system:masters"\n`);
      server = await startServer({
        impl,
        extraFlags: [`--token-auth-file=${tokenFile}`, '--authorization-mode=RBAC', '--anonymous-auth=false'],
      });
      adminConfig = writeKubeconfig(
        dir(),
        `https://127.0.0.1:${server.securePort}`,
        { name: 'admin', token: adminToken },
        join(dir(), 'ca.crt'),
      );
      admin = kubectlRunner(dir(), adminConfig);
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
    }, 30_000);

    it('version and api-resources', async () => {
      // Proves discovery over TLS with a bearer token.
      expect(await admin.ok(['version'])).toMatch(/Server Version: v1\.32\.0-keelson/);
      const resources = await admin.ok(['api-resources']);
      expect(resources).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
      expect(resources).toMatch(/^roles\s+rbac\.authorization\.k8s\.io\/v1\s+true\s+Role$/m);
    });

    it('create namespace, configmap and secret; create -f and apply -f of multi-document YAML', async () => {
      // Proves generators (protobuf bodies), create -f and client-side apply.
      expect(await admin.ok(['create', 'namespace', 'shop'])).toContain('namespace/shop created');
      expect(await admin.ok(['-n', 'shop', 'create', 'configmap', 'plain', '--from-literal=a=b'])).toContain(
        'configmap/plain created',
      );
      expect(
        await admin.ok(['-n', 'shop', 'create', 'secret', 'generic', 'pw', '--from-literal=password=s3cret']),
      ).toContain('secret/pw created');
      expect(await admin.ok(['-n', 'shop', 'create', 'serviceaccount', 'bot'])).toContain(
        'serviceaccount/bot created',
      );
      // The ServiceAccount admission needs the namespace's "default" account; until the
      // controller-manager exists the apiserver makes it with the namespace.
      expect(await admin.ok(['-n', 'shop', 'get', 'serviceaccount', 'default', '-o', 'name'])).toContain(
        'serviceaccount/default',
      );
      const created = await admin.ok(['create', '-f', '-'], manifests);
      expect(created).toContain('deployment.apps/web created');
      expect(created).toContain('rolebinding.rbac.authorization.k8s.io/bot-reads-configmaps created');
      const again = await admin.run(['create', '-f', '-'], { stdin: manifests });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('already exists');
      await admin.ok(['apply', '-f', '-'], manifests);
      expect(await admin.ok(['apply', '-f', '-'], manifests)).toContain('configmap/app-config unchanged');
      const changed = await admin.ok(['apply', '-f', '-'], manifests.replace('color: blue', 'color: green'));
      expect(changed).toContain('configmap/app-config configured');
      expect(changed).toContain('deployment.apps/web unchanged');
      expect(
        await admin.ok(['-n', 'shop', 'get', 'configmap', 'app-config', '-o', 'jsonpath={.data.color}']),
      ).toBe('green');
      const svcIp = await admin.ok([
        '-n',
        'shop',
        'get',
        'service',
        'web',
        '-o',
        'jsonpath={.spec.clusterIP}',
      ]);
      expect(svcIp).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
    });

    it('server-side apply reports a conflict and --force-conflicts takes the field', async () => {
      // Proves apply-patch+yaml with managedFields, conflicts and force.
      const ssa = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx:1.27}]
`;
      const conflict = await admin.run(['apply', '--server-side', '--field-manager=ops', '-f', '-'], {
        stdin: ssa,
      });
      expect(conflict.code).toBe(1);
      expect(conflict.stderr).toMatch(/conflict/i);
      expect(conflict.stderr).toContain('.spec.replicas');
      expect(
        await admin.ok(
          ['apply', '--server-side', '--field-manager=ops', '--force-conflicts', '-f', '-'],
          ssa,
        ),
      ).toContain('deployment.apps/web serverside-applied');
      expect(await admin.ok(['-n', 'shop', 'get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}'])).toBe(
        '5',
      );
    });

    it('get every kind with -o wide, yaml, json, jsonpath, -l, --field-selector and -A', async () => {
      // Proves Table answers, output formats and selectors as kubectl uses them.
      for (const kind of [
        'configmaps',
        'secrets',
        'deployments',
        'services',
        'pods',
        'roles',
        'rolebindings',
        'serviceaccounts',
      ]) {
        const wide = await admin.ok(['-n', 'shop', 'get', kind, '-o', 'wide']);
        expect(wide.split('\n')[0]).toMatch(/^NAME\s/);
        const list = JSON.parse(await admin.ok(['-n', 'shop', 'get', kind, '-o', 'json'])) as {
          items: unknown[];
        };
        expect(list.items.length).toBeGreaterThan(0);
        expect(await admin.ok(['-n', 'shop', 'get', kind, '-o', 'yaml'])).toContain('kind: List');
      }
      expect(await admin.ok(['-n', 'shop', 'get', 'deploy', '-o', 'wide'])).toMatch(
        /^web\s+0\/5\s+0\s+0\s+\S+\s+nginx\s+nginx:1\.27\s+app=web$/m,
      );
      expect(await admin.ok(['-n', 'shop', 'get', 'pods', '-o', 'jsonpath={.items[*].metadata.name}'])).toBe(
        'solo',
      );
      expect(await admin.ok(['-n', 'shop', 'get', 'configmaps', '-l', 'app=web', '-o', 'name'])).toBe(
        'configmap/app-config\n',
      );
      expect(
        await admin.ok([
          '-n',
          'shop',
          'get',
          'configmaps',
          '--field-selector',
          'metadata.name=plain',
          '-o',
          'name',
        ]),
      ).toBe('configmap/plain\n');
      expect(await admin.ok(['get', 'pods', '--field-selector', 'status.phase=Pending', '-A'])).toMatch(
        /^shop\s+solo\s+0\/1\s+Pending\s+0\s+/m,
      );
      const all = await admin.ok(['get', 'configmaps', '-A']);
      expect(all).toMatch(/^NAMESPACE\s+NAME\s+DATA\s+AGE$/m);
      expect(all).toMatch(/^shop\s+plain\s+1\s+/m);
    });

    it('get of every listable kind, in every namespace, -o wide', async () => {
      // Proves each served resource answers kubectl's Table list.
      const names = (await admin.ok(['api-resources', '--verbs=list', '-o', 'name'])).trim().split('\n');
      expect(names.length).toBeGreaterThan(30);
      for (const name of names) {
        const res = await admin.run(['get', name, '-A', '-o', 'wide']);
        expect({ name, code: res.code, stderr: res.stderr }).toEqual({
          name,
          code: 0,
          stderr: res.stderr.includes('No resources found') ? res.stderr : '',
        });
      }
    });

    it('get -w sees a change made by another client', async () => {
      // Proves list-then-watch through TLS.
      const child = spawn(
        'kubectl',
        [
          `--kubeconfig=${adminConfig}`,
          `--cache-dir=${join(dir(), 'kube-cache')}`,
          '-n',
          'shop',
          'get',
          'configmaps',
          '-w',
          '--output-watch-events',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, HOME: dir() },
        },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      try {
        const deadline = Date.now() + 15_000;
        while (!/plain/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        await admin.ok(['-n', 'shop', 'label', 'configmap', 'plain', 'seen=yes']);
        while (!/MODIFIED\s+plain/.test(out) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100));
        expect(out).toMatch(/MODIFIED\s+plain\s+1\s+/);
      } finally {
        child.kill('SIGKILL');
      }
    });

    it('describe shows the events of an object', async () => {
      // Proves events' involvedObject field selectors as describe uses them.
      const pod = JSON.parse(await admin.ok(['-n', 'shop', 'get', 'pod', 'solo', '-o', 'json'])) as {
        metadata: { uid: string };
      };
      const event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'solo.test1', namespace: 'shop' },
        involvedObject: {
          kind: 'Pod',
          name: 'solo',
          namespace: 'shop',
          uid: pod.metadata.uid,
          apiVersion: 'v1',
        },
        reason: 'Testing',
        message: 'an event written by the scenario',
        type: 'Normal',
        count: 1,
        firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        source: { component: 'scenario' },
      };
      await admin.ok(['create', '-f', '-'], JSON.stringify(event));
      const described = await admin.ok(['-n', 'shop', 'describe', 'pod', 'solo']);
      expect(described).toMatch(/^Name:\s+solo$/m);
      expect(described).toMatch(/Events:[\s\S]*Testing[\s\S]*an event written by the scenario/);
    });

    it('label, annotate, patch (merge, json, strategic) and scale', async () => {
      // Proves the everyday mutations.
      expect(await admin.ok(['-n', 'shop', 'label', 'deploy', 'web', 'tier=front'])).toContain(
        'deployment.apps/web labeled',
      );
      expect(await admin.ok(['-n', 'shop', 'annotate', 'deploy', 'web', 'owner=team-a'])).toContain(
        'deployment.apps/web annotated',
      );
      await admin.ok([
        '-n',
        'shop',
        'patch',
        'configmap',
        'plain',
        '--type',
        'merge',
        '-p',
        '{"data":{"m":"1"}}',
      ]);
      await admin.ok([
        '-n',
        'shop',
        'patch',
        'configmap',
        'plain',
        '--type',
        'json',
        '-p',
        '[{"op":"add","path":"/data/j","value":"2"}]',
      ]);
      await admin.ok([
        '-n',
        'shop',
        'patch',
        'deploy',
        'web',
        '--type',
        'strategic',
        '-p',
        '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}',
      ]);
      const dep = JSON.parse(await admin.ok(['-n', 'shop', 'get', 'deploy', 'web', '-o', 'json'])) as {
        spec: { template: { spec: { containers: { name: string; image: string; ports?: unknown[] }[] } } };
      };
      expect(dep.spec.template.spec.containers).toHaveLength(1);
      expect(dep.spec.template.spec.containers[0]?.image).toBe('nginx:1.28');
      expect(await admin.ok(['-n', 'shop', 'scale', 'deploy', 'web', '--replicas=3'])).toContain(
        'deployment.apps/web scaled',
      );
      expect(await admin.ok(['-n', 'shop', 'get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}'])).toBe(
        '3',
      );
    });

    it('delete with --wait, and with a finalizer holding the object', async () => {
      // Proves deletion as kubectl waits for it, and finalizers.
      expect(
        await admin.ok(['-n', 'shop', 'delete', 'pod', 'solo', '--wait=true', '--timeout=20s']),
      ).toContain('pod "solo" deleted');
      expect((await admin.run(['-n', 'shop', 'get', 'pod', 'solo'])).code).toBe(1);
      await admin.ok(['-n', 'shop', 'create', 'configmap', 'held', '--from-literal=a=b']);
      await admin.ok([
        '-n',
        'shop',
        'patch',
        'configmap',
        'held',
        '--type',
        'merge',
        '-p',
        '{"metadata":{"finalizers":["example.com/hold"]}}',
      ]);
      expect(await admin.ok(['-n', 'shop', 'delete', 'configmap', 'held', '--wait=false'])).toContain(
        'configmap "held" deleted',
      );
      expect(
        await admin.ok([
          '-n',
          'shop',
          'get',
          'configmap',
          'held',
          '-o',
          'jsonpath={.metadata.deletionTimestamp}',
        ]),
      ).not.toBe('');
      await admin.ok([
        '-n',
        'shop',
        'patch',
        'configmap',
        'held',
        '--type',
        'json',
        '-p',
        '[{"op":"remove","path":"/metadata/finalizers"}]',
      ]);
      expect((await admin.run(['-n', 'shop', 'get', 'configmap', 'held'])).code).toBe(1);
    });

    it('explain', async () => {
      // Proves /openapi/v3 is enough for kubectl explain.
      expect(await admin.ok(['explain', 'deployment.spec.replicas'])).toMatch(/FIELD:\s+replicas <integer>/);
    });

    it('auth can-i as admin and as a restricted service account; a forbidden request is 403', async () => {
      // Proves SelfSubjectAccessReview, service-account tokens, RBAC and Kubernetes' 403 message.
      expect((await admin.ok(['auth', 'can-i', 'delete', 'nodes'])).trim()).toBe('yes');
      const token = (await admin.ok(['-n', 'shop', 'create', 'token', 'bot'])).trim();
      expect(token.split('.')).toHaveLength(3);
      const botConfig = writeKubeconfig(
        dir(),
        `https://127.0.0.1:${server?.securePort}`,
        { name: 'bot', token },
        join(dir(), 'ca.crt'),
      );
      const bot = kubectlRunner(dir(), botConfig);
      expect((await bot.run(['-n', 'shop', 'auth', 'can-i', 'list', 'configmaps'])).stdout.trim()).toBe(
        'yes',
      );
      expect((await bot.run(['-n', 'shop', 'auth', 'can-i', 'list', 'pods'])).stdout.trim()).toBe('no');
      expect(await bot.ok(['-n', 'shop', 'get', 'configmaps', '-o', 'name'])).toContain('configmap/plain');
      expect(await bot.ok(['-n', 'shop', 'auth', 'can-i', '--list'])).toMatch(
        /^configmaps\s+\[\]\s+\[\]\s+\[get list watch\]$/m,
      );
      const denied = await bot.run(['-n', 'shop', 'get', 'pods']);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toContain(
        'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:shop:bot" cannot list resource "pods" in API group "" in the namespace "shop"',
      );
    });
  });
}

// The same scenario on Keelson's store and on etcd 3.4.
scenario('keelson');
scenario('etcd');
