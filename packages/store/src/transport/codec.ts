// The wire encoding of Raft messages between peers. A message travels as a fixed-order msgpack
// array instead of a map: a Message has twelve fields, most of them at their defaults, and
// writing the keys of every field of every heartbeat would cost more bytes and time than the
// values themselves. Byte fields travel as msgpack bin and decode as Buffer (a Uint8Array).
//
// Decoded byte fields are views into the received frame (msgpackr's default), not copies. A frame
// is one batch of one peer's messages, so the entries that Raft keeps are usually the bulk of it;
// copying every payload would cost more than the little memory that a view can pin.

import {
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type Snapshot,
} from '@keelson/raft';
import { Packr } from 'msgpackr';

/** A frame or header that does not decode to what the protocol allows: the peer is broken or foreign. */
export class CodecError extends Error {
  readonly code = 'MalformedFrame';

  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

// Records (msgpackr's default object compression) are useless here: everything is an array.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

const MESSAGE_FIELD_COUNT = 12;
const ENTRY_FIELD_COUNT = 4;
const SNAPSHOT_FIELD_COUNT = 8;
const MESSAGE_TYPE_MAX = MessageType.CheckQuorum;

type Tuple = unknown[];

function entriesToFlat(entries: readonly Entry[]): Tuple {
  // One flat array [term, index, type, data, term, index, ...] saves an array header per entry.
  const flat: Tuple = new Array(entries.length * ENTRY_FIELD_COUNT);
  let i = 0;
  for (const e of entries) {
    flat[i++] = e.term;
    flat[i++] = e.index;
    flat[i++] = e.type;
    flat[i++] = e.data;
  }
  return flat;
}

function snapshotToTuple(s: Snapshot | null, data: Uint8Array | null): Tuple | null {
  if (s === null) return null;
  const cs = s.metadata.confState;
  return [
    data ?? s.data,
    s.metadata.index,
    s.metadata.term,
    cs.voters,
    cs.learners,
    cs.votersOutgoing,
    cs.learnersNext,
    cs.autoLeave,
  ];
}

/** `snapshotData` replaces snapshot.data (the snapshot header travels without its data). */
function messageToTuple(m: Message, snapshotData: Uint8Array | null = null): Tuple {
  return [
    m.type,
    m.to,
    m.from,
    m.term,
    m.logTerm,
    m.index,
    m.entries.length === 0 ? [] : entriesToFlat(m.entries),
    m.commit,
    snapshotToTuple(m.snapshot, snapshotData),
    m.reject,
    m.rejectHint,
    m.context,
  ];
}

function uint(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new CodecError(`${what}: expected a non-negative integer, got ${String(v)}`);
  }
  return v;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new CodecError(`${what}: expected bytes, got ${typeof v}`);
  return v.byteLength === 0 ? EMPTY_BYTES : v;
}

function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new CodecError(`${what}: expected a boolean, got ${typeof v}`);
  return v;
}

function tuple(v: unknown, length: number | null, what: string): Tuple {
  if (!Array.isArray(v) || (length !== null && v.length !== length)) {
    throw new CodecError(`${what}: expected an array${length === null ? '' : ` of ${length}`}`);
  }
  return v;
}

function ids(v: unknown, what: string): number[] {
  return tuple(v, null, what).map((x) => uint(x, what));
}

function entriesFromFlat(v: unknown): Entry[] {
  const flat = tuple(v, null, 'entries');
  if (flat.length % ENTRY_FIELD_COUNT !== 0) throw new CodecError('entries: truncated');
  const entries: Entry[] = new Array(flat.length / ENTRY_FIELD_COUNT);
  for (let i = 0, j = 0; i < flat.length; i += ENTRY_FIELD_COUNT, j++) {
    const type = uint(flat[i + 2], 'entry.type');
    if (type !== EntryType.Normal && type !== EntryType.ConfChange) {
      throw new CodecError(`entry.type: unknown ${type}`);
    }
    entries[j] = {
      term: uint(flat[i], 'entry.term'),
      index: uint(flat[i + 1], 'entry.index'),
      type,
      data: bytes(flat[i + 3], 'entry.data'),
    };
  }
  return entries;
}

function snapshotFromTuple(v: unknown): Snapshot | null {
  if (v === null) return null;
  const t = tuple(v, SNAPSHOT_FIELD_COUNT, 'snapshot');
  const confState: ConfState = {
    voters: ids(t[3], 'confState.voters'),
    learners: ids(t[4], 'confState.learners'),
    votersOutgoing: ids(t[5], 'confState.votersOutgoing'),
    learnersNext: ids(t[6], 'confState.learnersNext'),
    autoLeave: bool(t[7], 'confState.autoLeave'),
  };
  return {
    data: bytes(t[0], 'snapshot.data'),
    metadata: { confState, index: uint(t[1], 'snapshot.index'), term: uint(t[2], 'snapshot.term') },
  };
}

function messageFromTuple(v: unknown): Message {
  const t = tuple(v, MESSAGE_FIELD_COUNT, 'message');
  const type = uint(t[0], 'message.type');
  if (type > MESSAGE_TYPE_MAX) throw new CodecError(`message.type: unknown ${type}`);
  // The same field order as raft's message(), so decoded messages share its hidden class.
  return {
    type,
    to: uint(t[1], 'message.to'),
    from: uint(t[2], 'message.from'),
    term: uint(t[3], 'message.term'),
    logTerm: uint(t[4], 'message.logTerm'),
    index: uint(t[5], 'message.index'),
    entries: entriesFromFlat(t[6]),
    commit: uint(t[7], 'message.commit'),
    snapshot: snapshotFromTuple(t[8]),
    reject: bool(t[9], 'message.reject'),
    rejectHint: uint(t[10], 'message.rejectHint'),
    context: bytes(t[11], 'message.context'),
  };
}

function unpack(frame: Uint8Array): unknown {
  try {
    return packr.unpack(frame);
  } catch (err) {
    throw new CodecError(`not msgpack: ${(err as Error).message}`);
  }
}

/** Encodes a batch of messages as one frame. */
export function encodeBatch(msgs: readonly Message[]): Buffer {
  const tuples: Tuple = new Array(msgs.length);
  for (let i = 0; i < msgs.length; i++) tuples[i] = messageToTuple(msgs[i]!);
  return packr.pack(tuples);
}

/** Decodes a frame of encodeBatch; throws CodecError when it is not one. */
export function decodeBatch(frame: Uint8Array): Message[] {
  return tuple(unpack(frame), null, 'batch').map(messageFromTuple);
}

/** Approximate encoded size of a message, to split batches into frames before encoding them. */
export function estimateMessageBytes(m: Message): number {
  let sizeBytes = 64 + m.context.byteLength;
  for (const e of m.entries) sizeBytes += e.data.byteLength + 24;
  if (m.snapshot !== null) sizeBytes += m.snapshot.data.byteLength + 64;
  return sizeBytes;
}

/** The first frame of a snapshot transfer: the message without its snapshot data, then the data's size and CRC-32. */
export interface SnapshotHeader {
  readonly message: Message;
  readonly sizeBytes: number;
  readonly crc32: number;
}

export function encodeSnapshotHeader(h: SnapshotHeader): Buffer {
  return packr.pack([messageToTuple(h.message, EMPTY_BYTES), h.sizeBytes, h.crc32]);
}

export function decodeSnapshotHeader(frame: Uint8Array): SnapshotHeader {
  const t = tuple(unpack(frame), 3, 'snapshot header');
  const message = messageFromTuple(t[0]);
  if (message.type !== MessageType.Snap || message.snapshot === null) {
    throw new CodecError('snapshot header: not a Snap message with a snapshot');
  }
  return { message, sizeBytes: uint(t[1], 'snapshot size'), crc32: uint(t[2], 'snapshot crc32') };
}

/** The receiver's last word on a snapshot transfer. */
export interface SnapshotAck {
  readonly ok: boolean;
  readonly reason: string;
}

export function encodeSnapshotAck(a: SnapshotAck): Buffer {
  return packr.pack([a.ok, a.reason]);
}

export function decodeSnapshotAck(frame: Uint8Array): SnapshotAck {
  const t = tuple(unpack(frame), 2, 'snapshot ack');
  if (typeof t[1] !== 'string') throw new CodecError('snapshot ack: reason is not a string');
  return { ok: bool(t[0], 'snapshot ack'), reason: t[1] };
}
