// Writing answers: JSON objects, Status errors, and the output forms a client may ask for in Accept
// (a meta.k8s.io Table, PartialObjectMetadata, or the object itself).
import type { ServerResponse } from 'node:http';
import { internalError, isStatusError, type Status, StatusError } from '@keelson/api';
import { EtcdClientError } from '@keelson/store';

export type OutputForm = 'object' | 'table' | 'metadata';

export interface Negotiated {
  form: OutputForm;
  /** The Table's or PartialObjectMetadata's version: v1 (or v1beta1 when only that was asked for). */
  version: string;
}

/**
 * Picks the first acceptable entry of Accept, as Kubernetes' negotiation does. kubectl asks
 * `application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`.
 */
export function negotiate(accept: string | undefined): Negotiated {
  if (accept === undefined || accept === '') return { form: 'object', version: 'v1' };
  for (const entry of accept.split(',')) {
    const [type = '', ...paramParts] = entry.split(';').map((s) => s.trim());
    const params = new Map(paramParts.map((p) => p.split('=', 2).map((s) => s.trim()) as [string, string]));
    if (!['application/json', 'application/yaml', '*/*', 'application/*'].includes(type.toLowerCase()))
      continue;
    const as = params.get('as');
    if (as === undefined) return { form: 'object', version: 'v1' };
    const g = params.get('g');
    const v = params.get('v') ?? 'v1';
    if (g !== 'meta.k8s.io' || (v !== 'v1' && v !== 'v1beta1')) continue;
    if (as === 'Table') return { form: 'table', version: v };
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList')
      return { form: 'metadata', version: v };
  }
  throw new StatusError(
    406,
    'NotAcceptable',
    `only the following media types are accepted: application/json, application/yaml`,
  );
}

export function writeJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
    ...headers,
  });
  res.end(text);
}

const grpcDeadlineExceeded = 4;
const grpcUnavailable = 14;

/** Any failure as the Status a client sees; store failures get the codes clients retry on. */
export function toStatusError(err: unknown): StatusError {
  if (isStatusError(err)) return err;
  if (err instanceof EtcdClientError) {
    if (err.details.includes('request is too large')) {
      return new StatusError(413, 'RequestEntityTooLarge', `Request entity too large: ${err.details}`);
    }
    if (err.code === grpcDeadlineExceeded) {
      return new StatusError(
        504,
        'Timeout',
        'Timeout: request did not complete within requested timeout - context deadline exceeded',
        { retryAfterSeconds: 1 },
      );
    }
    if (err.code === grpcUnavailable) {
      return new StatusError(503, 'ServiceUnavailable', `the store is unavailable: ${err.details}`, {
        retryAfterSeconds: 1,
      });
    }
  }
  return internalError(err instanceof Error ? err.message : String(err));
}

export function writeError(res: ServerResponse, err: StatusError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  if (err.details?.retryAfterSeconds !== undefined)
    headers['Retry-After'] = String(err.details.retryAfterSeconds);
  writeJson(res, err.code, err.toStatus(), headers);
}

export function successStatus(details: Status['details'], code = 200): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code };
  if (details !== undefined) s.details = details;
  return s;
}

/** `Warning: 299 - "message"` header values (RFC 7234, as kube-apiserver sends them). */
export function warningHeaders(warnings: string[]): Record<string, string[]> {
  if (warnings.length === 0) return {};
  return { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) };
}
