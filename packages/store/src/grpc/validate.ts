// The request checks etcd's gRPC layer makes before a request reaches the server (etcd's
// api/v3rpc/key.go), so that bad input fails with etcd's errors whatever the backend does. The
// duplicate-key check of txn requests is left to the backend, which knows its intervals.
import type * as T from '../api/types.js';
import { EtcdError } from '../errors.js';

/** etcd's default --max-txn-ops. */
export const maxTxnOpsDefault = 128;

export function checkRangeRequest(req: T.RangeRequest): void {
  if (req.key.length === 0) throw new EtcdError('EmptyKey');
}

export function checkPutRequest(req: T.PutRequest): void {
  if (req.key.length === 0) throw new EtcdError('EmptyKey');
  if (req.ignore_value && req.value.length !== 0) throw new EtcdError('ValueProvided');
  if (req.ignore_lease && req.lease !== 0) throw new EtcdError('LeaseProvided');
}

export function checkDeleteRequest(req: T.DeleteRangeRequest): void {
  if (req.key.length === 0) throw new EtcdError('EmptyKey');
}

/**
 * Checks a txn and its nested txns. Like etcd, a nested txn gets the budget its parent left over, which
 * also bounds the nesting depth.
 */
export function checkTxnRequest(req: T.TxnRequest, maxTxnOps: number): void {
  const opCount = Math.max(req.compare.length, req.success.length, req.failure.length);
  if (opCount > maxTxnOps) throw new EtcdError('TooManyOps');
  for (const c of req.compare) {
    if (c.key.length === 0) throw new EtcdError('EmptyKey');
  }
  for (const op of req.success) checkRequestOp(op, maxTxnOps - opCount);
  for (const op of req.failure) checkRequestOp(op, maxTxnOps - opCount);
}

function checkRequestOp(op: T.RequestOp, maxTxnOps: number): void {
  if (op.request_range) checkRangeRequest(op.request_range);
  else if (op.request_put) checkPutRequest(op.request_put);
  else if (op.request_delete_range) checkDeleteRequest(op.request_delete_range);
  else if (op.request_txn) checkTxnRequest(op.request_txn, maxTxnOps);
}
