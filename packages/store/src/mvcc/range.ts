// The part of etcd's Range (etcdserver/apply.go) that runs after the index lookup: revision
// filters, sorting, limit and keys_only. Pure.
import type { KeyValue, RangeRequest, SortOrder } from '../api/types.js';
import { EMPTY_BUFFER } from './bytes.js';

/** Whether the index lookup must return every match (etcd fetches everything to sort or filter). */
export function needsFullFetch(req: RangeRequest): boolean {
  return (
    req.sort_order !== 'NONE' ||
    req.min_mod_revision !== 0 ||
    req.max_mod_revision !== 0 ||
    req.min_create_revision !== 0 ||
    req.max_create_revision !== 0
  );
}

/**
 * Applies filters, sort and limit like etcd. `count` stays the number of keys the lookup matched:
 * etcd prunes by mod/create revision after counting.
 */
export function finishRange(kvs: KeyValue[], req: RangeRequest): { kvs: KeyValue[]; more: boolean } {
  let out = kvs.filter((kv) => keepByRevision(kv, req));
  const order = effectiveOrder(req);
  if (order !== 'NONE') out = sortKvs(out, req, order);
  let more = false;
  if (req.limit > 0 && out.length > req.limit) {
    out = out.slice(0, req.limit);
    more = true;
  }
  if (req.keys_only) out = out.map((kv) => ({ ...kv, value: EMPTY_BUFFER }));
  return { kvs: out, more };
}

function keepByRevision(kv: KeyValue, req: RangeRequest): boolean {
  if (req.max_mod_revision !== 0 && kv.mod_revision > req.max_mod_revision) return false;
  if (req.min_mod_revision !== 0 && kv.mod_revision < req.min_mod_revision) return false;
  if (req.max_create_revision !== 0 && kv.create_revision > req.max_create_revision) return false;
  if (req.min_create_revision !== 0 && kv.create_revision < req.min_create_revision) return false;
  return true;
}

/** etcd sorts ascending when the order is NONE but the target is not KEY; KEY order is natural. */
function effectiveOrder(req: RangeRequest): SortOrder {
  if (req.sort_order === 'NONE' && req.sort_target !== 'KEY') return 'ASCEND';
  if (req.sort_order === 'ASCEND' && req.sort_target === 'KEY') return 'NONE';
  return req.sort_order;
}

// Array.prototype.sort is stable, so ties keep key order (what etcd's small-slice sort yields too).
function sortKvs(kvs: KeyValue[], req: RangeRequest, order: SortOrder): KeyValue[] {
  const sign = order === 'DESCEND' ? -1 : 1;
  const cmp = comparatorFor(req);
  return [...kvs].sort((a, b) => sign * cmp(a, b));
}

function comparatorFor(req: RangeRequest): (a: KeyValue, b: KeyValue) => number {
  switch (req.sort_target) {
    case 'KEY':
      return (a, b) => Buffer.compare(a.key, b.key);
    case 'VERSION':
      return (a, b) => a.version - b.version;
    case 'CREATE':
      return (a, b) => a.create_revision - b.create_revision;
    case 'MOD':
      return (a, b) => a.mod_revision - b.mod_revision;
    case 'VALUE':
      return (a, b) => Buffer.compare(a.value, b.value);
  }
}
