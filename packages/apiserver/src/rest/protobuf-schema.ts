// The message table generated from Kubernetes' generated.proto files by scripts/gen-proto-schema.mjs
// (src/generated/proto-schema.json). It is read lazily on the first protobuf body, so a server that never
// sees one never pays for it.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ProtoField {
  /** The JSON name (the Go json tag). */
  name: string;
  /** A proto scalar type ("string", "int64", ...), "message" or "map". */
  type: string;
  repeated?: boolean;
  /** Full name of the message type when type is "message". */
  message?: string;
  /** Map key scalar type when type is "map". */
  key?: string;
  /** Map value scalar type, or "message" with valueMessage. */
  value?: string;
  valueMessage?: string;
  /** A Go pointer (or a field the handlers need even at zero): a zero on the wire is kept, not dropped. */
  keepZero?: boolean;
  /** An embedded struct whose fields JSON flattens into the parent (json:",inline"). */
  inline?: boolean;
}

export interface ProtoMessage {
  /** A go-to-protobuf wrapper of a named slice (ExtraValue, Verbs): JSON carries just the array. */
  list?: boolean;
  fields: Record<string, ProtoField>;
}

export interface ProtoSchema {
  /** "<apiVersion>/<Kind>" → full message name. */
  kinds: Record<string, string>;
  messages: Record<string, ProtoMessage>;
}

export class ProtoSchemaError extends Error {
  readonly code = 'PROTO_SCHEMA_MISSING';
  constructor(message: string) {
    super(message);
    this.name = 'ProtoSchemaError';
  }
}

/**
 * From src/rest the schema is ../generated; from dist/rest (the build does not copy JSON) it is the
 * package's src/generated, two levels up.
 */
const candidates = [
  new URL('../generated/proto-schema.json', import.meta.url),
  new URL('../../src/generated/proto-schema.json', import.meta.url),
];

let cached: ProtoSchema | undefined;

export function protoSchema(): ProtoSchema {
  if (cached !== undefined) return cached;
  const url = candidates.find((u) => existsSync(fileURLToPath(u)));
  if (url === undefined) {
    throw new ProtoSchemaError(
      `proto-schema.json not found (looked at ${candidates.map((u) => fileURLToPath(u)).join(', ')}): run node packages/apiserver/scripts/gen-proto-schema.mjs`,
    );
  }
  const parsed = JSON.parse(readFileSync(url, 'utf8')) as ProtoSchema;
  if (typeof parsed.kinds !== 'object' || typeof parsed.messages !== 'object') {
    throw new ProtoSchemaError(`${fileURLToPath(url)} is not a proto schema`);
  }
  cached = parsed;
  return parsed;
}
