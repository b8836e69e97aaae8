// /openapi/v2 (swagger 2.0, one document) and /openapi/v3 (a root listing one OpenAPI 3.0 document
// per group-version, each addressed with a content hash so clients can cache it forever). Built from
// the generated definitions plus Kubernetes' patch tags and the operations of paths.ts. Documents
// are memoised per resource list (options are read on the first build): callers must treat the
// returned objects as read-only.

import { createHash } from 'node:crypto';
import type { GroupVersionKind, ResourceInfo } from '../types.js';
import { patchTagExtensions, patchTagsFor } from './patch-tags.js';
import { groupVersionPrefix, type Operation, operationsFor, type QueryParam } from './paths.js';
import { allDefinitions, definitionNameFor, type OpenApiSchema, refName } from './schema.js';
import { encodeOpenApiV2Proto } from './v2-proto.js';

export interface OpenApiOptions {
  /** info.version, kube-apiserver puts its gitVersion there. */
  version?: string;
}

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const STATUS = `${META}.Status`;
const DELETE_OPTIONS = `${META}.DeleteOptions`;
const WATCH_EVENT = `${META}.WatchEvent`;
const PATCH = `${META}.Patch`;
/** Always in every document: what operations answer or take besides the kinds themselves. */
const COMMON_ROOTS = [STATUS, DELETE_OPTIONS, WATCH_EVENT, PATCH, `${META}.APIResourceList`];
const PATCH_CONTENT_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];
const RESPONSE_TYPES = ['application/json', 'application/yaml'];
const WATCH_TYPES = ['application/json', 'application/json;stream=watch'];
const DEFAULT_VERSION = 'v1.32.0';
/** v3 of the two types that are a string or a number on the wire (kube-openapi's OpenAPIV3OneOfTypes). */
const V3_ONE_OF: Record<string, string[]> = {
  'io.k8s.apimachinery.pkg.api.resource.Quantity': ['string', 'number'],
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': ['integer', 'string'],
};

export class OpenApiError extends Error {
  readonly code = 'OPENAPI_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'OpenApiError';
  }
}

// ---- definitions ----------------------------------------------------------------------------

let refsCache: Map<string, string[]> | undefined;

/** The definitions each definition references directly. */
function directRefs(name: string): string[] {
  refsCache ??= new Map();
  let refs = refsCache.get(name);
  if (refs === undefined) {
    const text = JSON.stringify(allDefinitions()[name] ?? {});
    refs = [...new Set((text.match(/#\/definitions\/[\w.-]+/g) ?? []).map(refName))];
    refsCache.set(name, refs);
  }
  return refs;
}

/** The roots and everything they reference, sorted. */
function closure(roots: Iterable<string>): string[] {
  const defs = allDefinitions();
  const seen = new Set<string>();
  const queue = [...roots];
  // Bounded: each definition enters `seen` once and queues at most its direct references.
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (seen.has(name) || defs[name] === undefined) continue;
    seen.add(name);
    queue.push(...directRefs(name));
  }
  return [...seen].sort();
}

/** A definition with the patch tags of its list fields added as x-kubernetes-* extensions. */
function withPatchTags(name: string, def: OpenApiSchema): OpenApiSchema {
  if (def.properties === undefined) return def;
  const properties: Record<string, OpenApiSchema> = {};
  for (const [field, prop] of Object.entries(def.properties)) {
    const tags = patchTagsFor(name, field);
    properties[field] = tags === undefined ? prop : { ...prop, ...patchTagExtensions(tags) };
  }
  return { ...def, properties };
}

function definitionsFor(roots: Iterable<string>): Record<string, OpenApiSchema> {
  const defs = allDefinitions();
  const out: Record<string, OpenApiSchema> = {};
  for (const name of closure(roots)) out[name] = withPatchTags(name, defs[name] as OpenApiSchema);
  return out;
}

/** Converts a v2 schema to v3: refs move to components, a $ref with siblings is wrapped in allOf. */
function toV3(schema: OpenApiSchema): OpenApiSchema {
  const out: OpenApiSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref') continue;
    if (key === 'properties') {
      const props: Record<string, OpenApiSchema> = {};
      for (const [f, p] of Object.entries(value as Record<string, OpenApiSchema>)) props[f] = toV3(p);
      out.properties = props;
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = toV3(value as OpenApiSchema);
    } else out[key] = value;
  }
  if (schema.$ref === undefined) return out;
  const ref = `#/components/schemas/${refName(schema.$ref)}`;
  return Object.keys(out).length === 0 ? { $ref: ref } : { ...out, allOf: [{ $ref: ref }] };
}

function definitionsV3(roots: Iterable<string>): Record<string, OpenApiSchema> {
  const out: Record<string, OpenApiSchema> = {};
  for (const [name, def] of Object.entries(definitionsFor(roots))) {
    const v3 = toV3(def);
    const oneOf = V3_ONE_OF[name];
    if (oneOf !== undefined) {
      delete v3.type;
      v3.oneOf = oneOf.map((type) => ({ type }));
    }
    out[name] = v3;
  }
  return out;
}

// ---- operations -----------------------------------------------------------------------------

function defNameOrObject(gvk: GroupVersionKind): string | undefined {
  return definitionNameFor(gvk);
}

/** The definition names an operation refers to. */
function operationRoots(op: Operation): string[] {
  return [defNameOrObject(op.objectGvk), defNameOrObject(op.listGvk)].filter(
    (n): n is string => n !== undefined,
  );
}

function returnsDefinition(
  op: Operation,
  returns: Operation['responses'][number]['returns'],
): string | undefined {
  switch (returns) {
    case 'object':
      return defNameOrObject(op.objectGvk);
    case 'list':
      return defNameOrObject(op.listGvk);
    case 'status':
      return STATUS;
    case 'watchEvent':
      return WATCH_EVENT;
  }
}

function refOrObject(name: string | undefined, prefix: string): OpenApiSchema {
  return name === undefined ? { type: 'object' } : { $ref: `${prefix}${name}` };
}

function bodyDefinition(op: Operation): string | undefined {
  if (op.body === 'deleteOptions') return DELETE_OPTIONS;
  if (op.body === 'patch') return PATCH;
  return defNameOrObject(op.objectGvk);
}

function gvkExtension(gvk: GroupVersionKind): Record<string, string> {
  return { group: gvk.group, kind: gvk.kind, version: gvk.version };
}

function v3Query(p: QueryParam): Record<string, unknown> {
  return {
    name: p.name,
    in: 'query',
    description: p.description,
    schema: { type: p.type, uniqueItems: true },
  };
}

function v2Query(p: QueryParam): Record<string, unknown> {
  return { name: p.name, in: 'query', description: p.description, type: p.type, uniqueItems: true };
}

function pathParam(name: 'namespace' | 'name', kind: string, v3: boolean): Record<string, unknown> {
  const description =
    name === 'name' ? `name of the ${kind}` : 'object name and auth scope, such as for teams and projects';
  const base = { name, in: 'path', description, required: true };
  return v3
    ? { ...base, schema: { type: 'string', uniqueItems: true } }
    : { ...base, type: 'string', uniqueItems: true };
}

function v3Operation(op: Operation): Record<string, unknown> {
  const prefix = '#/components/schemas/';
  const responses: Record<string, unknown> = {};
  for (const r of op.responses) {
    const schema = refOrObject(returnsDefinition(op, r.returns), prefix);
    const types = r.returns === 'watchEvent' ? WATCH_TYPES : RESPONSE_TYPES;
    responses[String(r.code)] = {
      description: r.code === 201 ? 'Created' : r.code === 202 ? 'Accepted' : 'OK',
      content: Object.fromEntries(types.map((t) => [t, { schema }])),
    };
  }
  responses['401'] = { description: 'Unauthorized' };
  const out: Record<string, unknown> = {
    tags: [op.tag],
    description: op.description,
    operationId: op.operationId,
    parameters: op.query.map(v3Query),
  };
  if (op.body !== undefined) {
    const schema = refOrObject(bodyDefinition(op), prefix);
    const types = op.body === 'patch' ? PATCH_CONTENT_TYPES : ['application/json', 'application/yaml'];
    out.requestBody = {
      content: Object.fromEntries(types.map((t) => [t, { schema }])),
      required: op.body !== 'deleteOptions',
    };
  }
  out.responses = responses;
  out['x-kubernetes-action'] = op.action;
  out['x-kubernetes-group-version-kind'] = gvkExtension(op.gvk);
  return out;
}

function v2Operation(op: Operation): Record<string, unknown> {
  const prefix = '#/definitions/';
  const responses: Record<string, unknown> = {};
  for (const r of op.responses) {
    const description = r.code === 201 ? 'Created' : r.code === 202 ? 'Accepted' : 'OK';
    responses[String(r.code)] = {
      description,
      schema: refOrObject(returnsDefinition(op, r.returns), prefix),
    };
  }
  responses['401'] = { description: 'Unauthorized' };
  const parameters: Array<Record<string, unknown>> = [];
  if (op.body !== undefined) {
    const body = { name: 'body', in: 'body', schema: refOrObject(bodyDefinition(op), prefix) };
    parameters.push(op.body === 'deleteOptions' ? body : { ...body, required: true });
  }
  parameters.push(...op.query.map(v2Query));
  const watch = op.responses.some((r) => r.returns === 'watchEvent');
  return {
    description: op.description,
    consumes: op.body === 'patch' ? PATCH_CONTENT_TYPES : ['*/*'],
    produces: watch ? WATCH_TYPES : RESPONSE_TYPES,
    schemes: ['https'],
    tags: [op.tag],
    operationId: op.operationId,
    parameters,
    responses,
    'x-kubernetes-action': op.action,
    'x-kubernetes-group-version-kind': gvkExtension(op.gvk),
  };
}

/** Groups operations by path, adding the path-level parameters (name, namespace, pretty). */
function pathsOf(ops: Operation[], v3: boolean): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of ops) {
    let item = paths[op.path];
    if (item === undefined) {
      const pretty = {
        name: 'pretty',
        in: 'query',
        description: "If 'true', then the output is pretty printed.",
      };
      const prettyParam = v3
        ? { ...pretty, schema: { type: 'string', uniqueItems: true } }
        : { ...pretty, type: 'string', uniqueItems: true };
      item = { parameters: [...op.pathParams.map((p) => pathParam(p, op.gvk.kind, v3)), prettyParam] };
      paths[op.path] = item;
    }
    if (item[op.method] !== undefined) throw new OpenApiError(`two ${op.method} operations on ${op.path}`);
    item[op.method] = v3 ? v3Operation(op) : v2Operation(op);
  }
  return paths;
}

// ---- documents ------------------------------------------------------------------------------

/** "v1" or "api/v1" → core v1; "apps/v1" or "apis/apps/v1" → apps v1. */
function parseGroupVersion(groupVersion: string): { group: string; version: string } {
  const gv = groupVersion.replace(/^\/+/, '').replace(/^openapi\/v3\//, '');
  if (gv.startsWith('api/')) return { group: '', version: gv.slice(4) };
  const rest = gv.startsWith('apis/') ? gv.slice(5) : gv;
  const slash = rest.lastIndexOf('/');
  return slash < 0
    ? { group: '', version: rest }
    : { group: rest.slice(0, slash), version: rest.slice(slash + 1) };
}

/** The /openapi/v3 path key of a group-version: "api/v1", "apis/apps/v1". */
export function openApiV3PathKey(group: string, version: string): string {
  return groupVersionPrefix(group, version).slice(1);
}

function securityV3(): Record<string, unknown> {
  return {
    BearerToken: {
      type: 'apiKey',
      description: 'Bearer Token authentication',
      name: 'authorization',
      in: 'header',
    },
  };
}

/**
 * /openapi/v2 in protobuf, the only form kubectl reads: clients ask for it with an Accept header
 * containing OPENAPI_V2_PROTOBUF_ACCEPT_MARK (kubectl sends the old `…spec.v2@v1.0+protobuf`); the
 * answer's Content-Type must be OPENAPI_V2_PROTOBUF_CONTENT_TYPE, because Go's mime parser refuses
 * the `@` form (kube-openapi answers the same way).
 */
export const OPENAPI_V2_PROTOBUF_ACCEPT_MARK = 'com.github.proto-openapi.spec.v2';
export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

interface Built {
  v2?: object;
  v2Proto?: Uint8Array;
  v3: Map<string, { doc: object; json: string; hash: string } | null>;
}
const builtCache = new WeakMap<readonly ResourceInfo[], Built>();

function cacheFor(resources: readonly ResourceInfo[]): Built {
  let built = builtCache.get(resources);
  if (built === undefined) {
    built = { v3: new Map() };
    builtCache.set(resources, built);
  }
  return built;
}

function sortedOps(resources: readonly ResourceInfo[]): Operation[] {
  return resources.flatMap(operationsFor).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The swagger 2.0 document of every resource, as /openapi/v2 serves it. */
export function buildOpenApiV2(resources: readonly ResourceInfo[], options: OpenApiOptions = {}): object {
  const built = cacheFor(resources);
  if (built.v2 !== undefined) return built.v2;
  const ops = sortedOps(resources);
  const roots = new Set([...COMMON_ROOTS, ...ops.flatMap(operationRoots)]);
  built.v2 = {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: options.version ?? DEFAULT_VERSION },
    paths: pathsOf(ops, false),
    definitions: definitionsFor(roots),
    securityDefinitions: {
      BearerToken: {
        description: 'Bearer Token authentication',
        type: 'apiKey',
        name: 'authorization',
        in: 'header',
      },
    },
    security: [{ BearerToken: [] }],
  };
  return built.v2;
}

/**
 * /openapi/v2 as gnostic protobuf (serve it with Content-Type OPENAPI_V2_PROTOBUF_CONTENT_TYPE when
 * the Accept header contains OPENAPI_V2_PROTOBUF_ACCEPT_MARK; kubectl always asks so and cannot read
 * the JSON form).
 */
export function buildOpenApiV2Proto(
  resources: readonly ResourceInfo[],
  options: OpenApiOptions = {},
): Uint8Array {
  const built = cacheFor(resources);
  built.v2Proto ??= encodeOpenApiV2Proto(buildOpenApiV2(resources, options));
  return built.v2Proto;
}

/** The document of one group-version with its JSON text and hash, or undefined when nothing is served there. */
export function buildOpenApiV3Document(
  resources: readonly ResourceInfo[],
  groupVersion: string,
  options: OpenApiOptions = {},
): { doc: object; json: string; hash: string } | undefined {
  const { group, version } = parseGroupVersion(groupVersion);
  const key = openApiV3PathKey(group, version);
  const built = cacheFor(resources);
  const cached = built.v3.get(key);
  if (cached !== undefined) return cached ?? undefined;
  const mine = resources.filter((r) => r.group === group && r.version === version);
  if (mine.length === 0) {
    built.v3.set(key, null);
    return undefined;
  }
  const ops = sortedOps(mine);
  const roots = new Set([...COMMON_ROOTS, ...ops.flatMap(operationRoots)]);
  const doc = {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: options.version ?? DEFAULT_VERSION },
    paths: pathsOf(ops, true),
    components: { schemas: definitionsV3(roots), securitySchemes: securityV3() },
    security: [{ BearerToken: [] }],
  };
  const json = JSON.stringify(doc);
  // kube-apiserver's hash is the hex SHA-512 of the served bytes; clients treat it as opaque.
  const hash = createHash('sha512').update(json).digest('hex').toUpperCase();
  const entry = { doc, json, hash };
  built.v3.set(key, entry);
  return entry;
}

/** The OpenAPI 3.0 document of one group-version ("v1", "apps/v1", "api/v1" or "apis/apps/v1"). */
export function buildOpenApiV3(
  resources: readonly ResourceInfo[],
  groupVersion: string,
  options: OpenApiOptions = {},
): object | undefined {
  return buildOpenApiV3Document(resources, groupVersion, options)?.doc;
}

/** The /openapi/v3 discovery document: one serverRelativeURL with a content hash per group-version. */
export function buildOpenApiV3Root(
  resources: readonly ResourceInfo[],
  options: OpenApiOptions = {},
): { paths: Record<string, { serverRelativeURL: string }> } {
  const keys = [...new Set(resources.map((r) => openApiV3PathKey(r.group, r.version)))].sort();
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const key of keys) {
    const entry = buildOpenApiV3Document(resources, key, options);
    if (entry === undefined) throw new OpenApiError(`no document for ${key}`);
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${entry.hash}` };
  }
  return { paths };
}
