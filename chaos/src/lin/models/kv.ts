// An etcd key-value model, checked per key: put, get, delete and a compare-and-swap txn.
//
// etcd's revision is global, but a per-key partition sees only its own key's operations, so the
// model checks only facts about one key that hold whatever happened to other keys:
//   - the value (null when the key does not exist) and the key's version (puts since creation);
//   - revisions when operations carry them: each write of the key (put, a successful txn, a delete
//     that removed it) gets a revision above the key's previous write; a get's mod_revision equals
//     the revision of the write it observed; a failed txn's header revision is at least the key's.
// A write whose revision is not known (unknown outcome, or not recorded) leaves only a lower bound.

import type { HistoryOp } from '../history.js';
import type { Model } from '../model.js';
import {
  canonical,
  checkFunction,
  hashString,
  hashValue,
  partitionByKey,
  sameValue,
  show,
} from './values.js';

export interface KvState {
  /** The key's value; null when the key does not exist. */
  readonly value: unknown;
  /** etcd's version: puts since the key was created; 0 when it does not exist. */
  readonly version: number;
  /** The revision of the key's last write if exact; otherwise a strict lower bound of it. */
  readonly revision: number;
  readonly revisionExact: boolean;
}

const INIT: KvState = { value: null, version: 0, revision: 0, revisionExact: true };
const FS = ['put', 'get', 'delete', 'txn'] as const;

interface TxnArgs {
  readonly expect: unknown;
  readonly new: unknown;
}

/** The state after a write of `value` (null: delete), or undefined when its revision is impossible. */
function write(state: KvState, op: HistoryOp, value: unknown): KvState | undefined {
  const version = value === null ? 0 : state.version + 1;
  const r = op.outcome === 'ok' ? op.revision : undefined;
  if (r === undefined) return { value, version, revision: state.revision, revisionExact: false };
  if (r <= state.revision) return undefined;
  return { value, version, revision: r, revisionExact: true };
}

function get(state: KvState, op: HistoryOp): KvState | undefined {
  if (op.outcome === 'info') return state;
  if (!sameValue(state.value, op.result)) return undefined;
  if (state.value === null) return state;
  if (op.version !== undefined && op.version !== state.version) return undefined;
  const r = op.revision;
  if (r === undefined || (state.revisionExact && r === state.revision)) return state;
  if (state.revisionExact || r <= state.revision) return undefined;
  // The get pins the revision the last write got.
  return { ...state, revision: r, revisionExact: true };
}

function del(state: KvState, op: HistoryOp): KvState | undefined {
  const existed = state.value !== null;
  if (op.outcome === 'ok' && typeof op.result === 'number' && op.result !== (existed ? 1 : 0))
    return undefined;
  // Deleting a key that does not exist writes nothing (etcd does not bump the revision).
  return existed ? write(state, op, null) : state;
}

function txn(state: KvState, op: HistoryOp): KvState | undefined {
  const args = op.value as TxnArgs;
  const matches = sameValue(state.value, args.expect);
  if (op.outcome === 'info') return matches ? write(state, op, args.new) : state;
  const succeeded = (op.result as { succeeded: boolean }).succeeded;
  if (succeeded !== matches) return undefined;
  if (succeeded) return write(state, op, args.new);
  // A failed txn read the store at a revision at or after the key's last write.
  const r = op.revision;
  if (r !== undefined && (state.revisionExact ? r < state.revision : r <= state.revision)) return undefined;
  return state;
}

function stepKv(state: KvState, op: HistoryOp): KvState | undefined {
  switch (op.f) {
    case 'put':
      return write(state, op, op.value);
    case 'get':
      return get(state, op);
    case 'delete':
      return del(state, op);
    case 'txn':
      return txn(state, op);
    default:
      throw new Error(`kv model: unexpected operation "${op.f}" (validate should have refused it)`);
  }
}

function validateKv(op: HistoryOp): string | undefined {
  const bad = checkFunction(op, 'kv', FS);
  if (bad !== undefined) return bad;
  if (op.f === 'put' && op.value === null) return 'a put needs a non-null value';
  if (op.f === 'txn') {
    const v = op.value as Partial<TxnArgs> | null;
    if (typeof v !== 'object' || v === null || !('expect' in v) || v.new === undefined || v.new === null) {
      return `a txn's value must be {"expect": value|null, "new": value}, got ${JSON.stringify(op.value)}`;
    }
    const r = op.result as { succeeded?: unknown } | null;
    if (op.outcome === 'ok' && (typeof r !== 'object' || r === null || typeof r.succeeded !== 'boolean')) {
      return `a txn's ok value must be {"succeeded": true|false}, got ${JSON.stringify(op.result)}`;
    }
  }
  if (op.f === 'delete' && op.outcome === 'ok' && op.result !== null && typeof op.result !== 'number') {
    return `a delete's ok value must be the deleted count or null, got ${JSON.stringify(op.result)}`;
  }
  return undefined;
}

/**
 * Drops unknown-outcome puts and txns whose new value no get returned and no txn expected, when
 * nothing in the partition observes a key's existence or put count without its value: no get
 * carries a version, no delete reports a count, no txn reports a failed compare. Then, as for the
 * register, such a write W is followed only by state-blind operations until the next write, and
 * removing W leaves every later check at least as loose (revisions only ever become lower bounds).
 */
function pruneKv(ops: readonly HistoryOp[]): HistoryOp[] {
  const blind = (op: HistoryOp): boolean =>
    op.outcome === 'ok' &&
    ((op.f === 'get' && op.version !== undefined) ||
      (op.f === 'delete' && typeof op.result === 'number') ||
      (op.f === 'txn' && (op.result as { succeeded: boolean }).succeeded === false));
  if (ops.some(blind)) return [...ops];
  const observed = new Set<string>();
  for (const op of ops) {
    if (op.f === 'get' && op.outcome === 'ok') observed.add(canonical(op.result));
    if (op.f === 'txn') observed.add(canonical((op.value as TxnArgs).expect));
  }
  const seen = (v: unknown): boolean => observed.has(canonical(v));
  const value = (op: HistoryOp): unknown => (op.f === 'txn' ? (op.value as TxnArgs).new : op.value);
  return ops.filter((op) => op.outcome === 'ok' || (op.f !== 'put' && op.f !== 'txn') || seen(value(op)));
}

function describeKv(op: HistoryOp): string {
  const q = op.outcome === 'info' ? ' ?' : '';
  const rev = op.revision === undefined ? '' : ` @${op.revision}`;
  switch (op.f) {
    case 'put':
      return `put ${show(op.value)}${q}${rev}`;
    case 'get':
      return `get → ${op.outcome === 'info' ? '?' : show(op.result)}${rev}`;
    case 'delete':
      return `delete${q}${op.outcome === 'ok' && typeof op.result === 'number' ? ` (${op.result})` : ''}${rev}`;
    default: {
      const a = op.value as TxnArgs;
      const r = op.result as { succeeded: boolean } | undefined;
      const verdict = r === undefined ? ' ?' : r.succeeded ? ' ✓' : ' ✗';
      return `txn ${show(a.expect)}→${show(a.new)}${verdict}${rev}`;
    }
  }
}

function describeKvState(s: KvState): string {
  if (s.value === null) return `absent (rev ${s.revisionExact ? '' : '>'}${s.revision})`;
  return `${show(s.value)} v${s.version} rev ${s.revisionExact ? '' : '>'}${s.revision}`;
}

/** etcd's KV per key: put, get, delete and txn compare-and-swap, with versions and revisions. */
export const kvModel: Model<KvState, HistoryOp> = {
  name: 'kv',
  init: () => INIT,
  step: stepKv,
  equal: (a, b) =>
    a === b ||
    (a.version === b.version &&
      a.revision === b.revision &&
      a.revisionExact === b.revisionExact &&
      sameValue(a.value, b.value)),
  hash: (s) =>
    (hashValue(s.value) ^
      Math.imul(s.version + 1, 0x85ebca6b) ^
      hashString(`${s.revision}${s.revisionExact}`)) >>>
    0,
  partition: partitionByKey,
  readOnly: (op) => op.f === 'get',
  prune: pruneKv,
  validate: validateKv,
  describe: describeKv,
  describeState: describeKvState,
};
