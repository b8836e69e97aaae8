// Request building for EtcdClient: option types, the wire-shaped requests they turn into, and builders
// for txn comparisons and operations. Keys and values are strings (UTF-8) or Buffers.

export type Bytes = string | Buffer;
/** A lease or member id: a decimal string (ids use all 64 bits) or a number below 2^53. */
export type Id = string | number;

export type SortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';
export type SortOrder = 'NONE' | 'ASCEND' | 'DESCEND';

export interface GetOptions {
  /** All keys starting with key. */
  prefix?: boolean;
  /** All keys >= key. */
  fromKey?: boolean;
  /** The range [key, rangeEnd). */
  rangeEnd?: Bytes;
  revision?: number;
  limit?: number;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  sort?: { target: SortTarget; order: SortOrder };
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface PutOptions {
  lease?: Id;
  prevKv?: boolean;
  ignoreValue?: boolean;
  ignoreLease?: boolean;
}

export interface DeleteOptions {
  prefix?: boolean;
  fromKey?: boolean;
  rangeEnd?: Bytes;
  prevKv?: boolean;
}

export interface WatchOptions {
  prefix?: boolean;
  fromKey?: boolean;
  rangeEnd?: Bytes;
  startRevision?: number;
  prevKv?: boolean;
  progressNotify?: boolean;
  filters?: ('NOPUT' | 'NODELETE')[];
  /** Called once if the stream fails (server gone, stream reset); the watch is over then. */
  onError?: (e: Error & { code: number; details: string }) => void;
}

/** Wire-shaped requests (snake_case, as in rpc.proto); what get/put/delete build and txn ops carry. */
// biome-ignore lint/suspicious/noExplicitAny: protobufjs accepts loosely typed plain objects
export type WireRequest = Record<string, any>;

export interface Compare {
  key: Buffer;
  range_end?: Buffer;
  result: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
  target: 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';
  version?: number;
  create_revision?: number;
  mod_revision?: number;
  value?: Buffer;
  lease?: Id;
}

export type RequestOp =
  | { request_range: WireRequest }
  | { request_put: WireRequest }
  | { request_delete_range: WireRequest }
  | { request_txn: WireRequest };

export interface TxnSpec {
  compare?: Compare[];
  success?: RequestOp[];
  failure?: RequestOp[];
}

type CompareOp = '=' | '!=' | '>' | '<';
const compareResults: Record<CompareOp, Compare['result']> = {
  '=': 'EQUAL',
  '!=': 'NOT_EQUAL',
  '>': 'GREATER',
  '<': 'LESS',
};

/** Builders for txn comparisons, e.g. `cmp.modRevision('a', '=', 0)` ("a does not exist"). */
export const cmp = {
  value: (key: Bytes, op: CompareOp, value: Bytes): Compare => ({
    key: bytes(key),
    result: compareResults[op],
    target: 'VALUE',
    value: bytes(value),
  }),
  version: (key: Bytes, op: CompareOp, version: number): Compare => ({
    key: bytes(key),
    result: compareResults[op],
    target: 'VERSION',
    version,
  }),
  createRevision: (key: Bytes, op: CompareOp, revision: number): Compare => ({
    key: bytes(key),
    result: compareResults[op],
    target: 'CREATE',
    create_revision: revision,
  }),
  modRevision: (key: Bytes, op: CompareOp, revision: number): Compare => ({
    key: bytes(key),
    result: compareResults[op],
    target: 'MOD',
    mod_revision: revision,
  }),
  lease: (key: Bytes, op: CompareOp, lease: Id): Compare => ({
    key: bytes(key),
    result: compareResults[op],
    target: 'LEASE',
    lease,
  }),
};

/** Builders for txn operations. */
export const op = {
  get: (key: Bytes, opts: GetOptions = {}): RequestOp => ({ request_range: rangeRequest(key, opts) }),
  put: (key: Bytes, value: Bytes, opts: PutOptions = {}): RequestOp => ({
    request_put: putRequest(key, value, opts),
  }),
  delete: (key: Bytes, opts: DeleteOptions = {}): RequestOp => ({
    request_delete_range: deleteRequest(key, opts),
  }),
  txn: (spec: TxnSpec): RequestOp => ({ request_txn: txnRequest(spec) }),
};

export function bytes(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b) : b;
}

/** The smallest key greater than every key with this prefix; "\0" (all keys from key) if there is none. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0xff) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export function rangeEndOf(
  key: Buffer,
  opts: { prefix?: boolean; fromKey?: boolean; rangeEnd?: Bytes },
): Buffer {
  if (opts.rangeEnd !== undefined) return bytes(opts.rangeEnd);
  if (opts.prefix) return key.length === 0 ? Buffer.from([0]) : prefixEnd(key);
  if (opts.fromKey) return Buffer.from([0]);
  return Buffer.alloc(0);
}

export function rangeRequest(key: Bytes, opts: GetOptions): WireRequest {
  const k = bytes(key);
  // etcd reads an empty key with a range end as "from the first key".
  const keyOnWire = k.length === 0 && (opts.prefix || opts.fromKey) ? Buffer.from([0]) : k;
  return {
    key: keyOnWire,
    range_end: rangeEndOf(k, opts),
    limit: opts.limit ?? 0,
    revision: opts.revision ?? 0,
    sort_order: opts.sort?.order ?? 'NONE',
    sort_target: opts.sort?.target ?? 'KEY',
    serializable: opts.serializable ?? false,
    keys_only: opts.keysOnly ?? false,
    count_only: opts.countOnly ?? false,
    min_mod_revision: opts.minModRevision ?? 0,
    max_mod_revision: opts.maxModRevision ?? 0,
    min_create_revision: opts.minCreateRevision ?? 0,
    max_create_revision: opts.maxCreateRevision ?? 0,
  };
}

export function putRequest(key: Bytes, value: Bytes, opts: PutOptions): WireRequest {
  return {
    key: bytes(key),
    value: bytes(value),
    lease: opts.lease ?? 0,
    prev_kv: opts.prevKv ?? false,
    ignore_value: opts.ignoreValue ?? false,
    ignore_lease: opts.ignoreLease ?? false,
  };
}

export function deleteRequest(key: Bytes, opts: DeleteOptions): WireRequest {
  const k = bytes(key);
  const keyOnWire = k.length === 0 && (opts.prefix || opts.fromKey) ? Buffer.from([0]) : k;
  return { key: keyOnWire, range_end: rangeEndOf(k, opts), prev_kv: opts.prevKv ?? false };
}

export function txnRequest(spec: TxnSpec): WireRequest {
  return { compare: spec.compare ?? [], success: spec.success ?? [], failure: spec.failure ?? [] };
}

/**
 * A copy of a request without zero-length bytes fields. protobufjs encodes a set but empty bytes field,
 * and etcd (Go) then sees a non-nil empty slice: an empty range_end turns "this key" into "every key from
 * this key on" for Range and DeleteRange. Leaving empty fields out makes them nil, as Go clients send.
 */
export function withoutEmptyBytes<V>(value: V): V {
  if (Buffer.isBuffer(value) || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => withoutEmptyBytes(v)) as V;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (Buffer.isBuffer(v) && v.length === 0) continue;
    out[k] = withoutEmptyBytes(v);
  }
  return out as V;
}
