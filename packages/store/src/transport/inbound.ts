// The inbound halves of the peer pairs: the stream sockets that peers dialed to us, two per peer
// (appends, and everything else: see options.ts). Each carries one peer's messages of its channel, a
// frame per flush of the peer, which are decoded, checked and handed over in arrival order. A peer
// that dials a channel again replaces its old socket of that channel, which is likely half-dead.

import type { Message } from '@keelson/raft';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { CodecError, decodeBatch } from './codec.js';
import type { StreamChannel } from './options.js';
import type { TransportCounters } from './stats.js';

export interface InboundContext {
  readonly localId: number;
  readonly log: Logger;
  readonly counters: TransportCounters;
  readonly idleTimeoutMs: number;
  deliver(from: number, msgs: Message[]): void;
}

interface Inbound {
  readonly ws: WebSocket;
  readonly from: number;
  readonly channel: StreamChannel;
  lastSeenMs: number;
}

function inboundKey(from: number, channel: StreamChannel): string {
  return `${from}/${channel}`;
}

export class InboundStreams {
  private readonly byPeer = new Map<string, Inbound>();

  constructor(private readonly ctx: InboundContext) {}

  /** The peer has both of its streams open to us. */
  has(peerId: number): boolean {
    return this.byPeer.has(inboundKey(peerId, 'msgapp')) && this.byPeer.has(inboundKey(peerId, 'message'));
  }

  accept(ws: WebSocket, from: number, channel: StreamChannel): void {
    const key = inboundKey(from, channel);
    const old = this.byPeer.get(key);
    if (old !== undefined) {
      this.ctx.log.info({ peer: from.toString(16), channel }, 'peer dialed again; closing its old stream');
      old.ws.terminate();
    }
    const inbound: Inbound = { ws, from, channel, lastSeenMs: Date.now() };
    this.byPeer.set(key, inbound);
    ws.on('message', (data: Buffer, isBinary) => {
      inbound.lastSeenMs = Date.now();
      this.onFrame(ws, from, data, isBinary);
    });
    ws.on('ping', () => {
      inbound.lastSeenMs = Date.now();
    });
    ws.on('error', (err) =>
      this.ctx.log.debug({ peer: from.toString(16), err: err.message }, 'peer stream error'),
    );
    ws.on('close', () => {
      if (this.byPeer.get(key) === inbound) this.byPeer.delete(key);
    });
  }

  private onFrame(ws: WebSocket, from: number, frame: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      ws.close(1003, 'binary frames only');
      return;
    }
    let msgs: Message[];
    try {
      msgs = decodeBatch(frame);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      this.ctx.log.error({ peer: from.toString(16), err: err.message }, 'malformed frame from peer; closing');
      ws.close(1007, 'malformed frame');
      return;
    }
    this.ctx.counters.receivedBytes += frame.byteLength;
    // The handshake fixed the receiver; a message for another member is a confused peer. The sender
    // is not checked: forwarded messages (TransferLeader, a re-forwarded Prop) keep their original from.
    const valid = msgs.filter((m) => m.to === this.ctx.localId);
    if (valid.length !== msgs.length) {
      this.ctx.counters.droppedMessages += msgs.length - valid.length;
      this.ctx.log.warn(
        { peer: from.toString(16), dropped: msgs.length - valid.length },
        'dropped messages addressed to another member',
      );
    }
    this.ctx.counters.receivedMessages += valid.length;
    if (valid.length > 0) this.ctx.deliver(from, valid);
  }

  /** Closes sockets that have been silent (no frame, no ping) for longer than the idle timeout. */
  reapIdle(nowMs: number): void {
    for (const [key, inbound] of this.byPeer) {
      if (nowMs - inbound.lastSeenMs <= this.ctx.idleTimeoutMs) continue;
      this.ctx.log.warn(
        { peer: inbound.from.toString(16), channel: inbound.channel },
        'peer stream silent for too long; closing it',
      );
      this.byPeer.delete(key);
      inbound.ws.terminate();
    }
  }

  close(peerId: number): void {
    for (const channel of ['msgapp', 'message'] as const) {
      const key = inboundKey(peerId, channel);
      this.byPeer.get(key)?.ws.terminate();
      this.byPeer.delete(key);
    }
  }

  closeAll(): void {
    for (const inbound of this.byPeer.values()) inbound.ws.terminate();
    this.byPeer.clear();
  }
}
