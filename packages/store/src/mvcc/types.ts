// Shapes the MVCC store hands to the member: write results carry the response fields (no header),
// the revision to report and the watch events of the write.
import type { Event, KeyValue, ResponseOp } from '../api/types.js';

/** What a write needs from the rest of the state machine. */
export interface WriteContext {
  leaseExists(id: number): boolean;
}

/** One level operation; keys carry the store's prefix. */
export interface LevelOp {
  readonly type: 'put' | 'del';
  readonly key: Buffer;
  readonly value?: Buffer;
  /** When set: value's buffer with 4 spare bytes in front, for the disk to write the CRC into. */
  readonly sealed?: Buffer;
}

export interface RangeResult {
  readonly kvs: KeyValue[];
  readonly more: boolean;
  readonly count: number;
  readonly revision: number;
}

interface WriteOutcome {
  /** The revision to report in the response header. */
  readonly revision: number;
  /** Events of this write, all at `revision`; prev_kv is filled whenever a previous version existed. */
  readonly events: Event[];
}

export interface PutResult extends WriteOutcome {
  readonly prev_kv: KeyValue | null;
}

export interface DeleteRangeResult extends WriteOutcome {
  readonly deleted: number;
  readonly prev_kvs: KeyValue[];
}

export interface TxnResult extends WriteOutcome {
  readonly succeeded: boolean;
  readonly responses: ResponseOp[];
}

export interface DeleteKeysResult extends WriteOutcome {
  readonly deleted: number;
}

export interface HashKVResult {
  readonly hash: number;
  readonly compactRevision: number;
  /** The store's current revision when hashed. */
  readonly revision: number;
}
