// get and list with Kubernetes' resourceVersion semantics, label and field selectors, and limit/continue
// paging over one snapshot. Gets always read the store. Lists read the watch cache when it can answer
// exactly: resourceVersion "0" (any state no older than earlier linearizable reads), NotOlderThan N
// (once the cache has reached N) and "" (once the cache has reached the store's current revision, read
// linearizably). A paged list at "" gets its first page from the cache with a continue token in the
// store's format (the cache's revision), so that its later pages (with a continue token) and Exact
// versions go to the store and read the same snapshot; a paged list at "0" is served whole from the
// cache, as kube-apiserver does.
import { badRequest, gone, type KubeObject, notFound, type ResourceInfo, StatusError } from '@keelson/api';
import type { CacheSnapshot } from '../cache/cacher.js';
import { encodeContinue, InvalidContinueError } from '../storage/continue.js';
import { CompactedError, type Stored } from '../types.js';
import { intParam, type RestRequest } from './context.js';
import type { RestDeps } from './deps.js';
import { apiVersionOf, asServed, keyPrefix, objectKey } from './objects.js';
import { negotiate, writeJson } from './respond.js';
import { buildTable, parseIncludeObject, partialMetadata } from './table.js';

/** Pages the store is asked for while filling one list page that selectors thin out. */
const filterPagesMax = 1_000;

export async function getObject(deps: RestDeps, r: RestRequest): Promise<Stored> {
  const key = objectKey(deps.etcdPrefix, r.info, r.path.namespace, r.path.name);
  const stored = await deps.storage.get(key);
  if (stored === undefined) throw notFound(r.info.plural, r.info.group, r.path.name);
  return stored;
}

export async function handleGet(deps: RestDeps, r: RestRequest): Promise<void> {
  const out = negotiate(r.req.headers.accept);
  const stored = await getObject(deps, r);
  const obj = asServed(stored.obj, r.info);
  if (out.form === 'table') {
    const include = includeOf(r.url.searchParams);
    const table = buildTable(deps.tables, r.info, [obj], {
      version: out.version,
      include,
      noHeaders: false,
      listMeta: { resourceVersion: String(stored.modRevision) },
    });
    writeJson(r.res, 200, table);
  } else if (out.form === 'metadata') writeJson(r.res, 200, partialMetadata(obj, out.version));
  else writeJson(r.res, 200, obj);
}

export interface Filter {
  matches(obj: KubeObject): boolean;
  /** Whether any selector was given (remainingItemCount is only known without one). */
  active: boolean;
}

export function filterOf(deps: RestDeps, r: RestRequest): Filter {
  const q = r.url.searchParams;
  const strategy = deps.catalog.strategy(r.info);
  const labelSel = q.get('labelSelector') ?? '';
  const fieldSel = q.get('fieldSelector') ?? '';
  const labels = labelSel === '' ? undefined : deps.selectors.labels(labelSel);
  const fields = fieldSel === '' ? undefined : deps.selectors.fields(fieldSel, r.info);
  return {
    active: labels !== undefined || fields !== undefined,
    matches: (obj) => {
      if (labels !== undefined && !labels(obj.metadata?.labels ?? {})) return false;
      if (fields !== undefined && !fields(strategy.selectableFields(obj))) return false;
      return true;
    },
  };
}

export interface ListPlan {
  revision: number;
  limit: number;
  continueToken: string | undefined;
  /** NotOlderThan: the list must be at least this fresh. */
  minRevision: number;
}

/** resourceVersion / resourceVersionMatch / limit / continue as Kubernetes validates and reads them. */
export function planList(q: URLSearchParams): ListPlan {
  const rv = q.get('resourceVersion') ?? '';
  const match = q.get('resourceVersionMatch') ?? '';
  const cont = q.get('continue') ?? '';
  const limit = intParam(q, 'limit') ?? 0;
  if (match !== '' && rv === '')
    throw badRequest(
      'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
    );
  if (cont !== '' && rv !== '' && rv !== '0')
    throw badRequest(
      'resourceVersion: Forbidden: specifying resource version is not allowed when using continue',
    );
  if (cont !== '' && match !== '')
    throw badRequest(
      'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided',
    );
  if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan')
    throw badRequest(
      `resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`,
    );
  const plan: ListPlan = {
    revision: 0,
    limit,
    continueToken: cont === '' ? undefined : cont,
    minRevision: 0,
  };
  if (rv === '' || rv === '0') {
    if (match === 'Exact')
      throw badRequest(
        'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
      );
    return plan;
  }
  const n = parseRevision(rv);
  // A paged list at a given version reads exactly that version (the legacy meaning of limit + RV).
  if (match === 'Exact' || (match === '' && limit > 0)) plan.revision = n;
  else plan.minRevision = n;
  return plan;
}

export function parseRevision(rv: string): number {
  const n = Number(rv);
  if (!/^\d+$/.test(rv) || !Number.isSafeInteger(n))
    throw badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
  return n;
}

export interface ListedObjects {
  items: Stored[];
  revision: number;
  continueToken: string | undefined;
  remainingItemCount: number | undefined;
}

/** Reads one page of matching objects, asking the store for more while selectors thin them out. */
export async function listObjects(
  deps: RestDeps,
  info: ResourceInfo,
  namespace: string,
  plan: ListPlan,
  filter: Filter,
): Promise<ListedObjects> {
  const prefix = keyPrefix(deps.etcdPrefix, info, namespace);
  const items: Stored[] = [];
  let token = plan.continueToken;
  let revision = plan.revision;
  for (let page = 0; page < filterPagesMax; page++) {
    const want = plan.limit === 0 ? 0 : plan.limit - items.length;
    const res = await readPage(deps, prefix, want, token, revision, plan.continueToken !== undefined);
    revision = res.revision;
    for (const s of res.items) if (filter.matches(s.obj)) items.push(s);
    token = res.continueToken;
    const remaining = filter.active ? undefined : res.remainingItemCount;
    if (token === undefined || (plan.limit > 0 && items.length >= plan.limit)) {
      if (plan.minRevision > revision) throw tooLargeVersion(plan.minRevision, revision);
      return { items, revision, continueToken: token, remainingItemCount: remaining };
    }
  }
  throw new Error(`assertion failed: list of ${prefix} did not finish within ${filterPagesMax} pages`);
}

async function readPage(
  deps: RestDeps,
  prefix: string,
  limit: number,
  token: string | undefined,
  revision: number,
  fromClientToken: boolean,
) {
  try {
    return await deps.storage.list(prefix, {
      limit,
      continueToken: token,
      revision: token === undefined ? revision : 0,
    });
  } catch (err) {
    if (err instanceof InvalidContinueError) throw badRequest(err.message);
    if (err instanceof CompactedError) {
      if (fromClientToken) {
        throw new StatusError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
      throw gone('The resourceVersion for the provided list is too old.');
    }
    throw err;
  }
}

function tooLargeVersion(asked: number, current: number): StatusError {
  return new StatusError(504, 'Timeout', `Too large resource version: ${asked}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

function includeOf(q: URLSearchParams) {
  try {
    return parseIncludeObject(q.get('includeObject'));
  } catch (err) {
    throw badRequest((err as Error).message);
  }
}

/**
 * The list from the watch cache, or undefined when it must come from the store: no cache, a plan the
 * cache cannot answer exactly, or a cache that did not start or catch up within its wait.
 */
export async function listFromCache(
  deps: RestDeps,
  info: ResourceInfo,
  namespace: string,
  plan: ListPlan,
  rv: string,
  filter: Filter,
): Promise<ListedObjects | undefined> {
  if (plan.continueToken !== undefined || plan.revision !== 0) return undefined;
  const cacher = deps.watchCache?.cacherFor(info);
  if (cacher === undefined) return undefined;
  let minRevision = plan.minRevision;
  if (rv === '') {
    minRevision = await deps.storage.currentRevision();
    cacher.noteLinearizableRead(minRevision);
  }
  const waitMs = deps.watchCache?.waitMs ?? 0;
  // Ready then, but a reset may have begun before this continuation ran: then the store serves it.
  if (!(await cacher.readyFor(minRevision, waitMs)) || !cacher.ready) return undefined;
  const prefix = keyPrefix(deps.etcdPrefix, info, namespace);
  const snapshot = cacher.list(prefix);
  cacher.noteListServed();
  // kube-apiserver serves "0" whole from its cache whatever the limit; a paged linearizable list
  // gets its first page here and the rest from the store at the same revision.
  if (plan.limit > 0 && rv !== '0') return firstPage(snapshot, prefix, plan.limit, filter);
  const items = filter.active ? snapshot.items.filter((s) => filter.matches(s.obj)) : snapshot.items;
  return { items, revision: snapshot.revision, continueToken: undefined, remainingItemCount: undefined };
}

/**
 * The first page of a list from the cache, with a continue token in the store's format (the snapshot's
 * revision and the key after the page's last), so the next pages read the same snapshot from the store.
 */
function firstPage(snapshot: CacheSnapshot, prefix: string, limit: number, filter: Filter): ListedObjects {
  const items: Stored[] = [];
  let i = 0;
  for (; i < snapshot.items.length && items.length < limit; i++) {
    const s = snapshot.items[i] as Stored;
    if (filter.matches(s.obj)) items.push(s);
  }
  const listed: ListedObjects = {
    items,
    revision: snapshot.revision,
    continueToken: undefined,
    remainingItemCount: undefined,
  };
  if (i < snapshot.items.length) {
    const lastKey = snapshot.keys[i - 1] as string;
    listed.continueToken = encodeContinue({
      rv: snapshot.revision,
      start: `${lastKey.slice(prefix.length)}\u0000`,
    });
    if (!filter.active) listed.remainingItemCount = snapshot.items.length - i;
  }
  return listed;
}

async function listCachedOrStored(deps: RestDeps, r: RestRequest, plan: ListPlan, filter: Filter) {
  const rv = r.url.searchParams.get('resourceVersion') ?? '';
  const cached = await listFromCache(deps, r.info, r.path.namespace, plan, rv, filter);
  if (cached !== undefined) return cached;
  const listed = await listObjects(deps, r.info, r.path.namespace, plan, filter);
  // A linearizable read from the store also bounds how old the cache may answer from now on.
  if (rv === '' && plan.continueToken === undefined)
    deps.watchCache?.cacherFor(r.info)?.noteLinearizableRead(listed.revision);
  return listed;
}

export async function handleList(deps: RestDeps, r: RestRequest): Promise<void> {
  const out = negotiate(r.req.headers.accept);
  const plan = planList(r.url.searchParams);
  const filter = filterOf(deps, r);
  const listed = await listCachedOrStored(deps, r, plan, filter);
  const listMeta: Record<string, unknown> = { resourceVersion: String(listed.revision) };
  if (listed.continueToken !== undefined) listMeta.continue = listed.continueToken;
  if (listed.remainingItemCount !== undefined && listed.continueToken !== undefined)
    listMeta.remainingItemCount = listed.remainingItemCount;
  const objs = listed.items.map((s) => asServed(s.obj, r.info));
  if (out.form === 'table') {
    const include = includeOf(r.url.searchParams);
    writeJson(
      r.res,
      200,
      buildTable(deps.tables, r.info, objs, { version: out.version, include, noHeaders: false, listMeta }),
    );
    return;
  }
  if (out.form === 'metadata') {
    const items = objs.map((o) => ({ metadata: o.metadata ?? {} }));
    writeJson(r.res, 200, {
      kind: 'PartialObjectMetadataList',
      apiVersion: `meta.k8s.io/${out.version}`,
      metadata: listMeta,
      items,
    });
    return;
  }
  writeJson(r.res, 200, listBody(r.info, objs, listMeta));
}

export function listBody(
  info: ResourceInfo,
  objs: KubeObject[],
  listMeta: Record<string, unknown>,
): KubeObject {
  // Items of a typed list carry no kind/apiVersion of their own, as Kubernetes serialises them.
  const items = objs.map((o) => {
    const { kind: _k, apiVersion: _v, ...rest } = o;
    return rest;
  });
  return { kind: info.listKind, apiVersion: apiVersionOf(info), metadata: listMeta, items };
}
