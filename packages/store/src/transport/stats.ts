// Counters of the peer transport, read by the metrics exporter.

/** Running totals since start; all only grow. */
export interface TransportCounters {
  sentMessages: number;
  receivedMessages: number;
  /** Messages dropped because their peer was down, backed up or unknown, or too large to send. */
  droppedMessages: number;
  /** Messages dropped by injected faults (setFaults), counted apart from real drops. */
  faultDroppedMessages: number;
  sentBytes: number;
  receivedBytes: number;
  snapshotsSent: number;
  snapshotsFailed: number;
  snapshotsReceived: number;
  /** Inbound snapshots refused or failed: too big, corrupt, timed out, cut off. */
  snapshotsRejected: number;
}

export function newCounters(): TransportCounters {
  return {
    sentMessages: 0,
    receivedMessages: 0,
    droppedMessages: 0,
    faultDroppedMessages: 0,
    sentBytes: 0,
    receivedBytes: 0,
    snapshotsSent: 0,
    snapshotsFailed: 0,
    snapshotsReceived: 0,
    snapshotsRejected: 0,
  };
}

export interface PeerStats {
  readonly id: number;
  /** Our socket to the peer is open. */
  readonly connected: boolean;
  readonly activeSinceMs: number | null;
  readonly queuedMessages: number;
  readonly droppedMessages: number;
  /** The peer has a socket open to us. */
  readonly inboundConnected: boolean;
}

export interface TransportStats extends Readonly<TransportCounters> {
  readonly peers: readonly PeerStats[];
}
