// The store's Prometheus metrics, under etcd 3.4's names and types (checked against a running
// etcd 3.4.23's /metrics) so that etcd dashboards and alerts work on Keelson unchanged, and the
// HTTP endpoints etcd serves beside gRPC: /metrics, /health and /version.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  Counter,
  collectDefaultMetrics,
  exponentialBuckets,
  Gauge,
  Histogram,
  type Registry as PromRegistry,
  Registry,
} from 'prom-client';

/** The etcd server version Keelson reports, so that etcd clients' version checks pass. */
export const ETCD_SERVER_VERSION = '3.4.23';
/** The cluster version a 3.4 cluster reports once its members agree. */
export const ETCD_CLUSTER_VERSION = '3.4.0';

/** etcd's disk histograms: 1 ms doubling up to about 8 s (prometheus.ExponentialBuckets(0.001, 2, 14)). */
const DISK_BUCKETS_SECONDS = exponentialBuckets(0.001, 2, 14);

export interface StoreMetricsOptions {
  /** Also collect process_* and nodejs_* metrics (default true; tests may turn them off). */
  readonly defaultMetrics?: boolean;
}

/**
 * Every metric a member exports, on its own registry (never prom-client's global one, so that
 * several members can run in one process). The member updates the typed fields directly.
 */
export class StoreMetrics {
  readonly registry: PromRegistry = new Registry();

  // Raft and the server, as etcd's etcdserver/metrics.go. Note that etcd 3.4 exports
  // proposals_committed_total and proposals_applied_total as gauges (set to the index), not counters.
  readonly hasLeader = this.gauge(
    'etcd_server_has_leader',
    'Whether or not a leader exists. 1 is existence, 0 is not.',
  );
  readonly isLeader = this.gauge(
    'etcd_server_is_leader',
    'Whether or not this member is a leader. 1 if is, 0 otherwise.',
  );
  readonly isLearner = this.gauge(
    'etcd_server_is_learner',
    'Whether or not this member is a learner. 1 if is, 0 otherwise.',
  );
  readonly leaderChangesSeen = this.counter(
    'etcd_server_leader_changes_seen_total',
    'The number of leader changes seen.',
  );
  readonly proposalsCommitted = this.gauge(
    'etcd_server_proposals_committed_total',
    'The total number of consensus proposals committed.',
  );
  readonly proposalsApplied = this.gauge(
    'etcd_server_proposals_applied_total',
    'The total number of consensus proposals applied.',
  );
  readonly proposalsPending = this.gauge(
    'etcd_server_proposals_pending',
    'The current number of pending proposals to commit.',
  );
  readonly proposalsFailed = this.counter(
    'etcd_server_proposals_failed_total',
    'The total number of failed proposals seen.',
  );
  readonly commitNotices = this.labelledCounter(
    'keelson_raft_commit_notices_total',
    "A leader's appends that only carry a new commit index: sent at once to a follower waiting on it (immediate), replaced by a later append (replaced), or sent after the hold (expired).",
    ['outcome'],
  );
  readonly slowApply = this.counter(
    'etcd_server_slow_apply_total',
    'The total number of slow apply requests (likely overloaded from slow disk).',
  );
  readonly readIndexesFailed = this.counter(
    'etcd_server_read_indexes_failed_total',
    'The total number of failed read indexes seen.',
  );
  readonly slowReadIndexes = this.counter(
    'etcd_server_slow_read_indexes_total',
    "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
  );
  readonly heartbeatSendFailures = this.counter(
    'etcd_server_heartbeat_send_failures_total',
    'The total number of leader heartbeat send failures (likely overloaded from slow disk).',
  );
  readonly snapshotApplyInProgress = this.gauge(
    'etcd_server_snapshot_apply_in_progress_total',
    '1 if the server is applying the incoming snapshot. 0 if none.',
  );
  readonly quotaBackendBytes = this.gauge(
    'etcd_server_quota_backend_bytes',
    'Current backend storage quota size in bytes.',
  );
  readonly healthSuccess = this.counter(
    'etcd_server_health_success',
    'The total number of successful health checks',
  );
  readonly healthFailures = this.counter(
    'etcd_server_health_failures',
    'The total number of failed health checks',
  );
  readonly serverVersion = this.labelledGauge(
    'etcd_server_version',
    "Which version is running. 1 for 'server_version' label with current version.",
    ['server_version'],
  );
  readonly serverId = this.labelledGauge(
    'etcd_server_id',
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    ['server_id'],
  );

  // Disk, as etcd's wal and mvcc/backend packages.
  readonly walFsyncDuration = this.histogram(
    'etcd_disk_wal_fsync_duration_seconds',
    'The latency distributions of fsync called by WAL.',
  );
  readonly walInlineWrites = this.counter(
    'keelson_wal_inline_writes_total',
    'WAL records written on the event loop (a lightly loaded member) rather than on the thread pool.',
  );
  readonly backendCommitDuration = this.histogram(
    'etcd_disk_backend_commit_duration_seconds',
    'The latency distributions of commit called by backend.',
  );

  // The MVCC store.
  readonly dbTotalSizeBytes = this.gauge(
    'etcd_mvcc_db_total_size_in_bytes',
    'Total size of the underlying database physically allocated in bytes.',
  );
  readonly dbTotalSizeInUseBytes = this.gauge(
    'etcd_mvcc_db_total_size_in_use_in_bytes',
    'Total size of the underlying database logically in use in bytes.',
  );
  readonly putTotal = this.counter('etcd_mvcc_put_total', 'Total number of puts seen by this member.');
  readonly rangeTotal = this.counter('etcd_mvcc_range_total', 'Total number of ranges seen by this member.');
  readonly txnTotal = this.counter('etcd_mvcc_txn_total', 'Total number of txns seen by this member.');
  readonly deleteTotal = this.counter(
    'etcd_mvcc_delete_total',
    'Total number of deletes seen by this member.',
  );
  // etcd 3.4 names these etcd_debugging_*; 3.5 added etcd_mvcc_watcher_total. Keelson speaks 3.4.
  readonly watcherTotal = this.gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.');
  readonly watchStreamTotal = this.gauge(
    'etcd_debugging_mvcc_watch_stream_total',
    'Total number of watch streams.',
  );

  // The network, as etcd's rafthttp and v3rpc packages (peer labels are member ids in hex).
  readonly peerSentBytes = this.labelledCounter(
    'etcd_network_peer_sent_bytes_total',
    'The total number of bytes sent to peers.',
    ['To'],
  );
  readonly peerReceivedBytes = this.labelledCounter(
    'etcd_network_peer_received_bytes_total',
    'The total number of bytes received from peers.',
    ['From'],
  );
  readonly peerSentFailures = this.labelledCounter(
    'etcd_network_peer_sent_failures_total',
    'The total number of send failures from peers.',
    ['To'],
  );
  readonly clientGrpcSentBytes = this.counter(
    'etcd_network_client_grpc_sent_bytes_total',
    'The total number of bytes sent to grpc clients.',
  );
  readonly clientGrpcReceivedBytes = this.counter(
    'etcd_network_client_grpc_received_bytes_total',
    'The total number of bytes received from grpc clients.',
  );
  readonly grpcStarted = this.labelledCounter(
    'grpc_server_started_total',
    'Total number of RPCs started on the server.',
    ['grpc_method', 'grpc_service', 'grpc_type'],
  );
  readonly grpcHandled = this.labelledCounter(
    'grpc_server_handled_total',
    'Total number of RPCs completed on the server, regardless of success or failure.',
    ['grpc_code', 'grpc_method', 'grpc_service', 'grpc_type'],
  );

  // Keelson's own: etcd has no term metric, and a term that keeps rising is the first sign of trouble.
  readonly raftTerm = this.gauge('keelson_raft_term', 'The current Raft term of this member.');

  constructor(opts: StoreMetricsOptions = {}) {
    this.serverVersion.set({ server_version: ETCD_SERVER_VERSION }, 1);
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Records this member's id (etcd_server_id{server_id="<hex>"} 1), replacing any earlier one. */
  setMemberId(idHex: string): void {
    if (!/^[0-9a-f]+$/.test(idHex))
      throw new Error(`assertion failed: member id must be hex, got "${idHex}"`);
    this.serverId.reset();
    this.serverId.set({ server_id: idHex }, 1);
  }

  /** The exposition text for GET /metrics. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }

  private labelledGauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter(name: string, help: string): Counter {
    return new Counter({ name, help, registers: [this.registry] });
  }

  private labelledCounter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram(name: string, help: string): Histogram {
    return new Histogram({ name, help, buckets: DISK_BUCKETS_SECONDS, registers: [this.registry] });
  }
}

export interface Health {
  readonly health: boolean;
  /** Why the member is unhealthy (e.g. "no leader"); logged and sent as a header, not in the body. */
  readonly reason: string;
}

/** etcd's /version body. */
export interface VersionInfo {
  readonly etcdserver: string;
  /** "not_decided" until the members agree on a cluster version, as in etcd. */
  readonly etcdcluster: string;
}

export interface HttpHandlerOptions {
  readonly metrics: StoreMetrics;
  readonly health: () => Promise<Health>;
  /** Defaults to { etcdserver: "3.4.23", etcdcluster: "3.4.0" }. */
  readonly version?: () => VersionInfo | object;
  /** Serve /version too (the client listener does; etcd's --listen-metrics-urls listeners do not). */
  readonly serveVersion?: boolean;
  /** Called when a handler fails unexpectedly (the request gets a 500). */
  readonly onError?: (err: unknown) => void;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Answers GET /metrics, /health and /version as etcd 3.4 does; anything else gets a JSON 404.
 * etcd 3.4.23's /health body is exactly {"health":"true"} or {"health":"false"} (no "reason"
 * field; 3.5 added it), with 503 when unhealthy.
 */
export function createHttpHandler(opts: HttpHandlerOptions): HttpHandler {
  const version =
    opts.version ?? (() => ({ etcdserver: ETCD_SERVER_VERSION, etcdcluster: ETCD_CLUSTER_VERSION }));
  const routes: Record<string, (res: ServerResponse) => Promise<void>> = {
    '/metrics': (res) => serveMetrics(opts.metrics, res),
    '/health': (res) => serveHealth(opts, res),
  };
  if (opts.serveVersion !== false)
    routes['/version'] = async (res) => send(res, 200, 'application/json', JSON.stringify(version()));
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    if (route === undefined) {
      send(res, 404, 'application/json', JSON.stringify({ message: '404 page not found' }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET');
      send(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n');
      return;
    }
    route(res).catch((err: unknown) => {
      opts.onError?.(err);
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ message: 'internal error' }));
      else res.end();
    });
  };
}

async function serveMetrics(metrics: StoreMetrics, res: ServerResponse): Promise<void> {
  send(res, 200, metrics.contentType, await metrics.render());
}

async function serveHealth(opts: HttpHandlerOptions, res: ServerResponse): Promise<void> {
  let h: Health;
  try {
    h = await opts.health();
  } catch (err) {
    h = { health: false, reason: `health check failed: ${(err as Error).message}` };
  }
  if (h.health) {
    opts.metrics.healthSuccess.inc();
    send(res, 200, 'text/plain; charset=utf-8', '{"health":"true"}');
  } else {
    opts.metrics.healthFailures.inc();
    // Header values must be plain ASCII; reasons are short English phrases, but be safe.
    res.setHeader('X-Keelson-Health-Reason', h.reason.replace(/[^\x20-\x7e]/g, '?'));
    send(res, 503, 'text/plain; charset=utf-8', '{"health":"false"}\n');
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
