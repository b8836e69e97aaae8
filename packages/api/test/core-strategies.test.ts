// Core/v1 strategies: the generic spec/status/generation rules, pod defaults and validation
// (including the immutable spec on update), services, secrets, configmaps, namespaces and
// replication controllers, checked against Kubernetes' defaults and messages.

import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../src/status.js';
import {
  configMapStrategy,
  coreStrategies,
  eventStrategy,
  limitRangeStrategy,
  namespaceStrategy,
  nodeStrategy,
  persistentVolumeClaimStrategy,
  persistentVolumeStrategy,
  podStrategy,
  replicationControllerStrategy,
  resourceQuotaStrategy,
  secretStrategy,
  serviceStrategy,
} from '../src/strategy/core.js';
import type { KubeObject, ResourceStrategy } from '../src/types.js';

function create(s: ResourceStrategy, obj: KubeObject): { obj: KubeObject; errors: string[] } {
  const copy = structuredClone(obj);
  s.applyDefaults(copy);
  s.prepareForCreate(copy);
  return { obj: copy, errors: s.validateCreate(copy).map(formatFieldError) };
}

function update(
  s: ResourceStrategy,
  next: KubeObject,
  old: KubeObject,
): { obj: KubeObject; errors: string[] } {
  const copy = structuredClone(next);
  s.applyDefaults(copy);
  s.prepareForUpdate(copy, old);
  return { obj: copy, errors: s.validateUpdate(copy, old).map(formatFieldError) };
}

/** Stored form of an object: created, with the system fields the REST layer adds. */
function stored(s: ResourceStrategy, obj: KubeObject): KubeObject {
  const { obj: out, errors } = create(s, obj);
  expect(errors).toEqual([]);
  out.metadata = {
    ...out.metadata,
    uid: 'uid-1',
    resourceVersion: '10',
    creationTimestamp: '2026-01-01T00:00:00Z',
  };
  return out;
}

const pod = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default' },
  spec: { containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }] }] },
});

describe('pods', () => {
  it('defaults and status on create', () => {
    // Proves a created pod gets kube-apiserver's spec defaults, status reset to Pending/BestEffort and no
    // generation.
    const { obj, errors } = create(podStrategy, { ...pod(), status: { phase: 'Running' } });
    expect(errors).toEqual([]);
    expect(obj.spec).toEqual({
      containers: [
        {
          name: 'nginx',
          image: 'nginx',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          imagePullPolicy: 'Always',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          resources: {},
        },
      ],
      dnsPolicy: 'ClusterFirst',
      restartPolicy: 'Always',
      securityContext: {},
      terminationGracePeriodSeconds: 30,
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
    });
    expect(obj.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    expect(obj.metadata?.generation).toBeUndefined();
  });

  it('pull policy and QoS', () => {
    // Proves a tagged image gets IfNotPresent, limits are copied to requests, and QoS is Guaranteed or
    // Burstable.
    const p = pod();
    const spec = p.spec as { containers: Record<string, unknown>[] };
    spec.containers[0]!.image = 'registry:5000/nginx:1.27';
    spec.containers[0]!.resources = { limits: { cpu: '1', memory: '1Gi' } };
    const { obj } = create(podStrategy, p);
    const c = (obj.spec as { containers: Record<string, unknown>[] }).containers[0]!;
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.resources).toEqual({
      limits: { cpu: '1', memory: '1Gi' },
      requests: { cpu: '1', memory: '1Gi' },
    });
    expect((obj.status as { qosClass: string }).qosClass).toBe('Guaranteed');
    spec.containers[0]!.resources = { requests: { cpu: '100m' } };
    expect((create(podStrategy, p).obj.status as { qosClass: string }).qosClass).toBe('Burstable');
  });

  it('validation', () => {
    // Proves container names (format, duplicates), images, ports, protocols, restartPolicy and an empty
    // container list are refused with Kubernetes' messages.
    const p = pod();
    p.spec = {
      restartPolicy: 'Sometimes',
      containers: [
        { name: 'Bad_Name', image: '' },
        { name: 'dup', image: 'x', ports: [{ containerPort: 70000, protocol: 'HTTP' }] },
        { name: 'dup', image: 'x' },
      ],
    };
    const { errors } = create(podStrategy, p);
    expect(errors).toContain('spec.containers[0].image: Required value');
    expect(
      errors.some((e) =>
        e.startsWith('spec.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label'),
      ),
    ).toBe(true);
    expect(errors).toContain(
      'spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    );
    expect(errors).toContain(
      'spec.containers[1].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    );
    expect(errors).toContain('spec.containers[2].name: Duplicate value: "dup"');
    expect(errors).toContain(
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    );
    expect(create(podStrategy, { ...pod(), spec: { containers: [] } }).errors).toContain(
      'spec.containers: Required value',
    );
  });

  it('update rules', () => {
    // Proves a pod's spec is immutable except images and added tolerations, and status is ignored on the main
    // resource.
    const old = stored(podStrategy, pod());
    old.status = { phase: 'Running', podIP: '10.0.0.9' };
    const imageChange = structuredClone(old);
    (imageChange.spec as { containers: Record<string, unknown>[] }).containers[0]!.image = 'nginx:1.27';
    imageChange.status = { phase: 'Failed' };
    const ok = update(podStrategy, imageChange, old);
    expect(ok.errors).toEqual([]);
    expect(ok.obj.status).toEqual({ phase: 'Running', podIP: '10.0.0.9' });

    const envChange = structuredClone(old);
    (envChange.spec as { containers: Record<string, unknown>[] }).containers[0]!.env = [
      { name: 'A', value: '1' },
    ];
    const bad = update(podStrategy, envChange, old);
    expect(bad.errors).toHaveLength(1);
    expect(bad.errors[0]).toMatch(
      /^spec: Forbidden: pod updates may not change fields other than `spec\.containers\[\*\]\.image`,`spec\.initContainers\[\*\]\.image`,`spec\.activeDeadlineSeconds`,`spec\.tolerations` \(only additions to existing tolerations\),`spec\.terminationGracePeriodSeconds` \(allow it to be set to 1 if it was previously negative\)\n/,
    );

    const toleration = structuredClone(old);
    (toleration.spec as Record<string, unknown>).tolerations = [{ key: 'k', operator: 'Exists' }];
    expect(update(podStrategy, toleration, old).errors).toEqual([]);
  });

  it('status updates, fields, grace period', () => {
    // Proves status updates keep spec and ownerReferences, field selectors read the pod, and only a scheduled
    // pod gets a 30 s default grace period.
    const old = stored(podStrategy, pod());
    old.metadata!.ownerReferences = [
      { apiVersion: 'v1', kind: 'ReplicationController', name: 'rc', uid: 'u' },
    ];
    const next = structuredClone(old);
    (next.spec as Record<string, unknown>).nodeName = 'n1';
    next.status = { phase: 'Running' };
    next.metadata!.ownerReferences = [];
    next.metadata!.labels = { a: 'b' };
    podStrategy.prepareForStatusUpdate!(next, old);
    expect(next.spec).toEqual(old.spec);
    expect(next.status).toEqual({ phase: 'Running' });
    expect(next.metadata?.ownerReferences).toEqual(old.metadata?.ownerReferences);
    expect(next.metadata?.labels).toEqual({ a: 'b' });

    const bound = structuredClone(old);
    (bound.spec as Record<string, unknown>).nodeName = 'n1';
    bound.status = { phase: 'Running', podIPs: [{ ip: '10.1.2.3' }] };
    const fields = podStrategy.selectableFields(bound);
    expect(fields).toMatchObject({
      'metadata.name': 'web',
      'metadata.namespace': 'default',
      'spec.nodeName': 'n1',
      'status.phase': 'Running',
      'status.podIP': '10.1.2.3',
      'spec.restartPolicy': 'Always',
    });
    expect(podStrategy.defaultGracePeriodSeconds?.(bound)).toBe(30);
    expect(podStrategy.defaultGracePeriodSeconds?.(old)).toBe(0);
  });
});

const service = (): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
});

describe('services', () => {
  it('defaults', () => {
    // Proves a created service gets Kubernetes' spec defaults (TCP, targetPort = port, ClusterIP,
    // single-stack IPv4) and an empty loadBalancer status.
    const { obj, errors } = create(serviceStrategy, service());
    expect(errors).toEqual([]);
    expect(obj.spec).toEqual({
      selector: { app: 'web' },
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv4'],
    });
    expect(obj.status).toEqual({ loadBalancer: {} });
  });

  it('validation', () => {
    // Proves service names are DNS-1035 labels and ports, type and externalName are validated.
    const bad = service();
    bad.metadata!.name = '1web';
    bad.spec = { type: 'Weird', ports: [{ port: 0 }, { port: 80, name: 'x' }] };
    const { errors } = create(serviceStrategy, bad);
    expect(errors.some((e) => e.startsWith('metadata.name: Invalid value: "1web": a DNS-1035 label'))).toBe(
      true,
    );
    expect(errors).toContain(
      'spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    );
    expect(errors).toContain('spec.ports[0].name: Required value');
    expect(errors).toContain('spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive');
    const ext = { ...service(), spec: { type: 'ExternalName' } };
    expect(create(serviceStrategy, ext).errors).toEqual(['spec.externalName: Required value']);
    expect(create(serviceStrategy, { ...service(), spec: { clusterIP: 'None' } }).errors).toEqual([]);
  });

  it('clusterIP on update', () => {
    // Proves clusterIP may not change once set, and an update omitting it keeps the allocated one.
    const old = stored(serviceStrategy, {
      ...service(),
      spec: { ...(service().spec as object), clusterIP: '10.96.0.10' },
    });
    const kept = update(serviceStrategy, { ...service(), metadata: old.metadata }, old);
    expect(kept.errors).toEqual([]);
    expect((kept.obj.spec as Record<string, unknown>).clusterIP).toBe('10.96.0.10');
    expect((kept.obj.spec as Record<string, unknown>).clusterIPs).toEqual(['10.96.0.10']);
    const changed = update(
      serviceStrategy,
      {
        ...service(),
        metadata: old.metadata,
        spec: { ...(service().spec as object), clusterIP: '10.96.0.11' },
      },
      old,
    );
    expect(changed.errors).toContain(
      'spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set',
    );
    const toExternal = update(
      serviceStrategy,
      { ...old, spec: { type: 'ExternalName', externalName: 'example.com' } },
      old,
    );
    expect(toExternal.errors).toEqual([]);
  });
});

describe('service type changes', () => {
  it('node ports and ExternalName', () => {
    // Proves node ports survive an update that omits them, and allocated fields go when switching to
    // ExternalName.
    const np: KubeObject = {
      metadata: { name: 'np', namespace: 'default' },
      spec: {
        type: 'NodePort',
        clusterIP: '10.96.0.7',
        selector: { a: 'b' },
        ports: [{ name: 'http', port: 80, nodePort: 30080 }],
      },
    };
    const old = stored(serviceStrategy, np);
    const body = {
      metadata: old.metadata,
      spec: { type: 'NodePort', selector: { a: 'b' }, ports: [{ name: 'http', port: 80 }] },
    };
    const kept = update(serviceStrategy, body, old);
    expect(kept.errors).toEqual([]);
    expect(kept.obj.spec).toMatchObject({
      clusterIP: '10.96.0.7',
      clusterIPs: ['10.96.0.7'],
      ports: [{ nodePort: 30080 }],
    });
    const ext = structuredClone(old);
    Object.assign(ext.spec as object, { type: 'ExternalName', externalName: 'db.example.com' });
    const switched = update(serviceStrategy, ext, old);
    expect(switched.errors).toEqual([]);
    const spec = switched.obj.spec as Record<string, unknown>;
    expect(spec.clusterIP).toBeUndefined();
    expect(spec.ipFamilies).toBeUndefined();
    expect((spec.ports as Record<string, unknown>[])[0]?.nodePort).toBeUndefined();
    expect(spec.externalTrafficPolicy).toBeUndefined();
  });

  it('headless and ExternalName validation', () => {
    // Proves headless services stay headless and an ExternalName service may not carry cluster IPs.
    const old = stored(serviceStrategy, { ...service(), spec: { clusterIP: 'None', selector: { a: 'b' } } });
    expect(old.spec).toMatchObject({ clusterIP: 'None', clusterIPs: ['None'] });
    expect(update(serviceStrategy, { ...old }, old).errors).toEqual([]);
    const bad = {
      ...service(),
      spec: { type: 'ExternalName', externalName: 'x.example.com', clusterIP: '10.0.0.1' },
    };
    expect(create(serviceStrategy, bad).errors).toEqual([
      'spec.clusterIPs: Forbidden: may not be set for ExternalName services',
    ]);
  });
});

describe('secrets and configmaps', () => {
  const secret = (): KubeObject => ({
    metadata: { name: 's', namespace: 'default' },
    data: { user: Buffer.from('admin').toString('base64') },
  });

  it('defaults and validation', () => {
    // Proves secrets default to Opaque, fold stringData into base64 data, and validate keys, base64 and the
    // TLS keys.
    const { obj, errors } = create(secretStrategy, { ...secret(), stringData: { pass: 'x' } });
    expect(errors).toEqual([]);
    expect(obj.type).toBe('Opaque');
    expect(obj.data).toEqual({ user: 'YWRtaW4=', pass: 'eA==' });
    expect(obj.stringData).toBeUndefined();
    const bad = create(secretStrategy, { ...secret(), data: { 'bad key': 'YQ==', ok: 'not base64!' } });
    expect(bad.errors[0]).toMatch(
      /^data\[bad key\]: Invalid value: "bad key": a valid config key must consist/,
    );
    expect(bad.errors[1]).toBe(
      'data[ok]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3',
    );
    const tls = create(secretStrategy, { ...secret(), type: 'kubernetes.io/tls' });
    expect(tls.errors).toEqual(['data[tls.crt]: Required value', 'data[tls.key]: Required value']);
  });

  it('immutability', () => {
    // Proves immutable secrets and configmaps refuse data changes and unsetting immutable, and a secret's
    // type is fixed.
    const old = stored(secretStrategy, { ...secret(), immutable: true });
    const changed = update(secretStrategy, { ...old, data: { user: 'Yg==' } }, old);
    expect(changed.errors).toEqual(['data: Forbidden: field is immutable when `immutable` is set']);
    const unset = update(secretStrategy, { ...old, immutable: false }, old);
    expect(unset.errors).toEqual(['immutable: Forbidden: field is immutable when `immutable` is set']);
    const retyped = update(
      secretStrategy,
      { ...old, immutable: true, type: 'kubernetes.io/basic-auth', data: { username: 'YQ==' } },
      old,
    );
    expect(retyped.errors).toContain('type: Invalid value: "kubernetes.io/basic-auth": field is immutable');
    const cmOld = stored(configMapStrategy, {
      metadata: { name: 'c', namespace: 'd' },
      data: { a: '1' },
      immutable: true,
    });
    expect(update(configMapStrategy, { ...cmOld, data: { a: '2' } }, cmOld).errors).toEqual([
      'data: Forbidden: field is immutable when `immutable` is set',
    ]);
    expect(update(configMapStrategy, { ...cmOld }, cmOld).errors).toEqual([]);
  });
});

describe('other core kinds', () => {
  it('namespaces', () => {
    // Proves namespaces get the kubernetes finalizer (kept on update), phase Active and the name label, and
    // dotted names are refused.
    const { obj, errors } = create(namespaceStrategy, { metadata: { name: 'team-a' } });
    expect(errors).toEqual([]);
    expect(obj.spec).toEqual({ finalizers: ['kubernetes'] });
    expect(obj.status).toEqual({ phase: 'Active' });
    expect(obj.metadata?.labels).toEqual({ 'kubernetes.io/metadata.name': 'team-a' });
    expect(create(namespaceStrategy, { metadata: { name: 'a.b' } }).errors).toEqual([
      'metadata.name: Invalid value: "a.b": must not contain dots',
    ]);
    const old = stored(namespaceStrategy, { metadata: { name: 'team-a' } });
    const next = update(namespaceStrategy, { ...old, spec: { finalizers: [] } }, old);
    expect(next.obj.spec).toEqual({ finalizers: ['kubernetes'] });
  });

  it('nodes', () => {
    // Proves a node keeps its registered status with allocatable defaulted from capacity, and its field
    // selectors (empty namespace, unschedulable).
    const { obj, errors } = create(nodeStrategy, {
      metadata: { name: 'n1' },
      status: { capacity: { cpu: '2' } },
    });
    expect(errors).toEqual([]);
    expect(obj.status).toEqual({ capacity: { cpu: '2' }, allocatable: { cpu: '2' } });
    expect(nodeStrategy.selectableFields(obj)).toEqual({
      'metadata.name': 'n1',
      'metadata.namespace': '',
      'spec.unschedulable': 'false',
    });
  });

  it('replication controllers and generation', () => {
    // Proves RCs take labels and selector from the template, start at generation 1, bump it only on spec
    // changes, and refuse a selector that does not match the template.
    const rc: KubeObject = {
      metadata: { name: 'rc', namespace: 'd' },
      spec: {
        template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };
    const old = stored(replicationControllerStrategy, rc);
    expect(old.metadata?.generation).toBe(1);
    expect(old.metadata?.labels).toEqual({ app: 'x' });
    expect((old.spec as Record<string, unknown>).selector).toEqual({ app: 'x' });
    expect((old.spec as Record<string, unknown>).replicas).toBe(1);
    expect(old.status).toEqual({ replicas: 0 });
    const relabel = update(
      replicationControllerStrategy,
      { ...old, metadata: { ...old.metadata, labels: { b: 'c' } } },
      old,
    );
    expect(relabel.obj.metadata?.generation).toBe(1);
    const scaled = update(
      replicationControllerStrategy,
      { ...old, spec: { ...(old.spec as object), replicas: 3 } },
      old,
    );
    expect(scaled.errors).toEqual([]);
    expect(scaled.obj.metadata?.generation).toBe(2);
    const mismatch = { ...rc, spec: { ...(rc.spec as object), selector: { app: 'y' } } };
    expect(create(replicationControllerStrategy, mismatch).errors).toEqual([
      'spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`',
    ]);
  });

  it('events', () => {
    // Proves event field selectors and the involvedObject namespace rule.
    const ev: KubeObject = {
      metadata: { name: 'e1', namespace: 'default' },
      involvedObject: { kind: 'Pod', name: 'web', namespace: 'default', uid: 'u1' },
      reason: 'Scheduled',
      source: { component: 'scheduler' },
      type: 'Normal',
    };
    expect(create(eventStrategy, ev).errors).toEqual([]);
    expect(eventStrategy.selectableFields(ev)).toMatchObject({
      'involvedObject.kind': 'Pod',
      'involvedObject.name': 'web',
      'involvedObject.uid': 'u1',
      reason: 'Scheduled',
      source: 'scheduler',
      type: 'Normal',
    });
    const elsewhere = { ...ev, involvedObject: { kind: 'Pod', name: 'web', namespace: 'other' } };
    expect(create(eventStrategy, elsewhere).errors).toEqual([
      'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    ]);
  });

  it('persistent volume claims', () => {
    // Proves a claim's spec is immutable but for storage requests.
    const pvc: KubeObject = {
      metadata: { name: 'data', namespace: 'd' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    };
    const old = stored(persistentVolumeClaimStrategy, pvc);
    expect(old.status).toEqual({ phase: 'Pending' });
    const grow = update(
      persistentVolumeClaimStrategy,
      { ...old, spec: { ...(old.spec as object), resources: { requests: { storage: '2Gi' } } } },
      old,
    );
    expect(grow.errors).toEqual([]);
    const modes = update(
      persistentVolumeClaimStrategy,
      { ...old, spec: { ...(old.spec as object), accessModes: ['ReadWriteMany'] } },
      old,
    );
    expect(modes.errors).toEqual([
      'spec: Forbidden: spec is immutable after creation except resources.requests for bound claims',
    ]);
  });

  it('limit ranges', () => {
    // Proves LimitRange container defaults fall back to max and min, and min above max is refused.
    const lr: KubeObject = {
      metadata: { name: 'l', namespace: 'd' },
      spec: { limits: [{ type: 'Container', max: { cpu: '2' }, min: { memory: '64Mi' } }] },
    };
    const { obj, errors } = create(limitRangeStrategy, lr);
    expect(errors).toEqual([]);
    expect((obj.spec as { limits: unknown[] }).limits[0]).toEqual({
      type: 'Container',
      max: { cpu: '2' },
      min: { memory: '64Mi' },
      default: { cpu: '2' },
      defaultRequest: { cpu: '2', memory: '64Mi' },
    });
    const bad = { ...lr, spec: { limits: [{ type: 'Pod', min: { cpu: '2' }, max: { cpu: '1' } }] } };
    expect(create(limitRangeStrategy, bad).errors).toEqual([
      'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1',
    ]);
  });

  it('resource quotas', () => {
    // Proves quotas validate quantities and reset status on create but keep it on spec updates.
    const rq: KubeObject = {
      metadata: { name: 'q', namespace: 'd' },
      spec: { hard: { pods: '10' } },
      status: { used: { pods: '3' } },
    };
    const old = stored(resourceQuotaStrategy, rq);
    expect(old.status).toEqual({});
    old.status = { hard: { pods: '10' }, used: { pods: '3' } };
    const next = update(resourceQuotaStrategy, { ...old, spec: { hard: { pods: '20' } }, status: {} }, old);
    expect(next.errors).toEqual([]);
    expect(next.obj.status).toEqual(old.status);
    expect(create(resourceQuotaStrategy, { ...rq, spec: { hard: { pods: 'ten' } } }).errors[0]).toMatch(
      /^spec\.hard\[pods\]: Invalid value: "ten": quantities must match the regular expression/,
    );
  });

  it('persistent volumes', () => {
    // Proves PVs default to Retain and Filesystem, names are path segments, and the volume source is
    // immutable.
    const pv: KubeObject = {
      metadata: { name: 'pv:1' },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/data' } },
    };
    const old = stored(persistentVolumeStrategy, pv);
    expect(old.spec).toMatchObject({ persistentVolumeReclaimPolicy: 'Retain', volumeMode: 'Filesystem' });
    expect(old.status).toEqual({ phase: 'Pending' });
    const moved = update(
      persistentVolumeStrategy,
      { ...old, spec: { ...(old.spec as object), hostPath: { path: '/x' } } },
      old,
    );
    expect(moved.errors).toEqual([
      'spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation',
    ]);
    expect(create(persistentVolumeStrategy, { ...pv, metadata: { name: 'a/b' } }).errors).toEqual([
      'metadata.name: Invalid value: "a/b": may not contain \'/\'',
    ]);
  });

  it('covers every core resource', () => {
    // Proves there is one core strategy per core resource in the registry.
    expect(coreStrategies.map((s) => s.info.plural).sort()).toEqual(
      [
        'configmaps',
        'endpoints',
        'events',
        'limitranges',
        'namespaces',
        'nodes',
        'persistentvolumeclaims',
        'persistentvolumes',
        'pods',
        'replicationcontrollers',
        'resourcequotas',
        'secrets',
        'serviceaccounts',
        'services',
      ].sort(),
    );
  });
});
