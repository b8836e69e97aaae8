// The /openapi/v2 document in protobuf, the gnostic `openapi.v2.Document` message
// (github.com/google/gnostic, openapiv2/OpenAPIv2.proto). kubectl fetches /openapi/v2 only as
// `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and fails on anything else; it needs
// it for client-side validation of kinds without a PATCH operation (SelfSubjectAccessReview, …),
// because /openapi/v3 alone cannot tell it that such kinds do not support fieldValidation.
//
// Only the parts of the swagger document buildOpenApiV2 produces are encoded: info, paths with
// operations, body/query/path parameters, responses, definitions (schemas with $ref, type, format,
// description, required, properties, items, additionalProperties, allOf, vendor extensions) and the
// BearerToken security definition. Vendor extension values are written as JSON, which is YAML.

export class ProtoEncodeError extends Error {
  readonly code = 'PROTO_ENCODE_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'ProtoEncodeError';
  }
}

type Json = Record<string, unknown>;

/** A protobuf message under construction: field bytes appended in order. */
class Message {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  private tag(field: number, wireType: 0 | 2): void {
    this.push(varint(field * 8 + wireType));
  }

  string(field: number, value: unknown): this {
    if (typeof value !== 'string' || value === '') return this;
    const bytes = Buffer.from(value, 'utf8');
    this.tag(field, 2);
    this.push(varint(bytes.length));
    this.push(bytes);
    return this;
  }

  strings(field: number, values: unknown): this {
    if (Array.isArray(values)) for (const v of values) this.string(field, v);
    return this;
  }

  bool(field: number, value: unknown): this {
    if (value !== true) return this;
    this.tag(field, 0);
    this.push(varint(1));
    return this;
  }

  message(field: number, child: Message | undefined): this {
    if (child === undefined) return this;
    const bytes = child.bytes();
    this.tag(field, 2);
    this.push(varint(bytes.length));
    this.push(bytes);
    return this;
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.chunks, this.size);
  }
}

function varint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new ProtoEncodeError(`bad varint ${value}`);
  const out: number[] = [];
  let v = value;
  // At most 8 bytes for a safe integer.
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function asObject(value: unknown, what: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ProtoEncodeError(`${what} is not an object`);
  return value as Json;
}

/** NamedAny entries for the x-* keys of an object (field numbers vary per message). */
function vendorExtensions(msg: Message, field: number, obj: Json): void {
  for (const [key, value] of Object.entries(obj)) {
    if (!key.startsWith('x-')) continue;
    const any = new Message().string(2, JSON.stringify(value));
    msg.message(field, new Message().string(1, key).message(2, any));
  }
}

/** openapi.v2.Schema. */
function schema(s: Json, depth: number): Message {
  if (depth > 64) throw new ProtoEncodeError('schema nesting too deep');
  const m = new Message()
    .string(1, s.$ref)
    .string(2, s.format)
    .string(4, s.description)
    .strings(19, s.required);
  if (s.additionalProperties !== undefined) {
    const ap = s.additionalProperties;
    const item =
      typeof ap === 'boolean'
        ? new Message().bool(2, ap)
        : new Message().message(1, schema(asObject(ap, 'additionalProperties'), depth + 1));
    m.message(21, item);
  }
  if (typeof s.type === 'string') m.message(22, new Message().string(1, s.type));
  if (s.items !== undefined)
    m.message(23, new Message().message(1, schema(asObject(s.items, 'items'), depth + 1)));
  if (Array.isArray(s.allOf))
    for (const sub of s.allOf) m.message(24, schema(asObject(sub, 'allOf'), depth + 1));
  if (s.properties !== undefined) {
    const props = new Message();
    for (const [name, p] of Object.entries(asObject(s.properties, 'properties'))) {
      props.message(1, new Message().string(1, name).message(2, schema(asObject(p, name), depth + 1)));
    }
    m.message(25, props);
  }
  vendorExtensions(m, 31, s);
  return m;
}

/** openapi.v2.ParametersItem for a body, query or path parameter. */
function parameter(p: Json): Message {
  let param: Message;
  if (p.in === 'body') {
    const body = new Message().string(1, p.description).string(2, p.name).string(3, p.in).bool(4, p.required);
    body.message(5, schema(asObject(p.schema, 'body schema'), 0));
    param = new Message().message(1, body);
  } else if (p.in === 'query') {
    const q = new Message().bool(1, p.required).string(2, p.in).string(3, p.description).string(4, p.name);
    q.string(6, p.type).bool(20, p.uniqueItems);
    param = new Message().message(2, new Message().message(3, q));
  } else if (p.in === 'path') {
    const q = new Message().bool(1, p.required).string(2, p.in).string(3, p.description).string(4, p.name);
    q.string(5, p.type).bool(19, p.uniqueItems);
    param = new Message().message(2, new Message().message(4, q));
  } else throw new ProtoEncodeError(`unsupported parameter location ${String(p.in)}`);
  return new Message().message(1, param);
}

function operation(op: Json): Message {
  const m = new Message().strings(1, op.tags).string(3, op.description).string(5, op.operationId);
  m.strings(6, op.produces).strings(7, op.consumes);
  for (const p of (op.parameters as unknown[] | undefined) ?? [])
    m.message(8, parameter(asObject(p, 'parameter')));
  const responses = new Message();
  for (const [code, r] of Object.entries(asObject(op.responses ?? {}, 'responses'))) {
    const resp = asObject(r, `response ${code}`);
    const response = new Message().string(1, resp.description);
    if (resp.schema !== undefined)
      response.message(2, new Message().message(1, schema(asObject(resp.schema, 'response schema'), 0)));
    responses.message(1, new Message().string(1, code).message(2, new Message().message(1, response)));
  }
  m.message(9, responses).strings(10, op.schemes);
  vendorExtensions(m, 13, op);
  return m;
}

const METHOD_FIELDS: Record<string, number> = {
  get: 2,
  put: 3,
  post: 4,
  delete: 5,
  options: 6,
  head: 7,
  patch: 8,
};

function pathItem(item: Json): Message {
  const m = new Message();
  for (const [method, field] of Object.entries(METHOD_FIELDS)) {
    if (item[method] !== undefined) m.message(field, operation(asObject(item[method], method)));
  }
  for (const p of (item.parameters as unknown[] | undefined) ?? [])
    m.message(9, parameter(asObject(p, 'parameter')));
  return m;
}

/** Encodes a swagger 2.0 document (as buildOpenApiV2 makes it) as an openapi.v2.Document. */
export function encodeOpenApiV2Proto(doc: object): Uint8Array {
  const d = asObject(doc, 'document');
  if (d.swagger !== '2.0') throw new ProtoEncodeError('not a swagger 2.0 document');
  const info = asObject(d.info ?? {}, 'info');
  const out = new Message()
    .string(1, d.swagger)
    .message(2, new Message().string(1, info.title).string(2, info.version));
  const paths = new Message();
  for (const [path, item] of Object.entries(asObject(d.paths ?? {}, 'paths'))) {
    paths.message(2, new Message().string(1, path).message(2, pathItem(asObject(item, path))));
  }
  out.message(8, paths);
  const definitions = new Message();
  for (const [name, s] of Object.entries(asObject(d.definitions ?? {}, 'definitions'))) {
    definitions.message(1, new Message().string(1, name).message(2, schema(asObject(s, name), 0)));
  }
  out.message(9, definitions);
  for (const requirement of (d.security as unknown[] | undefined) ?? []) {
    const req = new Message();
    for (const [name, scopes] of Object.entries(asObject(requirement, 'security'))) {
      req.message(1, new Message().string(1, name).message(2, new Message().strings(1, scopes)));
    }
    out.message(12, req);
  }
  const securityDefinitions = new Message();
  for (const [name, def] of Object.entries(asObject(d.securityDefinitions ?? {}, 'securityDefinitions'))) {
    const s = asObject(def, name);
    const apiKey = new Message().string(1, s.type).string(2, s.name).string(3, s.in).string(4, s.description);
    securityDefinitions.message(
      1,
      new Message().string(1, name).message(2, new Message().message(2, apiKey)),
    );
  }
  out.message(13, securityDefinitions);
  return out.bytes();
}
