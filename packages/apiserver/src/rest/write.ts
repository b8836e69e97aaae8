// create, update and patch: decode, check the body against the URL, default, admit, validate, and
// write with one guarded store txn. Unconditional updates and patches retry on a conflict (bounded);
// a body that names a resourceVersion gets Kubernetes' 409 when it is stale.
import {
  alreadyExists,
  badRequest,
  conflict,
  type FieldError,
  invalid,
  type KubeObject,
  notFound,
  OBJECT_MODIFIED,
  StatusError,
} from '@keelson/api';
import { ensureDefaultServiceAccount } from '../admission/service-account.js';
import { ExtrasConflictError, KeyExistsError, ModRevisionMismatchError, type Stored } from '../types.js';
import {
  admitMutating,
  admitValidating,
  EXTRAS_ATTEMPTS_MAX,
  extrasOf,
  extrasRetryPause,
  newAdmission,
} from './admission.js';
import { decodeObject, mediaType, readBody } from './body.js';
import {
  dryRunOf,
  type FieldValidation,
  fieldManagerOf,
  fieldValidationOf,
  type RestRequest,
} from './context.js';
import type { PatchType, RestDeps } from './deps.js';
import {
  apiVersionOf,
  asServed,
  deepCopy,
  deletionBlocked,
  fillSystemFieldsOnCreate,
  generateName,
  isNamespace,
  keepSystemFieldsOnUpdate,
  metaOf,
  objectKey,
  sameObject,
  toStorageVersion,
} from './objects.js';
import { warningHeaders, writeJson } from './respond.js';

/** Kubernetes retries a generated name that collided (RetryGenerateName) up to this many times. */
const generateNameAttemptsMax = 8;
/** Unconditional updates re-read and retry after a conflict at most this many times. */
const updateAttemptsMax = 10;

interface WriteOptions {
  dryRun: boolean;
  fieldValidation: FieldValidation;
  fieldManager: string;
  warnings: string[];
  /** Server-side apply computed managedFields itself; other writes are tracked as Update. */
  isApply?: boolean;
}

function writeOptions(r: RestRequest, applyPatch: boolean): WriteOptions {
  const q = r.url.searchParams;
  return {
    dryRun: dryRunOf(q),
    fieldValidation: fieldValidationOf(q),
    fieldManager: fieldManagerOf(q, r.req, applyPatch),
    warnings: [],
  };
}

/** The body's apiVersion and kind must be the URL's (when given); namespace and name must agree. */
export function checkBodyAgainstUrl(
  r: RestRequest,
  obj: KubeObject,
  kind: string,
  apiVersion: string,
  name: string,
): void {
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
    throw badRequest(
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`,
    );
  }
  if (obj.kind !== undefined && obj.kind !== kind) {
    throw badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${kind})`);
  }
  obj.apiVersion = apiVersion;
  obj.kind = kind;
  const meta = metaOf(obj);
  if ((r.info.namespaced && r.path.subresource === '') || r.info.namespaced) {
    if (meta.namespace === undefined || meta.namespace === '') meta.namespace = r.path.namespace;
    else if (meta.namespace !== r.path.namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
  } else delete meta.namespace;
  if (name !== '' && meta.name !== undefined && meta.name !== '' && meta.name !== name) {
    throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
  }
  if (name !== '') meta.name = name;
}

/**
 * fieldValidation: Strict refuses unknown and duplicate fields, Warn reports them in Warning headers.
 * A JSON body is checked as sent (duplicates are invisible once parsed); others as decoded.
 */
function checkUnknownFields(
  deps: RestDeps,
  r: RestRequest,
  obj: KubeObject,
  opts: WriteOptions,
  rawJson?: string,
): void {
  const validator = deps.fieldValidator;
  if (opts.fieldValidation === 'Ignore' || validator === undefined) return;
  const messages =
    rawJson !== undefined && validator.jsonIssues !== undefined
      ? validator.jsonIssues(r.info, rawJson)
      : validator.unknownFields(r.info, obj).map((f) => `unknown field "${f.replace(/^\./, '')}"`);
  if (messages.length === 0) return;
  if (opts.fieldValidation === 'Strict') {
    throw badRequest(
      `${r.info.kind} in version "${r.info.version}" cannot be handled as a ${r.info.kind}: strict decoding error: ${messages.join(', ')}`,
    );
  }
  opts.warnings.push(...messages);
}

function validationFailed(r: RestRequest, obj: KubeObject, errs: FieldError[]): StatusError {
  return invalid(r.info.kind, r.info.group, obj.metadata?.name ?? '', errs);
}

function jsonText(raw: Buffer, r: RestRequest): string | undefined {
  const type = mediaType(r.req);
  return type === 'application/json' || type === '' ? raw.toString('utf8') : undefined;
}

// ---- create ----

export async function handleCreate(deps: RestDeps, r: RestRequest): Promise<void> {
  if (r.path.name !== '')
    throw new StatusError(
      405,
      'MethodNotAllowed',
      `the server does not allow this method on the requested resource`,
    );
  const opts = writeOptions(r, false);
  const raw = await readBody(r.req);
  const obj = decodeObject(raw, mediaType(r.req));
  checkBodyAgainstUrl(r, obj, r.info.kind, apiVersionOf(r.info), '');
  checkUnknownFields(deps, r, obj, opts, jsonText(raw, r));
  const stored = await createObject(deps, r, obj, opts);
  writeJson(r.res, 201, asServed(stored.obj, r.info), warningHeaders(opts.warnings));
}

/** Everything after decoding: shared by POST and by apply-patches that create. */
export async function createObject(
  deps: RestDeps,
  r: RestRequest,
  body: KubeObject,
  opts: WriteOptions,
): Promise<Stored> {
  const strategy = deps.catalog.strategy(r.info);
  const meta = metaOf(body);
  const wantsGenerated =
    (meta.name === undefined || meta.name === '') &&
    typeof meta.generateName === 'string' &&
    meta.generateName !== '';
  if (!wantsGenerated && (meta.name === undefined || meta.name === '')) {
    throw invalid(r.info.kind, r.info.group, '', [
      { type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' },
    ]);
  }
  if (r.info.namespaced && (meta.namespace === undefined || meta.namespace === '')) {
    throw badRequest(
      'the server could not find the requested resource: a namespaced object needs a namespace',
    );
  }
  for (let attempt = 0; attempt < Math.max(generateNameAttemptsMax, EXTRAS_ATTEMPTS_MAX); attempt++) {
    const obj = deepCopy(body);
    strategy.applyDefaults(obj);
    const run = newAdmission(deps, r, 'CREATE', obj, undefined, opts.dryRun);
    await admitMutating(deps, run);
    fillSystemFieldsOnCreate(obj);
    if (wantsGenerated) metaOf(obj).name = generateName(String(meta.generateName));
    strategy.prepareForCreate(obj);
    const errs = strategy.validateCreate(obj);
    if (errs.length > 0) throw validationFailed(r, obj, errs);
    await admitValidating(deps, run);
    if (opts.isApply !== true)
      deps.managedFields?.update(r.info, obj, undefined, opts.fieldManager, r.path.subresource);
    if (opts.dryRun) return { obj, modRevision: 0 };
    const key = objectKey(deps.etcdPrefix, r.info, obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
    try {
      const stored = await deps.storage.create(key, toStorageVersion(obj, r.info), extrasOf(run));
      if (isNamespace(r.info)) await ensureNamespaceAccount(deps, obj.metadata?.name ?? '');
      return stored;
    } catch (err) {
      if (err instanceof ExtrasConflictError) {
        await extrasRetryPause();
        continue;
      }
      if (err instanceof KeyExistsError) {
        if (wantsGenerated && attempt + 1 < generateNameAttemptsMax) continue;
        throw alreadyExists(r.info.plural, r.info.group, obj.metadata?.name ?? '');
      }
      throw err;
    }
  }
  throw new StatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${r.info.plural}: too many concurrent changes, please retry`,
  );
}

/**
 * A new namespace gets its "default" ServiceAccount, which the ServiceAccount admission requires of
 * every pod. In Kubernetes the serviceaccount controller makes it; until Keelson's
 * controller-manager does, the apiserver does (create-if-absent, safe from several apiservers). A
 * failure is logged, not returned: the namespace itself was created.
 */
async function ensureNamespaceAccount(deps: RestDeps, namespace: string): Promise<void> {
  try {
    await ensureDefaultServiceAccount(deps.storage, namespace, deps.etcdPrefix);
  } catch (err) {
    deps.logger.warn(
      { namespace, err: (err as Error).message },
      'could not create the default service account',
    );
  }
}

// ---- update (PUT) and patch ----

export type Compute = (current: Stored | undefined) => Promise<KubeObject> | KubeObject;

export interface UpdateResult {
  stored: Stored;
  created: boolean;
}

export async function handleUpdate(deps: RestDeps, r: RestRequest): Promise<void> {
  if (r.path.name === '')
    throw new StatusError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    );
  const opts = writeOptions(r, false);
  const raw = await readBody(r.req);
  const body = decodeObject(raw, mediaType(r.req));
  checkBodyAgainstUrl(r, body, r.info.kind, apiVersionOf(r.info), r.path.name);
  checkUnknownFields(deps, r, body, opts, jsonText(raw, r));
  const result = await updateObject(deps, r, opts, (current) => {
    if (current === undefined) throw notFound(r.info.plural, r.info.group, r.path.name);
    return deepCopy(body);
  });
  writeJson(
    r.res,
    result.created ? 201 : 200,
    asServed(result.stored.obj, r.info),
    warningHeaders(opts.warnings),
  );
}

const patchTypes: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

export async function handlePatch(deps: RestDeps, r: RestRequest): Promise<void> {
  if (r.path.name === '')
    throw new StatusError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    );
  const type = patchTypes[mediaType(r.req)];
  const patcher = deps.patcher;
  if (type === undefined || patcher === undefined) {
    throw new StatusError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: ${Object.keys(patchTypes).join(', ')}`,
    );
  }
  const opts = writeOptions(r, type === 'apply');
  opts.isApply = type === 'apply';
  const force = r.url.searchParams.get('force') === 'true';
  if (force && type !== 'apply')
    throw badRequest('force: Forbidden: may not be specified for non-apply patch');
  const body = await readBody(r.req);
  const result = await updateObject(deps, r, opts, (current) => {
    if (current === undefined && type !== 'apply') throw notFound(r.info.plural, r.info.group, r.path.name);
    const patched = patcher.patch({
      type,
      info: r.info,
      current: current === undefined ? undefined : asServed(deepCopy(current.obj), r.info),
      body,
      fieldManager: opts.fieldManager,
      force,
      subresource: r.path.subresource,
    });
    checkBodyAgainstUrl(r, patched, r.info.kind, apiVersionOf(r.info), r.path.name);
    if (type === 'apply') checkUnknownFields(deps, r, patched, opts);
    return patched;
  });
  writeJson(
    r.res,
    result.created ? 201 : 200,
    asServed(result.stored.obj, r.info),
    warningHeaders(opts.warnings),
  );
}

/**
 * The guarded read-modify-write loop of every update: read, compute the new object, run the update
 * pipeline, write at the read revision; on a conflict re-read and recompute unless the new object
 * names the resourceVersion it was based on.
 */
export async function updateObject(
  deps: RestDeps,
  r: RestRequest,
  opts: WriteOptions,
  compute: Compute,
): Promise<UpdateResult> {
  const key = objectKey(deps.etcdPrefix, r.info, r.path.namespace, r.path.name);
  for (let attempt = 0; attempt < Math.max(updateAttemptsMax, EXTRAS_ATTEMPTS_MAX); attempt++) {
    const current = await deps.storage.get(key);
    const obj = await compute(current);
    if (current === undefined) return { stored: await createObject(deps, r, obj, opts), created: true };
    const preconditioned = obj.metadata?.resourceVersion !== undefined && obj.metadata.resourceVersion !== '';
    if (preconditioned && obj.metadata?.resourceVersion !== String(current.modRevision)) {
      throw conflict(r.info.plural, r.info.group, r.path.name, OBJECT_MODIFIED);
    }
    try {
      return { stored: await updatePipeline(deps, r, opts, key, obj, current), created: false };
    } catch (err) {
      if (err instanceof ExtrasConflictError) {
        await extrasRetryPause();
        continue;
      }
      if (!(err instanceof ModRevisionMismatchError)) throw err;
      // Plain conflicts keep their own, smaller bound.
      if (attempt + 1 >= updateAttemptsMax) break;
      if (err.current === undefined) throw notFound(r.info.plural, r.info.group, r.path.name);
      if (preconditioned) throw conflict(r.info.plural, r.info.group, r.path.name, OBJECT_MODIFIED);
    }
  }
  throw conflict(r.info.plural, r.info.group, r.path.name, OBJECT_MODIFIED);
}

async function updatePipeline(
  deps: RestDeps,
  r: RestRequest,
  opts: WriteOptions,
  key: string,
  body: KubeObject,
  current: Stored,
): Promise<Stored> {
  const strategy = deps.catalog.strategy(r.info);
  // The pipeline works in the request's version; the store keeps the storage version.
  const old = asServed(current.obj, r.info);
  const uid = body.metadata?.uid;
  if (uid !== undefined && uid !== '' && uid !== old.metadata?.uid) {
    throw invalid(r.info.kind, r.info.group, r.path.name, [
      { type: 'FieldValueInvalid', field: 'metadata.uid', value: uid, detail: 'field is immutable' },
    ]);
  }
  const obj = prepareUpdate(r, strategy, body, old);
  // An unconditional update is validated as if it named the version it replaces (as Kubernetes does).
  metaOf(obj).resourceVersion = String(current.modRevision);
  const run = newAdmission(deps, r, 'UPDATE', obj, old, opts.dryRun);
  await admitMutating(deps, run);
  const errs = strategy.validateUpdate(obj, old);
  if (errs.length > 0) throw validationFailed(r, obj, errs);
  await admitValidating(deps, run);
  if (
    obj.metadata?.deletionTimestamp !== undefined &&
    !deletionBlocked(r.info, obj) &&
    deletionBlocked(r.info, old)
  ) {
    // The update that removes the last finalizer of an object being deleted deletes it.
    if (opts.dryRun) return { obj, modRevision: current.modRevision };
    return deps.storage.delete(key, current.modRevision, extrasOf(run));
  }
  if (sameObject(obj, old)) return current;
  if (opts.isApply !== true)
    deps.managedFields?.update(r.info, obj, old, opts.fieldManager, r.path.subresource);
  if (opts.dryRun) return { obj, modRevision: current.modRevision };
  return deps.storage.update(key, toStorageVersion(obj, r.info), current.modRevision, extrasOf(run));
}

function prepareUpdate(
  r: RestRequest,
  strategy: ReturnType<RestDeps['catalog']['strategy']>,
  body: KubeObject,
  old: KubeObject,
): KubeObject {
  const obj = deepCopy(body);
  keepSystemFieldsOnUpdate(obj, old);
  strategy.applyDefaults(obj);
  if (r.path.subresource === 'status') {
    if (strategy.prepareForStatusUpdate !== undefined) strategy.prepareForStatusUpdate(obj, old);
    else {
      // Without a strategy hook: everything of the old object but its status.
      const status = obj.status;
      for (const k of Object.keys(obj)) delete obj[k];
      Object.assign(obj, deepCopy(old));
      if (status === undefined) delete obj.status;
      else obj.status = status;
    }
  } else if (r.path.subresource !== 'finalize') strategy.prepareForUpdate(obj, old);
  // namespaces/finalize was computed from the stored object with only spec.finalizers changed.
  return obj;
}
