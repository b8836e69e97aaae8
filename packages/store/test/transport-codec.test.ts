import { type Entry, EntryType, type Message, MessageType, message, type Snapshot } from '@keelson/raft';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CodecError,
  decodeBatch,
  decodeSnapshotAck,
  decodeSnapshotHeader,
  encodeBatch,
  encodeSnapshotAck,
  encodeSnapshotHeader,
} from '../src/transport/codec.js';

const id = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const nat = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat());
const bytes = fc.uint8Array({ maxLength: 64 });
const ids = fc.array(id, { maxLength: 5 });

const entry: fc.Arbitrary<Entry> = fc.record({
  term: nat,
  index: nat,
  type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange),
  data: bytes,
});

const snapshot: fc.Arbitrary<Snapshot> = fc.record({
  data: fc.uint8Array({ maxLength: 4096 }),
  metadata: fc.record({
    index: nat,
    term: nat,
    confState: fc.record({
      voters: ids,
      learners: ids,
      votersOutgoing: ids,
      learnersNext: ids,
      autoLeave: fc.boolean(),
    }),
  }),
});

const msg: fc.Arbitrary<Message> = fc
  .record({
    type: fc.integer({ min: 0, max: MessageType.CheckQuorum }),
    to: id,
    from: id,
    term: nat,
    logTerm: nat,
    index: nat,
    entries: fc.array(entry, { maxLength: 6 }),
    commit: nat,
    snapshot: fc.option(snapshot, { nil: null }),
    reject: fc.boolean(),
    rejectHint: nat,
    context: bytes,
  })
  .map((f) => message(f));

/** Makes bytes comparable whatever their class (Buffer comes back where Uint8Array went in). */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { hex: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function expectBytesAreUint8Arrays(m: Message): void {
  expect(m.context).toBeInstanceOf(Uint8Array);
  for (const e of m.entries) expect(e.data).toBeInstanceOf(Uint8Array);
  if (m.snapshot !== null) expect(m.snapshot.data).toBeInstanceOf(Uint8Array);
}

describe('transport codec', () => {
  it('round-trips any batch of messages, byte fields coming back as Uint8Array', () => {
    // Proves encodeBatch/decodeBatch lose nothing, over random messages of every type.
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 8 }), (msgs) => {
        const back = decodeBatch(encodeBatch(msgs));
        expect(back.map(plain)).toEqual(msgs.map(plain));
        back.forEach(expectBytesAreUint8Arrays);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes messages with the same field order as raft message()', () => {
    // Proves decoded messages share the hidden class of the ones the core builds.
    const m = message({ type: MessageType.App, to: 2, from: 1 });
    expect(Object.keys(decodeBatch(encodeBatch([m]))[0]!)).toEqual(Object.keys(m));
  });

  it('encodes a heartbeat compactly', () => {
    // Proves the fixed-order array encoding keeps the commonest message small (no field names on the wire).
    const hb = message({ type: MessageType.Heartbeat, to: 2, from: 1, term: 5, commit: 100 });
    expect(encodeBatch([hb]).byteLength).toBeLessThan(24);
  });

  it('round-trips a snapshot header without the data, and an ack', () => {
    // Proves the snapshot side-channel frames carry what the receiver checks.
    fc.assert(
      fc.property(snapshot, id, id, fc.nat(), (snap, to, from, crc32) => {
        const m = message({ type: MessageType.Snap, to, from, snapshot: snap });
        const h = decodeSnapshotHeader(
          encodeSnapshotHeader({ message: m, sizeBytes: snap.data.byteLength, crc32 }),
        );
        expect(h.sizeBytes).toBe(snap.data.byteLength);
        expect(h.crc32).toBe(crc32);
        expect(h.message.snapshot!.data.byteLength).toBe(0);
        expect(h.message.snapshot!.metadata).toEqual(snap.metadata);
      }),
      { numRuns: 100 },
    );
    expect(decodeSnapshotAck(encodeSnapshotAck({ ok: false, reason: 'checksum mismatch' }))).toEqual({
      ok: false,
      reason: 'checksum mismatch',
    });
  });

  it('rejects garbage with CodecError and nothing else', () => {
    // Proves a malformed frame from a broken peer can only produce the error the stream handler catches.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        try {
          for (const m of decodeBatch(junk)) expect(m.type).toBeLessThanOrEqual(MessageType.CheckQuorum);
        } catch (err) {
          expect(err).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 2000 },
    );
    expect(() => decodeBatch(encodeBatch([]).subarray(0, 0))).toThrow(CodecError);
    expect(() => decodeSnapshotHeader(encodeBatch([message({ type: MessageType.App })]))).toThrow(CodecError);
  });
});
