// Reading request bodies: bounded in size (3 MiB, as kube-apiserver's MaxRequestBodyBytes) and decoded
// from JSON or YAML by Content-Type. Every failure is a Status error the client can act on.
import type { IncomingMessage } from 'node:http';
import { badRequest, type KubeObject, StatusError } from '@keelson/api';
import { parse as parseYaml } from 'yaml';
import { decodeProtobufObject } from './protobuf.js';

export const bodyBytesMax = 3 * 1024 * 1024;

export function tooLarge(): StatusError {
  return new StatusError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
}

/** Reads the whole body, refusing (413) as soon as it exceeds the limit. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > bodyBytesMax) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > bodyBytesMax) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Decodes a JSON or YAML document into a plain value; 400 when it does not parse. */
export function decodeDocument(body: Buffer, type: string): unknown {
  // DeleteOptions from client-go's typed clients (kubectl drain, controllers) arrive as protobuf too.
  if (type === 'application/vnd.kubernetes.protobuf') return decodeProtobufObject(body);
  const text = body.toString('utf8');
  if (type === 'application/json' || type.endsWith('+json') || type === '') {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw badRequest(`error decoding request body: ${(err as Error).message}`);
    }
  }
  if (type === 'application/yaml' || type.endsWith('+yaml')) {
    try {
      return parseYaml(text, { maxAliasCount: 100 });
    } catch (err) {
      throw badRequest(`error converting YAML to JSON: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new StatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`,
  );
}

/** A body that must be one object (create, update). */
export function decodeObject(body: Buffer, type: string): KubeObject {
  if (body.length === 0) throw badRequest('the body of the request was empty');
  if (type === 'application/vnd.kubernetes.protobuf') return decodeProtobufObject(body);
  const doc = decodeDocument(body, type);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw badRequest('the body of the request must be a JSON or YAML object');
  }
  return doc as KubeObject;
}
