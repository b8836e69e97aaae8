// The options of the peer transport, its tunable bounds with their defaults, and the protocol's
// handshake headers.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Message } from '@keelson/raft';
import type { Logger } from 'pino';

/** Faults injected by chaos tests: messages to/from these members vanish; delivery is delayed. */
export interface TransportFaults {
  readonly dropTo?: ReadonlySet<number>;
  readonly dropFrom?: ReadonlySet<number>;
  readonly delayMs?: number;
  /** Chaos: the probability (0..1) that an outbound message is lost (set through member/faults.ts). */
  readonly lossRate?: number;
}

export interface PeerTransportOptions {
  readonly memberId: number;
  readonly clusterId: number;
  /** --listen-peer-urls (http://host:port); port 0 picks a free port. */
  readonly listenUrls: readonly URL[];
  readonly logger: Logger;
  /** Every received Raft message, in arrival order per peer. Must not throw. */
  onMessages(msgs: Message[]): void;
  /** The member calls rawNode.reportUnreachable. */
  onUnreachable(peerId: number): void;
  /** After streaming a MsgSnap: the member calls rawNode.reportSnapshot. */
  onSnapshotStatus(peerId: number, ok: boolean): void;
  /** A peer answered 410 Gone: this member was removed from the cluster (etcd then stops the member). */
  onRemoved?(byPeer: number): void;
  /** The peer's process is gone: an open connection closed and its port refuses connections. */
  onPeerDown?(peer: number): void;
  /** Other peer-port routes (e.g. GET /members); returns true if it handled the request. */
  readonly httpHandler?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Messages queued for one peer between two flushes; beyond this they are dropped. */
  readonly maxQueuedMessagesPerPeer?: number;
  /** The remaining bounds and timings; tests shrink them. */
  readonly tuning?: Partial<TransportTuning>;
}

export interface TransportTuning {
  /** The first reconnect delay; it doubles per failed attempt up to backoffMaxMs, jittered. */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  /** One connection attempt (TCP connect + WebSocket handshake) gives up after this long. */
  readonly connectTimeoutMs: number;
  /** Outbound sockets are pinged this often; one without a pong for two intervals is dead. */
  readonly pingIntervalMs: number;
  /** An inbound socket silent (no frame, no ping) for this long is dead. */
  readonly inboundIdleTimeoutMs: number;
  /** Beyond this many bytes buffered in a peer's socket, new messages for it are dropped. */
  readonly maxBufferedBytesPerPeer: number;
  /** A batch is split into frames of about this size. */
  readonly frameTargetBytes: number;
  /** The largest stream frame a receiver accepts; a bigger message is dropped by its sender. */
  readonly maxFrameBytes: number;
  readonly snapshotChunkBytes: number;
  /** The largest snapshot a receiver accepts. */
  readonly maxSnapshotBytes: number;
  /** A snapshot transfer without progress for this long fails. */
  readonly snapshotIdleTimeoutMs: number;
  /** A snapshot transfer that takes longer than this fails, progress or not. */
  readonly snapshotTimeoutMs: number;
  /** Snapshots being received at once, from all peers. */
  readonly maxInboundSnapshots: number;
}

const MiB = 1024 * 1024;

/** The largest Uint8Array Node 20 can allocate is 4 GiB; Snapshot.data must fit in one. */
const SNAPSHOT_BYTES_CEILING = 4 * 1024 * MiB - 1;

export const DEFAULT_TUNING: TransportTuning = {
  backoffMinMs: 50,
  backoffMaxMs: 2000,
  connectTimeoutMs: 3000,
  pingIntervalMs: 2000,
  inboundIdleTimeoutMs: 10_000,
  maxBufferedBytesPerPeer: 16 * MiB,
  frameTargetBytes: 4 * MiB,
  maxFrameBytes: 128 * MiB,
  snapshotChunkBytes: 1 * MiB,
  maxSnapshotBytes: Math.min(8 * 1024 * MiB, SNAPSHOT_BYTES_CEILING),
  snapshotIdleTimeoutMs: 30_000,
  snapshotTimeoutMs: 60 * 60_000,
  maxInboundSnapshots: 4,
};

export const DEFAULT_MAX_QUEUED_MESSAGES_PER_PEER = 4096;

/**
 * The WebSocket routes on the peer port. Like etcd (its msgappv2 and message streams), each peer pair
 * has two streams per direction: appends on one, everything else (heartbeats, votes, append
 * responses, read-index traffic) on the other. A heartbeat is then never queued behind megabytes of
 * appends, and never dropped because the append stream is backed up to a slow follower.
 */
export const STREAM_PATH = '/raft/stream';
export const MESSAGE_STREAM_PATH = '/raft/stream/message';
export const SNAPSHOT_PATH = '/raft/snapshot';

/** Which of a peer pair's two streams: MsgApp only, or every other message. */
export type StreamChannel = 'msgapp' | 'message';

export function streamPath(channel: StreamChannel): string {
  return channel === 'msgapp' ? STREAM_PATH : MESSAGE_STREAM_PATH;
}

/** Handshake headers: who is talking to whom, in which cluster, speaking which protocol version. */
export const HEADER_FROM = 'x-keelson-from';
export const HEADER_TO = 'x-keelson-to';
export const HEADER_CLUSTER = 'x-keelson-cluster';
export const HEADER_PROTOCOL = 'x-keelson-protocol';
/** Set on a refused handshake, so the dialer can log why. */
export const HEADER_REJECT = 'x-keelson-reject';
export const PROTOCOL_VERSION = '1';

export function handshakeHeaders(from: number, to: number, clusterId: number): Record<string, string> {
  return {
    [HEADER_FROM]: String(from),
    [HEADER_TO]: String(to),
    [HEADER_CLUSTER]: String(clusterId),
    [HEADER_PROTOCOL]: PROTOCOL_VERSION,
  };
}

/** The WebSocket URL of `path` at a peer URL (http → ws, https → wss). */
export function peerSocketUrl(peerUrl: string, path: string): string {
  const u = new URL(peerUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = path;
  u.search = '';
  u.hash = '';
  return u.toString();
}
