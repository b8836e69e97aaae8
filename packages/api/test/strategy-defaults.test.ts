// Defaults and validation of the apps, batch and other non-core strategies against what
// kube-apiserver 1.32 returns for the same minimal objects (`kubectl create … --dry-run=server -o
// yaml`); the expected values are written from Kubernetes' SetDefaults_* functions.

import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../src/status.js';
import { convertVersion, getStrategy } from '../src/strategy/index.js';
import type { KubeObject, ResourceStrategy } from '../src/types.js';

const UID = '0b6c7c2e-6f0e-4b8e-9a57-1f0c7a1d2e3f';

/** The create path of the REST layer: defaults, system fields, prepareForCreate, validation. */
function create(group: string, plural: string, body: KubeObject): { obj: KubeObject; errors: string[] } {
  const strategy = mustStrategy(group, plural);
  const obj = structuredClone(body);
  strategy.applyDefaults(obj);
  const meta = obj.metadata ?? {};
  obj.metadata = {
    ...meta,
    uid: UID,
    creationTimestamp: '2026-11-30T11:00:00Z',
    ...(strategy.info.namespaced ? { namespace: meta.namespace ?? 'default' } : {}),
  };
  strategy.prepareForCreate(obj);
  return { obj, errors: strategy.validateCreate(obj).map(formatFieldError) };
}

/** The update path: defaults, resourceVersion, prepareForUpdate, validation. */
function update(group: string, plural: string, next: KubeObject, old: KubeObject): string[] {
  const strategy = mustStrategy(group, plural);
  const obj = structuredClone(next);
  strategy.applyDefaults(obj);
  obj.metadata = { ...(obj.metadata ?? {}), resourceVersion: '7' };
  strategy.prepareForUpdate(obj, old);
  return strategy.validateUpdate(obj, old).map(formatFieldError);
}

function mustStrategy(group: string, plural: string): ResourceStrategy {
  const s = getStrategy(group, plural);
  if (s === undefined) throw new Error(`no strategy for ${group}/${plural}`);
  return s;
}

/** The pod template spec kube-apiserver returns for `--image=<image>`: the pod spec defaults. */
function defaultedPodSpec(name: string, image: string, restartPolicy = 'Always'): Record<string, unknown> {
  return {
    containers: [
      {
        name,
        image,
        imagePullPolicy: image.includes(':') ? 'IfNotPresent' : 'Always',
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
      },
    ],
    dnsPolicy: 'ClusterFirst',
    restartPolicy,
    schedulerName: 'default-scheduler',
    securityContext: {},
    terminationGracePeriodSeconds: 30,
  };
}

/** What `kubectl create deployment x --image=nginx` sends. */
function kubectlDeployment(): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x', labels: { app: 'x' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'x' } },
      strategy: {},
      template: {
        metadata: { labels: { app: 'x' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx', resources: {} }] },
      },
    },
    status: {},
  };
}

describe('apps/v1 defaults', () => {
  it('defaults a minimal Deployment like kube-apiserver', () => {
    // Proves a kubectl-created Deployment gets exactly the spec kube-apiserver gives it.
    const { obj, errors } = create('apps', 'deployments', kubectlDeployment());
    expect(errors).toEqual([]);
    expect(obj.metadata?.generation).toBe(1);
    expect(obj.status).toEqual({});
    expect(obj.spec).toEqual({
      progressDeadlineSeconds: 600,
      replicas: 1,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { app: 'x' } },
      strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' }, type: 'RollingUpdate' },
      template: { metadata: { labels: { app: 'x' } }, spec: defaultedPodSpec('nginx', 'nginx') },
    });
  });

  it('leaves rollingUpdate out of a Recreate Deployment', () => {
    // Proves a Recreate Deployment gets no rollingUpdate block (only RollingUpdate is filled in).
    const body = kubectlDeployment();
    (body.spec as { strategy: unknown }).strategy = { type: 'Recreate' };
    const { obj, errors } = create('apps', 'deployments', body);
    expect(errors).toEqual([]);
    expect((obj.spec as { strategy: unknown }).strategy).toEqual({ type: 'Recreate' });
  });

  it('defaults a minimal StatefulSet like kube-apiserver', () => {
    // Proves a minimal StatefulSet gets the StatefulSet defaults, including the PVC retention policy.
    const { obj, errors } = create('apps', 'statefulsets', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'web' },
      spec: {
        serviceName: 'web',
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data' },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        ],
      },
    });
    expect(errors).toEqual([]);
    expect(obj.spec).toEqual({
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      podManagementPolicy: 'OrderedReady',
      replicas: 1,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { app: 'web' } },
      serviceName: 'web',
      template: { metadata: { labels: { app: 'web' } }, spec: defaultedPodSpec('c', 'nginx:1.27') },
      updateStrategy: { rollingUpdate: { partition: 0 }, type: 'RollingUpdate' },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: '1Gi' } },
            volumeMode: 'Filesystem',
          },
          status: { phase: 'Pending' },
        },
      ],
    });
  });

  it('defaults a minimal DaemonSet like kube-apiserver', () => {
    // Proves a minimal DaemonSet gets maxUnavailable 1 / maxSurge 0 and the template-generation annotation.
    const { obj, errors } = create('apps', 'daemonsets', {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent' },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: {
          metadata: { labels: { app: 'agent' } },
          spec: { containers: [{ name: 'a', image: 'busybox:1' }] },
        },
      },
    });
    expect(errors).toEqual([]);
    expect(obj.metadata?.annotations).toEqual({ 'deprecated.daemonset.template.generation': '1' });
    expect(obj.spec).toEqual({
      revisionHistoryLimit: 10,
      selector: { matchLabels: { app: 'agent' } },
      template: { metadata: { labels: { app: 'agent' } }, spec: defaultedPodSpec('a', 'busybox:1') },
      updateStrategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 1 }, type: 'RollingUpdate' },
    });
  });
});

describe('batch/v1 defaults', () => {
  it('defaults a minimal Job and generates its selector', () => {
    // Proves `kubectl create job` gets the Job defaults and the selector generated from its uid.
    const { obj, errors } = create('batch', 'jobs', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'pi' },
      spec: {
        template: {
          metadata: {},
          spec: { containers: [{ name: 'pi', image: 'perl:5.34', resources: {} }], restartPolicy: 'Never' },
        },
      },
    });
    expect(errors).toEqual([]);
    expect(obj.spec).toEqual({
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      completions: 1,
      manualSelector: false,
      parallelism: 1,
      podReplacementPolicy: 'TerminatingOrFailed',
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': UID } },
      suspend: false,
      template: {
        metadata: {
          labels: {
            'batch.kubernetes.io/controller-uid': UID,
            'batch.kubernetes.io/job-name': 'pi',
            'controller-uid': UID,
            'job-name': 'pi',
          },
        },
        spec: defaultedPodSpec('pi', 'perl:5.34', 'Never'),
      },
    });
  });

  it('refuses restartPolicy Always in a Job', () => {
    // Proves a Job template without restartPolicy is not defaulted to Always but refused with Kubernetes'
    // Required message.
    const { errors } = create('batch', 'jobs', {
      metadata: { name: 'pi' },
      spec: { template: { spec: { containers: [{ name: 'pi', image: 'perl' }] } } },
    });
    expect(errors).toContain(
      'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    );
  });

  it('defaults a minimal CronJob like kube-apiserver', () => {
    // Proves a minimal CronJob gets the CronJob defaults and only pod defaults inside its job template.
    const { obj, errors } = create('batch', 'cronjobs', {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'tick' },
      spec: {
        schedule: '*/5 * * * *',
        jobTemplate: {
          metadata: { name: 'tick' },
          spec: {
            template: {
              metadata: {},
              spec: { containers: [{ name: 'tick', image: 'busybox' }], restartPolicy: 'OnFailure' },
            },
          },
        },
      },
    });
    expect(errors).toEqual([]);
    expect(obj.spec).toEqual({
      concurrencyPolicy: 'Allow',
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: { name: 'tick' },
        spec: { template: { metadata: {}, spec: defaultedPodSpec('tick', 'busybox', 'OnFailure') } },
      },
      schedule: '*/5 * * * *',
      successfulJobsHistoryLimit: 3,
      suspend: false,
    });
  });
});

describe('immutable fields', () => {
  it('refuses a changed Deployment selector', () => {
    // Proves a Deployment refuses a selector change with "field is immutable" yet accepts a replicas change.
    const { obj: old } = create('apps', 'deployments', kubectlDeployment());
    old.metadata = { ...old.metadata, resourceVersion: '5' };
    const next = structuredClone(old);
    const spec = next.spec as { selector: unknown; template: { metadata: { labels: unknown } } };
    spec.selector = { matchLabels: { app: 'y' } };
    spec.template.metadata.labels = { app: 'y' };
    expect(update('apps', 'deployments', next, old)).toEqual([
      'spec.selector: Invalid value: {"matchLabels":{"app":"y"}}: field is immutable',
    ]);
    const scaled = structuredClone(old);
    (scaled.spec as { replicas: number }).replicas = 5;
    expect(update('apps', 'deployments', scaled, old)).toEqual([]);
  });

  it('refuses forbidden StatefulSet spec changes', () => {
    // Proves a StatefulSet refuses a serviceName change with Kubernetes' forbidden-fields message but accepts
    // a replicas change.
    const { obj: old } = create('apps', 'statefulsets', {
      metadata: { name: 'web' },
      spec: {
        serviceName: 'web',
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'c', image: 'nginx' }] },
        },
      },
    });
    const next = structuredClone(old);
    (next.spec as { serviceName: string }).serviceName = 'other';
    expect(update('apps', 'statefulsets', next, old)).toEqual([
      "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ]);
    const scaled = structuredClone(old);
    (scaled.spec as { replicas: number }).replicas = 3;
    expect(update('apps', 'statefulsets', scaled, old)).toEqual([]);
  });

  it('refuses a changed Job template', () => {
    // Proves changing a Job's pod template after creation is refused as immutable.
    const { obj: old } = create('batch', 'jobs', {
      metadata: { name: 'pi' },
      spec: { template: { spec: { containers: [{ name: 'pi', image: 'perl' }], restartPolicy: 'Never' } } },
    });
    const next = structuredClone(old);
    const containers = (next.spec as { template: { spec: { containers: { image: string }[] } } }).template
      .spec.containers;
    (containers[0] as { image: string }).image = 'perl:2';
    const errors = update('batch', 'jobs', next, old);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^spec\.template: Invalid value: .*: field is immutable$/);
  });

  it('refuses a changed roleRef and defaults subject apiGroups', () => {
    // Proves a binding's roleRef cannot change and that subjects get their apiGroup defaulted.
    const { obj: old, errors } = create('rbac.authorization.k8s.io', 'rolebindings', {
      metadata: { name: 'rb' },
      roleRef: { kind: 'Role', name: 'reader' },
      subjects: [
        { kind: 'User', name: 'alice' },
        { kind: 'ServiceAccount', name: 'default', namespace: 'default' },
      ],
    });
    expect(errors).toEqual([]);
    expect(old.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'reader' });
    expect(old.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' },
      { kind: 'ServiceAccount', name: 'default', namespace: 'default' },
    ]);
    const next = {
      ...structuredClone(old),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'writer' },
    };
    expect(update('rbac.authorization.k8s.io', 'rolebindings', next, old)).toEqual([
      'roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"writer"}: cannot change roleRef',
    ]);
  });

  it('refuses changes to StorageClass provisioner and EndpointSlice addressType', () => {
    // Proves StorageClass and EndpointSlice defaults, and that provisioner and addressType are fixed, with
    // Kubernetes' messages.
    const { obj: sc, errors } = create('storage.k8s.io', 'storageclasses', {
      metadata: { name: 'fast' },
      provisioner: 'example.com/fast',
    });
    expect(errors).toEqual([]);
    expect([sc.reclaimPolicy, sc.volumeBindingMode]).toEqual(['Delete', 'Immediate']);
    expect(
      update('storage.k8s.io', 'storageclasses', { ...sc, provisioner: 'example.com/slow' }, sc),
    ).toEqual(['provisioner: Forbidden: updates to provisioner are forbidden.']);
    const { obj: slice } = create('discovery.k8s.io', 'endpointslices', {
      metadata: { name: 's' },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.1'] }],
      ports: [{ port: 80 }],
    });
    expect(slice.ports).toEqual([{ name: '', port: 80, protocol: 'TCP' }]);
    expect(
      update('discovery.k8s.io', 'endpointslices', { ...slice, addressType: 'IPv6', endpoints: [] }, slice),
    ).toEqual(['addressType: Invalid value: "IPv6": field is immutable']);
  });
});

describe('validation messages', () => {
  function errorsOf(group: string, plural: string, body: KubeObject): string[] {
    return create(group, plural, body).errors;
  }

  it('reports selector, ingress and PDB problems like kube-apiserver', () => {
    // Proves selector/template mismatches, a missing Ingress pathType and the PDB minAvailable/maxUnavailable
    // rules are reported as kube-apiserver writes them.
    const body = kubectlDeployment();
    (body.spec as { selector: unknown }).selector = { matchLabels: { app: 'other' } };
    expect(errorsOf('apps', 'deployments', body)).toEqual([
      'spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`',
    ]);
    const noSelector = kubectlDeployment();
    delete (noSelector.spec as { selector?: unknown }).selector;
    // A nil selector selects nothing, so kube-apiserver also reports the label mismatch.
    expect(errorsOf('apps', 'deployments', noSelector)).toEqual([
      'spec.selector: Required value',
      'spec.template.metadata.labels: Invalid value: {"app":"x"}: `selector` does not match template `labels`',
    ]);
    expect(
      errorsOf('networking.k8s.io', 'ingresses', {
        metadata: { name: 'i' },
        spec: {
          rules: [
            {
              host: 'a.example.com',
              http: { paths: [{ path: '/', backend: { service: { name: 's', port: { number: 80 } } } }] },
            },
          ],
        },
      }),
    ).toEqual(['spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified']);
    expect(
      errorsOf('policy', 'poddisruptionbudgets', {
        metadata: { name: 'p' },
        spec: { minAvailable: 1, maxUnavailable: '150%', selector: { matchLabels: { app: 'x' } } },
      }),
    ).toEqual([
      'spec: Invalid value: {"minAvailable":1,"maxUnavailable":"150%","selector":{"matchLabels":{"app":"x"}}}: minAvailable and maxUnavailable cannot be both set',
      'spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%',
    ]);
  });

  it('validates StatefulSet templates loosely and DaemonSet rolling updates strictly', () => {
    // Proves StatefulSet templates may mount claim templates, dotted names are refused, and DaemonSet
    // maxSurge/maxUnavailable rules read as in Kubernetes.
    expect(
      errorsOf('apps', 'statefulsets', {
        metadata: { name: 'db' },
        spec: {
          serviceName: 'db',
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: {
              containers: [
                {
                  name: 'c',
                  image: 'postgres:16',
                  volumeMounts: [{ name: 'data', mountPath: '/var/lib/pg' }],
                },
              ],
            },
          },
          volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'] } }],
        },
      }),
    ).toEqual([]);
    const badName = errorsOf('apps', 'statefulsets', { metadata: { name: 'db.x' }, spec: {} });
    expect(badName).toContain('metadata.name: Invalid value: "db.x": must not contain dots');
    const ds = (rollingUpdate: unknown): KubeObject => ({
      metadata: { name: 'ds' },
      spec: {
        selector: { matchLabels: { app: 'a' } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate },
        template: {
          metadata: { labels: { app: 'a' } },
          spec: { containers: [{ name: 'a', image: 'busybox:1' }] },
        },
      },
    });
    expect(errorsOf('apps', 'daemonsets', ds({ maxUnavailable: 0, maxSurge: 0 }))).toEqual([
      'spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0',
    ]);
    expect(errorsOf('apps', 'daemonsets', ds({ maxUnavailable: 1, maxSurge: '10%' }))).toEqual([
      'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "10%": may not be set when maxUnavailable is non-zero',
    ]);
  });

  it('defaults NetworkPolicy policyTypes and validates RBAC names as path segments', () => {
    // Proves NetworkPolicies get policyTypes and port protocols, and cluster roles refuse '/' in names and
    // rules lacking apiGroups or resources.
    const { obj } = create('networking.k8s.io', 'networkpolicies', {
      metadata: { name: 'np' },
      spec: { podSelector: {}, egress: [{ ports: [{ port: 53 }] }] },
    });
    expect((obj.spec as { policyTypes: string[] }).policyTypes).toEqual(['Ingress', 'Egress']);
    expect(obj.spec).toMatchObject({ egress: [{ ports: [{ port: 53, protocol: 'TCP' }] }] });
    expect(
      errorsOf('rbac.authorization.k8s.io', 'clusterroles', { metadata: { name: 'system:a/b' } }),
    ).toEqual(['metadata.name: Invalid value: "system:a/b": may not contain \'/\'']);
    expect(
      errorsOf('rbac.authorization.k8s.io', 'clusterroles', {
        metadata: { name: 'system:aggregate' },
        rules: [{ verbs: ['get'] }],
      }),
    ).toEqual([
      'rules[0].apiGroups: Required value: resource rules must supply at least one api group',
      'rules[0].resources: Required value: resource rules must supply at least one resource',
    ]);
  });
});

describe('validation table of the smaller groups', () => {
  const cases: { name: string; group: string; plural: string; body: KubeObject; errors: string[] }[] = [
    {
      name: 'lease with a non-positive duration',
      group: 'coordination.k8s.io',
      plural: 'leases',
      body: {
        metadata: { name: 'l' },
        spec: { holderIdentity: 'a', leaseDurationSeconds: 0, leaseTransitions: -1 },
      },
      errors: [
        'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
        'spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0',
      ],
    },
    {
      name: 'aggregated cluster role without selectors',
      group: 'rbac.authorization.k8s.io',
      plural: 'clusterroles',
      body: { metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [] } },
      errors: [
        'aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil',
      ],
    },
    {
      name: 'cluster role binding to a Role and a bad subject kind',
      group: 'rbac.authorization.k8s.io',
      plural: 'clusterrolebindings',
      body: {
        metadata: { name: 'b' },
        roleRef: { kind: 'Role', name: 'r' },
        subjects: [
          { kind: 'Robot', name: 'x' },
          { kind: 'ServiceAccount', name: 'sa' },
        ],
      },
      errors: [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
        'subjects[1].namespace: Required value',
      ],
    },
    {
      name: 'ingress backend with both port name and number, and a relative Prefix path',
      group: 'networking.k8s.io',
      plural: 'ingresses',
      body: {
        metadata: { name: 'i' },
        spec: {
          rules: [
            {
              host: '*.example.com',
              http: {
                paths: [
                  {
                    path: 'app',
                    pathType: 'Prefix',
                    backend: { service: { name: 'svc', port: { name: 'http', number: 80 } } },
                  },
                ],
              },
            },
          ],
        },
      },
      errors: [
        'spec.rules[0].http.paths[0].path: Invalid value: "app": must be an absolute path',
        'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number',
      ],
    },
    {
      name: 'ingress with neither rules nor default backend',
      group: 'networking.k8s.io',
      plural: 'ingresses',
      body: { metadata: { name: 'i' }, spec: {} },
      errors: ['spec: Invalid value: []: either `defaultBackend` or `rules` must be specified'],
    },
    {
      name: 'ingress class with an undomained controller',
      group: 'networking.k8s.io',
      plural: 'ingressclasses',
      body: { metadata: { name: 'c' }, spec: { controller: 'nginx' } },
      errors: [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")',
      ],
    },
    {
      name: 'network policy peer with ipBlock and podSelector',
      group: 'networking.k8s.io',
      plural: 'networkpolicies',
      body: {
        metadata: { name: 'n' },
        spec: {
          podSelector: {},
          ingress: [
            { from: [{ podSelector: {}, ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] },
          ],
        },
      },
      errors: [
        'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`',
        'spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer',
      ],
    },
    {
      name: 'network policy with IPv6 blocks, one inside and one outside',
      group: 'networking.k8s.io',
      plural: 'networkpolicies',
      body: {
        metadata: { name: 'n' },
        spec: {
          podSelector: {},
          egress: [
            { to: [{ ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48', '2001:db9::/48'] } }] },
          ],
        },
      },
      errors: [
        'spec.egress[0].to[0].ipBlock.except[1]: Invalid value: "2001:db9::/48": must be a strict subset of `cidr`',
      ],
    },
    {
      name: 'endpoint slice with a loopback and an empty endpoint',
      group: 'discovery.k8s.io',
      plural: 'endpointslices',
      body: {
        metadata: { name: 's' },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['127.0.0.1'] }, { addresses: [] }],
      },
      errors: [
        'endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        'endpoints[1].addresses: Required value: must contain at least 1 address',
      ],
    },
    {
      name: 'endpoint slice without an address type',
      group: 'discovery.k8s.io',
      plural: 'endpointslices',
      body: { metadata: { name: 's' }, endpoints: [] },
      errors: ['addressType: Required value'],
    },
    {
      name: 'storage class without a provisioner and with a bad binding mode',
      group: 'storage.k8s.io',
      plural: 'storageclasses',
      body: { metadata: { name: 'sc' }, volumeBindingMode: 'Later' },
      errors: [
        'provisioner: Required value',
        'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
      ],
    },
    {
      name: 'cron job with an unknown time zone and a long name',
      group: 'batch',
      plural: 'cronjobs',
      body: {
        metadata: { name: 'a'.repeat(53) },
        spec: {
          schedule: '@daily',
          timeZone: 'Mars/Olympus',
          jobTemplate: {
            spec: {
              template: { spec: { containers: [{ name: 'c', image: 'busybox' }], restartPolicy: 'Never' } },
            },
          },
        },
      },
      errors: [
        `metadata.name: Invalid value: "${'a'.repeat(53)}": must be no more than 52 characters`,
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
      ],
    },
    {
      name: 'HPA with maxReplicas below minReplicas and a bad behavior policy',
      group: 'autoscaling',
      plural: 'horizontalpodautoscalers',
      body: {
        metadata: { name: 'h' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' },
          minReplicas: 3,
          maxReplicas: 2,
          behavior: { scaleUp: { policies: [{ type: 'Pods', value: 0, periodSeconds: 15 }] } },
        },
      },
      errors: [
        'spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`',
        'spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero',
      ],
    },
  ];

  it.each(cases)('$name', ({ group, plural, body, errors }) => {
    // Proves each invalid object of the smaller groups is refused with kube-apiserver's field errors.
    expect(create(group, plural, body).errors).toEqual(errors);
  });

  it('keeps HPAs generation-free and converts versions', () => {
    // Proves HPAs get no generation, convertVersion turns a v2 HPA into a defaulted v1 one, and a Deployment
    // keeps its apiVersion.
    const { obj } = create('autoscaling', 'horizontalpodautoscalers', {
      apiVersion: 'autoscaling/v2',
      metadata: { name: 'h' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' }, maxReplicas: 2 },
    });
    expect(obj.metadata?.generation).toBeUndefined();
    const v1 = convertVersion(obj, 'autoscaling', 'horizontalpodautoscalers', 'v1');
    expect(v1.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd' },
      minReplicas: 1,
      maxReplicas: 2,
      targetCPUUtilizationPercentage: 80,
    });
    expect(
      convertVersion({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'apps', 'deployments', 'v1').apiVersion,
    ).toBe('apps/v1');
  });
});

describe('generation and status rules', () => {
  function created(group: string, plural: string, body: KubeObject): KubeObject {
    const { obj, errors } = create(group, plural, body);
    expect(errors).toEqual([]);
    obj.metadata = { ...obj.metadata, resourceVersion: '5' };
    return obj;
  }

  it('bumps Deployment generation on spec and annotation changes only', () => {
    // Proves a Deployment's generation stays put on a label change and is bumped by an annotation change.
    const strategy = mustStrategy('apps', 'deployments');
    const old = created('apps', 'deployments', kubectlDeployment());
    const relabelled = structuredClone(old);
    relabelled.metadata = { ...relabelled.metadata, labels: { app: 'x', extra: 'y' } };
    strategy.prepareForUpdate(relabelled, old);
    expect(relabelled.metadata?.generation).toBe(1);
    const annotated = structuredClone(old);
    annotated.metadata = { ...annotated.metadata, annotations: { note: 'n' } };
    strategy.prepareForUpdate(annotated, old);
    expect(annotated.metadata?.generation).toBe(2);
  });

  it('keeps spec and labels on Deployment status updates', () => {
    // Proves a Deployment status update keeps spec and labels of the stored object.
    const strategy = mustStrategy('apps', 'deployments');
    const old = created('apps', 'deployments', kubectlDeployment());
    const next = structuredClone(old);
    next.metadata = { ...next.metadata, labels: { hijacked: 'yes' } };
    (next.spec as { replicas: number }).replicas = 9;
    next.status = { replicas: 1, readyReplicas: 1 };
    strategy.prepareForStatusUpdate?.(next, old);
    expect(next.spec).toEqual(old.spec);
    expect(next.metadata?.labels).toEqual({ app: 'x' });
    expect(next.status).toEqual({ replicas: 1, readyReplicas: 1 });
  });

  it('tracks the DaemonSet template generation', () => {
    // Proves the DaemonSet template generation annotation moves with template changes only.
    const strategy = mustStrategy('apps', 'daemonsets');
    const old = created('apps', 'daemonsets', {
      metadata: { name: 'ds' },
      spec: {
        selector: { matchLabels: { app: 'a' } },
        template: {
          metadata: { labels: { app: 'a' } },
          spec: { containers: [{ name: 'a', image: 'busybox:1' }] },
        },
      },
    });
    const sameTemplate = structuredClone(old);
    (sameTemplate.spec as { minReadySeconds: number }).minReadySeconds = 5;
    strategy.prepareForUpdate(sameTemplate, old);
    expect(sameTemplate.metadata?.annotations?.['deprecated.daemonset.template.generation']).toBe('1');
    expect(sameTemplate.metadata?.generation).toBe(2);
    const newTemplate = structuredClone(old);
    const spec = newTemplate.spec as { template: { metadata: { labels: Record<string, string> } } };
    spec.template.metadata.labels = { app: 'a', v: '2' };
    strategy.prepareForUpdate(newTemplate, old);
    expect(newTemplate.metadata?.annotations?.['deprecated.daemonset.template.generation']).toBe('2');
  });

  it('fixes ControllerRevision data but not revision', () => {
    // Proves ControllerRevision data is immutable while revision may be renumbered, and data is required.
    expect(create('apps', 'controllerrevisions', { metadata: { name: 'r' }, revision: 1 }).errors).toEqual([
      'data: Required value: data is mandatory',
    ]);
    const old = created('apps', 'controllerrevisions', {
      metadata: { name: 'r' },
      data: { spec: { a: 1 } },
      revision: 1,
    });
    expect(update('apps', 'controllerrevisions', { ...old, revision: 3 }, old)).toEqual([]);
    expect(update('apps', 'controllerrevisions', { ...old, data: { spec: { a: 2 } } }, old)).toEqual([
      'data: Invalid value: {"spec":{"a":2}}: field is immutable',
    ]);
  });

  it('handles ReplicaSets', () => {
    // Proves ReplicaSets default replicas to 1, refuse selector changes and expose status.replicas to field
    // selectors.
    const old = created('apps', 'replicasets', {
      metadata: { name: 'rs' },
      spec: {
        selector: { matchLabels: { app: 'r' } },
        template: {
          metadata: { labels: { app: 'r' } },
          spec: { containers: [{ name: 'r', image: 'nginx' }] },
        },
      },
    });
    expect((old.spec as { replicas: number }).replicas).toBe(1);
    expect(
      mustStrategy('apps', 'replicasets').selectableFields({ ...old, status: { replicas: 2 } }),
    ).toMatchObject({
      'status.replicas': '2',
    });
    const next = structuredClone(old);
    (next.spec as { selector: unknown }).selector = {
      matchLabels: { app: 'r' },
      matchExpressions: [{ key: 'x', operator: 'Exists' }],
    };
    expect(update('apps', 'replicasets', next, old)).toEqual([
      'spec.template.metadata.labels: Invalid value: {"app":"r"}: `selector` does not match template `labels`',
      'spec.selector: Invalid value: {"matchLabels":{"app":"r"},"matchExpressions":[{"key":"x","operator":"Exists"}]}: field is immutable',
    ]);
  });
});
