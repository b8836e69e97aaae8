import { describe, expect, it } from 'vitest';
import { buildTable, humanDuration, tableColumnsFor, tableRowFor } from '../src/tables/index.js';
import type { KubeObject } from '../src/types.js';

const NOW = new Date('2026-01-01T12:00:00Z');

/** An RFC 3339 timestamp `seconds` before NOW. */
function ago(seconds: number): string {
  return new Date(NOW.getTime() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function pod(
  status: Record<string, unknown>,
  extra: { spec?: Record<string, unknown>; metadata?: Record<string, unknown> } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: ago(300), ...extra.metadata },
    spec: { containers: [{ name: 'app', image: 'nginx' }], ...extra.spec },
    status,
  };
}

function cellsByColumn(kind: string, o: KubeObject): Record<string, unknown> {
  const columns = tableColumnsFor(kind);
  const cells = tableRowFor(kind, o, NOW);
  return Object.fromEntries(columns.map((c, i) => [c.name, cells[i]]));
}

const running = { running: { startedAt: ago(200) } };

describe('pod STATUS, READY and RESTARTS', () => {
  it('prints Pending for a pod not yet scheduled', () => {
    // Proves the phase is the status when no container reports anything.
    const row = cellsByColumn('Pod', pod({ phase: 'Pending' }));
    expect(row).toMatchObject({ Name: 'web', Ready: '0/1', Status: 'Pending', Restarts: '0', Age: '5m' });
    expect(row).toMatchObject({
      IP: '<none>',
      Node: '<none>',
      'Nominated Node': '<none>',
      'Readiness Gates': '<none>',
    });
  });

  it('prints Running 1/1 for a ready running container', () => {
    // Proves ready running containers are counted and the IP and node columns are filled.
    const row = cellsByColumn(
      'Pod',
      pod(
        {
          phase: 'Running',
          podIP: '10.0.0.5',
          conditions: [{ type: 'Ready', status: 'True' }],
          containerStatuses: [{ name: 'app', ready: true, restartCount: 0, state: running }],
        },
        { spec: { containers: [{ name: 'app', image: 'nginx' }], nodeName: 'node-1' } },
      ),
    );
    expect(row).toMatchObject({
      Ready: '1/1',
      Status: 'Running',
      Restarts: '0',
      IP: '10.0.0.5',
      Node: 'node-1',
    });
  });

  it('prints CrashLoopBackOff with restarts and when the last one happened', () => {
    // Proves waiting reasons win and RESTARTS carries the "(5m ago)" suffix.
    const row = cellsByColumn(
      'Pod',
      pod({
        phase: 'Running',
        containerStatuses: [
          {
            name: 'app',
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(300) } },
          },
        ],
      }),
    );
    expect(row).toMatchObject({ Ready: '0/1', Status: 'CrashLoopBackOff', Restarts: '4 (5m ago)' });
  });

  it('prints Completed for a succeeded pod and marks the row completed', () => {
    // Proves terminated reasons and the Completed row condition of succeeded pods.
    const o = pod({
      phase: 'Succeeded',
      containerStatuses: [
        {
          name: 'app',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed' } },
        },
      ],
    });
    expect(cellsByColumn('Pod', o)).toMatchObject({ Ready: '0/1', Status: 'Completed' });
    const table = buildTable('Pod', [o], { now: NOW });
    expect(table.rows[0]?.conditions).toEqual([
      {
        type: 'Completed',
        status: 'True',
        reason: 'Succeeded',
        message: 'The pod has completed successfully.',
      },
    ]);
  });

  it('prints ExitCode and Signal when a terminated container gives no reason', () => {
    // Proves the fallback reasons of printPod.
    const exit = pod({
      phase: 'Failed',
      containerStatuses: [{ name: 'app', state: { terminated: { exitCode: 2 } } }],
    });
    expect(cellsByColumn('Pod', exit).Status).toBe('ExitCode:2');
    const signal = pod({
      phase: 'Failed',
      containerStatuses: [{ name: 'app', state: { terminated: { exitCode: 137, signal: 9 } } }],
    });
    expect(cellsByColumn('Pod', signal).Status).toBe('Signal:9');
  });

  it('prints Terminating for a pod being deleted', () => {
    // Proves deletionTimestamp overrides the status of a non-terminal pod.
    const o = pod(
      { phase: 'Running', containerStatuses: [{ name: 'app', ready: true, state: running }] },
      { metadata: { deletionTimestamp: ago(5) } },
    );
    expect(cellsByColumn('Pod', o)).toMatchObject({ Ready: '1/1', Status: 'Terminating' });
    const lost = pod({ phase: 'Running', reason: 'NodeLost' }, { metadata: { deletionTimestamp: ago(5) } });
    expect(cellsByColumn('Pod', lost).Status).toBe('Unknown');
  });

  it('prints Init:0/1 while the first init container runs', () => {
    // Proves init container progress, and Init:<reason> for failing init containers.
    const spec = {
      initContainers: [{ name: 'setup', image: 'busybox' }],
      containers: [{ name: 'app', image: 'nginx' }],
    };
    const initRunning = pod(
      {
        phase: 'Pending',
        initContainerStatuses: [{ name: 'setup', ready: false, restartCount: 0, state: running }],
        containerStatuses: [{ name: 'app', ready: false, state: { waiting: { reason: 'PodInitializing' } } }],
      },
      { spec },
    );
    expect(cellsByColumn('Pod', initRunning)).toMatchObject({ Ready: '0/1', Status: 'Init:0/1' });
    const initCrash = pod(
      {
        phase: 'Pending',
        initContainerStatuses: [
          { name: 'setup', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } } },
        ],
      },
      { spec },
    );
    expect(cellsByColumn('Pod', initCrash)).toMatchObject({ Status: 'Init:CrashLoopBackOff', Restarts: '3' });
    const initError = pod(
      {
        phase: 'Pending',
        initContainerStatuses: [{ name: 'setup', state: { terminated: { exitCode: 1, reason: 'Error' } } }],
      },
      { spec },
    );
    expect(cellsByColumn('Pod', initError).Status).toBe('Init:Error');
  });

  it('counts started sidecars and readiness gates', () => {
    // Proves restartable init containers join READY and readiness gates print "1/2".
    const o = pod(
      {
        phase: 'Running',
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'example.com/gate-a', status: 'True' },
          { type: 'example.com/gate-b', status: 'False' },
        ],
        initContainerStatuses: [{ name: 'proxy', ready: true, started: true, state: running }],
        containerStatuses: [{ name: 'app', ready: true, state: running }],
      },
      {
        spec: {
          initContainers: [{ name: 'proxy', image: 'envoy', restartPolicy: 'Always' }],
          containers: [{ name: 'app', image: 'nginx' }],
          readinessGates: [{ conditionType: 'example.com/gate-a' }, { conditionType: 'example.com/gate-b' }],
        },
      },
    );
    expect(cellsByColumn('Pod', o)).toMatchObject({
      Ready: '2/2',
      Status: 'Running',
      'Readiness Gates': '1/2',
    });
  });
});

describe('service, deployment and other rows', () => {
  it('formats PORT(S) with node ports and the external IP by type', () => {
    // Proves makePortString and getServiceExternalIP.
    const svc: KubeObject = {
      kind: 'Service',
      metadata: { name: 'web', creationTimestamp: ago(90) },
      spec: {
        type: 'NodePort',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10'],
        selector: { app: 'web', tier: 'fe' },
        ports: [
          { port: 80, nodePort: 30080, protocol: 'TCP' },
          { port: 53, protocol: 'UDP' },
        ],
      },
    };
    expect(tableRowFor('Service', svc, NOW)).toEqual([
      'web',
      'NodePort',
      '10.96.0.10',
      '<none>',
      '80:30080/TCP,53/UDP',
      '90s',
      'app=web,tier=fe',
    ]);
    const lb = { ...svc, spec: { type: 'LoadBalancer', clusterIP: 'None', ports: [] } };
    expect(tableRowFor('Service', lb, NOW).slice(1, 5)).toEqual([
      'LoadBalancer',
      'None',
      '<pending>',
      '<none>',
    ]);
  });

  it('prints a deployment READY as ready/desired with its selector', () => {
    // Proves printDeployment's cells and types.
    const d: KubeObject = {
      kind: 'Deployment',
      metadata: { name: 'web', creationTimestamp: ago(3600 * 26) },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          spec: {
            containers: [
              { name: 'a', image: 'nginx:1' },
              { name: 'b', image: 'redis' },
            ],
          },
        },
      },
      status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
    };
    expect(tableRowFor('Deployment', d, NOW)).toEqual([
      'web',
      '2/3',
      3,
      2,
      '26h',
      'a,b',
      'nginx:1,redis',
      'app=web',
    ]);
    const cols = tableColumnsFor('Deployment');
    expect(cols.map((c) => `${c.name}:${c.priority}`)).toEqual([
      'Name:0',
      'Ready:0',
      'Up-to-date:0',
      'Available:0',
      'Age:0',
      'Containers:1',
      'Images:1',
      'Selector:1',
    ]);
  });

  it('prints jobs with STATUS, COMPLETIONS and DURATION', () => {
    // Proves the 1.32 job columns.
    const job: KubeObject = {
      kind: 'Job',
      metadata: { name: 'pi', creationTimestamp: ago(600) },
      spec: {
        completions: 1,
        template: { spec: { containers: [{ name: 'pi', image: 'perl' }] } },
        selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': 'u1' } },
      },
      status: {
        succeeded: 1,
        startTime: ago(600),
        completionTime: ago(565),
        conditions: [{ type: 'Complete', status: 'True' }],
      },
    };
    expect(tableRowFor('Job', job, NOW)).toEqual([
      'pi',
      'Complete',
      '1/1',
      '35s',
      '10m',
      'pi',
      'perl',
      'batch.kubernetes.io/controller-uid=u1',
    ]);
  });

  it('prints nodes, role bindings and events', () => {
    // Proves node roles and status, binding subjects and the event OBJECT column.
    const node: KubeObject = {
      kind: 'Node',
      metadata: {
        name: 'n1',
        creationTimestamp: ago(86400 * 3),
        labels: { 'node-role.kubernetes.io/control-plane': '' },
      },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: 'Ready', status: 'True' }],
        addresses: [{ type: 'InternalIP', address: '192.168.1.10' }],
        nodeInfo: {
          kubeletVersion: 'v1.32.0',
          osImage: 'Debian',
          kernelVersion: '6.1',
          containerRuntimeVersion: 'containerd://1.7',
        },
      },
    };
    expect(tableRowFor('Node', node, NOW)).toEqual([
      'n1',
      'Ready,SchedulingDisabled',
      'control-plane',
      '3d',
      'v1.32.0',
      '192.168.1.10',
      '<none>',
      'Debian',
      '6.1',
      'containerd://1.7',
    ]);
    const rb: KubeObject = {
      kind: 'RoleBinding',
      metadata: { name: 'rb', creationTimestamp: ago(10) },
      roleRef: { kind: 'Role', name: 'reader' },
      subjects: [
        { kind: 'User', name: 'alice' },
        { kind: 'ServiceAccount', name: 'bot', namespace: 'ci' },
        { kind: 'Group', name: 'devs' },
      ],
    };
    expect(tableRowFor('RoleBinding', rb, NOW)).toEqual([
      'rb',
      'Role/reader',
      '10s',
      'alice',
      'devs',
      'ci/bot',
    ]);
    const ev: KubeObject = {
      kind: 'Event',
      metadata: { name: 'web.1', creationTimestamp: ago(60) },
      involvedObject: { kind: 'Pod', name: 'web' },
      type: 'Normal',
      reason: 'Scheduled',
      message: ' assigned ',
      firstTimestamp: ago(120),
      lastTimestamp: ago(60),
      source: { component: 'scheduler' },
    };
    expect(tableRowFor('Event', ev, NOW)).toEqual([
      '60s',
      'Normal',
      'Scheduled',
      'pod/web',
      '',
      'scheduler',
      'assigned',
      '2m',
      1,
      'web.1',
    ]);
  });
});

describe('humanDuration', () => {
  it('matches duration.HumanDuration', () => {
    // Proves every branch of HumanDuration with the boundaries Kubernetes' tests use.
    const cases: [number, string][] = [
      [-2, '<invalid>'],
      [-1, '0s'],
      [0, '0s'],
      [1, '1s'],
      [90, '90s'],
      [119, '119s'],
      [120, '2m'],
      [125, '2m5s'],
      [599, '9m59s'],
      [600, '10m'],
      [3 * 3600 - 1, '179m'],
      [3 * 3600, '3h'],
      [3 * 3600 + 20 * 60, '3h20m'],
      [8 * 3600, '8h'],
      [47 * 3600 + 59 * 60, '47h'],
      [48 * 3600, '2d'],
      [51 * 3600, '2d3h'],
      [8 * 86400, '8d'],
      [2 * 365 * 86400 - 1, '729d'],
      [2 * 365 * 86400, '2y'],
      [(2 * 365 + 45) * 86400, '2y45d'],
      [8 * 365 * 86400, '8y'],
    ];
    for (const [seconds, want] of cases) expect(humanDuration(seconds * 1000), `${seconds}s`).toBe(want);
  });
});

describe('buildTable', () => {
  it('builds a meta.k8s.io/v1 Table with PartialObjectMetadata rows', () => {
    // Proves the Table envelope, list metadata and the three includeObject modes.
    const o = pod({ phase: 'Pending' });
    const t = buildTable('Pod', [o], {
      now: NOW,
      resourceVersion: '42',
      continue: 'abc',
      remainingItemCount: 3,
    });
    expect(t).toMatchObject({
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: '42', continue: 'abc', remainingItemCount: 3 },
    });
    expect(t.columnDefinitions?.map((c) => c.name)).toEqual([
      'Name',
      'Ready',
      'Status',
      'Restarts',
      'Age',
      'IP',
      'Node',
      'Nominated Node',
      'Readiness Gates',
    ]);
    expect(t.columnDefinitions?.[0]).toMatchObject({ type: 'string', format: 'name', priority: 0 });
    expect(t.rows[0]?.object).toEqual({
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: o.metadata,
    });
    expect(buildTable('Pod', [o], { now: NOW, includeObject: 'None' }).rows[0]?.object).toBeNull();
    expect(buildTable('Pod', [o], { now: NOW, includeObject: 'Object' }).rows[0]?.object).toBe(o);
    expect(buildTable('Pod', [], { now: NOW, noHeaders: true })).toMatchObject({
      columnDefinitions: null,
      rows: [],
    });
  });

  it('falls back to NAME and CREATED AT for kinds without a printer', () => {
    // Proves rest.NewDefaultTableConvertor's table (roles, cluster roles, limit ranges).
    const role: KubeObject = {
      kind: 'Role',
      metadata: { name: 'reader', creationTimestamp: '2025-06-01T10:00:00Z' },
    };
    const t = buildTable('Role', [role], { now: NOW });
    expect(t.columnDefinitions?.map((c) => [c.name, c.type])).toEqual([
      ['Name', 'string'],
      ['Created At', 'date'],
    ]);
    expect(t.rows[0]?.cells).toEqual(['reader', '2025-06-01T10:00:00Z']);
  });

  it('prints a row for every kind of the issue with one cell per column', () => {
    // Proves no printer crashes on an empty object and every row fits its columns.
    const kinds = [
      'Pod',
      'Node',
      'Namespace',
      'Service',
      'Endpoints',
      'ConfigMap',
      'Secret',
      'ServiceAccount',
      'Event',
      'ResourceQuota',
      'LimitRange',
      'PersistentVolume',
      'PersistentVolumeClaim',
      'ReplicationController',
      'Deployment',
      'ReplicaSet',
      'StatefulSet',
      'DaemonSet',
      'ControllerRevision',
      'Job',
      'CronJob',
      'HorizontalPodAutoscaler',
      'Lease',
      'Role',
      'ClusterRole',
      'RoleBinding',
      'ClusterRoleBinding',
      'Ingress',
      'IngressClass',
      'NetworkPolicy',
      'EndpointSlice',
      'StorageClass',
      'PodDisruptionBudget',
    ];
    for (const kind of kinds) {
      const cells = tableRowFor(kind, { kind, metadata: { name: 'x' } }, NOW);
      expect(cells.length, kind).toBe(tableColumnsFor(kind).length);
    }
  });
});
