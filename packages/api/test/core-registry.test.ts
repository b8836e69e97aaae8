// Registry consistency: every resource of issue 6 is present with Kubernetes' names and storage
// paths, plurals and short names are unique, and the lookups agree with each other.

import { describe, expect, it } from 'vitest';
import {
  findResource,
  groupVersions,
  RESOURCES,
  resolveShortName,
  resourceForKind,
  subresourcesOf,
} from '../src/registry.js';

const EXPECTED: [string, string, string][] = [
  ['', 'v1', 'namespaces'],
  ['', 'v1', 'nodes'],
  ['', 'v1', 'pods'],
  ['', 'v1', 'services'],
  ['', 'v1', 'endpoints'],
  ['', 'v1', 'configmaps'],
  ['', 'v1', 'secrets'],
  ['', 'v1', 'serviceaccounts'],
  ['', 'v1', 'events'],
  ['', 'v1', 'resourcequotas'],
  ['', 'v1', 'limitranges'],
  ['', 'v1', 'persistentvolumes'],
  ['', 'v1', 'persistentvolumeclaims'],
  ['', 'v1', 'replicationcontrollers'],
  ['apps', 'v1', 'deployments'],
  ['apps', 'v1', 'replicasets'],
  ['apps', 'v1', 'statefulsets'],
  ['apps', 'v1', 'daemonsets'],
  ['apps', 'v1', 'controllerrevisions'],
  ['batch', 'v1', 'jobs'],
  ['batch', 'v1', 'cronjobs'],
  ['autoscaling', 'v2', 'horizontalpodautoscalers'],
  ['autoscaling', 'v1', 'horizontalpodautoscalers'],
  ['coordination.k8s.io', 'v1', 'leases'],
  ['rbac.authorization.k8s.io', 'v1', 'roles'],
  ['rbac.authorization.k8s.io', 'v1', 'rolebindings'],
  ['rbac.authorization.k8s.io', 'v1', 'clusterroles'],
  ['rbac.authorization.k8s.io', 'v1', 'clusterrolebindings'],
  ['networking.k8s.io', 'v1', 'ingresses'],
  ['networking.k8s.io', 'v1', 'ingressclasses'],
  ['networking.k8s.io', 'v1', 'networkpolicies'],
  ['discovery.k8s.io', 'v1', 'endpointslices'],
  ['storage.k8s.io', 'v1', 'storageclasses'],
  ['policy', 'v1', 'poddisruptionbudgets'],
  ['authorization.k8s.io', 'v1', 'selfsubjectaccessreviews'],
];

describe('registry', () => {
  it('has every listed resource', () => {
    // Proves every resource the issue lists is served, and nothing else.
    for (const [g, v, p] of EXPECTED) expect(findResource(g, v, p), `${g}/${v}/${p}`).toBeDefined();
    expect(RESOURCES).toHaveLength(EXPECTED.length);
  });

  it('unique plurals and short names', () => {
    // Proves plurals are unique per group/version and short names are unique overall.
    const gvr = RESOURCES.map((r) => `${r.group}/${r.version}/${r.plural}`);
    expect(new Set(gvr).size).toBe(gvr.length);
    const shorts = new Map<string, string>();
    for (const r of RESOURCES) {
      for (const s of r.shortNames) {
        const owner = `${r.group}/${r.plural}`;
        expect(shorts.get(s) ?? owner, s).toBe(owner);
        shorts.set(s, owner);
      }
    }
  });

  it("uses Kubernetes' names and etcd paths", () => {
    // Proves kinds, short names, etcd storage paths, the 'all' category and verbs match Kubernetes'.
    const svc = findResource('', 'v1', 'services');
    expect(svc).toMatchObject({
      kind: 'Service',
      listKind: 'ServiceList',
      singular: 'service',
      shortNames: ['svc'],
    });
    expect(svc?.storageResource).toBe('services/specs');
    expect(findResource('', 'v1', 'endpoints')?.storageResource).toBe('services/endpoints');
    expect(findResource('', 'v1', 'endpoints')?.singular).toBe('endpoints');
    expect(findResource('', 'v1', 'nodes')?.storageResource).toBe('minions');
    expect(findResource('', 'v1', 'replicationcontrollers')?.storageResource).toBe('controllers');
    expect(findResource('networking.k8s.io', 'v1', 'ingresses')?.storageResource).toBe('ingress');
    for (const v of ['v1', 'v2']) {
      expect(findResource('autoscaling', v, 'horizontalpodautoscalers')).toMatchObject({
        storageResource: 'horizontalpodautoscalers',
        storageVersion: 'v2',
      });
    }
    const all = RESOURCES.filter((r) => r.categories.includes('all')).map((r) => `${r.plural}.${r.version}`);
    expect(all.sort()).toEqual(
      [
        'pods.v1',
        'services.v1',
        'replicationcontrollers.v1',
        'deployments.v1',
        'replicasets.v1',
        'statefulsets.v1',
        'daemonsets.v1',
        'jobs.v1',
        'cronjobs.v1',
        'horizontalpodautoscalers.v2',
        'horizontalpodautoscalers.v1',
      ].sort(),
    );
    expect(findResource('', 'v1', 'namespaces')?.verbs).not.toContain('deletecollection');
    expect(findResource('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews')).toMatchObject({
      verbs: ['create'],
      namespaced: false,
      storageResource: '',
    });
  });

  it('lookups', () => {
    // Proves kind lookups and short-name resolution agree with findResource and prefer autoscaling/v2.
    for (const r of RESOURCES) {
      expect(resourceForKind({ group: r.group, version: r.version, kind: r.kind })).toBe(r);
    }
    expect(resolveShortName('po')?.plural).toBe('pods');
    expect(resolveShortName('deploy')?.group).toBe('apps');
    expect(resolveShortName('hpa')?.version).toBe('v2');
    expect(resolveShortName('Deployment')?.plural).toBe('deployments');
    expect(resolveShortName('ingresses.networking.k8s.io')?.kind).toBe('Ingress');
    expect(resolveShortName('nope')).toBeUndefined();
    const autoscaling = groupVersions().find((g) => g.group === 'autoscaling');
    expect(autoscaling).toEqual({ group: 'autoscaling', versions: ['v2', 'v1'], preferredVersion: 'v2' });
    expect(groupVersions()[0]?.group).toBe('');
  });

  it('subresources', () => {
    // Proves subresources are described with the kinds discovery lists for them.
    const pods = subresourcesOf(findResource('', 'v1', 'pods')!);
    expect(pods.map((s) => s.name)).toEqual(['pods/status', 'pods/binding', 'pods/eviction']);
    expect(pods[2]).toMatchObject({ kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] });
    const scale = subresourcesOf(findResource('apps', 'v1', 'deployments')!).find(
      (s) => s.subresource === 'scale',
    );
    expect(scale).toMatchObject({
      name: 'deployments/scale',
      kind: 'Scale',
      group: 'autoscaling',
      version: 'v1',
    });
    const token = subresourcesOf(findResource('', 'v1', 'serviceaccounts')!)[0];
    expect(token).toMatchObject({
      name: 'serviceaccounts/token',
      kind: 'TokenRequest',
      group: 'authentication.k8s.io',
    });
  });
});
