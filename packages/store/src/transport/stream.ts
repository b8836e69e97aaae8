// The outbound half of a peer pair: a persistent WebSocket that carries our Raft messages of one
// channel (appends, or everything else: see options.ts) to one peer, one binary frame per flush. It reconnects forever with jittered exponential backoff, each
// attempt bounded by a timeout. While it is down, messages for the peer are dropped rather than
// queued: Raft retransmits what matters, and a backlog of stale heartbeats and appends would only
// delay the fresh ones once the peer is back.
//
// The peer's messages to us do not come back on this socket but on the one it dialed to us: each
// side owns the lifecycle (dialing, backoff, liveness) of the socket it sends on, so there is no
// tie-breaking when both dial at once, and a sender learns of a dead link from its own socket.

import { assert, type Message } from '@keelson/raft';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { Backoff } from './backoff.js';
import { encodeBatch, estimateMessageBytes } from './codec.js';
import { refusalReason } from './handshake.js';
import { zeroMask } from './mask.js';
import {
  handshakeHeaders,
  peerSocketUrl,
  type StreamChannel,
  streamPath,
  type TransportTuning,
} from './options.js';
import type { TransportCounters } from './stats.js';

export interface LinkContext {
  readonly localId: number;
  readonly clusterId: number;
  readonly tuning: TransportTuning;
  readonly maxQueuedMessages: number;
  readonly log: Logger;
  readonly counters: TransportCounters;
  /** The link has work for the next flush: queued messages or an unreachable report. */
  markDirty(link: PeerLink): void;
  /** A peer refused us with 410: this member was removed from the cluster. */
  onRemoved(byPeer: number): void;
  /** An open connection to the peer closed and its port now refuses connections: its process is gone. */
  onPeerDown(peer: number): void;
}

type LinkState = 'connecting' | 'open' | 'backoff' | 'stopped';

/** Only pongs come back on an outbound socket; anything big is a confused peer. */
const OUTBOUND_MAX_PAYLOAD_BYTES = 64 * 1024;

/** Two unanswered pings in a row mean a dead socket; one may just be an event-loop stall. */
const MISSED_PONGS_MAX = 2;

export class PeerLink {
  private state: LinkState = 'connecting';
  private ws: WebSocket | null = null;
  // Invariant: queue.length <= ctx.maxQueuedMessages, and the queue is empty unless state is 'open'.
  private queue: Message[] = [];
  private connectedSinceMs: number | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private missedPongs = 0;
  private urlIndex = 0;
  private readonly backoff: Backoff;
  /** The last connection failure logged, to log a repeated failure once and not every attempt. */
  private lastFailure = '';
  private failedAttempts = 0;
  /** Messages for the peer were dropped since the last flush: report it unreachable then. */
  unreachablePending = false;
  droppedMessages = 0;

  /** When an open connection was lost, until the next connect attempt succeeds or is refused. */
  private lostAtMs: number | null = null;

  constructor(
    readonly id: number,
    readonly channel: StreamChannel,
    private urls: readonly string[],
    private readonly ctx: LinkContext,
  ) {
    assert(urls.length > 0, `peer ${id.toString(16)} has no URLs`);
    this.backoff = new Backoff(ctx.tuning.backoffMinMs, ctx.tuning.backoffMaxMs);
    this.connect();
  }

  isActive(): boolean {
    return this.state === 'open';
  }

  activeSinceMs(): number | null {
    return this.connectedSinceMs;
  }

  queuedMessages(): number {
    return this.queue.length;
  }

  /** The URL of the last connection attempt, which is the live one while the link is open. */
  currentUrl(): string {
    return this.urls[(this.urlIndex + this.urls.length - 1) % this.urls.length]!;
  }

  /** Queues a message for the next flush, or drops it when the peer is down or backed up. */
  offer(m: Message): void {
    const ws = this.ws;
    const canQueue =
      this.state === 'open' &&
      ws !== null &&
      ws.readyState === WebSocket.OPEN &&
      this.queue.length < this.ctx.maxQueuedMessages &&
      ws.bufferedAmount <= this.ctx.tuning.maxBufferedBytesPerPeer;
    if (canQueue) this.queue.push(m);
    else this.drop(1);
    this.ctx.markDirty(this);
  }

  /** Sends the queued messages as frames of about frameTargetBytes each. */
  flush(): void {
    if (this.queue.length === 0) return;
    const msgs = this.queue;
    this.queue = [];
    const ws = this.ws;
    if (ws === null || this.state !== 'open') {
      this.drop(msgs.length);
      return;
    }
    const targetBytes = this.ctx.tuning.frameTargetBytes;
    let start = 0;
    let frameBytes = 0;
    for (let i = 0; i < msgs.length; i++) {
      const sizeBytes = estimateMessageBytes(msgs[i]!);
      if (i > start && frameBytes + sizeBytes > targetBytes) {
        this.sendFrame(ws, msgs.slice(start, i));
        start = i;
        frameBytes = 0;
      }
      frameBytes += sizeBytes;
    }
    this.sendFrame(ws, start === 0 ? msgs : msgs.slice(start));
  }

  private sendFrame(ws: WebSocket, msgs: Message[]): void {
    const frame = encodeBatch(msgs);
    if (frame.byteLength > this.ctx.tuning.maxFrameBytes) {
      // The receiver would close the socket on it, and Raft would send the same again: drop it loudly.
      this.ctx.log.error(
        {
          peer: this.id.toString(16),
          frameBytes: frame.byteLength,
          maxFrameBytes: this.ctx.tuning.maxFrameBytes,
        },
        'dropped Raft messages larger than the peer accepts; lower the request size or the max message size',
      );
      this.drop(msgs.length);
      return;
    }
    ws.send(frame, { binary: true });
    this.ctx.counters.sentMessages += msgs.length;
    this.ctx.counters.sentBytes += frame.byteLength;
  }

  private drop(count: number): void {
    this.droppedMessages += count;
    this.ctx.counters.droppedMessages += count;
    this.unreachablePending = true;
  }

  /** Called every ping interval: pings the peer, and declares the socket dead after missed pongs. */
  tick(): void {
    const ws = this.ws;
    if (this.state !== 'open' || ws === null) return;
    if (this.missedPongs >= MISSED_PONGS_MAX) {
      this.ctx.log.warn(
        { peer: this.id.toString(16), channel: this.channel },
        'peer stopped answering pings; reconnecting',
      );
      ws.terminate();
      return;
    }
    this.missedPongs++;
    ws.ping();
  }

  /** Changes the peer's URLs; a link on an old URL reconnects at once. */
  setUrls(urls: readonly string[]): void {
    assert(urls.length > 0, `peer ${this.id.toString(16)} has no URLs`);
    if (urls.length === this.urls.length && urls.every((u, i) => u === this.urls[i])) return;
    this.urls = urls;
    this.urlIndex = 0;
    this.backoff.reset();
    if (this.state === 'backoff') {
      clearTimeout(this.reconnectTimer!);
      this.reconnectTimer = null;
      this.connect();
    } else if (this.ws !== null) {
      this.ws.terminate(); // Its close event reconnects, after the shortest backoff.
    }
  }

  stop(): void {
    this.state = 'stopped';
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.queue = [];
    this.connectedSinceMs = null;
    const ws = this.ws;
    this.ws = null;
    ws?.terminate();
  }

  private connect(): void {
    assert(this.ws === null && this.state !== 'stopped', 'connect() with a live socket or a stopped link');
    const url = peerSocketUrl(this.urls[this.urlIndex % this.urls.length]!, streamPath(this.channel));
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.state = 'connecting';
    const ws = new WebSocket(url, {
      headers: handshakeHeaders(this.ctx.localId, this.id, this.ctx.clusterId),
      handshakeTimeout: this.ctx.tuning.connectTimeoutMs,
      perMessageDeflate: false,
      maxPayload: OUTBOUND_MAX_PAYLOAD_BYTES,
      // Peer links are member-to-member, never through a browser or a caching proxy (what masking
      // guards against); a zero mask lets ws send the payload as it is, without a masked copy.
      generateMask: zeroMask,
    });
    this.ws = ws;
    let refused = false;
    ws.on('open', () => this.onOpen(ws, url));
    ws.on('unexpected-response', (_req, res) => {
      refused = true;
      this.noteFailure(url, `refused: ${refusalReason(res)}`);
      if (res.statusCode === 410) this.ctx.onRemoved(this.id);
      ws.terminate();
    });
    // After a refusal, terminate() reports an error of its own that says nothing new.
    ws.on('error', (err) => refused || this.noteFailure(url, err.message));
    ws.on('pong', () => {
      this.missedPongs = 0;
    });
    ws.on('message', () => ws.close(1003, 'this socket carries messages the other way'));
    ws.on('close', () => this.onClose(ws, url));
  }

  private onOpen(ws: WebSocket, url: string): void {
    if (ws !== this.ws) return;
    this.state = 'open';
    this.lostAtMs = null;
    this.connectedSinceMs = Date.now();
    this.missedPongs = 0;
    this.backoff.reset();
    this.ctx.log.info(
      { peer: this.id.toString(16), channel: this.channel, url, failedAttempts: this.failedAttempts },
      'connected to peer',
    );
    this.failedAttempts = 0;
    this.lastFailure = '';
  }

  private onClose(ws: WebSocket, url: string): void {
    if (ws !== this.ws) return; // A socket we replaced or a stopped link.
    const wasOpen = this.state === 'open';
    this.ws = null;
    this.connectedSinceMs = null;
    if (wasOpen) {
      this.lostAtMs = Date.now();
      this.ctx.log.warn(
        { peer: this.id.toString(16), channel: this.channel, url },
        'lost connection to peer; reconnecting',
      );
      // Whatever was queued or buffered is lost; Raft retransmits once it hears the peer is unreachable.
      this.drop(this.queue.length);
      this.queue = [];
      this.ctx.markDirty(this);
    }
    this.state = 'backoff';
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, this.backoff.nextDelayMs());
  }

  private noteFailure(url: string, reason: string): void {
    this.failedAttempts++;
    // A connection that was open, closed, and is now refused means the peer's process is gone (kill -9,
    // crash): say so at once, so that the member need not wait a whole election timeout to notice.
    if (this.lostAtMs !== null && reason.includes('ECONNREFUSED')) {
      this.lostAtMs = null;
      this.ctx.onPeerDown(this.id);
    }
    // Log each new reason once at warn; the same failure every backoff period would flood the log.
    const level = reason === this.lastFailure ? 'debug' : 'warn';
    this.lastFailure = reason;
    this.ctx.log[level](
      { peer: this.id.toString(16), channel: this.channel, url, reason, failedAttempts: this.failedAttempts },
      'cannot connect to peer',
    );
  }
}
