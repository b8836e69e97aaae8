// The replicated state machine of the simulation: the sequence of client proposal ids applied so
// far, plus a hash chain over every applied entry's (index, identity). Two nodes that applied the
// same prefix have the same hash, so State Machine Safety is one comparison per apply. A snapshot's
// data is this state serialized, which lets a restored node prove it got the right prefix.
import { type Entry, EntryType } from '@keelson/raft';
import { FNV_INITIAL, fnvBytes, fnvMix } from './trace.js';

const PROPOSAL_TAG = 0x50; // 'P'
const READ_TAG = 0x52; // 'R'
const CONF_TAG = 0x43; // 'C'
const MAGIC = 0x4b; // 'K'
const SNAPSHOT_MAGIC = 0x4b534d31; // 'KSM1'
const HEADER_WORDS = 4;

function tagged(tag: number, id: number): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = MAGIC;
  b[1] = tag;
  new DataView(b.buffer).setUint32(4, id >>> 0, true);
  return b;
}

function untag(tag: number, b: Uint8Array): number {
  if (b.length !== 8 || b[0] !== MAGIC || b[1] !== tag) return 0;
  return new DataView(b.buffer, b.byteOffset, 8).getUint32(4, true);
}

/** A client proposal's payload: 8 bytes carrying a unique id (ids start at 1). */
export const encodeProposal = (id: number): Uint8Array => tagged(PROPOSAL_TAG, id);
/** The id of a proposal payload, or 0 when the bytes are not one. */
export const decodeProposal = (data: Uint8Array): number => untag(PROPOSAL_TAG, data);
/** A ReadIndex request context carrying a unique read id. */
export const encodeReadContext = (id: number): Uint8Array => tagged(READ_TAG, id);
export const decodeReadContext = (data: Uint8Array): number => untag(READ_TAG, data);
/** A ConfChange context carrying a unique change id (makes every proposed change's bytes unique). */
export const encodeConfContext = (id: number): Uint8Array => tagged(CONF_TAG, id);
export const decodeConfContext = (data: Uint8Array): number => untag(CONF_TAG, data);

const TWO_32 = 4294967296;

/**
 * What an entry "is", as one number: 0 for an empty normal entry (a new leader's no-op), the
 * proposal id for a client proposal (1..2^32-1), and otherwise 2^32·(type+1) + a hash of the bytes
 * (configuration changes, which carry unique contexts, or foreign payloads).
 */
export function entryIdentity(e: Entry): number {
  if (e.type === EntryType.Normal) {
    if (e.data.length === 0) return 0;
    const id = decodeProposal(e.data);
    if (id !== 0) return id;
  }
  return TWO_32 * (e.type + 1) + fnvBytes(e.data);
}

export function isProposalIdentity(identity: number): boolean {
  return identity > 0 && identity < TWO_32;
}

/** The hash chain step: the state after applying `identity` at `index` on top of `hash`. */
export function chainHash(hash: number, index: number, identity: number): number {
  return fnvMix(fnvMix(hash, index), identity);
}

/** The hash of the bootstrap state (the initial snapshot at index 1, nothing applied yet). */
export const INITIAL_STATE_HASH = FNV_INITIAL;
/** Index of the bootstrap snapshot every initial node starts from. */
export const BOOTSTRAP_INDEX = 1;
export const BOOTSTRAP_TERM = 1;

export class SnapshotDataError extends Error {
  readonly code = 'BadSnapshotData';
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotDataError';
  }
}

export class IdStateMachine {
  appliedIndex: number;
  hash: number;
  private ids: Uint32Array;
  private count: number;

  constructor(appliedIndex: number, hash: number, ids: Uint32Array, count: number) {
    this.appliedIndex = appliedIndex;
    this.hash = hash;
    this.ids = ids;
    this.count = count;
  }

  /** The state a brand-new node has before its first snapshot arrives: nothing at all. */
  static empty(): IdStateMachine {
    return new IdStateMachine(0, INITIAL_STATE_HASH, new Uint32Array(16), 0);
  }

  /** The bootstrap state machine's bytes (what the initial snapshot at index 1 carries). */
  static bootstrapBytes(): Uint8Array {
    return new IdStateMachine(BOOTSTRAP_INDEX, INITIAL_STATE_HASH, new Uint32Array(0), 0).toBytes();
  }

  /** Rebuilds a state machine from snapshot data; throws SnapshotDataError on malformed bytes. */
  static fromBytes(data: Uint8Array): IdStateMachine {
    if (data.byteLength < HEADER_WORDS * 4 || data.byteLength % 4 !== 0) {
      throw new SnapshotDataError(`snapshot data has ${data.byteLength} bytes, not a state machine image`);
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (view.getUint32(0, true) !== SNAPSHOT_MAGIC)
      throw new SnapshotDataError('snapshot data has a bad magic');
    const appliedIndex = view.getUint32(4, true);
    const hash = view.getUint32(8, true);
    const count = view.getUint32(12, true);
    if (data.byteLength !== (HEADER_WORDS + count) * 4) {
      throw new SnapshotDataError(`snapshot data says ${count} ids but has ${data.byteLength} bytes`);
    }
    const ids = new Uint32Array(Math.max(16, count * 2));
    for (let k = 0; k < count; k++) ids[k] = view.getUint32((HEADER_WORDS + k) * 4, true);
    return new IdStateMachine(appliedIndex, hash, ids, count);
  }

  toBytes(): Uint8Array {
    const out = new Uint32Array(HEADER_WORDS + this.count);
    out[0] = SNAPSHOT_MAGIC;
    out[1] = this.appliedIndex;
    out[2] = this.hash;
    out[3] = this.count;
    out.set(this.ids.subarray(0, this.count), HEADER_WORDS);
    // Uint32Array is little-endian on every platform Node runs on; fromBytes reads little-endian.
    return new Uint8Array(out.buffer);
  }

  /** Applies the entry with `identity` at `index` (the caller checked index === appliedIndex + 1). */
  apply(index: number, identity: number): void {
    this.appliedIndex = index;
    this.hash = chainHash(this.hash, index, identity);
    if (!isProposalIdentity(identity)) return;
    if (this.count === this.ids.length) {
      const grown = new Uint32Array(this.ids.length * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.count++] = identity;
  }

  get appliedIdCount(): number {
    return this.count;
  }

  /** The applied proposal ids, oldest first (a copy). */
  appliedIds(): number[] {
    return Array.from(this.ids.subarray(0, this.count));
  }
}
