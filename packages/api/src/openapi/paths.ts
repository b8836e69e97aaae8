// The REST operations of each served resource, described once and rendered by openapi.ts into
// OpenAPI v2 and v3. Paths, operation ids, x-kubernetes-action values and query parameters follow
// kube-apiserver's published spec, because kubectl reads them: `kubectl explain` finds a resource's
// GVK on the operations of its paths, and kubectl decides whether to send fieldValidation by looking
// for that parameter on the PATCH operation carrying the kind's x-kubernetes-group-version-kind.

import type { GroupVersionKind, ResourceInfo, SubresourceName, Verb } from '../types.js';

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch';
export type Action =
  | 'get'
  | 'list'
  | 'watch'
  | 'watchlist'
  | 'post'
  | 'put'
  | 'patch'
  | 'delete'
  | 'deletecollection';

export interface QueryParam {
  name: string;
  type: 'string' | 'boolean' | 'integer';
  description: string;
}

export interface Operation {
  path: string;
  method: HttpMethod;
  operationId: string;
  action: Action;
  description: string;
  tag: string;
  /** The kind the operation is about (x-kubernetes-group-version-kind). */
  gvk: GroupVersionKind;
  /** Path parameters in order of appearance. */
  pathParams: Array<'namespace' | 'name'>;
  query: QueryParam[];
  /** What the body is: a kind, DeleteOptions, a patch, or nothing. */
  body: 'object' | 'deleteOptions' | 'patch' | undefined;
  /** Response codes with what they return. */
  responses: Array<{ code: number; returns: 'object' | 'list' | 'status' | 'watchEvent' }>;
  /** The definition name of the kind the body and object responses use. */
  objectGvk: GroupVersionKind;
  listGvk: GroupVersionKind;
}

const q = (name: string, type: QueryParam['type'], description: string): QueryParam => ({
  name,
  type,
  description,
});

const DRY_RUN = q(
  'dryRun',
  'string',
  'When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed',
);
const FIELD_MANAGER = q(
  'fieldManager',
  'string',
  'fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.',
);
const FIELD_VALIDATION = q(
  'fieldValidation',
  'string',
  'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default. - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.',
);
const FORCE = q(
  'force',
  'boolean',
  'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.',
);
const LIST_PARAMS: QueryParam[] = [
  q('allowWatchBookmarks', 'boolean', 'allowWatchBookmarks requests watch events with type "BOOKMARK".'),
  q('continue', 'string', 'The continue option should be set when retrieving more results from the server.'),
  q(
    'fieldSelector',
    'string',
    'A selector to restrict the list of returned objects by their fields. Defaults to everything.',
  ),
  q(
    'labelSelector',
    'string',
    'A selector to restrict the list of returned objects by their labels. Defaults to everything.',
  ),
  q('limit', 'integer', 'limit is a maximum number of responses to return for a list call.'),
  q(
    'resourceVersion',
    'string',
    'resourceVersion sets a constraint on what resource versions a request may be served from.',
  ),
  q(
    'resourceVersionMatch',
    'string',
    'resourceVersionMatch determines how resourceVersion is applied to list calls.',
  ),
  q('sendInitialEvents', 'boolean', 'sendInitialEvents=true may be set together with watch=true.'),
  q(
    'timeoutSeconds',
    'integer',
    'Timeout for the list/watch call, regardless of any activity or inactivity.',
  ),
  q(
    'watch',
    'boolean',
    'Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.',
  ),
];
const DELETE_PARAMS: QueryParam[] = [
  DRY_RUN,
  q('gracePeriodSeconds', 'integer', 'The duration in seconds before the object should be deleted.'),
  q(
    'orphanDependents',
    'boolean',
    'Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7.',
  ),
  q(
    'propagationPolicy',
    'string',
    "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.",
  ),
];
const DELETECOLLECTION_PARAMS = [
  ...DELETE_PARAMS,
  ...LIST_PARAMS.filter((p) => p.name !== 'watch' && p.name !== 'allowWatchBookmarks'),
];
const WRITE_PARAMS = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
const PATCH_PARAMS = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];

/** "rbac.authorization.k8s.io" → "RbacAuthorization"; "" → "Core". */
export function groupCamel(group: string): string {
  if (group === '') return 'Core';
  const words = group.replace(/\.k8s\.io$/, '').split('.');
  return words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

/** The operation tag: core_v1, apps_v1, rbacAuthorization_v1. */
function tagOf(group: string, version: string): string {
  const camel = groupCamel(group);
  return `${camel.charAt(0).toLowerCase()}${camel.slice(1)}_${version}`;
}

/** "/api/v1" or "/apis/apps/v1". */
export function groupVersionPrefix(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** The subresources with their own kind: the body and answer of the operation. */
const SUBRESOURCE_KINDS: Partial<Record<SubresourceName, GroupVersionKind>> = {
  scale: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
  binding: { group: '', version: 'v1', kind: 'Binding' },
  eviction: { group: 'policy', version: 'v1', kind: 'Eviction' },
  token: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' },
};

/** What varies between the operations of the main resource. */
interface Template {
  verb: Verb;
  at: 'collection' | 'item';
  method: HttpMethod;
  action: Action;
  /** The operationId prefix: list, create, read, replace, patch, delete. */
  idVerb: string;
  describe: (kind: string) => string;
  query: QueryParam[];
  body: Operation['body'];
  responses: Operation['responses'];
}

const OBJECT_200: Operation['responses'] = [{ code: 200, returns: 'object' }];
const OBJECT_200_201: Operation['responses'] = [...OBJECT_200, { code: 201, returns: 'object' }];
const OBJECT_200_201_202: Operation['responses'] = [...OBJECT_200_201, { code: 202, returns: 'object' }];
const LIST_200: Operation['responses'] = [{ code: 200, returns: 'list' }];

/** kube-apiserver's operations per verb, in the order it publishes them. */
const TEMPLATES: Template[] = [
  {
    verb: 'list',
    at: 'collection',
    method: 'get',
    action: 'list',
    idVerb: 'list',
    describe: (k) => `list or watch objects of kind ${k}`,
    query: LIST_PARAMS,
    body: undefined,
    responses: LIST_200,
  },
  {
    verb: 'create',
    at: 'collection',
    method: 'post',
    action: 'post',
    idVerb: 'create',
    describe: (k) => `create ${article(k)} ${k}`,
    query: WRITE_PARAMS,
    body: 'object',
    responses: OBJECT_200_201_202,
  },
  {
    verb: 'deletecollection',
    at: 'collection',
    method: 'delete',
    action: 'deletecollection',
    idVerb: 'deleteCollection',
    describe: (k) => `delete collection of ${k}`,
    query: DELETECOLLECTION_PARAMS,
    body: 'deleteOptions',
    responses: [{ code: 200, returns: 'status' }],
  },
  {
    verb: 'get',
    at: 'item',
    method: 'get',
    action: 'get',
    idVerb: 'read',
    describe: (k) => `read the specified ${k}`,
    query: [],
    body: undefined,
    responses: OBJECT_200,
  },
  {
    verb: 'update',
    at: 'item',
    method: 'put',
    action: 'put',
    idVerb: 'replace',
    describe: (k) => `replace the specified ${k}`,
    query: WRITE_PARAMS,
    body: 'object',
    responses: OBJECT_200_201,
  },
  {
    verb: 'patch',
    at: 'item',
    method: 'patch',
    action: 'patch',
    idVerb: 'patch',
    describe: (k) => `partially update the specified ${k}`,
    query: PATCH_PARAMS,
    body: 'patch',
    responses: OBJECT_200_201,
  },
  {
    verb: 'delete',
    at: 'item',
    method: 'delete',
    action: 'delete',
    idVerb: 'delete',
    describe: (k) => `delete ${article(k)} ${k}`,
    query: DELETE_PARAMS,
    body: 'deleteOptions',
    responses: [
      { code: 200, returns: 'status' },
      { code: 202, returns: 'status' },
    ],
  },
];

/** The names and paths every operation of a resource derives from. */
interface Context {
  r: ResourceInfo;
  base: Pick<Operation, 'tag' | 'gvk' | 'objectGvk' | 'listGvk'>;
  prefix: string;
  /** "CoreV1", "AppsV1". */
  idGroupVersion: string;
  /** "Namespaced" or "". */
  ns: string;
  collection: { path: string; pathParams: Array<'namespace' | 'name'> };
  item: { path: string; pathParams: Array<'namespace' | 'name'> };
}

function contextOf(r: ResourceInfo): Context {
  const gvk: GroupVersionKind = { group: r.group, version: r.version, kind: r.kind };
  const listGvk: GroupVersionKind = { group: r.group, version: r.version, kind: r.listKind };
  const prefix = groupVersionPrefix(r.group, r.version);
  const scope = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.plural}` : `${prefix}/${r.plural}`;
  const nsParams: Array<'namespace' | 'name'> = r.namespaced ? ['namespace'] : [];
  return {
    r,
    base: { tag: tagOf(r.group, r.version), gvk, objectGvk: gvk, listGvk },
    prefix,
    idGroupVersion: `${groupCamel(r.group)}${r.version.charAt(0).toUpperCase()}${r.version.slice(1)}`,
    ns: r.namespaced ? 'Namespaced' : '',
    collection: { path: scope, pathParams: nsParams },
    item: { path: `${scope}/{name}`, pathParams: [...nsParams, 'name'] },
  };
}

function fromTemplate(c: Context, t: Template): Operation {
  const where = t.at === 'collection' ? c.collection : c.item;
  // deletecollection's id is deleteCoreV1CollectionNamespacedPod: "Collection" follows the group-version.
  const [verbWord, collectionWord] =
    t.idVerb === 'deleteCollection' ? ['delete', 'Collection'] : [t.idVerb, ''];
  return {
    ...c.base,
    ...where,
    method: t.method,
    operationId: `${verbWord}${c.idGroupVersion}${collectionWord}${c.ns}${c.r.kind}`,
    action: t.action,
    description: t.describe(c.r.kind),
    query: t.query,
    body: t.body,
    responses: t.responses,
  };
}

/** Builds the operations of one resource (main resource, watch paths and subresources). */
export function operationsFor(r: ResourceInfo): Operation[] {
  const c = contextOf(r);
  const ops = TEMPLATES.filter((t) => r.verbs.includes(t.verb)).map((t) => fromTemplate(c, t));
  if (r.namespaced && r.verbs.includes('list')) {
    const list = fromTemplate(c, TEMPLATES[0] as Template);
    ops.push({
      ...list,
      path: `${c.prefix}/${r.plural}`,
      pathParams: [],
      operationId: `list${c.idGroupVersion}${r.kind}ForAllNamespaces`,
    });
  }
  if (r.verbs.includes('watch')) ops.push(...watchOperations(c));
  for (const sub of r.subresources) ops.push(...subresourceOperations(c, sub));
  return ops;
}

function article(kind: string): string {
  return /^[AEIOU]/.test(kind) ? 'an' : 'a';
}

/** The deprecated /watch/ paths kube-apiserver still publishes (kubectl uses ?watch=true instead). */
function watchOperations(c: Context): Operation[] {
  const { r, prefix, idGroupVersion: id, ns } = c;
  const scope = r.namespaced
    ? `${prefix}/watch/namespaces/{namespace}/${r.plural}`
    : `${prefix}/watch/${r.plural}`;
  const nsParams: Array<'namespace' | 'name'> = r.namespaced ? ['namespace'] : [];
  const common = {
    ...c.base,
    method: 'get' as const,
    query: LIST_PARAMS,
    body: undefined,
    responses: [{ code: 200, returns: 'watchEvent' as const }],
  };
  const listText = `watch individual changes to a list of ${r.kind}. deprecated: use the 'watch' parameter with a list operation instead.`;
  const ops: Operation[] = [
    {
      ...common,
      path: scope,
      pathParams: nsParams,
      operationId: `watch${id}${ns}${r.kind}List`,
      action: 'watchlist',
      description: listText,
    },
    {
      ...common,
      path: `${scope}/{name}`,
      pathParams: [...nsParams, 'name'],
      operationId: `watch${id}${ns}${r.kind}`,
      action: 'watch',
      description: `watch changes to an object of kind ${r.kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.`,
    },
  ];
  if (r.namespaced) {
    ops.push({
      ...common,
      path: `${prefix}/watch/${r.plural}`,
      pathParams: [],
      operationId: `watch${id}${r.kind}ListForAllNamespaces`,
      action: 'watchlist',
      description: listText,
    });
  }
  return ops;
}

/** status and scale are read, replaced and patched; binding, eviction and token are created. */
function subresourceOperations(c: Context, sub: SubresourceName): Operation[] {
  const { r } = c;
  const id = `${c.idGroupVersion}${c.ns}${r.kind}${sub.charAt(0).toUpperCase()}${sub.slice(1)}`;
  const kind = SUBRESOURCE_KINDS[sub];
  const own = kind === undefined ? c.base : { ...c.base, gvk: kind, objectGvk: kind };
  const at = { ...own, path: `${c.item.path}/${sub}`, pathParams: c.item.pathParams };
  if (sub === 'status' || sub === 'scale') {
    const what = `${sub} of the specified ${r.kind}`;
    return [
      {
        ...at,
        method: 'get',
        operationId: `read${id}`,
        action: 'get',
        description: `read ${what}`,
        query: [],
        body: undefined,
        responses: OBJECT_200,
      },
      {
        ...at,
        method: 'put',
        operationId: `replace${id}`,
        action: 'put',
        description: `replace ${what}`,
        query: WRITE_PARAMS,
        body: 'object',
        responses: OBJECT_200_201,
      },
      {
        ...at,
        method: 'patch',
        operationId: `patch${id}`,
        action: 'patch',
        description: `partially update ${what}`,
        query: PATCH_PARAMS,
        body: 'patch',
        responses: OBJECT_200_201,
      },
    ];
  }
  const description = `create ${sub} of ${article(r.kind)} ${r.kind}`;
  return [
    {
      ...at,
      method: 'post',
      operationId: `create${id}`,
      action: 'post',
      description,
      query: WRITE_PARAMS,
      body: 'object',
      responses: OBJECT_200_201_202,
    },
  ];
}
