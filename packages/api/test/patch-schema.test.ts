// Patches and apply driven by the generated schemas (schemaFor): the merge keys and list types of
// the real built-in types give Kubernetes' results.

import {
  applyConfiguration,
  applyStrategicMergePatch,
  fieldSetOf,
  schemaFor,
  toFieldsV1,
} from '@keelson/api';
import { describe, expect, it } from 'vitest';
import { nginxDeployment } from './patch-fixtures.js';

const deployment = () => schemaFor({ group: 'apps', version: 'v1', kind: 'Deployment' });
const pod = () => schemaFor({ group: '', version: 'v1', kind: 'Pod' });

describe('patches with schemaFor', () => {
  it('has schemas for the kinds patched here', () => {
    // Proves the generated schemas exist, so the cases below exercise them.
    expect(deployment()?.type).toBe('object');
    expect(pod()?.type).toBe('object');
  });

  it('merges a Deployment strategic patch by container name and env name', () => {
    // Proves the generated patch tags reach strategic merge patch.
    const live = nginxDeployment();
    const out = applyStrategicMergePatch(
      live,
      {
        spec: {
          template: {
            spec: {
              containers: [
                { name: 'nginx', env: [{ name: 'A', value: '1' }] },
                { name: 'b', image: 'b:1' },
              ],
            },
          },
        },
      },
      deployment(),
    );
    const containers = (out.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec.containers;
    expect(containers.map((c) => c.name)).toEqual(['nginx', 'b']);
    expect(containers[0]).toMatchObject({ image: 'nginx:1.27', env: [{ name: 'A', value: '1' }] });
  });

  it('clears other volume sources with $retainKeys', () => {
    // Proves volumes carry the merge,retainKeys strategy in the generated tags.
    const live = { spec: { volumes: [{ name: 'v', hostPath: { path: '/x' } }] } };
    const out = applyStrategicMergePatch(
      live,
      { spec: { volumes: [{ name: 'v', $retainKeys: ['emptyDir', 'name'], emptyDir: {} }] } },
      pod(),
    );
    expect(out).toEqual({ spec: { volumes: [{ name: 'v', emptyDir: {} }] } });
  });

  it('records apply field sets with the generated list types', () => {
    // Proves containers by name, ports by containerPort+protocol and finalizers as a set.
    const fields = toFieldsV1(fieldSetOf(nginxDeployment(), deployment())) as Record<
      string,
      Record<string, unknown>
    >;
    const template = (fields['f:spec'] as Record<string, Record<string, Record<string, unknown>>>)[
      'f:template'
    ];
    expect(template?.['f:spec']).toEqual({
      'f:containers': {
        'k:{"name":"nginx"}': {
          '.': {},
          'f:image': {},
          'f:name': {},
          'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
        },
      },
    });
    const podFields = toFieldsV1(fieldSetOf({ metadata: { finalizers: ['x/y'] } }, pod()));
    expect(podFields).toEqual({ 'f:metadata': { 'f:finalizers': { 'v:"x/y"': {} } } });
  });

  it('applies twice to the same result with the generated schema', () => {
    // Proves idempotence of apply on a real Deployment schema.
    const input = {
      live: undefined,
      applied: nginxDeployment(),
      manager: 'kubectl',
      schema: deployment(),
      force: false,
      apiVersion: 'apps/v1',
      now: new Date(0),
    };
    const first = applyConfiguration(input);
    if ('conflicts' in first) throw new Error(first.message);
    const stored = { ...first.object, metadata: { ...first.object.metadata, uid: 'u' } };
    const second = applyConfiguration({ ...input, live: stored, now: new Date(60_000) });
    if ('conflicts' in second) throw new Error(second.message);
    expect(second.object).toEqual(stored);
  });
});
