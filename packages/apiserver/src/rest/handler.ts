// Dispatch of a resource request to its verb, once authentication and authorisation have passed.
import { methodNotAllowed, notFound, type ResourceInfo, StatusError, type Verb } from '@keelson/api';
import type { UserInfo } from '../types.js';
import type { RestRequest } from './context.js';
import { handleDelete, handleDeleteCollection } from './delete.js';
import type { RestDeps } from './deps.js';
import { handleGet, handleList } from './read.js';
import { handleScale } from './scale.js';
import { handleNamespaceFinalize, handleSubresourceCreate } from './subresources.js';
import type { ResourcePath } from './url.js';
import { handleWatch } from './watch.js';
import { handleCreate, handlePatch, handleUpdate } from './write.js';

/** The resource a path addresses, or a 404 Status like Kubernetes' for an unknown one. */
export function resolveResource(deps: RestDeps, path: ResourcePath): ResourceInfo {
  const info = deps.catalog.find(path.group, path.version, path.plural);
  if (info === undefined)
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  // Reviews are answered by the server itself (server.ts), never stored.
  if (info.storageResource === '')
    throw methodNotAllowed('the server does not allow this method on the requested resource');
  const namespaceFinalize =
    info.group === '' && info.plural === 'namespaces' && path.subresource === 'finalize';
  if (
    path.subresource !== '' &&
    !namespaceFinalize &&
    !info.subresources.includes(path.subresource as never)
  ) {
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }
  // A namespaced resource addressed without a namespace is only allowed for list/watch across all.
  return info;
}

export async function handleResource(deps: RestDeps, r: RestRequest): Promise<void> {
  const { info, path, verb } = r;
  if (
    !info.verbs.includes(verb) &&
    !(path.subresource !== '' && ['get', 'update', 'patch', 'create'].includes(verb))
  ) {
    throw methodNotAllowed(`the server does not allow this method on the requested resource`);
  }
  if (info.namespaced && path.namespace === '' && !['list', 'watch'].includes(verb)) {
    throw notFound(info.plural, info.group, path.name);
  }
  switch (path.subresource) {
    case '':
    case 'status':
      return dispatchMain(deps, r, verb, path.subresource === 'status');
    case 'finalize':
      if (verb !== 'update')
        throw methodNotAllowed('the server does not allow this method on the requested resource');
      return handleNamespaceFinalize(deps, r);
    case 'binding':
    case 'eviction':
    case 'token':
      return handleSubresourceCreate(deps, r);
    case 'scale':
      if (verb !== 'get' && verb !== 'update' && verb !== 'patch')
        throw methodNotAllowed('the server does not allow this method on the requested resource');
      return handleScale(deps, r);
    default:
      throw new StatusError(
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource (${info.plural}/${path.subresource})`,
      );
  }
}

function dispatchMain(deps: RestDeps, r: RestRequest, verb: Verb, status: boolean): Promise<void> {
  if (status && !['get', 'update', 'patch'].includes(verb))
    throw methodNotAllowed('the server does not allow this method on the requested resource');
  switch (verb) {
    case 'get':
      return handleGet(deps, r);
    case 'list':
      return handleList(deps, r);
    case 'watch':
      return handleWatch(deps, r);
    case 'create':
      return handleCreate(deps, r);
    case 'update':
      return handleUpdate(deps, r);
    case 'patch':
      return handlePatch(deps, r);
    case 'delete':
      return handleDelete(deps, r);
    case 'deletecollection':
      return handleDeleteCollection(deps, r);
  }
}

export type { RestRequest, UserInfo };
