import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { componentLogger, createLogger } from '../src/log.js';
import {
  createHttpHandler,
  ETCD_CLUSTER_VERSION,
  ETCD_SERVER_VERSION,
  type Health,
  type HttpHandlerOptions,
  StoreMetrics,
} from '../src/metrics.js';

/** The metric names and types a running etcd 3.4.23 exports (curl .../metrics), that Keelson keeps. */
const ETCD_METRICS: Array<[string, string]> = [
  ['etcd_server_has_leader', 'gauge'],
  ['etcd_server_is_leader', 'gauge'],
  ['etcd_server_is_learner', 'gauge'],
  ['etcd_server_leader_changes_seen_total', 'counter'],
  ['etcd_server_proposals_committed_total', 'gauge'],
  ['etcd_server_proposals_applied_total', 'gauge'],
  ['etcd_server_proposals_pending', 'gauge'],
  ['etcd_server_proposals_failed_total', 'counter'],
  ['etcd_server_slow_apply_total', 'counter'],
  ['etcd_server_quota_backend_bytes', 'gauge'],
  ['etcd_server_health_success', 'counter'],
  ['etcd_server_health_failures', 'counter'],
  ['etcd_server_version', 'gauge'],
  ['etcd_server_id', 'gauge'],
  ['etcd_disk_wal_fsync_duration_seconds', 'histogram'],
  ['etcd_disk_backend_commit_duration_seconds', 'histogram'],
  ['etcd_mvcc_db_total_size_in_bytes', 'gauge'],
  ['etcd_mvcc_db_total_size_in_use_in_bytes', 'gauge'],
  ['etcd_mvcc_put_total', 'counter'],
  ['etcd_mvcc_range_total', 'counter'],
  ['etcd_mvcc_txn_total', 'counter'],
  ['etcd_mvcc_delete_total', 'counter'],
  ['etcd_debugging_mvcc_watcher_total', 'gauge'],
  ['etcd_debugging_mvcc_watch_stream_total', 'gauge'],
  ['etcd_network_client_grpc_sent_bytes_total', 'counter'],
  ['etcd_network_client_grpc_received_bytes_total', 'counter'],
  ['etcd_network_peer_sent_bytes_total', 'counter'],
  ['etcd_network_peer_received_bytes_total', 'counter'],
  ['grpc_server_started_total', 'counter'],
  ['grpc_server_handled_total', 'counter'],
  ['keelson_raft_term', 'gauge'],
];

describe('StoreMetrics', () => {
  // Proves render() exports etcd 3.4's metric names with etcd's types, plus process metrics.
  it('renders etcd names and types', async () => {
    const m = new StoreMetrics();
    const text = await m.render();
    for (const [name, type] of ETCD_METRICS) expect(text).toContain(`# TYPE ${name} ${type}\n`);
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    expect(text).toContain(`etcd_server_version{server_version="${ETCD_SERVER_VERSION}"} 1`);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  // Proves updates through the typed fields show in the text, with etcd's histogram buckets.
  it('reflects updates', async () => {
    const m = new StoreMetrics({ defaultMetrics: false });
    m.hasLeader.set(1);
    m.raftTerm.set(7);
    m.leaderChangesSeen.inc();
    m.proposalsCommitted.set(42);
    m.walFsyncDuration.observe(0.003);
    m.setMemberId('8e9e05c52164694d');
    m.setMemberId('628170c800dbcee');
    m.peerSentBytes.inc({ To: 'abc' }, 10);
    m.grpcHandled.inc({
      grpc_code: 'OK',
      grpc_method: 'Range',
      grpc_service: 'etcdserverpb.KV',
      grpc_type: 'unary',
    });
    const text = await m.render();
    expect(text).toContain('etcd_server_has_leader 1');
    expect(text).toContain('keelson_raft_term 7');
    expect(text).toContain('etcd_server_leader_changes_seen_total 1');
    expect(text).toContain('etcd_server_proposals_committed_total 42');
    expect(text).toContain('etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} 0');
    expect(text).toContain('etcd_disk_wal_fsync_duration_seconds_bucket{le="0.004"} 1');
    expect(text).toContain('etcd_disk_wal_fsync_duration_seconds_bucket{le="8.192"} 1');
    expect(text).toContain('etcd_server_id{server_id="628170c800dbcee"} 1');
    expect(text).not.toContain('8e9e05c52164694d');
    expect(text).toContain('etcd_network_peer_sent_bytes_total{To="abc"} 10');
    expect(text).not.toContain('process_cpu_seconds_total');
  });

  // Proves two members in one process do not share metrics (each owns its registry).
  it('keeps members apart', async () => {
    const a = new StoreMetrics({ defaultMetrics: false });
    const b = new StoreMetrics({ defaultMetrics: false });
    a.raftTerm.set(3);
    expect(await b.render()).toContain('keelson_raft_term 0');
  });
});

describe('createHttpHandler', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function serve(
    opts: Partial<HttpHandlerOptions> & { health?: () => Promise<Health> },
  ): Promise<string> {
    const handler = createHttpHandler({
      metrics: new StoreMetrics({ defaultMetrics: false }),
      health: async () => ({ health: true, reason: '' }),
      ...opts,
    });
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  // Proves GET /metrics answers the exposition text with Prometheus' content type.
  it('serves /metrics', async () => {
    const metrics = new StoreMetrics({ defaultMetrics: false });
    metrics.isLeader.set(1);
    const url = await serve({ metrics });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.contentType);
    expect(await res.text()).toContain('etcd_server_is_leader 1');
  });

  // Proves /health has etcd 3.4.23's exact bodies: 200 {"health":"true"}, 503 {"health":"false"}.
  it('serves /health like etcd 3.4', async () => {
    const metrics = new StoreMetrics({ defaultMetrics: false });
    let health: Health = { health: true, reason: '' };
    const url = await serve({ metrics, health: async () => health });
    const ok = await fetch(`${url}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('{"health":"true"}');
    health = { health: false, reason: 'RAFT NO LEADER' };
    const bad = await fetch(`${url}/health?serializable=false`);
    expect(bad.status).toBe(503);
    expect(JSON.parse(await bad.text())).toEqual({ health: 'false' });
    expect(bad.headers.get('x-keelson-health-reason')).toBe('RAFT NO LEADER');
    const text = await metrics.render();
    expect(text).toContain('etcd_server_health_success 1');
    expect(text).toContain('etcd_server_health_failures 1');
  });

  // Proves a health check that throws reports unhealthy rather than failing the request.
  it('reports a throwing health check as unhealthy', async () => {
    const url = await serve({
      health: async () => {
        throw new Error('boom');
      },
    });
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(503);
    expect(res.headers.get('x-keelson-health-reason')).toBe('health check failed: boom');
  });

  // Proves /version has etcd's shape and a 3.4 server version by default, or the caller's.
  it('serves /version', async () => {
    const url = await serve({});
    const res = await fetch(`${url}/version`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ etcdserver: ETCD_SERVER_VERSION, etcdcluster: ETCD_CLUSTER_VERSION });
    const custom = await serve({ version: () => ({ etcdserver: '3.4.23', etcdcluster: 'not_decided' }) });
    expect(await (await fetch(`${custom}/version`)).json()).toEqual({
      etcdserver: '3.4.23',
      etcdcluster: 'not_decided',
    });
    const metricsOnly = await serve({ serveVersion: false });
    expect((await fetch(`${metricsOnly}/version`)).status).toBe(404);
  });

  // Proves unknown paths get a JSON 404 and other methods a 405, as etcd refuses them.
  it('answers 404 and 405', async () => {
    const url = await serve({});
    const missing = await fetch(`${url}/v3/kv/range`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/json');
    expect(await missing.json()).toEqual({ message: '404 page not found' });
    const post = await fetch(`${url}/health`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });
});

describe('createLogger', () => {
  function capture(): { stream: Writable; text: () => string; lines: () => Array<Record<string, unknown>> } {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    const lines = (): Array<Record<string, unknown>> =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { stream, text: () => chunks.join(''), lines };
  }

  // Proves log lines are JSON carrying member and component (once), level names, and the level filter.
  it('writes JSON lines with member and component', () => {
    const out = capture();
    const log = createLogger({ name: 's1', level: 'info', destination: out.stream });
    log.debug('hidden');
    log.info({ term: 2 }, 'hello');
    componentLogger(componentLogger(log, 'raft'), 'mvcc').warn('nested');
    log.child({ component: 'grpc' }).error('plain child');
    const [first, second, third] = out.lines();
    expect(out.lines()).toHaveLength(3);
    expect(third).toMatchObject({ level: 'error', member: 's1', component: 'grpc', msg: 'plain child' });
    expect(first).toMatchObject({ level: 'info', member: 's1', component: 'member', term: 2, msg: 'hello' });
    expect(second).toMatchObject({ level: 'warn', member: 's1', component: 'mvcc', msg: 'nested' });
    expect(typeof first?.time).toBe('string');
    // pino would write a child's "component" after its parent's; each line must carry it once.
    for (const line of out.text().trim().split('\n')) expect(line.match(/"component"/g)).toHaveLength(1);
  });

  // Proves the component option names the logger's component and the level option lets debug through.
  it('takes a component', () => {
    const out = capture();
    createLogger({ name: 's2', level: 'debug', component: 'grpc', destination: out.stream }).debug('x');
    const raw = out.lines();
    expect(raw[0]).toMatchObject({ level: 'debug', member: 's2', component: 'grpc' });
  });
});
