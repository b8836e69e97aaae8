// Builders for etcd requests with proto3 defaults filled in, the way @grpc/proto-loader decodes
// them (defaults: true). For tests and for internal callers that make requests of their own.
import type {
  Compare,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
  WatchCreateRequest,
} from '../api/types.js';
import { EMPTY_BUFFER } from './bytes.js';

type Bytes = Buffer | string;

function bytes(b: Bytes | undefined): Buffer {
  if (b === undefined) return EMPTY_BUFFER;
  return typeof b === 'string' ? Buffer.from(b) : b;
}

type WithBytes<T, K extends keyof T> = Omit<Partial<T>, K> & { [P in K]?: Bytes };

export function rangeRequest(r: WithBytes<RangeRequest, 'key' | 'range_end'>): RangeRequest {
  return {
    limit: 0,
    revision: 0,
    sort_order: 'NONE',
    sort_target: 'KEY',
    serializable: false,
    keys_only: false,
    count_only: false,
    min_mod_revision: 0,
    max_mod_revision: 0,
    min_create_revision: 0,
    max_create_revision: 0,
    ...r,
    key: bytes(r.key),
    range_end: bytes(r.range_end),
  };
}

export function putRequest(r: WithBytes<PutRequest, 'key' | 'value'>): PutRequest {
  return {
    lease: 0,
    prev_kv: false,
    ignore_value: false,
    ignore_lease: false,
    ...r,
    key: bytes(r.key),
    value: bytes(r.value),
  };
}

export function deleteRangeRequest(
  r: WithBytes<DeleteRangeRequest, 'key' | 'range_end'>,
): DeleteRangeRequest {
  return { prev_kv: false, ...r, key: bytes(r.key), range_end: bytes(r.range_end) };
}

export function txnRequest(r: Partial<TxnRequest>): TxnRequest {
  return { compare: [], success: [], failure: [], ...r };
}

/** A compare whose target_union matches its target, as a gRPC client sends it. */
export function compare(
  key: Bytes,
  target: Compare['target'],
  result: Compare['result'],
  operand: number | Bytes,
  rangeEnd?: Bytes,
): Compare {
  const base = { key: bytes(key), target, result, range_end: bytes(rangeEnd) };
  switch (target) {
    case 'VALUE':
      return { ...base, target_union: 'value', value: bytes(operand as Bytes) };
    case 'VERSION':
      return { ...base, target_union: 'version', version: operand as number };
    case 'CREATE':
      return { ...base, target_union: 'create_revision', create_revision: operand as number };
    case 'MOD':
      return { ...base, target_union: 'mod_revision', mod_revision: operand as number };
    case 'LEASE':
      return { ...base, target_union: 'lease', lease: operand as number };
  }
}

export const op = {
  range: (r: RangeRequest): RequestOp => ({ request: 'request_range', request_range: r }),
  put: (r: PutRequest): RequestOp => ({ request: 'request_put', request_put: r }),
  del: (r: DeleteRangeRequest): RequestOp => ({ request: 'request_delete_range', request_delete_range: r }),
  txn: (r: TxnRequest): RequestOp => ({ request: 'request_txn', request_txn: r }),
};

export function watchCreateRequest(
  r: WithBytes<WatchCreateRequest, 'key' | 'range_end'>,
): WatchCreateRequest {
  return {
    start_revision: 0,
    progress_notify: false,
    filters: [],
    prev_kv: false,
    watch_id: 0,
    fragment: false,
    ...r,
    key: bytes(r.key),
    range_end: bytes(r.range_end),
  };
}
