// Kubernetes protobuf → the JSON value Kubernetes' own JSON encoding would have produced, driven by the
// schema generated from generated.proto (protobuf-schema.ts).
//
// Zero values. Kubernetes' gogo marshaller writes every non-pointer scalar even when it is zero ("", 0,
// false) and a pointer only when it is set. JSON instead omits those zeros (omitempty), and Kubernetes'
// defaulting treats a non-pointer zero exactly like an absent field. So a zero scalar is dropped unless the
// field is marked keepZero (a Go pointer, from scripts/proto/go-overrides.json): `replicas: 0` on a
// Deployment survives, `hostNetwork: false` does not. A zero IntOrString (a non-pointer targetPort of 0) is
// dropped too, because Kubernetes defaults it exactly as if it were absent. Nested messages are always kept
// (a struct is never omitted by encoding/json), repeated fields and maps keep every element, and a zero
// Time (which Kubernetes writes as an empty message) is absent, as JSON's null would be.
import type { ProtoField, ProtoMessage, ProtoSchema } from './protobuf-schema.js';
import { ProtobufWireError, toInt32, toInt64, WireReader, WireType } from './protobuf-wire.js';

const meta = 'k8s.io.apimachinery.pkg.apis.meta.v1.';
const timeMessages = new Set([`${meta}Time`, `${meta}Timestamp`]);
const microTimeMessage = `${meta}MicroTime`;
const durationMessage = `${meta}Duration`;
const fieldsV1Message = `${meta}FieldsV1`;
const deleteOptionsMessage = `${meta}DeleteOptions`;
const quantityMessage = 'k8s.io.apimachinery.pkg.api.resource.Quantity';
const intOrStringMessage = 'k8s.io.apimachinery.pkg.util.intstr.IntOrString';
const rawExtensionMessage = 'k8s.io.apimachinery.pkg.runtime.RawExtension';

/** Deployment → template → spec → containers → probe → handler → httpGet → port is ~10 deep; 64 is generous. */
export const depthMax = 64;
/** Bounds the work and memory one body can cause: a 3 MiB body of empty messages is ~1.5M values. */
export const valuesMax = 1_000_000;

export const envelopeMagic = Uint8Array.from([0x6b, 0x38, 0x73, 0x00]);

/** Go's time.Time range that RFC 3339 can carry: 0001-01-01 to 9999-12-31. */
const goZeroTimeSeconds = -62135596800;
const timeSecondsMax = 253402300799;

export class UnknownKindError extends Error {
  readonly code = 'PROTOBUF_UNKNOWN_KIND';
  constructor(
    readonly apiVersion: string,
    readonly kind: string,
  ) {
    super(`no kind "${kind}" is registered for version "${apiVersion}"`);
    this.name = 'UnknownKindError';
  }
}

export class ProtoSchemaAssertionError extends Error {
  readonly code = 'PROTO_SCHEMA_ASSERTION';
  constructor(message: string) {
    super(message);
    this.name = 'ProtoSchemaAssertionError';
  }
}

export interface DecodeContext {
  schema: ProtoSchema;
  /** Values decoded so far; bounded by valuesMax. */
  values: number;
}

export function newContext(schema: ProtoSchema): DecodeContext {
  return { schema, values: 0 };
}

/** Own property even for "__proto__" (label keys are user data). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function spend(ctx: DecodeContext): void {
  ctx.values++;
  if (ctx.values > valuesMax) throw new ProtobufWireError(`more than ${valuesMax} values in one body`);
}

function wrongWire(field: string, type: string, wireType: number): ProtobufWireError {
  return new ProtobufWireError(`field ${field}: wire type ${wireType} does not carry a ${type}`);
}

/** Reads one scalar of proto type `type` that arrived with `wireType`. */
export function readScalar(r: WireReader, type: string, wireType: number, name: string): unknown {
  const need = (w: number): void => {
    if (wireType !== w) throw wrongWire(name, type, wireType);
  };
  switch (type) {
    case 'string':
      need(WireType.bytes);
      return Buffer.from(r.bytes()).toString('utf8');
    case 'bytes':
      need(WireType.bytes);
      return Buffer.from(r.bytes()).toString('base64');
    case 'bool':
      need(WireType.varint);
      return r.varint() !== 0n;
    case 'int32':
    case 'enum':
      need(WireType.varint);
      return toInt32(r.varint());
    case 'uint32':
      need(WireType.varint);
      return Number(BigInt.asUintN(32, r.varint()));
    case 'sint32':
    case 'sint64': {
      need(WireType.varint);
      const v = r.varint();
      return toInt64((v >> 1n) ^ -(v & 1n), true);
    }
    case 'int64':
      need(WireType.varint);
      return toInt64(r.varint(), true);
    case 'uint64':
      need(WireType.varint);
      return toInt64(r.varint(), false);
    case 'fixed32':
      need(WireType.fixed32);
      return r.fixed32().getUint32(0, true);
    case 'sfixed32':
      need(WireType.fixed32);
      return r.fixed32().getInt32(0, true);
    case 'float':
      need(WireType.fixed32);
      return r.fixed32().getFloat32(0, true);
    case 'fixed64':
      need(WireType.fixed64);
      return toInt64(r.fixed64().getBigUint64(0, true), false);
    case 'sfixed64':
      need(WireType.fixed64);
      return toInt64(BigInt.asUintN(64, r.fixed64().getBigInt64(0, true)), true);
    case 'double':
      need(WireType.fixed64);
      return r.fixed64().getFloat64(0, true);
    default:
      throw new ProtoSchemaAssertionError(`field ${name}: unknown scalar type ${type}`);
  }
}

const packable = new Set(['bool', 'int32', 'enum', 'uint32', 'sint32', 'sint64', 'int64', 'uint64']);
const fixedWire: Record<string, number> = {
  fixed32: WireType.fixed32,
  sfixed32: WireType.fixed32,
  float: WireType.fixed32,
  fixed64: WireType.fixed64,
  sfixed64: WireType.fixed64,
  double: WireType.fixed64,
};

/** Every element of a repeated scalar field, packed (one length-delimited run) or not. */
function readRepeatedScalar(
  ctx: DecodeContext,
  r: WireReader,
  field: ProtoField,
  wireType: number,
): unknown[] {
  const elementWire = fixedWire[field.type] ?? (packable.has(field.type) ? WireType.varint : undefined);
  if (wireType !== WireType.bytes || elementWire === undefined) {
    return [readScalar(r, field.type, wireType, field.name)];
  }
  const run = new WireReader(r.bytes());
  const out: unknown[] = [];
  while (!run.done()) {
    spend(ctx);
    out.push(readScalar(run, field.type, elementWire, field.name));
  }
  return out;
}

function readMapEntry(
  ctx: DecodeContext,
  bytes: Uint8Array,
  field: ProtoField,
  depth: number,
): [string, unknown] {
  const r = new WireReader(bytes);
  let key: unknown;
  let value: unknown;
  while (!r.done()) {
    spend(ctx);
    const tag = r.tag();
    if (tag.fieldNumber === 1) key = readScalar(r, field.key ?? 'string', tag.wireType, `${field.name}.key`);
    else if (tag.fieldNumber === 2 && field.value === 'message') {
      if (tag.wireType !== WireType.bytes) throw wrongWire(`${field.name}.value`, 'message', tag.wireType);
      value = decodeValue(ctx, field.valueMessage ?? '', r.bytes(), depth + 1);
    } else if (tag.fieldNumber === 2) {
      value = readScalar(r, field.value ?? 'string', tag.wireType, `${field.name}.value`);
    } else r.skip(tag.wireType);
  }
  return [String(key ?? ''), value ?? zeroOfMapValue(ctx, field, depth)];
}

/** An entry without a value carries the type's zero, as Go's map would hold. */
function zeroOfMapValue(ctx: DecodeContext, field: ProtoField, depth: number): unknown {
  if (field.value === 'message')
    return decodeValue(ctx, field.valueMessage ?? '', new Uint8Array(0), depth + 1) ?? null;
  if (field.value === 'string' || field.value === 'bytes') return '';
  return field.value === 'bool' ? false : 0;
}

function readField(
  ctx: DecodeContext,
  r: WireReader,
  field: ProtoField,
  wireType: number,
  out: Record<string, unknown>,
  depth: number,
): void {
  if (field.type === 'map') {
    if (wireType !== WireType.bytes) throw wrongWire(field.name, 'map entry', wireType);
    const [k, v] = readMapEntry(ctx, r.bytes(), field, depth);
    const map = isPlainObject(out[field.name]) ? (out[field.name] as Record<string, unknown>) : {};
    setOwn(map, k, v);
    out[field.name] = map;
    return;
  }
  if (field.type === 'message') {
    if (wireType !== WireType.bytes) throw wrongWire(field.name, 'message', wireType);
    const value = decodeValue(ctx, field.message ?? '', r.bytes(), depth + 1);
    if (field.repeated) {
      out[field.name] = [...((out[field.name] as unknown[] | undefined) ?? []), value ?? null];
    } else if (isPlainObject(value) && isPlainObject(out[field.name])) {
      // A singular message seen twice is merged, as protobuf specifies.
      Object.assign(out[field.name] as object, value);
    } else if (value !== undefined) out[field.name] = value;
    return;
  }
  if (field.repeated) {
    const prior = (out[field.name] as unknown[] | undefined) ?? [];
    out[field.name] = [...prior, ...readRepeatedScalar(ctx, r, field, wireType)];
    return;
  }
  out[field.name] = readScalar(r, field.type, wireType, field.name);
}

function isDroppableZero(field: ProtoField, value: unknown): boolean {
  if (field.keepZero === true || field.repeated === true || field.type === 'map') return false;
  if (field.type === 'message') return field.message === intOrStringMessage && (value === 0 || value === '');
  return value === '' || value === 0 || value === false;
}

/** Drops the zeros JSON would have omitted and flattens inline (embedded) structs into their parent. */
function finish(message: ProtoMessage, out: Record<string, unknown>): Record<string, unknown> {
  for (const field of Object.values(message.fields)) {
    const value = out[field.name];
    if (value === undefined) continue;
    if (isDroppableZero(field, value)) {
      delete out[field.name];
    } else if (field.inline === true && isPlainObject(value)) {
      delete out[field.name];
      for (const [k, v] of Object.entries(value)) setOwn(out, k, v);
    }
  }
  return out;
}

function decodeFields(ctx: DecodeContext, message: ProtoMessage, bytes: Uint8Array, depth: number) {
  const out: Record<string, unknown> = {};
  const r = new WireReader(bytes);
  while (!r.done()) {
    spend(ctx);
    const tag = r.tag();
    const field = message.fields[tag.fieldNumber];
    if (field === undefined) r.skip(tag.wireType);
    else readField(ctx, r, field, tag.wireType, out, depth);
  }
  return finish(message, out);
}

/** The fields of a small well-known message by number, for the special types below. */
function readNumbered(
  ctx: DecodeContext,
  bytes: Uint8Array,
  types: Record<number, string>,
): Map<number, unknown> {
  const out = new Map<number, unknown>();
  const r = new WireReader(bytes);
  while (!r.done()) {
    spend(ctx);
    const tag = r.tag();
    const type = types[tag.fieldNumber];
    if (type === undefined) r.skip(tag.wireType);
    else out.set(tag.fieldNumber, readScalar(r, type, tag.wireType, `#${tag.fieldNumber}`));
  }
  return out;
}

/** metav1.Time as RFC 3339 in UTC; Kubernetes' Time keeps whole seconds, MicroTime keeps microseconds. */
export function formatTime(seconds: number, nanos: number, micro: boolean): string | undefined {
  if (seconds === goZeroTimeSeconds && nanos === 0) return undefined;
  if (seconds < goZeroTimeSeconds || seconds > timeSecondsMax || nanos < 0 || nanos > 999_999_999) {
    throw new ProtobufWireError(`time ${seconds}s ${nanos}ns is outside the range RFC 3339 can carry`);
  }
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (!micro) return `${base}Z`;
  return `${base}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`;
}

/** Digits after the point of v / 10^prec with trailing zeros removed, as Go's fmtFrac does. */
function fracDigits(v: bigint, prec: number): { frac: string; whole: bigint } {
  let digits = '';
  let rest = v;
  let printed = false;
  for (let i = 0; i < prec; i++) {
    const digit = rest % 10n;
    printed = printed || digit !== 0n;
    if (printed) digits = `${digit}${digits}`;
    rest /= 10n;
  }
  return { frac: printed ? `.${digits}` : '', whole: rest };
}

/** Go's time.Duration.String(): "1h0m0s", "1.5s", "100ms", "0s". */
export function formatDuration(nanoseconds: bigint): string {
  if (nanoseconds === 0n) return '0s';
  const sign = nanoseconds < 0n ? '-' : '';
  const u = nanoseconds < 0n ? -nanoseconds : nanoseconds;
  if (u < 1_000_000_000n) {
    if (u < 1000n) return `${sign}${u}ns`;
    const [prec, unit] = u < 1_000_000n ? [3, 'µs'] : [6, 'ms'];
    const { frac, whole } = fracDigits(u, prec);
    return `${sign}${whole}${frac}${unit}`;
  }
  const { frac, whole: secondsTotal } = fracDigits(u, 9);
  let out = `${secondsTotal % 60n}${frac}s`;
  const minutesTotal = secondsTotal / 60n;
  if (minutesTotal > 0n) {
    out = `${minutesTotal % 60n}m${out}`;
    const hours = minutesTotal / 60n;
    if (hours > 0n) out = `${hours}h${out}`;
  }
  return `${sign}${out}`;
}

function startsWithMagic(bytes: Uint8Array): boolean {
  return bytes.length >= envelopeMagic.length && envelopeMagic.every((b, i) => bytes[i] === b);
}

function parseJsonBytes(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ProtobufWireError(`${what} does not hold valid JSON`);
  }
}

/** RawExtension holds JSON or, from protobuf clients, a nested k8s-envelope object. */
function decodeRawExtension(ctx: DecodeContext, bytes: Uint8Array, depth: number): unknown {
  const raw = readNumberedBytes(bytes);
  if (raw === undefined || raw.length === 0) return undefined;
  if (startsWithMagic(raw)) return decodeEnvelopeObject(ctx, raw, depth + 1);
  return parseJsonBytes(raw, 'RawExtension');
}

function readNumberedBytes(bytes: Uint8Array): Uint8Array | undefined {
  const r = new WireReader(bytes);
  let raw: Uint8Array | undefined;
  while (!r.done()) {
    const tag = r.tag();
    if (tag.fieldNumber === 1 && tag.wireType === WireType.bytes) raw = r.bytes();
    else r.skip(tag.wireType);
  }
  return raw;
}

function decodeSpecial(ctx: DecodeContext, name: string, bytes: Uint8Array, depth: number): unknown {
  if (timeMessages.has(name) || name === microTimeMessage) {
    if (bytes.length === 0) return undefined;
    const t = readNumbered(ctx, bytes, { 1: 'int64', 2: 'int32' });
    return formatTime(Number(t.get(1) ?? 0), Number(t.get(2) ?? 0), name === microTimeMessage);
  }
  if (name === durationMessage) {
    const d = readNumbered(ctx, bytes, { 1: 'int64' });
    return formatDuration(BigInt(Number(d.get(1) ?? 0)));
  }
  if (name === quantityMessage) {
    const q = readNumbered(ctx, bytes, { 1: 'string' });
    const s = q.get(1);
    return typeof s === 'string' && s !== '' ? s : '0';
  }
  if (name === intOrStringMessage) {
    const v = readNumbered(ctx, bytes, { 1: 'int64', 2: 'int32', 3: 'string' });
    return v.get(1) === 1 ? (v.get(3) ?? '') : (v.get(2) ?? 0);
  }
  if (name === rawExtensionMessage) return decodeRawExtension(ctx, bytes, depth);
  if (name === fieldsV1Message) {
    const raw = readNumberedBytes(bytes);
    return raw === undefined || raw.length === 0 ? undefined : parseJsonBytes(raw, 'FieldsV1');
  }
  return noSpecial;
}

const noSpecial = Symbol('noSpecial');

/** Decodes the message `name`; undefined means "absent" (a zero Time, an empty RawExtension). */
export function decodeValue(ctx: DecodeContext, name: string, bytes: Uint8Array, depth: number): unknown {
  if (depth > depthMax) throw new ProtobufWireError(`messages nested deeper than ${depthMax}`);
  const special = decodeSpecial(ctx, name, bytes, depth);
  if (special !== noSpecial) return special;
  const message = ctx.schema.messages[name];
  if (message === undefined) throw new ProtoSchemaAssertionError(`the proto schema has no message ${name}`);
  const obj = decodeFields(ctx, message, bytes, depth);
  return message.list === true ? ((obj.items as unknown[] | undefined) ?? []) : obj;
}

export interface Envelope {
  apiVersion: string;
  kind: string;
  raw: Uint8Array;
  contentEncoding: string;
  contentType: string;
}

/** runtime.Unknown after the "k8s\0" magic: {typeMeta{apiVersion=1, kind=2}=1, raw=2, contentEncoding=3, contentType=4}. */
export function readEnvelope(ctx: DecodeContext, body: Uint8Array): Envelope {
  if (!startsWithMagic(body)) throw new ProtobufWireError('missing the k8s envelope prefix');
  const fields = readNumbered(ctx, body.subarray(envelopeMagic.length), {
    1: 'bytes',
    2: 'bytes',
    3: 'string',
    4: 'string',
  });
  const typeMeta = readNumbered(ctx, Buffer.from(String(fields.get(1) ?? ''), 'base64'), {
    1: 'string',
    2: 'string',
  });
  return {
    apiVersion: String(typeMeta.get(1) ?? ''),
    kind: String(typeMeta.get(2) ?? ''),
    raw: Buffer.from(String(fields.get(2) ?? ''), 'base64'),
    contentEncoding: String(fields.get(3) ?? ''),
    contentType: String(fields.get(4) ?? ''),
  };
}

/** The message a kind's body is, or undefined; DeleteOptions is registered in every group version. */
export function messageForKind(schema: ProtoSchema, apiVersion: string, kind: string): string | undefined {
  if (kind === 'DeleteOptions') return deleteOptionsMessage;
  return schema.kinds[`${apiVersion}/${kind}`];
}

/** The envelope's object as JSON would have carried it, apiVersion and kind first. */
export function decodeEnvelopeObject(
  ctx: DecodeContext,
  body: Uint8Array,
  depth: number,
): Record<string, unknown> {
  const env = readEnvelope(ctx, body);
  if (env.contentEncoding !== '')
    throw new ProtobufWireError(`unsupported content encoding "${env.contentEncoding}"`);
  if (env.contentType === 'application/json') {
    const doc = parseJsonBytes(env.raw, 'the raw object');
    if (!isPlainObject(doc)) throw new ProtobufWireError('the raw JSON object is not an object');
    return doc;
  }
  if (env.contentType !== '' && env.contentType !== 'application/vnd.kubernetes.protobuf') {
    throw new ProtobufWireError(`unsupported content type "${env.contentType}"`);
  }
  const name = messageForKind(ctx.schema, env.apiVersion, env.kind);
  if (name === undefined) throw new UnknownKindError(env.apiVersion, env.kind);
  const decoded = decodeValue(ctx, name, env.raw, depth) as Record<string, unknown>;
  return { apiVersion: env.apiVersion, kind: env.kind, ...decoded };
}
