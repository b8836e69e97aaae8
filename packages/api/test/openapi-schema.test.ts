// Tests of the generated definitions, the SchemaNode view and field validation (unknown and duplicate
// fields with kube-apiserver's paths and messages). Property tests print their seed on failure;
// OPENAPI_FC_SEED pins it.

import {
  allDefinitions,
  definitionNameFor,
  fieldIssueMessage,
  type SchemaNode,
  schemaFor,
  strictDecodeErrors,
  strictDecodingMessage,
  strictDecodingStatusError,
  unknownFields,
  warningHeaderValue,
} from '@keelson/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const seed = process.env.OPENAPI_FC_SEED === undefined ? undefined : Number(process.env.OPENAPI_FC_SEED);
const POD = { group: '', version: 'v1', kind: 'Pod' };
const DEPLOYMENT = { group: 'apps', version: 'v1', kind: 'Deployment' };

function must(node: SchemaNode | undefined): SchemaNode {
  if (node === undefined) throw new Error('no schema');
  return node;
}

function field(node: SchemaNode, name: string): SchemaNode {
  if (node.type !== 'object') throw new Error(`not an object: ${node.type}`);
  const f = node.fields[name];
  if (f === undefined) throw new Error(`no field ${name}`);
  return f();
}

function items(node: SchemaNode): SchemaNode {
  if (node.type !== 'list') throw new Error('not a list');
  return node.items();
}

describe('generated definitions', () => {
  it('contains the served kinds with descriptions and GVK', () => {
    // Proves the served kinds are generated with descriptions, GVKs, required fields and Kubernetes' names,
    // and every $ref resolves.
    const defs = allDefinitions();
    const kinds: Array<[string, string, string, string]> = [
      ['io.k8s.api.core.v1.Pod', '', 'v1', 'Pod'],
      ['io.k8s.api.core.v1.ConfigMap', '', 'v1', 'ConfigMap'],
      ['io.k8s.api.core.v1.Service', '', 'v1', 'Service'],
      ['io.k8s.api.apps.v1.Deployment', 'apps', 'v1', 'Deployment'],
      ['io.k8s.api.batch.v1.CronJob', 'batch', 'v1', 'CronJob'],
      ['io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler', 'autoscaling', 'v2', 'HorizontalPodAutoscaler'],
      ['io.k8s.api.autoscaling.v1.Scale', 'autoscaling', 'v1', 'Scale'],
      ['io.k8s.api.coordination.v1.Lease', 'coordination.k8s.io', 'v1', 'Lease'],
      ['io.k8s.api.rbac.v1.ClusterRoleBinding', 'rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding'],
      ['io.k8s.api.networking.v1.Ingress', 'networking.k8s.io', 'v1', 'Ingress'],
      ['io.k8s.api.discovery.v1.EndpointSlice', 'discovery.k8s.io', 'v1', 'EndpointSlice'],
      ['io.k8s.api.storage.v1.StorageClass', 'storage.k8s.io', 'v1', 'StorageClass'],
      ['io.k8s.api.policy.v1.PodDisruptionBudget', 'policy', 'v1', 'PodDisruptionBudget'],
      [
        'io.k8s.api.authorization.v1.SelfSubjectAccessReview',
        'authorization.k8s.io',
        'v1',
        'SelfSubjectAccessReview',
      ],
      ['io.k8s.api.authentication.v1.TokenRequest', 'authentication.k8s.io', 'v1', 'TokenRequest'],
      ['io.k8s.apimachinery.pkg.apis.meta.v1.Status', '', 'v1', 'Status'],
      ['io.k8s.apimachinery.pkg.apis.meta.v1.Table', 'meta.k8s.io', 'v1', 'Table'],
    ];
    for (const [name, group, version, kind] of kinds) {
      const def = defs[name];
      expect(def, name).toBeDefined();
      expect(def?.description, name).toMatch(/\w/);
      expect(def?.['x-kubernetes-group-version-kind'], name).toContainEqual({ group, kind, version });
      expect(definitionNameFor({ group, version, kind })).toBe(name);
    }
    expect(defs['io.k8s.api.core.v1.PodSpec']?.required).toEqual(['containers']);
    expect(defs['io.k8s.api.core.v1.ServicePort']?.properties?.targetPort?.$ref).toBe(
      '#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString',
    );
    expect(defs['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']?.properties?.generation).toMatchObject({
      type: 'integer',
      format: 'int64',
    });
    expect(
      defs['io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions']?.['x-kubernetes-group-version-kind'],
    ).toContainEqual({
      group: 'apps',
      kind: 'DeleteOptions',
      version: 'v1',
    });
    // Every $ref resolves.
    const text = JSON.stringify(defs);
    for (const ref of text.match(/#\/definitions\/[\w.-]+/g) ?? [])
      expect(defs[ref.slice(14)], ref).toBeDefined();
  });
});

describe('schemaFor', () => {
  it('builds Pod with merge keys, list types and special scalars', () => {
    // Proves the SchemaNode view carries Kubernetes' list semantics and special scalar kinds.
    const pod = must(schemaFor(POD));
    const spec = field(pod, 'spec');
    expect(spec.type === 'object' && spec.required).toEqual(['containers']);
    const containers = field(spec, 'containers');
    expect(containers).toMatchObject({
      type: 'list',
      listType: 'map',
      listMapKeys: ['name'],
      patchStrategy: 'merge',
      patchMergeKey: 'name',
    });
    const container = items(containers);
    expect(field(container, 'ports')).toMatchObject({
      listType: 'map',
      listMapKeys: ['containerPort', 'protocol'],
      patchMergeKey: 'containerPort',
    });
    expect(field(container, 'env')).toMatchObject({ listType: 'map', patchMergeKey: 'name' });
    expect(field(container, 'volumeMounts')).toMatchObject({ patchMergeKey: 'mountPath' });
    expect(field(spec, 'volumes')).toMatchObject({
      patchStrategy: 'merge,retainKeys',
      patchMergeKey: 'name',
    });
    expect(field(spec, 'tolerations')).toMatchObject({ listType: 'atomic' });
    const limits = field(field(container, 'resources'), 'limits');
    expect(limits.type === 'map' && limits.values()).toEqual({ type: 'quantity' });
    expect(field(items(field(container, 'ports')), 'containerPort')).toEqual({ type: 'integer' });
    const meta = field(pod, 'metadata');
    expect(field(meta, 'creationTimestamp')).toEqual({ type: 'time' });
    expect(field(meta, 'finalizers')).toMatchObject({ listType: 'set', patchStrategy: 'merge' });
    expect(field(meta, 'ownerReferences')).toMatchObject({ listType: 'map', listMapKeys: ['uid'] });
    const labels = field(meta, 'labels');
    expect(labels.type === 'map' && labels.values()).toEqual({ type: 'string' });
    const svc = must(schemaFor({ group: '', version: 'v1', kind: 'Service' }));
    const ports = field(field(svc, 'spec'), 'ports');
    expect(ports).toMatchObject({ listMapKeys: ['port', 'protocol'], patchMergeKey: 'port' });
    expect(field(items(ports), 'targetPort')).toEqual({ type: 'int-or-string' });
    // Untagged lists are atomic; the same definition yields the same cached node.
    expect(field(field(pod, 'spec'), 'containers')).toBe(containers);
    expect(schemaFor({ group: 'nope', version: 'v1', kind: 'Pod' })).toBeUndefined();
  });
});

/** An arbitrary value that conforms to `node`, with bounded depth and width. */
function conforming(node: SchemaNode, depth: number): fc.Arbitrary<unknown> {
  switch (node.type) {
    case 'object': {
      const names = Object.keys(node.fields);
      if (depth <= 0 || names.length === 0) return fc.constant(0).map(() => ({}));
      return fc
        .subarray(names, { maxLength: Math.min(4, names.length) })
        .chain((chosen) =>
          fc
            .tuple(...chosen.map((n) => conforming((node.fields[n] as () => SchemaNode)(), depth - 1)))
            .map((values) => Object.fromEntries(chosen.map((n, i) => [n, values[i]]))),
        );
    }
    case 'map':
      return depth <= 0
        ? fc.constant(0).map(() => ({}))
        : fc.dictionary(fc.string({ maxLength: 5 }), conforming(node.values(), depth - 1), { maxKeys: 2 });
    case 'list':
      return depth <= 0
        ? fc.constant(0).map(() => [])
        : fc.array(conforming(node.items(), depth - 1), { maxLength: 2 });
    case 'string':
    case 'time':
      return fc.string({ maxLength: 5 });
    case 'integer':
      return fc.integer();
    case 'number':
      return fc.double({ noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'int-or-string':
      return fc.oneof(fc.integer(), fc.string({ maxLength: 3 }));
    case 'quantity':
      return fc.constantFrom('1', '100m', '2Gi');
    case 'any':
      return fc.jsonValue({ maxDepth: 1 });
  }
}

/** Paths (Kubernetes form) and holders of every object-typed position of a conforming value. */
function objectPositions(
  value: unknown,
  node: SchemaNode,
  path: string,
  out: Array<{ path: string; holder: Record<string, unknown>; node: SchemaNode }>,
): void {
  if (node.type === 'object' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const holder = value as Record<string, unknown>;
    out.push({ path, holder, node });
    for (const [k, v] of Object.entries(holder)) {
      const f = node.fields[k];
      if (f !== undefined) objectPositions(v, f(), path === '' ? k : `${path}.${k}`, out);
    }
  } else if (node.type === 'list' && Array.isArray(value)) {
    for (const [i, v] of value.entries()) objectPositions(v, node.items(), `${path}[${i}]`, out);
  } else if (node.type === 'map' && value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value))
      objectPositions(v, node.values(), path === '' ? k : `${path}.${k}`, out);
  }
}

describe('unknownFields', () => {
  it('finds nested unknown fields and ignores known ones', () => {
    // Proves nested unknown fields are reported with Kubernetes' paths and known ones are not.
    const pod = must(schemaFor(POD));
    const obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: { 'any-key': 'v' }, annotations: { x: 'y' }, bogus: 1 },
      spec: {
        containers: [
          { name: 'a', image: 'nginx', ports: [{ containerPort: 80 }] },
          { name: 'b', imagee: 'nginx', resources: { limits: { cpu: '1' }, extra: {} } },
        ],
        foo: { deep: true },
      },
      status: {},
    };
    expect(unknownFields(obj, pod)).toEqual([
      'metadata.bogus',
      'spec.containers[1].imagee',
      'spec.containers[1].resources.extra',
      'spec.foo',
    ]);
    expect(unknownFields({ metadata: { managedFields: [{ fieldsV1: { 'f:x': {} } }] } }, pod)).toEqual([]);
  });

  it('property: conforming objects have no unknowns; an injected key is found', () => {
    // Proves that values generated from a schema are all known, and one injected unknown key is found
    // exactly.
    const kinds = [
      POD,
      DEPLOYMENT,
      { group: '', version: 'v1', kind: 'Service' },
      { group: 'batch', version: 'v1', kind: 'CronJob' },
    ];
    const arb = fc.constantFrom(...kinds).chain((gvk) => {
      const schema = must(schemaFor(gvk));
      return fc.tuple(
        fc.constant(schema),
        conforming(schema, 6),
        fc.nat(),
        fc.stringMatching(/^[a-z]{1,6}$/),
      );
    });
    fc.assert(
      fc.property(arb, ([schema, generated, pick, suffix]) => {
        expect(unknownFields(generated, schema)).toEqual([]);
        // Inject into a copy: fast-check reuses generated values (fc.constant's object) across runs.
        const value = structuredClone(generated);
        const positions: Array<{ path: string; holder: Record<string, unknown>; node: SchemaNode }> = [];
        objectPositions(value, schema, '', positions);
        const at = positions[pick % positions.length];
        if (at === undefined || at.node.type !== 'object') throw new Error('no object position');
        const key = `zz${suffix}`;
        if (key in at.node.fields) return;
        at.holder[key] = { nested: 1 };
        expect(unknownFields(value, schema)).toEqual([at.path === '' ? key : `${at.path}.${key}`]);
      }),
      { seed, numRuns: 150 },
    );
  });
});

describe('strict decoding', () => {
  // Kubernetes' own integration-test body (test/integration/apiserver/field_validation_test.go).
  const invalidBody = `{
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": { "name": "dupename", "name": "d", "labels": {"app": "nginx"}, "unknownMeta": "metaVal" },
    "spec": {
      "unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2",
      "paused": true, "paused": false,
      "selector": { "matchLabels": { "app": "nginx" } },
      "template": { "metadata": { "labels": { "app": "nginx" } },
        "spec": { "containers": [{ "name": "nginx", "image": "nginx:latest", "unknownNested": "val1",
          "imagePullPolicy": "Always", "imagePullPolicy": "Never" }] } }
    }
  }`;

  it("reproduces kube-apiserver's Strict message and Warn warnings", () => {
    // Proves duplicates and unknowns come out interleaved in document order with kube-apiserver's wording, as
    // a 400 Status for Strict and a 299 Warning header for Warn.
    const issues = strictDecodeErrors(invalidBody, must(schemaFor(DEPLOYMENT)));
    expect(strictDecodingMessage(issues)).toBe(
      'strict decoding error: duplicate field "metadata.name", unknown field "metadata.unknownMeta", unknown field "spec.unknown1", unknown field "spec.unknownDupe", duplicate field "spec.paused", unknown field "spec.template.spec.containers[0].unknownNested", duplicate field "spec.template.spec.containers[0].imagePullPolicy"',
    );
    expect(issues.map(fieldIssueMessage).slice(0, 2)).toEqual([
      'duplicate field "metadata.name"',
      'unknown field "metadata.unknownMeta"',
    ]);
    const err = strictDecodingStatusError('Deployment', 'v1', issues.slice(1, 2));
    expect(err.toStatus()).toMatchObject({
      code: 400,
      reason: 'BadRequest',
      message:
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "metadata.unknownMeta"',
    });
    expect(warningHeaderValue('unknown field "spec.foo"')).toBe('299 - "unknown field \\"spec.foo\\""');
  });

  it('finds duplicates without a schema and rejects malformed JSON', () => {
    // Proves the scanner finds duplicates without a schema, handles escapes, and refuses malformed or
    // too-deep JSON.
    expect(strictDecodeErrors('{"a":{"b":1,"b":[{"c":"x\\"}","c":2}]},"a\\u0062":3}')).toEqual([
      { kind: 'duplicate', path: 'a.b' },
      { kind: 'duplicate', path: 'a.b[0].c' },
    ]);
    expect(strictDecodeErrors('  [1, 2.5e3, true, null, "s"]  ')).toEqual([]);
    for (const bad of ['{', '{"a":}', '{"a":1,}', '[1 2]', '{"a":1} x', '"open']) {
      expect(() => strictDecodeErrors(bad), bad).toThrow(/offset/);
    }
    expect(() => strictDecodeErrors('['.repeat(2000) + ']'.repeat(2000))).toThrow(/too deep/);
  });
});
