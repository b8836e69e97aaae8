// The StoreBackend interface: what the gRPC layer (src/grpc/server.ts) needs from a member. The member
// runtime implements it on Raft and the MVCC store; tests implement it in memory. Methods take and return
// the etcd message shapes of ./types.ts and throw EtcdError (../errors.ts) for the failures a client sees;
// any other exception is a bug, answered as gRPC Unknown and logged.
import type * as T from './types.js';

/** What a watch delivers: events, or a progress notification (no events), or a cancellation. */
export interface WatchSinkResponse {
  events: T.Event[];
  /** Goes into header.revision of the WatchResponse. */
  revision: number;
  compact_revision: number;
  canceled: boolean;
  cancel_reason: string;
}

export type WatchSink = (r: WatchSinkResponse) => void;

export interface WatchHandle {
  cancel(): void;
  /** Asks for one progress notification (an empty response at the watcher's revision) once it is synced. */
  requestProgress(): void;
}

export interface StoreBackend {
  /** The header for responses built outside a call (watch, progress). */
  header(): T.ResponseHeader;
  range(req: T.RangeRequest): Promise<T.RangeResponse>;
  put(req: T.PutRequest): Promise<T.PutResponse>;
  deleteRange(req: T.DeleteRangeRequest): Promise<T.DeleteRangeResponse>;
  txn(req: T.TxnRequest): Promise<T.TxnResponse>;
  compact(req: T.CompactionRequest): Promise<T.CompactionResponse>;
  /** May throw EtcdError (for example Compacted or FutureRev for the start revision). */
  watch(req: T.WatchCreateRequest, sink: WatchSink): WatchHandle;
  leaseGrant(req: {
    TTL: number;
    ID: number;
  }): Promise<{ header: T.ResponseHeader; ID: number; TTL: number; error: string }>;
  leaseRevoke(req: { ID: number }): Promise<{ header: T.ResponseHeader }>;
  /** Throws EtcdError('LeaseNotFound'); the gRPC layer then answers TTL 0 like etcd. */
  leaseKeepAlive(req: { ID: number }): Promise<{ header: T.ResponseHeader; ID: number; TTL: number }>;
  /** TTL is -1 when the lease is not found, like etcd. */
  leaseTimeToLive(req: { ID: number; keys: boolean }): Promise<{
    header: T.ResponseHeader;
    ID: number;
    TTL: number;
    grantedTTL: number;
    keys: Buffer[];
  }>;
  leaseLeases(): Promise<{ header: T.ResponseHeader; leases: T.LeaseStatus[] }>;
  memberAdd(req: {
    peerURLs: string[];
    isLearner: boolean;
  }): Promise<{ header: T.ResponseHeader; member: T.Member; members: T.Member[] }>;
  memberRemove(req: { ID: number }): Promise<{ header: T.ResponseHeader; members: T.Member[] }>;
  memberUpdate(req: {
    ID: number;
    peerURLs: string[];
  }): Promise<{ header: T.ResponseHeader; members: T.Member[] }>;
  memberList(): Promise<{ header: T.ResponseHeader; members: T.Member[] }>;
  memberPromote(req: { ID: number }): Promise<{ header: T.ResponseHeader; members: T.Member[] }>;
  alarm(req: {
    action: T.AlarmAction;
    memberID: number;
    alarm: T.AlarmType;
  }): Promise<{ header: T.ResponseHeader; alarms: T.AlarmMember[] }>;
  status(): Promise<T.StatusResponse>;
  defragment(): Promise<{ header: T.ResponseHeader }>;
  hash(): Promise<{ header: T.ResponseHeader; hash: number }>;
  hashKV(req: {
    revision: number;
  }): Promise<{ header: T.ResponseHeader; hash: number; compact_revision: number }>;
  /** The gRPC layer wraps chunks as {header, remaining_bytes, blob}. */
  snapshot(): AsyncIterable<Buffer>;
  moveLeader(req: { targetID: number }): Promise<{ header: T.ResponseHeader }>;
}
