// Snapshot transfer. A MsgSnap can carry gigabytes in snapshot.data; on the stream socket it would
// hold up heartbeats for as long as it takes to send, and followers would start elections. So each
// snapshot gets its own short-lived socket to <peerUrl>/raft/snapshot:
//
//   sender → header frame: the message without its data, the data's size and CRC-32
//   sender → the data, in binary frames of snapshotChunkBytes, one in flight at a time
//   receiver → ack frame [ok, reason] once it has checked size and checksum and delivered the message
//
// Both sides bound the transfer by an idle timeout (no progress) and a total timeout, and the
// receiver bounds the size it accepts. The checksums are computed a chunk per event-loop turn, so
// a big snapshot never stalls the heartbeats of the member.

import { crc32 } from 'node:zlib';
import { assert, type Message } from '@keelson/raft';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import {
  CodecError,
  decodeSnapshotAck,
  decodeSnapshotHeader,
  encodeSnapshotAck,
  encodeSnapshotHeader,
  type SnapshotHeader,
} from './codec.js';
import { refusalReason } from './handshake.js';
import { zeroMask } from './mask.js';
import { handshakeHeaders, peerSocketUrl, SNAPSHOT_PATH, type TransportTuning } from './options.js';
import type { TransportCounters } from './stats.js';

export interface SnapshotContext {
  readonly localId: number;
  readonly clusterId: number;
  readonly tuning: TransportTuning;
  readonly log: Logger;
  readonly counters: TransportCounters;
}

/** Only the ack travels back to the sender. */
const ACK_MAX_PAYLOAD_BYTES = 64 * 1024;

/** CRC-32 of `data`, one chunk per event-loop turn. */
export async function crc32Chunked(data: Uint8Array, chunkBytes: number): Promise<number> {
  assert(chunkBytes > 0, 'crc32Chunked: chunkBytes must be positive');
  let crc = 0;
  for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
    if (offset > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    crc = crc32(data.subarray(offset, offset + chunkBytes), crc);
  }
  return crc;
}

/** Streams one MsgSnap to its peer; calls onDone exactly once, unless cancelled. */
export class SnapshotSender {
  private ws: WebSocket | null = null;
  private finished = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private totalTimer: NodeJS.Timeout | null = null;
  private offsetBytes = 0;
  private readonly data: Uint8Array;
  private readonly startedMs = Date.now();

  constructor(
    private readonly ctx: SnapshotContext,
    private readonly msg: Message,
    private readonly peerUrl: string,
    private readonly onDone: (ok: boolean, reason: string) => void,
  ) {
    assert(msg.snapshot !== null, 'SnapshotSender: a Snap message without a snapshot');
    this.data = msg.snapshot.data;
  }

  start(): void {
    this.totalTimer = setTimeout(() => this.finish(false, 'timed out'), this.ctx.tuning.snapshotTimeoutMs);
    this.armIdleTimer();
    crc32Chunked(this.data, this.ctx.tuning.snapshotChunkBytes).then(
      (crc) => this.connect(crc),
      (err: unknown) => this.finish(false, `checksum failed: ${String(err)}`),
    );
  }

  /** Fails the transfer with `reason` (onDone is called), or with `notify` false drops it silently. */
  cancel(reason: string, notify: boolean): void {
    if (!notify) this.finished = true;
    this.finish(false, reason);
    this.cleanup();
  }

  private connect(crc: number): void {
    if (this.finished) return;
    this.armIdleTimer();
    const ws = new WebSocket(peerSocketUrl(this.peerUrl, SNAPSHOT_PATH), {
      headers: handshakeHeaders(this.ctx.localId, this.msg.to, this.ctx.clusterId),
      handshakeTimeout: this.ctx.tuning.connectTimeoutMs,
      perMessageDeflate: false,
      maxPayload: ACK_MAX_PAYLOAD_BYTES,
      // Peer links are member-to-member, never through a browser or a caching proxy (what masking
      // guards against); a zero mask lets ws send the payload as it is, without a masked copy.
      generateMask: zeroMask,
    });
    this.ws = ws;
    ws.on('open', () => {
      const header: SnapshotHeader = { message: this.msg, sizeBytes: this.data.byteLength, crc32: crc };
      ws.send(encodeSnapshotHeader(header), { binary: true });
      this.sendNextChunk(ws);
    });
    ws.on('unexpected-response', (_req, res) => {
      this.finish(false, `refused: ${refusalReason(res)}`);
      ws.terminate();
    });
    ws.on('message', (data: Buffer) => this.onAck(data));
    ws.on('error', (err) => this.finish(false, err.message));
    ws.on('close', (code, reason) => this.finish(false, `connection closed (${code} ${reason.toString()})`));
  }

  /** Sends the next chunk once the previous one left, so at most one chunk is buffered. */
  private sendNextChunk(ws: WebSocket): void {
    if (this.finished || this.offsetBytes >= this.data.byteLength) return;
    const chunk = this.data.subarray(this.offsetBytes, this.offsetBytes + this.ctx.tuning.snapshotChunkBytes);
    this.offsetBytes += chunk.byteLength;
    ws.send(chunk, { binary: true }, (err) => {
      if (err) {
        this.finish(false, `send failed: ${err.message}`);
        return;
      }
      this.ctx.counters.sentBytes += chunk.byteLength;
      this.armIdleTimer();
      this.sendNextChunk(ws);
    });
  }

  private onAck(frame: Buffer): void {
    try {
      const ack = decodeSnapshotAck(frame);
      this.finish(ack.ok, ack.ok ? 'delivered' : `peer refused it: ${ack.reason}`);
    } catch (err) {
      this.finish(false, `malformed ack: ${(err as Error).message}`);
    }
  }

  private armIdleTimer(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.finish(false, `no progress for ${this.ctx.tuning.snapshotIdleTimeoutMs} ms`),
      this.ctx.tuning.snapshotIdleTimeoutMs,
    );
  }

  private finish(ok: boolean, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.cleanup();
    const fields = {
      peer: this.msg.to.toString(16),
      index: this.msg.snapshot!.metadata.index,
      sizeBytes: this.data.byteLength,
      sentBytes: this.offsetBytes,
      durationMs: Date.now() - this.startedMs,
      reason,
    };
    if (ok) this.ctx.counters.snapshotsSent++;
    else this.ctx.counters.snapshotsFailed++;
    if (ok) this.ctx.log.info(fields, 'sent snapshot');
    else this.ctx.log.warn(fields, 'snapshot transfer failed; Raft will retry');
    this.onDone(ok, reason);
  }

  private cleanup(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    if (this.totalTimer !== null) clearTimeout(this.totalTimer);
    this.idleTimer = null;
    this.totalTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws !== null && ws.readyState === WebSocket.OPEN) ws.close(1000);
    else ws?.terminate();
  }
}

/** Receives one snapshot on an accepted /raft/snapshot socket. */
export class SnapshotReceiver {
  private header: SnapshotHeader | null = null;
  private data: Buffer | null = null;
  private offsetBytes = 0;
  private crc = 0;
  private finished = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly totalTimer: NodeJS.Timeout;

  constructor(
    private readonly ctx: SnapshotContext,
    private readonly ws: WebSocket,
    readonly from: number,
    /** Hands the whole message over; false if an injected fault dropped it. */
    private readonly deliver: (from: number, msg: Message) => boolean,
    private readonly onEnd: (r: SnapshotReceiver) => void,
  ) {
    this.totalTimer = setTimeout(() => this.fail('timed out'), ctx.tuning.snapshotTimeoutMs);
    this.armIdleTimer();
    ws.on('message', (data: Buffer, isBinary) => this.onFrame(data, isBinary));
    ws.on('close', () => this.fail('connection closed before the snapshot was complete'));
    ws.on('error', (err) => this.fail(err.message));
  }

  /** Gives up on the transfer, telling the sender why. */
  fail(reason: string): void {
    if (this.finished) return;
    this.ctx.counters.snapshotsRejected++;
    this.ctx.log.warn(
      {
        peer: this.from.toString(16),
        receivedBytes: this.offsetBytes,
        sizeBytes: this.header?.sizeBytes,
        reason,
      },
      'refused incoming snapshot',
    );
    this.end({ ok: false, reason });
  }

  private onFrame(frame: Buffer, isBinary: boolean): void {
    if (this.finished) return;
    if (!isBinary) {
      this.fail('text frame on a snapshot socket');
      return;
    }
    this.ctx.counters.receivedBytes += frame.byteLength;
    this.armIdleTimer();
    try {
      if (this.header === null) this.onHeader(decodeSnapshotHeader(frame));
      else this.onChunk(frame);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      this.fail(`malformed header: ${err.message}`);
    }
  }

  private onHeader(h: SnapshotHeader): void {
    if (h.message.to !== this.ctx.localId || h.message.from !== this.from) {
      this.fail(`message from ${h.message.from} to ${h.message.to} on a socket from ${this.from}`);
      return;
    }
    if (h.sizeBytes > this.ctx.tuning.maxSnapshotBytes) {
      this.fail(`snapshot of ${h.sizeBytes} bytes exceeds the limit of ${this.ctx.tuning.maxSnapshotBytes}`);
      return;
    }
    this.header = h;
    try {
      // One buffer of the declared size, so the chunks are copied once and not concatenated at the end.
      this.data = Buffer.allocUnsafe(h.sizeBytes);
    } catch (err) {
      this.fail(`cannot allocate ${h.sizeBytes} bytes: ${(err as Error).message}`);
      return;
    }
    if (h.sizeBytes === 0) this.complete();
  }

  private onChunk(chunk: Buffer): void {
    const data = this.data!;
    if (this.offsetBytes + chunk.byteLength > data.byteLength) {
      this.fail(`more data than the ${data.byteLength} bytes declared`);
      return;
    }
    chunk.copy(data, this.offsetBytes);
    this.crc = crc32(chunk, this.crc);
    this.offsetBytes += chunk.byteLength;
    if (this.offsetBytes === data.byteLength) this.complete();
  }

  private complete(): void {
    const h = this.header!;
    assert(this.offsetBytes === h.sizeBytes, 'snapshot completed before all its data arrived');
    if (this.crc !== h.crc32) {
      this.fail(`checksum mismatch: got ${this.crc}, header says ${h.crc32}`);
      return;
    }
    const snapshot = { data: this.data!, metadata: h.message.snapshot!.metadata };
    const msg: Message = { ...h.message, snapshot };
    if (!this.deliver(this.from, msg)) {
      this.fail('dropped by an injected fault');
      return;
    }
    this.ctx.counters.snapshotsReceived++;
    this.ctx.log.info(
      { peer: this.from.toString(16), index: snapshot.metadata.index, sizeBytes: h.sizeBytes },
      'received snapshot',
    );
    this.end({ ok: true, reason: '' });
  }

  private armIdleTimer(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.fail(`no progress for ${this.ctx.tuning.snapshotIdleTimeoutMs} ms`),
      this.ctx.tuning.snapshotIdleTimeoutMs,
    );
  }

  private end(ack: { ok: boolean; reason: string }): void {
    this.finished = true;
    this.data = null;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    clearTimeout(this.totalTimer);
    if (this.ws.readyState === WebSocket.OPEN) {
      // Close after the ack is written; the sender closes its side when it reads it.
      this.ws.send(encodeSnapshotAck(ack), { binary: true }, () => this.ws.close(ack.ok ? 1000 : 1008));
    } else {
      this.ws.terminate();
    }
    this.onEnd(this);
  }
}
