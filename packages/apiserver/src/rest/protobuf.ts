// Request bodies in Kubernetes protobuf (application/vnd.kubernetes.protobuf). client-go sends built-in
// types as protobuf — every kubectl generator (`create deployment|service|job|cronjob|role|quota…`, `run`,
// `expose`, `create token`, `auth can-i`) does — and does not fall back to JSON on 415, so every kind the
// apiserver serves must be understood. The message schema is generated from Kubernetes' generated.proto
// files (scripts/gen-proto-schema.mjs); decoding rules live in protobuf-decode.ts. Answers stay JSON, which
// kubectl accepts. Malformed input is a 400 Status, an unknown kind a 415, never a crash.
import { badRequest, type KubeObject, StatusError } from '@keelson/api';
import { decodeEnvelopeObject, newContext, UnknownKindError } from './protobuf-decode.js';
import { protoSchema } from './protobuf-schema.js';
import { ProtobufWireError } from './protobuf-wire.js';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';

function toStatus(err: unknown): unknown {
  if (err instanceof ProtobufWireError) return badRequest(`failed to decode protobuf body: ${err.message}`);
  if (err instanceof UnknownKindError) {
    return new StatusError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf: ${err.message})`,
    );
  }
  if (err instanceof RangeError) return badRequest(`failed to decode protobuf body: ${err.message}`);
  return err;
}

/** Decodes the `k8s\0` envelope (runtime.Unknown) and the object inside it, as JSON would have carried it. */
export function decodeProtobufObject(body: Buffer): KubeObject {
  try {
    return decodeEnvelopeObject(newContext(protoSchema()), body, 0) as KubeObject;
  } catch (err) {
    throw toStatus(err);
  }
}
