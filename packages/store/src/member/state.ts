// The replicated state machine: MVCC plus the cluster's own records (leases, members, alarms). Every
// member applies the same committed entries in the same order and reaches the same state; the
// changes of one apply call are handed to the disk in the same batch as the applied index.

import type * as T from '../api/types.js';
import { EtcdError, isEtcdError } from '../errors.js';
import { Mvcc } from '../mvcc/store.js';
import { type BatchOp, decodeValue, encodeValue } from '../storage/disk.js';

export const MVCC_PREFIX = Buffer.from('s/m/');
const LEASE_PREFIX = Buffer.from('s/l/');
const MEMBER_PREFIX = Buffer.from('s/c/');
const ALARM_KEY = Buffer.from('s/a/alarms');
const REMOVED_PREFIX = Buffer.from('s/r/');

/** etcd's MaxLeaseTTL. */
export const LEASE_TTL_MAX_SECONDS = 9_000_000_000;

export interface LeaseRecord {
  readonly id: number;
  readonly ttl: number;
}

/** A request that goes through Raft. `rid` identifies the proposer's waiter: [member, epoch, seq]. */
export type Op =
  | { readonly op: 'put'; readonly req: T.PutRequest }
  | { readonly op: 'del'; readonly req: T.DeleteRangeRequest }
  | { readonly op: 'txn'; readonly req: T.TxnRequest }
  | { readonly op: 'compact'; readonly req: T.CompactionRequest }
  | { readonly op: 'leaseGrant'; readonly id: number; readonly ttl: number }
  | { readonly op: 'leaseRevoke'; readonly id: number }
  | {
      readonly op: 'alarm';
      readonly action: T.AlarmAction;
      readonly memberID: number;
      readonly alarm: T.AlarmType;
    }
  | { readonly op: 'memberAttr'; readonly id: number; readonly name: string; readonly clientURLs: string[] }
  | { readonly op: 'memberPeers'; readonly id: number; readonly peerURLs: string[] }
  | { readonly op: 'noop' };

export interface Proposal {
  readonly rid: readonly [number, number, number];
  readonly o: Op;
}

/** The outcome of applying one Op: a response body (no header) and the revision to report. */
export type ApplyResult =
  | {
      readonly ok: true;
      readonly revision: number;
      readonly body: Record<string, unknown>;
      /** The watch events this apply produced (all of one revision). */
      readonly events?: T.Event[];
    }
  | { readonly ok: false; readonly error: EtcdError };

function u64Key(prefix: Buffer, id: number): Buffer {
  const b = Buffer.allocUnsafe(prefix.length + 8);
  prefix.copy(b, 0);
  b.writeBigUInt64BE(BigInt(id), prefix.length);
  return b;
}

export class StateMachine {
  mvcc: Mvcc;
  readonly leases = new Map<number, LeaseRecord>();
  readonly members = new Map<number, T.Member>();
  /** Ids removed from the cluster; they may never rejoin under the same id. */
  readonly removed = new Set<number>();
  alarms: T.AlarmMember[] = [];
  private pending: BatchOp[] = [];
  private readonly writeContext = { leaseExists: (id: number) => this.leases.has(id) };

  constructor(mvcc?: Mvcc) {
    this.mvcc = mvcc ?? new Mvcc(MVCC_PREFIX);
  }

  /** Rebuilds the state from the s/ records of the database. */
  static load(records: ReadonlyArray<[Buffer, Buffer]>): StateMachine {
    const mvccRecords: Array<[Buffer, Buffer]> = [];
    const sm = new StateMachine(new Mvcc(MVCC_PREFIX));
    for (const [k, v] of records) {
      if (k.subarray(0, MVCC_PREFIX.length).equals(MVCC_PREFIX)) mvccRecords.push([k, v]);
      else if (k.subarray(0, LEASE_PREFIX.length).equals(LEASE_PREFIX)) {
        const l = decodeValue<LeaseRecord>(v);
        sm.leases.set(l.id, l);
      } else if (k.subarray(0, MEMBER_PREFIX.length).equals(MEMBER_PREFIX)) {
        const m = decodeValue<T.Member>(v);
        sm.members.set(m.ID, m);
      } else if (k.subarray(0, REMOVED_PREFIX.length).equals(REMOVED_PREFIX)) {
        sm.removed.add(Number(k.readBigUInt64BE(REMOVED_PREFIX.length)));
      } else if (k.equals(ALARM_KEY)) sm.alarms = decodeValue<T.AlarmMember[]>(v);
    }
    sm.mvcc = Mvcc.load(mvccRecords, MVCC_PREFIX);
    return sm;
  }

  /** The level operations accumulated since the last call (MVCC's included). */
  takeChanges(): BatchOp[] {
    const ops = this.pending;
    this.pending = [];
    for (const c of this.mvcc.takeChanges()) ops.push(c);
    return ops;
  }

  /** Every record of the whole state, to rewrite the database after installing a snapshot. */
  allRecords(): BatchOp[] {
    const ops: BatchOp[] = [];
    for (const op of this.mvcc.allRecords()) ops.push(op);
    for (const l of this.leases.values())
      ops.push({ type: 'put', key: u64Key(LEASE_PREFIX, l.id), value: encodeValue(l) });
    for (const m of this.members.values())
      ops.push({ type: 'put', key: u64Key(MEMBER_PREFIX, m.ID), value: encodeValue(m) });
    for (const id of this.removed)
      ops.push({ type: 'put', key: u64Key(REMOVED_PREFIX, id), value: Buffer.alloc(0) });
    ops.push({ type: 'put', key: ALARM_KEY, value: encodeValue(this.alarms) });
    return ops;
  }

  /** The state as snapshot bytes for a lagging follower. */
  dump(): Uint8Array {
    return encodeValue({
      v: 1,
      mvcc: this.mvcc.dump(),
      leases: [...this.leases.values()],
      members: [...this.members.values()],
      removed: [...this.removed],
      alarms: this.alarms,
    });
  }

  static fromDump(data: Uint8Array): StateMachine {
    const d = decodeValue<{
      v: number;
      mvcc: Buffer[];
      leases: LeaseRecord[];
      members: T.Member[];
      removed: number[];
      alarms: T.AlarmMember[];
    }>(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (d.v !== 1) throw new Error(`unknown snapshot format ${d.v}`);
    const sm = new StateMachine(Mvcc.fromDump(d.mvcc, MVCC_PREFIX));
    for (const l of d.leases) sm.leases.set(l.id, l);
    for (const m of d.members) sm.members.set(m.ID, m);
    for (const id of d.removed) sm.removed.add(id);
    sm.alarms = d.alarms;
    return sm;
  }

  setMember(m: T.Member): void {
    this.members.set(m.ID, m);
    this.pending.push({ type: 'put', key: u64Key(MEMBER_PREFIX, m.ID), value: encodeValue(m) });
  }

  removeMember(id: number): void {
    this.members.delete(id);
    this.removed.add(id);
    this.pending.push({ type: 'del', key: u64Key(MEMBER_PREFIX, id) });
    this.pending.push({ type: 'put', key: u64Key(REMOVED_PREFIX, id), value: Buffer.alloc(0) });
  }

  hasNoSpaceAlarm(): boolean {
    return this.alarms.some((a) => a.alarm === 'NOSPACE');
  }

  /** Applies one committed request; errors are results (every member reaches the same verdict). */
  apply(o: Op): ApplyResult {
    try {
      return this.applyUnchecked(o);
    } catch (e) {
      if (isEtcdError(e)) return { ok: false, error: e };
      throw e;
    }
  }

  private applyUnchecked(o: Op): ApplyResult {
    const ctx = this.writeContext;
    switch (o.op) {
      case 'put': {
        if (this.hasNoSpaceAlarm()) throw new EtcdError('NoSpace');
        const r = this.mvcc.put(o.req, ctx);
        return { ok: true, revision: r.revision, body: { prev_kv: r.prev_kv }, events: r.events };
      }
      case 'del': {
        const r = this.mvcc.deleteRange(o.req, ctx);
        return {
          ok: true,
          revision: r.revision,
          body: { deleted: r.deleted, prev_kvs: r.prev_kvs },
          events: r.events,
        };
      }
      case 'txn': {
        if (this.hasNoSpaceAlarm() && txnHasPut(o.req)) throw new EtcdError('NoSpace');
        const r = this.mvcc.txn(o.req, ctx);
        const body = { succeeded: r.succeeded, responses: r.responses };
        return { ok: true, revision: r.revision, body, events: r.events };
      }
      case 'compact': {
        this.mvcc.compact(o.req.revision);
        return { ok: true, revision: this.mvcc.revision, body: {} };
      }
      case 'leaseGrant':
        return this.applyLeaseGrant(o.id, o.ttl);
      case 'leaseRevoke':
        return this.applyLeaseRevoke(o.id);
      case 'alarm':
        return this.applyAlarm(o.action, o.memberID, o.alarm);
      case 'memberAttr': {
        const m = this.members.get(o.id);
        if (m !== undefined) this.setMember({ ...m, name: o.name, clientURLs: o.clientURLs });
        return { ok: true, revision: this.mvcc.revision, body: {} };
      }
      case 'memberPeers': {
        const m = this.members.get(o.id);
        if (m === undefined) throw new EtcdError('MemberNotFound');
        this.setMember({ ...m, peerURLs: o.peerURLs });
        return { ok: true, revision: this.mvcc.revision, body: {} };
      }
      case 'noop':
        return { ok: true, revision: this.mvcc.revision, body: {} };
    }
  }

  private applyLeaseGrant(id: number, ttl: number): ApplyResult {
    if (this.hasNoSpaceAlarm()) throw new EtcdError('NoSpace');
    if (this.leases.has(id)) throw new EtcdError('LeaseExist');
    const l: LeaseRecord = { id, ttl };
    this.leases.set(id, l);
    this.pending.push({ type: 'put', key: u64Key(LEASE_PREFIX, id), value: encodeValue(l) });
    return { ok: true, revision: this.mvcc.revision, body: { ID: id, TTL: ttl, error: '' } };
  }

  private applyLeaseRevoke(id: number): ApplyResult {
    if (!this.leases.has(id)) throw new EtcdError('LeaseNotFound');
    const keys = this.mvcc.leaseKeys(id);
    const events = keys.length > 0 ? this.mvcc.deleteKeys(keys).events : [];
    this.leases.delete(id);
    this.pending.push({ type: 'del', key: u64Key(LEASE_PREFIX, id) });
    return { ok: true, revision: this.mvcc.revision, body: {}, events };
  }

  private applyAlarm(action: T.AlarmAction, memberID: number, alarm: T.AlarmType): ApplyResult {
    const matches = (a: T.AlarmMember) => a.memberID === memberID && a.alarm === alarm;
    if (action === 'ACTIVATE' && !this.alarms.some(matches))
      this.alarms = [...this.alarms, { memberID, alarm }];
    if (action === 'DEACTIVATE') this.alarms = this.alarms.filter((a) => !matches(a));
    this.pending.push({ type: 'put', key: ALARM_KEY, value: encodeValue(this.alarms) });
    return { ok: true, revision: this.mvcc.revision, body: { alarms: this.alarms } };
  }
}

function txnHasPut(req: T.TxnRequest): boolean {
  const ops = [...req.success, ...req.failure];
  return ops.some(
    (op) =>
      (op.request_put !== undefined && op.request_put !== null) ||
      (op.request_txn ? txnHasPut(op.request_txn) : false),
  );
}
