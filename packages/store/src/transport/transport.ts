// The peer transport of a Keelson member: Raft messages between members over two persistent
// WebSockets per peer pair and direction, one for appends and one for the rest (see options.ts, stream.ts), binary frames of msgpack-encoded batches,
// flushed once per event-loop turn; snapshots stream on sockets of their own (see snapshot.ts).
// The peer port also serves other HTTP routes through opts.httpHandler.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { assert, isLocalMsg, type Message, MessageType } from '@keelson/raft';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { DelayQueue } from './delay.js';
import { checkHandshake, type PeerStanding, writeRefusal } from './handshake.js';
import { InboundStreams } from './inbound.js';
import {
  DEFAULT_MAX_QUEUED_MESSAGES_PER_PEER,
  DEFAULT_TUNING,
  MESSAGE_STREAM_PATH,
  type PeerTransportOptions,
  SNAPSHOT_PATH,
  STREAM_PATH,
  type StreamChannel,
  type TransportFaults,
  type TransportTuning,
} from './options.js';
import { SnapshotReceiver, SnapshotSender } from './snapshot.js';
import { newCounters, type PeerStats, type TransportCounters, type TransportStats } from './stats.js';
import { PeerLink } from './stream.js';

/** Removed member ids remembered to refuse them with 410; old ones are forgotten beyond this. */
const REMOVED_IDS_MAX = 1024;
/** Frames waiting out an injected delay, from all peers. */
const DELAYED_FRAMES_MAX = 65_536;
/** The snapshot socket carries 1 MiB chunks by default; leave room for the header frame. */
const SNAPSHOT_FRAME_OVERHEAD_BYTES = 1024 * 1024;

type Delayed = { readonly from: number; readonly msgs: Message[] };

/** A peer's two outbound streams. */
interface PeerLinks {
  readonly msgapp: PeerLink;
  readonly message: PeerLink;
}

/** Appends go on their own stream; everything else shares the other (etcd's msgappv2 and message). */
function channelOf(m: Message): StreamChannel {
  return m.type === MessageType.App ? 'msgapp' : 'message';
}

export class PeerTransport {
  private readonly tuning: TransportTuning;
  private readonly log: Logger;
  private readonly counters: TransportCounters = newCounters();
  private readonly links = new Map<number, PeerLinks>();
  private readonly removed = new Set<number>();
  private readonly dirty = new Set<PeerLink>();
  private readonly inbound: InboundStreams;
  private readonly snapshotSends = new Map<number, SnapshotSender>();
  private readonly snapshotReceives = new Map<number, SnapshotReceiver>();
  private readonly delayed: DelayQueue<Delayed>;
  private readonly servers: Server[] = [];
  private readonly streamWss: WebSocketServer;
  private readonly snapshotWss: WebSocketServer;
  private readonly maxQueuedMessagesPerPeer: number;
  private faults: TransportFaults | null = null;
  private flushScheduled: NodeJS.Immediate | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private state: 'new' | 'started' | 'stopped' = 'new';

  constructor(private readonly opts: PeerTransportOptions) {
    assert(Number.isSafeInteger(opts.memberId) && opts.memberId > 0, `invalid member id ${opts.memberId}`);
    assert(
      Number.isSafeInteger(opts.clusterId) && opts.clusterId > 0,
      `invalid cluster id ${opts.clusterId}`,
    );
    assert(opts.listenUrls.length > 0, 'PeerTransport needs at least one listen URL');
    this.tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    this.maxQueuedMessagesPerPeer = opts.maxQueuedMessagesPerPeer ?? DEFAULT_MAX_QUEUED_MESSAGES_PER_PEER;
    assert(this.maxQueuedMessagesPerPeer > 0, 'maxQueuedMessagesPerPeer must be positive');
    this.log = childLogger(opts.logger, opts.memberId);
    this.inbound = new InboundStreams({
      localId: opts.memberId,
      log: this.log,
      counters: this.counters,
      idleTimeoutMs: this.tuning.inboundIdleTimeoutMs,
      deliver: (from, msgs) => this.deliver(from, msgs),
    });
    this.delayed = new DelayQueue(DELAYED_FRAMES_MAX, (d) => this.deliverNow(d.msgs));
    this.streamWss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.tuning.maxFrameBytes,
    });
    this.snapshotWss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.tuning.snapshotChunkBytes + SNAPSHOT_FRAME_OVERHEAD_BYTES,
    });
  }

  /** Listens on every listen URL; resolves once all are bound (see ports()). */
  async start(): Promise<void> {
    assert(this.state === 'new', 'PeerTransport.start() called twice');
    this.state = 'started';
    for (const url of this.opts.listenUrls) {
      if (url.protocol !== 'http:') {
        throw new Error(
          `listen peer URL ${url.href}: only http:// is supported (TLS on the peer port is not yet)`,
        );
      }
      this.servers.push(await this.listen(url));
    }
    this.ticker = setInterval(() => this.tick(), this.tuning.pingIntervalMs);
    this.ticker.unref();
    this.log.info(
      { listen: this.opts.listenUrls.map((u) => u.href), ports: this.ports() },
      'peer transport listening',
    );
  }

  /** The bound port of each listen URL, in order. */
  ports(): number[] {
    return this.servers.map((s) => (s.address() as AddressInfo).port);
  }

  /** Adds a peer or updates its URLs (a link on an old URL reconnects). */
  setPeer(id: number, peerUrls: readonly string[]): void {
    assert(this.state !== 'stopped', 'setPeer() after stop()');
    assert(id !== this.opts.memberId, 'setPeer() with our own id');
    assert(Number.isSafeInteger(id) && id > 0, `invalid peer id ${id}`);
    for (const u of peerUrls) {
      const p = new URL(u).protocol;
      if (p !== 'http:' && p !== 'https:')
        throw new Error(`peer URL ${u} of ${id.toString(16)}: not http(s)`);
    }
    this.removed.delete(id);
    const links = this.links.get(id);
    if (links !== undefined) {
      links.msgapp.setUrls([...peerUrls]);
      links.message.setUrls([...peerUrls]);
      return;
    }
    const ctx = {
      localId: this.opts.memberId,
      clusterId: this.opts.clusterId,
      tuning: this.tuning,
      maxQueuedMessages: this.maxQueuedMessagesPerPeer,
      log: this.log,
      counters: this.counters,
      markDirty: (l: PeerLink) => this.markDirty(l),
      onRemoved: (byPeer: number) => this.opts.onRemoved?.(byPeer),
      onPeerDown: (peer: number) => this.opts.onPeerDown?.(peer),
    };
    // Both streams notice a dead peer; report it once, from the stream its heartbeats use.
    const appCtx = { ...ctx, onPeerDown: () => {} };
    this.links.set(id, {
      msgapp: new PeerLink(id, 'msgapp', [...peerUrls], appCtx),
      message: new PeerLink(id, 'message', [...peerUrls], ctx),
    });
  }

  /** Forgets a peer: closes its sockets, aborts a snapshot to it, and refuses it from now on. */
  removePeer(id: number): void {
    const links = this.links.get(id);
    if (links !== undefined) {
      for (const link of [links.msgapp, links.message]) {
        link.stop();
        this.dirty.delete(link);
      }
      this.links.delete(id);
    }
    this.rememberRemoved(id);
    this.inbound.close(id);
    // Raft no longer tracks a removed peer, so nobody wants to hear how its snapshot went.
    this.snapshotSends.get(id)?.cancel('peer removed', false);
    this.snapshotSends.delete(id);
    this.snapshotReceives.get(id)?.fail('peer removed');
  }

  /** Sends messages; never blocks, and drops (never throws) what cannot go to a down peer. */
  send(msgs: readonly Message[]): void {
    if (this.state === 'stopped') return;
    const dropTo = this.faults?.dropTo;
    // Chaos: random message loss (fault injection only; Math.random is fine, it is not replayed).
    const lossRate = this.faults?.lossRate ?? 0;
    for (const m of msgs) {
      assert(!isLocalMsg(m.type), () => `send() of local message ${MessageType[m.type]}`);
      if (dropTo?.has(m.to) || (lossRate > 0 && Math.random() < lossRate)) {
        this.counters.faultDroppedMessages++;
        if (m.type === MessageType.Snap) this.reportSnapshotLater(m.to, false);
      } else if (m.type === MessageType.Snap) {
        this.sendSnapshot(m);
      } else {
        this.offer(m);
      }
    }
  }

  /**
   * Sends what is queued now instead of at the end of this event-loop turn. The member calls it after
   * handing over a whole Ready's messages (already one batch), saving a turn of latency per hop.
   */
  flushNow(): void {
    if (this.dirty.size === 0 || this.state === 'stopped') return;
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    this.flush();
  }

  private offer(m: Message): void {
    const links = this.links.get(m.to);
    if (links !== undefined) {
      links[channelOf(m)].offer(m);
      return;
    }
    // Like etcd, ignore messages to members we do not know (yet, or any more).
    this.counters.droppedMessages++;
    this.log.debug({ to: m.to.toString(16), type: MessageType[m.type] }, 'dropped message to unknown peer');
  }

  /** Both of our streams to the peer are open. */
  isActive(id: number): boolean {
    const links = this.links.get(id);
    return links !== undefined && links.msgapp.isActive() && links.message.isActive();
  }

  /** Since when both streams have been open, or null. */
  activeSince(id: number): number | null {
    const links = this.links.get(id);
    if (links === undefined) return null;
    const a = links.msgapp.activeSinceMs();
    const b = links.message.activeSinceMs();
    return a === null || b === null ? null : Math.max(a, b);
  }

  stats(): TransportStats {
    const peers: PeerStats[] = [...this.links.entries()].map(([id, l]) => ({
      id,
      connected: this.isActive(id),
      activeSinceMs: this.activeSince(id),
      queuedMessages: l.msgapp.queuedMessages() + l.message.queuedMessages(),
      droppedMessages: l.msgapp.droppedMessages + l.message.droppedMessages,
      inboundConnected: this.inbound.has(id),
    }));
    return { ...this.counters, peers };
  }

  /** Fault injection for chaos tests; null clears all faults. */
  setFaults(f: TransportFaults | null): void {
    this.faults = f;
  }

  /** Closes listeners and sockets and clears timers; no callback fires after it resolves. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    if (this.ticker !== null) clearInterval(this.ticker);
    this.flushScheduled = null;
    this.ticker = null;
    for (const l of this.links.values()) {
      l.msgapp.stop();
      l.message.stop();
    }
    this.dirty.clear();
    for (const s of this.snapshotSends.values()) s.cancel('transport stopped', false);
    this.snapshotSends.clear();
    for (const r of this.snapshotReceives.values()) r.fail('transport stopped');
    this.inbound.closeAll();
    this.delayed.clear();
    for (const ws of this.streamWss.clients) ws.terminate();
    for (const ws of this.snapshotWss.clients) ws.terminate();
    this.streamWss.close();
    this.snapshotWss.close();
    await Promise.all(this.servers.map((s) => closeServer(s)));
    this.log.info('peer transport stopped');
  }

  private listen(url: URL): Promise<Server> {
    const server = createServer((req, res) => this.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    server.on('clientError', (_err, socket) => socket.destroy());
    // A URL host is bracketed for IPv6 ([::1]); listen() wants it bare.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? 80 : Number(url.port);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err, url: url.href }, 'peer listener error'));
        resolve(server);
      });
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.opts.httpHandler?.(req, res)) return;
    const raft = req.url === STREAM_PATH || req.url === MESSAGE_STREAM_PATH || req.url === SNAPSHOT_PATH;
    res.writeHead(raft ? 426 : 404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(raft ? 'this route speaks WebSocket to Keelson peers only\n' : 'not found\n');
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = req.url;
    if (this.state !== 'started') {
      writeRefusal(socket, 503, 'member is stopping');
      return;
    }
    if (path !== STREAM_PATH && path !== MESSAGE_STREAM_PATH && path !== SNAPSHOT_PATH) {
      writeRefusal(socket, 404, `no route ${path}`);
      return;
    }
    const hs = checkHandshake(req, {
      memberId: this.opts.memberId,
      clusterId: this.opts.clusterId,
      standing: (id) => this.standing(id),
    });
    if (!hs.ok) {
      this.log.warn({ path, remote: req.socket.remoteAddress, reason: hs.reason }, 'refused peer connection');
      writeRefusal(socket, hs.status, hs.reason);
      return;
    }
    if (path === STREAM_PATH || path === MESSAGE_STREAM_PATH) {
      const channel: StreamChannel = path === STREAM_PATH ? 'msgapp' : 'message';
      this.streamWss.handleUpgrade(req, socket, head, (ws) => this.inbound.accept(ws, hs.from, channel));
      return;
    }
    if (
      !this.snapshotReceives.has(hs.from) &&
      this.snapshotReceives.size >= this.tuning.maxInboundSnapshots
    ) {
      this.counters.snapshotsRejected++;
      writeRefusal(socket, 503, `already receiving ${this.snapshotReceives.size} snapshots; try later`);
      return;
    }
    this.snapshotWss.handleUpgrade(req, socket, head, (ws) => {
      // A peer sends one snapshot at a time: a new one means it gave up on the old.
      this.snapshotReceives.get(hs.from)?.fail('superseded by a new snapshot from the same peer');
      const receiver = new SnapshotReceiver(
        this.snapshotContext(),
        ws,
        hs.from,
        (from, msg) => this.deliver(from, [msg]),
        (r) => this.snapshotReceives.get(r.from) === r && this.snapshotReceives.delete(r.from),
      );
      this.snapshotReceives.set(hs.from, receiver);
    });
  }

  private standing(id: number): PeerStanding {
    if (this.links.has(id)) return 'known';
    return this.removed.has(id) ? 'removed' : 'unknown';
  }

  private rememberRemoved(id: number): void {
    this.removed.add(id);
    if (this.removed.size <= REMOVED_IDS_MAX) return;
    const oldest = this.removed.values().next().value;
    if (oldest !== undefined) this.removed.delete(oldest);
  }

  private snapshotContext() {
    return {
      localId: this.opts.memberId,
      clusterId: this.opts.clusterId,
      tuning: this.tuning,
      log: this.log,
      counters: this.counters,
    };
  }

  private sendSnapshot(m: Message): void {
    const link = this.links.get(m.to)?.msgapp;
    if (link === undefined || !link.isActive()) {
      // Without a stream to the peer it is down or unknown: fail fast rather than after a timeout.
      this.counters.snapshotsFailed++;
      this.log.warn({ peer: m.to.toString(16) }, 'not sending snapshot: peer is not connected');
      this.reportSnapshotLater(m.to, false);
      return;
    }
    this.snapshotSends.get(m.to)?.cancel('superseded by a newer snapshot', true);
    const sender = new SnapshotSender(this.snapshotContext(), m, link.currentUrl(), (ok) => {
      if (this.snapshotSends.get(m.to) === sender) this.snapshotSends.delete(m.to);
      if (this.state === 'started') this.opts.onSnapshotStatus(m.to, ok);
    });
    this.snapshotSends.set(m.to, sender);
    sender.start();
  }

  /** Reports a snapshot status on a later turn: never from inside send(), which the member calls mid-Ready. */
  private reportSnapshotLater(peerId: number, ok: boolean): void {
    setImmediate(() => {
      if (this.state === 'started') this.opts.onSnapshotStatus(peerId, ok);
    });
  }

  private deliver(from: number, msgs: Message[]): boolean {
    if (this.state !== 'started') return false;
    const f = this.faults;
    if (f?.dropFrom?.has(from)) {
      this.counters.faultDroppedMessages += msgs.length;
      return false;
    }
    const delayMs = f?.delayMs ?? 0;
    // Once anything is delayed, everything after it waits its turn, so per-peer order holds.
    if (delayMs > 0 || this.delayed.pending() > 0) {
      if (this.delayed.push({ from, msgs }, delayMs)) return true;
      this.counters.faultDroppedMessages += msgs.length;
      return false;
    }
    this.deliverNow(msgs);
    return true;
  }

  private deliverNow(msgs: Message[]): void {
    if (this.state === 'started') this.opts.onMessages(msgs);
  }

  private markDirty(link: PeerLink): void {
    this.dirty.add(link);
    if (this.flushScheduled === null && this.state !== 'stopped') {
      this.flushScheduled = setImmediate(() => this.flush());
    }
  }

  /** Once per event-loop turn: one frame per peer, then one unreachable report per peer that dropped. */
  private flush(): void {
    this.flushScheduled = null;
    const links = [...this.dirty];
    this.dirty.clear();
    for (const link of links) link.flush();
    const unreachable = new Set<number>();
    for (const link of links) {
      if (!link.unreachablePending) continue;
      link.unreachablePending = false;
      if (this.state === 'started' && this.links.get(link.id)?.[link.channel] === link)
        unreachable.add(link.id);
    }
    for (const id of unreachable) this.opts.onUnreachable(id);
  }

  private tick(): void {
    for (const l of this.links.values()) {
      l.msgapp.tick();
      l.message.tick();
    }
    this.inbound.reapIdle(Date.now());
  }
}

/** Adds component and member to the log lines, unless the caller's logger already names them. */
function childLogger(logger: Logger, memberId: number): Logger {
  const bound = logger.bindings();
  return logger.child({
    ...(bound.component === undefined ? { component: 'peer-transport' } : {}),
    ...(bound.member === undefined ? { member: memberId.toString(16) } : {}),
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
