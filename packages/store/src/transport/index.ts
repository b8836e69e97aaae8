// The peer transport's public surface, for the member and the metrics exporter.

export { CodecError, decodeBatch, encodeBatch } from './codec.js';
export {
  DEFAULT_MAX_QUEUED_MESSAGES_PER_PEER,
  DEFAULT_TUNING,
  type PeerTransportOptions,
  type TransportFaults,
  type TransportTuning,
} from './options.js';
export type { PeerStats, TransportStats } from './stats.js';
export { PeerTransport } from './transport.js';
