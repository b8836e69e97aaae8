// What EtcdClient returns, and the conversions from the wire shapes @grpc/proto-loader decodes with
// longs: String. Revisions, versions, counts and TTLs become numbers (they stay far below 2^53); ids
// (cluster, member, lease) stay decimal strings because real etcd's ids use all 64 bits.

export interface Header {
  cluster_id: string;
  member_id: string;
  revision: number;
  raft_term: number;
}

export interface KeyValue {
  key: Buffer;
  create_revision: number;
  mod_revision: number;
  version: number;
  value: Buffer;
  /** Lease id as a decimal string; "0" when the key has no lease. */
  lease: string;
}

export interface RangeResult {
  header: Header;
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutResult {
  header: Header;
  prev_kv: KeyValue | null;
}

export interface DeleteResult {
  header: Header;
  deleted: number;
  prev_kvs: KeyValue[];
}

export interface ResponseOpResult {
  response_range?: RangeResult;
  response_put?: PutResult;
  response_delete_range?: DeleteResult;
  response_txn?: TxnResult;
}

export interface TxnResult {
  header: Header;
  succeeded: boolean;
  responses: ResponseOpResult[];
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
  prev_kv: KeyValue | null;
}

export interface WatchResult {
  header: Header;
  watch_id: number;
  created: boolean;
  canceled: boolean;
  compact_revision: number;
  cancel_reason: string;
  fragment: boolean;
  events: WatchEvent[];
}

export interface Member {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface LeaseGrantResult {
  header: Header;
  ID: string;
  TTL: number;
  error: string;
}

export interface LeaseKeepAliveResult {
  header: Header;
  ID: string;
  /** 0 when the lease does not exist (expired or revoked). */
  TTL: number;
}

export interface LeaseTimeToLiveResult {
  header: Header;
  ID: string;
  /** -1 when the lease does not exist. */
  TTL: number;
  grantedTTL: number;
  keys: Buffer[];
}

export interface StatusResult {
  header: Header;
  version: string;
  dbSize: number;
  leader: string;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  errors: string[];
  dbSizeInUse: number;
  isLearner: boolean;
}

export interface AlarmMember {
  memberID: string;
  alarm: 'NONE' | 'NOSPACE' | 'CORRUPT';
}

// The wire shapes, loosely typed: proto-loader guarantees the fields (defaults: true), not TypeScript.
// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages are checked by the converters
type Wire = any;

/** int64 decoded as a decimal string → number; a value beyond 2^53 would be a protocol misuse. */
export function num(value: string | number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`integer field out of the safe range: ${value}`);
  return n;
}

export function toHeader(h: Wire): Header {
  if (h === null || h === undefined) return { cluster_id: '0', member_id: '0', revision: 0, raft_term: 0 };
  return {
    cluster_id: String(h.cluster_id),
    member_id: String(h.member_id),
    revision: num(h.revision),
    raft_term: num(h.raft_term),
  };
}

export function toKeyValue(kv: Wire): KeyValue {
  return {
    key: kv.key,
    create_revision: num(kv.create_revision),
    mod_revision: num(kv.mod_revision),
    version: num(kv.version),
    value: kv.value,
    lease: String(kv.lease),
  };
}

export function toRange(r: Wire): RangeResult {
  return { header: toHeader(r.header), kvs: r.kvs.map(toKeyValue), more: r.more, count: num(r.count) };
}

export function toPut(r: Wire): PutResult {
  return { header: toHeader(r.header), prev_kv: r.prev_kv ? toKeyValue(r.prev_kv) : null };
}

export function toDelete(r: Wire): DeleteResult {
  return { header: toHeader(r.header), deleted: num(r.deleted), prev_kvs: r.prev_kvs.map(toKeyValue) };
}

export function toTxn(r: Wire): TxnResult {
  return { header: toHeader(r.header), succeeded: r.succeeded, responses: r.responses.map(toResponseOp) };
}

function toResponseOp(op: Wire): ResponseOpResult {
  if (op.response_range) return { response_range: toRange(op.response_range) };
  if (op.response_put) return { response_put: toPut(op.response_put) };
  if (op.response_delete_range) return { response_delete_range: toDelete(op.response_delete_range) };
  if (op.response_txn) return { response_txn: toTxn(op.response_txn) };
  return {};
}

export function toWatch(r: Wire): WatchResult {
  return {
    header: toHeader(r.header),
    watch_id: num(r.watch_id),
    created: r.created,
    canceled: r.canceled,
    compact_revision: num(r.compact_revision),
    cancel_reason: r.cancel_reason,
    fragment: r.fragment,
    events: r.events.map(
      (e: Wire): WatchEvent => ({
        type: e.type,
        kv: toKeyValue(e.kv),
        prev_kv: e.prev_kv ? toKeyValue(e.prev_kv) : null,
      }),
    ),
  };
}

export function toMember(m: Wire): Member {
  return {
    ID: String(m.ID),
    name: m.name,
    peerURLs: m.peerURLs,
    clientURLs: m.clientURLs,
    isLearner: m.isLearner,
  };
}

export function toStatus(r: Wire): StatusResult {
  return {
    header: toHeader(r.header),
    version: r.version,
    dbSize: num(r.dbSize),
    leader: String(r.leader),
    raftIndex: num(r.raftIndex),
    raftTerm: num(r.raftTerm),
    raftAppliedIndex: num(r.raftAppliedIndex),
    errors: r.errors,
    dbSizeInUse: num(r.dbSizeInUse),
    isLearner: r.isLearner,
  };
}
