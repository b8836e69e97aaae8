// The parsed request every REST verb works on, and the query parameters they share.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, type ResourceInfo, type Verb } from '@keelson/api';
import type { UserInfo } from '../types.js';
import type { ResourcePath } from './url.js';

export interface RestRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  path: ResourcePath;
  info: ResourceInfo;
  verb: Verb;
  user: UserInfo;
}

/** The Kubernetes verb of a request, as RequestInfoFactory decides it. */
export function verbOf(method: string, path: ResourcePath, query: URLSearchParams): Verb | undefined {
  const watch = query.get('watch');
  const isWatch = watch === 'true' || watch === '1';
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (path.name !== '') return isWatch ? 'watch' : 'get';
      return isWatch ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return path.name === '' ? 'deletecollection' : 'delete';
    default:
      return undefined;
  }
}

export function dryRunOf(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const v of values) {
    if (v !== 'All') throw badRequest(`Invalid dryRun value: ${JSON.stringify(v)}; supported values: "All"`);
  }
  return values.length > 0;
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function fieldValidationOf(query: URLSearchParams): FieldValidation {
  const v = query.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation parameter unsupported: ${v}. Must be one of: Ignore, Warn, Strict`);
}

/** fieldManager, defaulting to the User-Agent's product token as Kubernetes does. */
export function fieldManagerOf(query: URLSearchParams, req: IncomingMessage, required: boolean): string {
  const v = query.get('fieldManager');
  if (v !== null && v !== '') {
    if (v.length > 128) throw badRequest('fieldManager: Too long: must have at most 128 bytes');
    return v;
  }
  if (required)
    throw badRequest(
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    );
  const ua = req.headers['user-agent'] ?? 'unknown';
  return (ua.split('/')[0] ?? 'unknown').slice(0, 128) || 'unknown';
}

export function intParam(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`invalid value for ${name}: ${JSON.stringify(v)}`);
  return n;
}
