// A compact binary encoding of ConfChange, the data of EntryType.ConfChange log entries.
//
// Layout: version byte (1), varint transition, varint change count, then per change varint type and
// varint node id, then varint context length and the context bytes. Varints are unsigned LEB128
// of at most 8 bytes, enough for every safe integer. The empty byte string is the empty ConfChange
// (leave the joint config), so that the leader's automatic leave proposal has no payload, as in etcd.
import { RaftError } from '../errors.js';
import { type ConfChange, type ConfChangeSingle, ConfChangeTransition, ConfChangeType } from '../types.js';

const FORMAT_VERSION = 1;
const VARINT_BYTES_MAX = 8;
const TRANSITIONS: ReadonlySet<number> = new Set([
  ConfChangeTransition.Auto,
  ConfChangeTransition.JointImplicit,
  ConfChangeTransition.JointExplicit,
]);
const TYPES: ReadonlySet<number> = new Set([
  ConfChangeType.AddNode,
  ConfChangeType.RemoveNode,
  ConfChangeType.AddLearnerNode,
]);

export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (!TRANSITIONS.has(cc.transition)) throw invalid(`unknown transition ${String(cc.transition)}`);
  if (cc.transition === ConfChangeTransition.Auto && cc.changes.length === 0 && cc.context.length === 0) {
    return new Uint8Array(0);
  }
  for (const c of cc.changes) checkSingle(c);
  let size = 1 + varintSize(cc.transition) + varintSize(cc.changes.length);
  for (const c of cc.changes) size += varintSize(c.type) + varintSize(c.nodeId);
  size += varintSize(cc.context.length) + cc.context.length;
  const out = new Uint8Array(size);
  out[0] = FORMAT_VERSION;
  let pos = writeVarint(out, 1, cc.transition);
  pos = writeVarint(out, pos, cc.changes.length);
  for (const c of cc.changes) {
    pos = writeVarint(out, pos, c.type);
    pos = writeVarint(out, pos, c.nodeId);
  }
  pos = writeVarint(out, pos, cc.context.length);
  out.set(cc.context, pos);
  return out;
}

/** Decodes what encodeConfChange wrote; anything else throws RaftError('InvalidConfChange'). */
export function decodeConfChange(b: Uint8Array): ConfChange {
  if (b.length === 0) {
    return { transition: ConfChangeTransition.Auto, changes: [], context: new Uint8Array(0) };
  }
  if (b[0] !== FORMAT_VERSION) throw invalid(`unknown encoding version ${b[0]}`);
  const r = new Reader(b, 1);
  const transition = r.varint();
  if (!TRANSITIONS.has(transition)) throw invalid(`unknown transition ${transition}`);
  const count = r.varint();
  // Each change takes at least two bytes; a larger count is garbage and must not size an array.
  if (count * 2 > r.remaining()) throw invalid(`change count ${count} exceeds the data`);
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < count; i++) {
    const c = { type: r.varint(), nodeId: r.varint() };
    checkSingle(c);
    changes.push(c);
  }
  const contextLength = r.varint();
  if (contextLength !== r.remaining()) throw invalid('context length does not match the data');
  const context = b.slice(b.length - contextLength);
  return { transition, changes, context };
}

function checkSingle(c: ConfChangeSingle): void {
  if (!TYPES.has(c.type)) throw invalid(`unknown conf change type ${String(c.type)}`);
  if (!Number.isSafeInteger(c.nodeId) || c.nodeId < 0) throw invalid(`invalid node id ${c.nodeId}`);
}

function varintSize(v: number): number {
  let n = 1;
  for (let rest = v; rest >= 0x80; rest = Math.floor(rest / 0x80)) n++;
  return n;
}

/** Writes v as LEB128 at pos and returns the position after it. Division, not shifts: v may exceed 2^32. */
function writeVarint(out: Uint8Array, pos: number, v: number): number {
  let rest = v;
  let p = pos;
  while (rest >= 0x80) {
    out[p++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  out[p++] = rest;
  return p;
}

class Reader {
  private readonly b: Uint8Array;
  private pos: number;

  constructor(b: Uint8Array, pos: number) {
    this.b = b;
    this.pos = pos;
  }

  remaining(): number {
    return this.b.length - this.pos;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      const byte = this.b[this.pos++];
      if (byte === undefined) throw invalid('truncated varint');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) throw invalid('varint exceeds the safe integer range');
        return value;
      }
      scale *= 0x80;
    }
    throw invalid('varint too long');
  }
}

function invalid(message: string): RaftError {
  return new RaftError('InvalidConfChange', `malformed conf change: ${message}`);
}
