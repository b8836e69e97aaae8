// kubectl 1.32's generator commands send their bodies as Kubernetes protobuf; this runs them against a
// real `keelson apiserver` on a real store (loopback plain-HTTP port, AlwaysAllow) and checks with
// `get -o json` that every field arrived as JSON would have carried it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlRunner, writeKubeconfig } from './kubectl-harness.js';
import { type RunningServer, startServer } from './server-harness.js';

const impl = process.env.APISERVER_STORE === 'etcd' ? 'etcd' : 'keelson';
let server: RunningServer | undefined;
let kubectl: ReturnType<typeof kubectlRunner>;

beforeAll(async () => {
  server = await startServer({ impl });
  const kubeconfig = writeKubeconfig(server.dir, server.url, { name: 'admin' });
  kubectl = kubectlRunner(server.dir, kubeconfig);
  await kubectl.ok(['create', 'namespace', 'pb']);
}, 120_000);

afterAll(async () => {
  await server?.stop();
}, 30_000);

/** kubectl's JSON output, navigated freely by the assertions below. */
// biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary object JSON.
type Json = any;

async function getJson(args: string[]): Promise<Json> {
  return JSON.parse(await kubectl.ok(['-n', 'pb', 'get', ...args, '-o', 'json'])) as Json;
}

describe('kubectl generators over protobuf', () => {
  it('creates deployments, including --replicas=0, from protobuf bodies', async () => {
    // Proves create deployment arrives whole (replicas, selector, image) and a pointer zero survives.
    const run = await kubectl.run([
      '-n',
      'pb',
      'create',
      'deployment',
      'web',
      '--image=nginx',
      '--replicas=2',
      '--port=8080',
      '-v=8',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/Content-Type: application\/vnd\.kubernetes\.protobuf/);
    const dep = await getJson(['deployment', 'web']);
    expect(dep.spec.replicas).toBe(2);
    expect(dep.spec.selector).toEqual({ matchLabels: { app: 'web' } });
    expect(dep.spec.template.metadata.labels).toEqual({ app: 'web' });
    expect(dep.spec.template.spec.containers[0]).toMatchObject({
      name: 'nginx',
      image: 'nginx',
      ports: [{ containerPort: 8080 }],
    });
    await kubectl.ok(['-n', 'pb', 'create', 'deployment', 'idle', '--image=nginx', '--replicas=0']);
    expect((await getJson(['deployment', 'idle'])).spec.replicas).toBe(0);
  }, 60_000);

  it('creates services with create service and expose', async () => {
    // Proves ServicePort's IntOrString targetPort and selector maps from both generators.
    await kubectl.ok(['-n', 'pb', 'create', 'service', 'clusterip', 'web', '--tcp=80:8080']);
    const svc = await getJson(['service', 'web']);
    expect(svc.spec.ports).toEqual([
      expect.objectContaining({ name: '80-8080', port: 80, targetPort: 8080 }),
    ]);
    expect(svc.spec.selector).toEqual({ app: 'web' });
    expect(svc.spec.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await kubectl.ok([
      '-n',
      'pb',
      'expose',
      'deployment',
      'web',
      '--name=web-exposed',
      '--port=81',
      '--target-port=8080',
    ]);
    const exposed = await getJson(['service', 'web-exposed']);
    expect(exposed.spec.selector).toEqual({ app: 'web' });
    expect(exposed.spec.ports[0]).toMatchObject({ port: 81, targetPort: 8080 });
  }, 60_000);

  it('creates node-port services, ingresses, disruption budgets and autoscalers', async () => {
    // Proves a zero nodePort reads as "allocate one", pointer IntOrStrings, pathType and HPA metrics.
    await kubectl.ok(['-n', 'pb', 'create', 'service', 'nodeport', 'np', '--tcp=80:8080']);
    const np = await getJson(['service', 'np']);
    expect(np.spec.type).toBe('NodePort');
    expect(np.spec.ports[0].nodePort).toBeGreaterThan(0);
    await kubectl.ok(['-n', 'pb', 'create', 'ingress', 'ing', '--rule=foo.com/bar=web:8080']);
    const ing = await getJson(['ingress', 'ing']);
    expect(ing.spec.rules[0]).toEqual({
      host: 'foo.com',
      http: {
        paths: [
          { path: '/bar', pathType: 'Exact', backend: { service: { name: 'web', port: { number: 8080 } } } },
        ],
      },
    });
    await kubectl.ok(['-n', 'pb', 'create', 'pdb', 'pdb', '--selector=app=web', '--min-available=0']);
    const pdb = await getJson(['pdb', 'pdb']);
    expect(pdb.spec.minAvailable).toBe(0);
    expect(pdb.spec.selector).toEqual({ matchLabels: { app: 'web' } });
    await kubectl.ok([
      '-n',
      'pb',
      'autoscale',
      'deployment',
      'web',
      '--min=1',
      '--max=3',
      '--cpu-percent=50',
    ]);
    const hpa = await getJson(['hpa', 'web']);
    expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: 3 });
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'web' });
  }, 60_000);

  it('creates jobs, cronjobs and pods', async () => {
    // Proves command arrays, restartPolicy, schedule and container ports.
    await kubectl.ok(['-n', 'pb', 'create', 'job', 'once', '--image=busybox', '--', 'echo', 'hi']);
    const job = await getJson(['job', 'once']);
    expect(job.spec.template.spec.containers[0]).toMatchObject({ image: 'busybox', command: ['echo', 'hi'] });
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    await kubectl.ok(['-n', 'pb', 'create', 'cronjob', 'tick', '--image=busybox', '--schedule=*/5 * * * *']);
    const cj = await getJson(['cronjob', 'tick']);
    expect(cj.spec.schedule).toBe('*/5 * * * *');
    expect(cj.spec.jobTemplate.spec.template.spec.containers[0].image).toBe('busybox');
    await kubectl.ok(['-n', 'pb', 'run', 'solo', '--image=nginx', '--port=80', '--labels=app=solo']);
    const pod = await getJson(['pod', 'solo']);
    expect(pod.metadata.labels).toEqual({ app: 'solo' });
    expect(pod.spec.containers[0]).toMatchObject({
      name: 'solo',
      image: 'nginx',
      ports: [{ containerPort: 80 }],
    });
  }, 60_000);

  it('creates RBAC objects', async () => {
    // Proves PolicyRule lists, RoleRef and Subjects for roles and cluster roles.
    await kubectl.ok(['-n', 'pb', 'create', 'role', 'reader', '--verb=get,list', '--resource=pods']);
    expect((await getJson(['role', 'reader'])).rules).toEqual([
      { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] },
    ]);
    await kubectl.ok(['-n', 'pb', 'create', 'rolebinding', 'reader', '--role=reader', '--user=alice']);
    const rb = await getJson(['rolebinding', 'reader']);
    expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' });
    expect(rb.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }]);
    await kubectl.ok(['create', 'clusterrole', 'pb-nodes', '--verb=get', '--resource=nodes']);
    const cr = JSON.parse(await kubectl.ok(['get', 'clusterrole', 'pb-nodes', '-o', 'json']));
    expect(cr.rules[0]).toMatchObject({ verbs: ['get'], resources: ['nodes'] });
    await kubectl.ok(['create', 'clusterrolebinding', 'pb-nodes', '--clusterrole=pb-nodes', '--group=devs']);
    const crb = JSON.parse(await kubectl.ok(['get', 'clusterrolebinding', 'pb-nodes', '-o', 'json']));
    expect(crb.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'devs' }]);
  }, 60_000);

  it('creates quotas, secrets and service-account tokens', async () => {
    // Proves map<string, Quantity>, map<string, bytes> and the TokenRequest subresource body.
    await kubectl.ok(['-n', 'pb', 'create', 'quota', 'q', '--hard=pods=10,requests.cpu=2']);
    expect((await getJson(['resourcequota', 'q'])).spec.hard).toEqual({ pods: '10', 'requests.cpu': '2' });
    await kubectl.ok(['-n', 'pb', 'create', 'secret', 'generic', 's', '--from-literal=k=v']);
    expect((await getJson(['secret', 's'])).data).toEqual({ k: Buffer.from('v').toString('base64') });
    const sa = await kubectl.run(['-n', 'pb', 'get', 'serviceaccount', 'default']);
    if (sa.code !== 0) await kubectl.ok(['-n', 'pb', 'create', 'serviceaccount', 'default']);
    const token = (await kubectl.ok(['-n', 'pb', 'create', 'token', 'default', '--duration=10m'])).trim();
    expect(token.split('.')).toHaveLength(3);
  }, 60_000);
});
