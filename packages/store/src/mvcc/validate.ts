// Request checks done before proposing, as etcd's v3rpc/key.go does them (checkRangeRequest,
// checkPutRequest, checkDeleteRequest, checkTxnRequest, checkIntervals). Pure; throws EtcdError.
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../api/types.js';
import { EtcdError } from '../errors.js';
import { opKind } from './txn.js';

/** etcd's default --max-txn-ops. */
export const TXN_OPS_MAX_DEFAULT = 128;

export function validateRange(req: RangeRequest): void {
  if (req.key.length === 0) throw new EtcdError('EmptyKey');
}

export function validatePut(req: PutRequest): void {
  if (req.key.length === 0) throw new EtcdError('EmptyKey');
  if (req.ignore_value && req.value.length !== 0) throw new EtcdError('ValueProvided');
  if (req.ignore_lease && req.lease !== 0) throw new EtcdError('LeaseProvided');
}

export function validateDeleteRange(req: DeleteRangeRequest): void {
  if (req.key.length === 0) throw new EtcdError('EmptyKey');
}

export function validateTxn(req: TxnRequest, maxTxnOps: number = TXN_OPS_MAX_DEFAULT): void {
  checkTxnRequest(req, maxTxnOps);
  // Overlap checks come after the cheap checks to avoid quadratic work on oversized requests.
  checkIntervals(req.success);
  checkIntervals(req.failure);
}

// A nested txn's budget is what its parent leaves: maxTxnOps minus the parent's widest list.
function checkTxnRequest(req: TxnRequest, maxTxnOps: number): void {
  const opc = Math.max(req.compare.length, req.success.length, req.failure.length);
  if (opc > maxTxnOps) throw new EtcdError('TooManyOps');
  for (const c of req.compare) if (c.key.length === 0) throw new EtcdError('EmptyKey');
  for (const op of req.success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of req.failure) checkRequestOp(op, maxTxnOps - opc);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  switch (opKind(op)) {
    case 'range':
      validateRange(op.request_range as RangeRequest);
      return;
    case 'put':
      validatePut(op.request_put as PutRequest);
      return;
    case 'delete':
      validateDeleteRange(op.request_delete_range as DeleteRangeRequest);
      return;
    case 'txn':
      checkTxnRequest(op.request_txn as TxnRequest, maxTxnOps);
      return;
    case 'empty':
      // etcd answers an empty RequestOp with "key not found".
      throw new EtcdError('KeyNotFound');
  }
}

/**
 * etcd's adt "affine" string interval [begin, end): an empty end is +infinity. A delete's range_end
 * is taken literally, so a from-key delete ("\0") is an empty interval and never conflicts, which
 * is what etcd 3.4 does.
 */
interface Interval {
  readonly begin: string;
  readonly end: string;
}

function pointOf(key: string): Interval {
  return { begin: key, end: `${key}\u0000` };
}

function affineLess(a: string, b: string): boolean {
  if (a.length === 0) return false;
  if (b.length === 0) return true;
  return a < b;
}

function intersectsPoint(dels: readonly Interval[], key: string): boolean {
  const p = pointOf(key);
  return dels.some((iv) => affineLess(iv.begin, p.end) && affineLess(p.begin, iv.end));
}

interface Writes {
  readonly puts: Set<string>;
  readonly dels: Interval[];
}

/** Rejects a branch that puts a key twice, or puts a key that a delete of the branch covers. */
function checkIntervals(reqs: readonly RequestOp[]): Writes {
  const dels: Interval[] = [];
  for (const op of reqs) {
    const d = op.request_delete_range;
    if (opKind(op) !== 'delete' || !d) continue;
    const key = d.key.toString('latin1');
    dels.push(d.range_end.length !== 0 ? { begin: key, end: d.range_end.toString('latin1') } : pointOf(key));
  }
  const puts = new Set<string>();
  for (const op of reqs) {
    if (opKind(op) !== 'txn' || !op.request_txn) continue;
    const then = checkIntervals(op.request_txn.success);
    const otherwise = checkIntervals(op.request_txn.failure);
    for (const k of then.puts) {
      if (puts.has(k) || intersectsPoint(dels, k)) throw new EtcdError('DuplicateKey');
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      // A key put by both branches of one nested txn is fine: only one branch runs.
      if (puts.has(k) && !then.puts.has(k)) throw new EtcdError('DuplicateKey');
      if (intersectsPoint(dels, k)) throw new EtcdError('DuplicateKey');
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of reqs) {
    if (opKind(op) !== 'put' || !op.request_put) continue;
    const k = op.request_put.key.toString('latin1');
    if (puts.has(k) || intersectsPoint(dels, k)) throw new EtcdError('DuplicateKey');
    puts.add(k);
  }
  return { puts, dels };
}
