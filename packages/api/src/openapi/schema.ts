// The SchemaNode view of the built-in types (see types.ts), built lazily from the generated OpenAPI v2
// definitions plus Kubernetes' patch tags. Patches, server-side apply and field validation walk it.
// Nodes are built on first use and cached per definition, so recursive types (JSONSchemaProps-like
// self references) and the many shared types (ObjectMeta, Container) cost one build each.

import definitionsJson from '../generated/definitions.json' with { type: 'json' };
import type { GroupVersionKind, SchemaNode } from '../types.js';
import { type ListTags, patchTagsFor } from './patch-tags.js';

/** One OpenAPI v2 schema as the generator writes it. */
export interface OpenApiSchema {
  description?: string;
  type?: string;
  format?: string;
  $ref?: string;
  items?: OpenApiSchema;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema;
  required?: string[];
  'x-kubernetes-group-version-kind'?: GroupVersionKind[];
  [extension: string]: unknown;
}

export class SchemaError extends Error {
  readonly code = 'SCHEMA_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

const DEFINITIONS = definitionsJson as unknown as Readonly<Record<string, OpenApiSchema>>;
const REF_PREFIX = '#/definitions/';

/** Definitions whose values are not plain structs: their own SchemaNode kind. */
const SPECIAL_NODES: Readonly<Record<string, SchemaNode>> = {
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { type: 'quantity' },
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { type: 'int-or-string' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.Time': { type: 'time' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime': { type: 'time' },
  // Opaque JSON: an embedded object of any kind, a managed-fields set, a patch body.
  'io.k8s.apimachinery.pkg.runtime.RawExtension': { type: 'any' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1': { type: 'any' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.Patch': { type: 'any' },
};

/** All generated definitions, keyed by Kubernetes' names (io.k8s.api.core.v1.Pod, …). */
export function allDefinitions(): Readonly<Record<string, OpenApiSchema>> {
  return DEFINITIONS;
}

export function definition(name: string): OpenApiSchema | undefined {
  return DEFINITIONS[name];
}

function gvkKey(gvk: GroupVersionKind): string {
  return `${gvk.group}/${gvk.version}/${gvk.kind}`;
}

let gvkIndex: Map<string, string> | undefined;

function buildGvkIndex(): Map<string, string> {
  const index = new Map<string, string>();
  for (const [name, def] of Object.entries(DEFINITIONS)) {
    for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) index.set(gvkKey(gvk), name);
  }
  return index;
}

/** The definition name of a kind, e.g. {group:"apps",version:"v1",kind:"Deployment"} → io.k8s.api.apps.v1.Deployment. */
export function definitionNameFor(gvk: GroupVersionKind): string | undefined {
  gvkIndex ??= buildGvkIndex();
  return gvkIndex.get(gvkKey(gvk));
}

/** The name a `$ref` points at, without the `#/definitions/` prefix. */
export function refName(ref: string): string {
  if (!ref.startsWith(REF_PREFIX)) throw new SchemaError(`unsupported $ref ${ref}`);
  return ref.slice(REF_PREFIX.length);
}

const nodeCache = new Map<string, SchemaNode>();

/** The SchemaNode of a kind, or undefined when the kind has no generated definition. */
export function schemaFor(gvk: GroupVersionKind): SchemaNode | undefined {
  const name = definitionNameFor(gvk);
  return name === undefined ? undefined : schemaForDefinition(name);
}

/** The SchemaNode of a definition by name; throws for an unknown name (a bug in a caller). */
export function schemaForDefinition(name: string): SchemaNode {
  const cached = nodeCache.get(name);
  if (cached !== undefined) return cached;
  const def = DEFINITIONS[name];
  if (def === undefined) throw new SchemaError(`no definition named ${name}`);
  const node = SPECIAL_NODES[name] ?? nodeOf(def, name, undefined);
  nodeCache.set(name, node);
  return node;
}

/** Memoises a thunk so that each field's node is built once. */
function lazy(build: () => SchemaNode): () => SchemaNode {
  let node: SchemaNode | undefined;
  return () => {
    node ??= build();
    return node;
  };
}

function objectNode(def: OpenApiSchema, owner: string): SchemaNode {
  const fields: Record<string, () => SchemaNode> = {};
  for (const [field, prop] of Object.entries(def.properties ?? {})) {
    fields[field] = lazy(() => nodeOf(prop, owner, field));
  }
  return def.required === undefined
    ? { type: 'object', fields }
    : { type: 'object', fields, required: def.required };
}

/**
 * Kubernetes' rule for lists (kube-openapi's schemaconv): an explicit list type wins; otherwise a
 * merge strategy with a merge key makes a map list keyed by it, a merge strategy without one makes
 * a set, and anything else is atomic.
 */
function listNode(items: () => SchemaNode, tags: ListTags | undefined): SchemaNode {
  const merges = tags?.patchStrategy?.split(',').includes('merge') ?? false;
  const mergeKey = tags?.patchMergeKey;
  let listType: 'atomic' | 'set' | 'map' = tags?.listType ?? (merges ? (mergeKey ? 'map' : 'set') : 'atomic');
  let listMapKeys = tags?.listMapKeys ?? (listType === 'map' && mergeKey ? [mergeKey] : undefined);
  if (listType === 'map' && listMapKeys === undefined) listType = 'atomic';
  if (listType !== 'map') listMapKeys = undefined;
  const node: SchemaNode = { type: 'list', items, listType };
  if (listMapKeys !== undefined) node.listMapKeys = listMapKeys;
  if (tags?.patchStrategy !== undefined) node.patchStrategy = tags.patchStrategy;
  if (mergeKey !== undefined) node.patchMergeKey = mergeKey;
  return node;
}

/** The node of a schema found in definition `owner` (at property `field`, when it is one). */
function nodeOf(schema: OpenApiSchema, owner: string, field: string | undefined): SchemaNode {
  if (schema.$ref !== undefined) return schemaForDefinition(refName(schema.$ref));
  switch (schema.type) {
    case 'array': {
      const items = schema.items;
      if (items === undefined) throw new SchemaError(`${owner}.${field}: array without items`);
      const tags = field === undefined ? undefined : patchTagsFor(owner, field);
      return listNode(
        lazy(() => nodeOf(items, owner, undefined)),
        tags,
      );
    }
    case 'object': {
      const values = schema.additionalProperties;
      if (values !== undefined) return { type: 'map', values: lazy(() => nodeOf(values, owner, undefined)) };
      if (schema.properties !== undefined) return objectNode(schema, owner);
      return { type: 'any' };
    }
    case 'string':
    case 'integer':
    case 'number':
    case 'boolean':
      return { type: schema.type };
    case undefined:
      return { type: 'any' };
    default:
      throw new SchemaError(`${owner}.${field}: unsupported type ${schema.type}`);
  }
}
