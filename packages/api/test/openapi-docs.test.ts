// Tests of the /openapi/v2 and /openapi/v3 documents: structure, the things kubectl reads (GVKs on
// operations and schemas, the fieldValidation parameter of PATCH, patch content types), stable
// hashes, and patch tags published as x-kubernetes-* extensions.

import { buildOpenApiV2, buildOpenApiV2Proto, buildOpenApiV3, buildOpenApiV3Root } from '@keelson/api';
import { describe, expect, it } from 'vitest';
import { TEST_RESOURCES } from './openapi-fixtures.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests index deep into untyped JSON documents.
type Json = Record<string, any>;

/** Every `$ref` in a document resolves to a schema of that document. */
function checkRefs(doc: Json, prefix: string, defs: Json): void {
  const text = JSON.stringify(doc);
  const re = new RegExp(`"\\$ref":"${prefix.replace(/\//g, '\\/')}([^"]+)"`, 'g');
  let count = 0;
  for (const m of text.matchAll(re)) {
    count++;
    expect(defs[m[1] as string], m[1]).toBeDefined();
  }
  expect(count).toBeGreaterThan(10);
  expect(text).not.toMatch(prefix === '#/definitions/' ? /#\/components\// : /#\/definitions\//);
}

describe('buildOpenApiV3', () => {
  it('produces a structurally valid OpenAPI 3.0 document', () => {
    // Proves the apps/v1 v3 document has resolving refs, only referenced schemas, unique operationIds,
    // declared path parameters, and the GVK and patch details kubectl needs.
    const doc = buildOpenApiV3(TEST_RESOURCES, 'apps/v1') as Json;
    expect(doc.openapi).toBe('3.0.0');
    expect(doc.info.title).toBe('Kubernetes');
    const schemas = doc.components.schemas as Json;
    checkRefs(doc, '#/components/schemas/', schemas);
    expect(schemas['io.k8s.api.apps.v1.Deployment']['x-kubernetes-group-version-kind']).toEqual([
      { group: 'apps', kind: 'Deployment', version: 'v1' },
    ]);
    expect(schemas['io.k8s.api.core.v1.Pod']).toBeUndefined(); // only what apps/v1 references
    expect(schemas['io.k8s.api.autoscaling.v1.Scale']).toBeDefined();
    expect(schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString']).toMatchObject({
      oneOf: [{ type: 'integer' }, { type: 'string' }],
    });
    const containers = schemas['io.k8s.api.core.v1.PodSpec'].properties.containers;
    expect(containers).toMatchObject({
      'x-kubernetes-patch-merge-key': 'name',
      'x-kubernetes-patch-strategy': 'merge',
      'x-kubernetes-list-type': 'map',
    });
    expect(schemas['io.k8s.api.apps.v1.Deployment'].properties.spec).toEqual({
      description: expect.any(String),
      allOf: [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec' }],
    });

    const methods = new Set(['get', 'put', 'post', 'delete', 'patch']);
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      expect(path.startsWith('/apis/apps/v1/')).toBe(true);
      for (const p of item.parameters) expect(['path', 'query']).toContain(p.in);
      for (const m of (path.match(/\{(\w+)\}/g) ?? []).map((s) => s.slice(1, -1))) {
        expect(
          item.parameters.some((p: Json) => p.in === 'path' && p.name === m && p.required === true),
          `${path} ${m}`,
        ).toBe(true);
      }
      for (const [method, op] of Object.entries(item as Json)) {
        if (method === 'parameters') continue;
        expect(methods.has(method)).toBe(true);
        expect(ids.has(op.operationId), op.operationId).toBe(false);
        ids.add(op.operationId);
        expect(op['x-kubernetes-action']).toMatch(
          /^(get|list|watch|watchlist|post|put|patch|delete|deletecollection)$/,
        );
        expect(op['x-kubernetes-group-version-kind']).toHaveProperty('kind');
        expect(op.responses['200'] ?? op.responses['201']).toBeDefined();
      }
    }
    const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
    expect(patch.operationId).toBe('patchAppsV1NamespacedDeployment');
    expect(patch['x-kubernetes-group-version-kind']).toEqual({
      group: 'apps',
      kind: 'Deployment',
      version: 'v1',
    });
    expect(patch.parameters.map((p: Json) => p.name)).toEqual([
      'dryRun',
      'fieldManager',
      'fieldValidation',
      'force',
    ]);
    expect(Object.keys(patch.requestBody.content)).toEqual([
      'application/json-patch+json',
      'application/merge-patch+json',
      'application/strategic-merge-patch+json',
      'application/apply-patch+yaml',
    ]);
    const scale = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'].patch;
    expect(scale['x-kubernetes-group-version-kind']).toEqual({
      group: 'autoscaling',
      kind: 'Scale',
      version: 'v1',
    });
    expect(doc.paths['/apis/apps/v1/deployments'].get.operationId).toBe(
      'listAppsV1DeploymentForAllNamespaces',
    );
    expect(buildOpenApiV3(TEST_RESOURCES, 'apis/apps/v1')).toBe(doc);
    expect(buildOpenApiV3(TEST_RESOURCES, 'apis/batch/v1')).toBeUndefined();
  });

  it('covers subresources and create-only resources', () => {
    // Proves core/v1 subresources and create-only resources get the right paths and kinds.
    const core = buildOpenApiV3(TEST_RESOURCES, 'v1') as Json;
    const ns = '/api/v1/namespaces/{namespace}';
    expect(core.paths[`${ns}/pods/{name}/eviction`].post['x-kubernetes-group-version-kind']).toEqual({
      group: 'policy',
      kind: 'Eviction',
      version: 'v1',
    });
    expect(core.paths[`${ns}/pods/{name}/binding`].post.operationId).toBe('createCoreV1NamespacedPodBinding');
    expect(
      core.paths[`${ns}/serviceaccounts/{name}/token`].post['x-kubernetes-group-version-kind'].kind,
    ).toBe('TokenRequest');
    expect(core.paths['/api/v1/namespaces/{name}/status'].put.operationId).toBe(
      'replaceCoreV1NamespaceStatus',
    );
    expect(core.paths[`${ns}/pods`].get.operationId).toBe('listCoreV1NamespacedPod');
    expect(core.paths[`${ns}/pods`].delete.operationId).toBe('deleteCoreV1CollectionNamespacedPod');
    expect(core.paths[`${ns}/pods/{name}`].delete['x-kubernetes-action']).toBe('delete');
    expect(core.paths['/api/v1/watch/namespaces/{namespace}/pods'].get['x-kubernetes-action']).toBe(
      'watchlist',
    );
    const ssar = buildOpenApiV3(TEST_RESOURCES, 'authorization.k8s.io/v1') as Json;
    expect(Object.keys(ssar.paths)).toEqual(['/apis/authorization.k8s.io/v1/selfsubjectaccessreviews']);
    expect(Object.keys(ssar.paths['/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'])).toEqual([
      'parameters',
      'post',
    ]);
  });
});

describe('buildOpenApiV3Root and buildOpenApiV2', () => {
  it('lists group-versions with stable hashes', () => {
    // Proves the v3 root lists each group-version once with a content hash that is stable and changes only
    // for the group-version whose content changed.
    const root = buildOpenApiV3Root(TEST_RESOURCES);
    expect(Object.keys(root.paths)).toEqual(['api/v1', 'apis/apps/v1', 'apis/authorization.k8s.io/v1']);
    expect(root.paths['api/v1']?.serverRelativeURL).toMatch(/^\/openapi\/v3\/api\/v1\?hash=[0-9A-F]{128}$/);
    const again = buildOpenApiV3Root([...TEST_RESOURCES]);
    expect(again).toEqual(root);
    const fewer = buildOpenApiV3Root(TEST_RESOURCES.filter((r) => r.kind !== 'ConfigMap'));
    expect(fewer.paths['api/v1']).not.toEqual(root.paths['api/v1']);
    expect(fewer.paths['apis/apps/v1']).toEqual(root.paths['apis/apps/v1']);
  });

  it('produces a structurally valid swagger 2.0 document', () => {
    // Proves the swagger 2.0 document is sound: refs resolve, bodies and patch types are declared.
    const doc = buildOpenApiV2(TEST_RESOURCES) as Json;
    expect(doc.swagger).toBe('2.0');
    checkRefs(doc, '#/definitions/', doc.definitions);
    const patch = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
    expect(patch.consumes).toContain('application/strategic-merge-patch+json');
    expect(patch.parameters[0]).toMatchObject({ name: 'body', in: 'body', required: true });
    expect(patch.parameters.some((p: Json) => p.name === 'fieldValidation' && p.in === 'query')).toBe(true);
    expect(
      doc.definitions['io.k8s.api.core.v1.Container'].properties.ports['x-kubernetes-list-map-keys'],
    ).toEqual(['containerPort', 'protocol']);
    expect(doc.definitions['io.k8s.api.core.v1.Pod']['x-kubernetes-group-version-kind']).toEqual([
      { group: '', kind: 'Pod', version: 'v1' },
    ]);
  });

  it('encodes /openapi/v2 as a gnostic protobuf Document', () => {
    // Proves the protobuf form starts as a gnostic Document (field 1 "2.0") and is memoised; kubectl's
    // parsing of it is proven in openapi-kubectl.test.ts.
    const bytes = buildOpenApiV2Proto(TEST_RESOURCES);
    expect([...bytes.slice(0, 5)]).toEqual([0x0a, 0x03, 0x32, 0x2e, 0x30]);
    expect(Buffer.from(bytes).includes(Buffer.from('io.k8s.api.apps.v1.Deployment'))).toBe(true);
    expect(Buffer.from(bytes).includes(Buffer.from('x-kubernetes-group-version-kind'))).toBe(true);
    expect(buildOpenApiV2Proto(TEST_RESOURCES)).toBe(bytes);
  });
});
