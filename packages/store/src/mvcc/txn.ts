// Txn pieces that do not touch the store: evaluating compares (etcd's applyCompare/compareKV) and
// choosing the branch of every nested txn up front against the pre-txn state (compareToPath).
import type { Compare, KeyValue, RequestOp, TxnRequest } from '../api/types.js';
import { type KeySpan, toSpan } from './bytes.js';

/** Live key-values in a span, in key order, as of the txn's start. */
export type SpanReader = (span: KeySpan) => KeyValue[];

/** The branch taken by a txn and, in order, by each nested txn of that branch. */
export interface TxnPath {
  readonly succeeded: boolean;
  readonly nested: readonly TxnPath[];
}

export type OpKind = 'range' | 'put' | 'delete' | 'txn' | 'empty';

/** Which member of the RequestOp oneof is set (the oneof name, or the first non-null field). */
export function opKind(op: RequestOp): OpKind {
  switch (op.request) {
    case 'request_range':
      return 'range';
    case 'request_put':
      return 'put';
    case 'request_delete_range':
      return 'delete';
    case 'request_txn':
      return 'txn';
  }
  if (op.request_range) return 'range';
  if (op.request_put) return 'put';
  if (op.request_delete_range) return 'delete';
  if (op.request_txn) return 'txn';
  return 'empty';
}

export function takenOps(req: TxnRequest, path: TxnPath): readonly RequestOp[] {
  return path.succeeded ? req.success : req.failure;
}

/** Evaluates every compare, and nested txns of the taken branch, all against the same view. */
export function computeTxnPath(req: TxnRequest, read: SpanReader): TxnPath {
  const succeeded = req.compare.every((c) => evalCompare(c, read));
  const nested: TxnPath[] = [];
  for (const op of succeeded ? req.success : req.failure) {
    if (opKind(op) === 'txn' && op.request_txn) nested.push(computeTxnPath(op.request_txn, read));
  }
  return { succeeded, nested };
}

/** etcd's applyCompare: every key in the range must satisfy; a missing key compares as zero values. */
export function evalCompare(c: Compare, read: SpanReader): boolean {
  const kvs = read(toSpan(c.key, c.range_end));
  if (kvs.length === 0) {
    // A missing key has no value to compare: gRPC cannot tell an empty value from no value.
    if (c.target === 'VALUE') return false;
    return compareKv(c, null);
  }
  return kvs.every((kv) => compareKv(c, kv));
}

function compareKv(c: Compare, kv: KeyValue | null): boolean {
  const result = targetOrder(c, kv);
  switch (c.result) {
    case 'EQUAL':
      return result === 0;
    case 'NOT_EQUAL':
      return result !== 0;
    case 'GREATER':
      return result > 0;
    case 'LESS':
      return result < 0;
  }
}

function targetOrder(c: Compare, kv: KeyValue | null): number {
  switch (c.target) {
    case 'VALUE':
      return Buffer.compare(kv?.value ?? Buffer.alloc(0), unionValue(c, 'value') ?? Buffer.alloc(0));
    case 'CREATE':
      return Math.sign((kv?.create_revision ?? 0) - (unionValue(c, 'create_revision') ?? 0));
    case 'MOD':
      return Math.sign((kv?.mod_revision ?? 0) - (unionValue(c, 'mod_revision') ?? 0));
    case 'VERSION':
      return Math.sign((kv?.version ?? 0) - (unionValue(c, 'version') ?? 0));
    case 'LEASE':
      return Math.sign((kv?.lease ?? 0) - (unionValue(c, 'lease') ?? 0));
  }
}

type UnionField = 'version' | 'create_revision' | 'mod_revision' | 'value' | 'lease';

// etcd reads the target value only if the oneof holds the field matching the target; a mismatched
// oneof compares against zero. Requests built by hand may leave target_union unset.
function unionValue<F extends UnionField>(c: Compare, field: F): Compare[F] | undefined {
  if (c.target_union !== undefined && c.target_union !== field) return undefined;
  const v = c[field];
  return v === null ? undefined : v;
}
