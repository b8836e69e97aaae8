// Proves the gRPC layer speaks etcd's wire protocol: the etcd3 npm client, etcdctl 3.4 and Keelson's own
// EtcdClient drive createEtcdGrpcServer + listenClientUrls over a small in-memory StoreBackend.
import { execFile, spawn } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StoreBackend, WatchSink, WatchSinkResponse } from '../src/api/backend.js';
import type * as T from '../src/api/types.js';
import { EtcdClient, type EtcdClientError, type WatchResult } from '../src/client.js';
import { EtcdError } from '../src/errors.js';
import { listenClientUrls } from '../src/grpc/listen.js';
import { loadClientServices } from '../src/grpc/proto.js';
import { createEtcdGrpcServer, maxRequestBytesDefault } from '../src/grpc/server.js';

/** A Map-based single-member store: enough etcd semantics to exercise the gRPC layer. */
class FakeBackend implements StoreBackend {
  revision = 1;
  compactRevision = 0;
  readonly kvs = new Map<string, T.KeyValue>();
  readonly watchers = new Set<{ req: T.WatchCreateRequest; sink: WatchSink }>();
  readonly leases = new Map<number, number>();

  header(): T.ResponseHeader {
    return { cluster_id: 11, member_id: 22, revision: this.revision, raft_term: 3 };
  }

  private inRange(key: Buffer, start: Buffer, end: Buffer): boolean {
    if (end.length === 0) return key.equals(start);
    if (end.length === 1 && end[0] === 0) return Buffer.compare(key, start) >= 0;
    return Buffer.compare(key, start) >= 0 && Buffer.compare(key, end) < 0;
  }

  private select(key: Buffer, end: Buffer): T.KeyValue[] {
    return [...this.kvs.values()]
      .filter((kv) => this.inRange(kv.key, key, end))
      .sort((a, b) => Buffer.compare(a.key, b.key));
  }

  async range(req: T.RangeRequest): Promise<T.RangeResponse> {
    if (req.revision > 0 && req.revision < this.compactRevision) throw new EtcdError('Compacted');
    if (req.revision > this.revision) throw new EtcdError('FutureRev');
    const all = this.select(req.key, req.range_end);
    const kvs = req.limit > 0 ? all.slice(0, req.limit) : all;
    const shown = req.keys_only ? kvs.map((kv) => ({ ...kv, value: Buffer.alloc(0) })) : kvs;
    return {
      header: this.header(),
      kvs: req.count_only ? [] : shown,
      more: kvs.length < all.length,
      count: all.length,
    };
  }

  private notify(type: T.EventType, kv: T.KeyValue, prev: T.KeyValue | null): void {
    for (const w of this.watchers) {
      if (!this.inRange(kv.key, w.req.key, w.req.range_end)) continue;
      const event: T.Event = { type, kv, prev_kv: w.req.prev_kv ? prev : null };
      w.sink({
        events: [event],
        revision: this.revision,
        compact_revision: 0,
        canceled: false,
        cancel_reason: '',
      });
    }
  }

  private putOne(req: T.PutRequest): T.KeyValue | null {
    const prev = this.kvs.get(req.key.toString('latin1')) ?? null;
    const kv: T.KeyValue = {
      key: req.key,
      value: req.value,
      create_revision: prev?.create_revision ?? this.revision,
      mod_revision: this.revision,
      version: (prev?.version ?? 0) + 1,
      lease: req.lease,
    };
    this.kvs.set(req.key.toString('latin1'), kv);
    this.notify('PUT', kv, prev);
    return prev;
  }

  async put(req: T.PutRequest): Promise<T.PutResponse> {
    this.revision++;
    const prev = this.putOne(req);
    return { header: this.header(), prev_kv: req.prev_kv ? prev : null };
  }

  private deleteSome(req: T.DeleteRangeRequest): T.KeyValue[] {
    const doomed = this.select(req.key, req.range_end);
    for (const kv of doomed) {
      this.kvs.delete(kv.key.toString('latin1'));
      this.notify('DELETE', { ...kv, value: Buffer.alloc(0), mod_revision: this.revision, version: 0 }, kv);
    }
    return doomed;
  }

  async deleteRange(req: T.DeleteRangeRequest): Promise<T.DeleteRangeResponse> {
    if (this.select(req.key, req.range_end).length > 0) this.revision++;
    const doomed = this.deleteSome(req);
    return { header: this.header(), deleted: doomed.length, prev_kvs: req.prev_kv ? doomed : [] };
  }

  private compare(c: T.Compare): boolean {
    const kv = this.kvs.get(c.key.toString('latin1'));
    const actual = {
      VALUE: kv?.value ?? Buffer.alloc(0),
      VERSION: kv?.version ?? 0,
      CREATE: kv?.create_revision ?? 0,
      MOD: kv?.mod_revision ?? 0,
      LEASE: kv?.lease ?? 0,
    }[c.target];
    const wanted = {
      VALUE: c.value,
      VERSION: c.version,
      CREATE: c.create_revision,
      MOD: c.mod_revision,
      LEASE: c.lease,
    }[c.target];
    const order = Buffer.isBuffer(actual)
      ? Buffer.compare(actual, wanted as Buffer)
      : Math.sign(actual - (wanted as number));
    return { EQUAL: order === 0, NOT_EQUAL: order !== 0, GREATER: order > 0, LESS: order < 0 }[c.result];
  }

  async txn(req: T.TxnRequest): Promise<T.TxnResponse> {
    const succeeded = req.compare.every((c) => this.compare(c));
    const ops = succeeded ? req.success : req.failure;
    if (ops.some((o) => o.request_put || o.request_delete_range)) this.revision++;
    const responses: T.ResponseOp[] = [];
    for (const o of ops) {
      if (o.request_range) responses.push({ response_range: await this.range(o.request_range) });
      else if (o.request_put) {
        const prev = this.putOne(o.request_put);
        responses.push({
          response_put: { header: this.header(), prev_kv: o.request_put.prev_kv ? prev : null },
        });
      } else if (o.request_delete_range) {
        const doomed = this.deleteSome(o.request_delete_range);
        responses.push({
          response_delete_range: { header: this.header(), deleted: doomed.length, prev_kvs: [] },
        });
      }
    }
    return { header: this.header(), succeeded, responses };
  }

  async compact(req: T.CompactionRequest): Promise<T.CompactionResponse> {
    if (req.revision <= this.compactRevision) throw new EtcdError('Compacted');
    if (req.revision > this.revision) throw new EtcdError('FutureRev');
    this.compactRevision = req.revision;
    return { header: this.header() };
  }

  watch(req: T.WatchCreateRequest, sink: WatchSink) {
    if (req.start_revision > 0 && req.start_revision < this.compactRevision) {
      // Like etcd: the watch is created, then canceled with the compact revision.
      const r: WatchSinkResponse = {
        events: [],
        revision: this.revision,
        compact_revision: this.compactRevision,
        canceled: true,
        cancel_reason: '',
      };
      queueMicrotask(() => sink(r));
      return { cancel: () => {}, requestProgress: () => {} };
    }
    const w = { req, sink };
    this.watchers.add(w);
    return {
      cancel: () => this.watchers.delete(w),
      requestProgress: () =>
        sink({
          events: [],
          revision: this.revision,
          compact_revision: 0,
          canceled: false,
          cancel_reason: '',
        }),
    };
  }

  async leaseGrant(req: { TTL: number; ID: number }) {
    const id = req.ID || 1000 + this.leases.size;
    this.leases.set(id, req.TTL);
    return { header: this.header(), ID: id, TTL: req.TTL, error: '' };
  }
  async leaseRevoke(req: { ID: number }) {
    if (!this.leases.delete(req.ID)) throw new EtcdError('LeaseNotFound');
    return { header: this.header() };
  }
  async leaseKeepAlive(req: { ID: number }) {
    const ttl = this.leases.get(req.ID);
    if (ttl === undefined) throw new EtcdError('LeaseNotFound');
    return { header: this.header(), ID: req.ID, TTL: ttl };
  }
  async leaseTimeToLive(req: { ID: number; keys: boolean }) {
    const ttl = this.leases.get(req.ID) ?? -1;
    return { header: this.header(), ID: req.ID, TTL: ttl, grantedTTL: Math.max(ttl, 0), keys: [] };
  }
  async leaseLeases() {
    return { header: this.header(), leases: [...this.leases.keys()].map((ID) => ({ ID })) };
  }
  private readonly member: T.Member = {
    ID: 22,
    name: 'fake',
    peerURLs: ['http://127.0.0.1:1'],
    clientURLs: [],
    isLearner: false,
  };
  async memberAdd(req: { peerURLs: string[]; isLearner: boolean }) {
    const member = { ID: 33, name: '', peerURLs: req.peerURLs, clientURLs: [], isLearner: req.isLearner };
    return { header: this.header(), member, members: [this.member, member] };
  }
  async memberRemove(_req: { ID: number }): Promise<{ header: T.ResponseHeader; members: T.Member[] }> {
    throw new EtcdError('MemberNotFound');
  }
  async memberUpdate(_req: { ID: number; peerURLs: string[] }) {
    return { header: this.header(), members: [this.member] };
  }
  async memberList() {
    return { header: this.header(), members: [this.member] };
  }
  async memberPromote(_req: { ID: number }): Promise<{ header: T.ResponseHeader; members: T.Member[] }> {
    throw new EtcdError('MemberNotLearner');
  }
  async alarm(_req: { action: T.AlarmAction; memberID: number; alarm: T.AlarmType }) {
    return { header: this.header(), alarms: [] };
  }
  async status(): Promise<T.StatusResponse> {
    const h = this.header();
    return {
      header: h,
      version: '3.4.23',
      dbSize: 100,
      leader: 22,
      raftIndex: 9,
      raftTerm: 3,
      raftAppliedIndex: 9,
      errors: [],
      dbSizeInUse: 50,
      isLearner: false,
    };
  }
  async defragment() {
    return { header: this.header() };
  }
  async hash() {
    return { header: this.header(), hash: 1234 };
  }
  async hashKV(_req: { revision: number }) {
    return { header: this.header(), hash: 5678, compact_revision: this.compactRevision };
  }
  async *snapshot(): AsyncIterable<Buffer> {
    yield Buffer.from('chunk-1;');
    yield Buffer.from('chunk-2;');
    yield Buffer.from('end');
  }
  async moveLeader(_req: { targetID: number }): Promise<{ header: T.ResponseHeader }> {
    throw new Error('boom: a bug in the backend');
  }
}

// biome-ignore lint/suspicious/noExplicitAny: raw decoded protobuf messages
type Wire = any;

const ctlEnv = { ...process.env, ETCDCTL_API: '3' };

function etcdctl(
  endpoint: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'etcdctl',
      ['--endpoints', endpoint, ...args],
      { env: ctlEnv, timeout: 15_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(poll, 20);
    };
    poll();
  });
}

describe('etcd gRPC server over a fake backend', () => {
  const backend = new FakeBackend();
  let close: () => Promise<void>;
  let endpoint: string;
  let etcd3: Etcd3;
  let client: EtcdClient;

  beforeAll(async () => {
    const logger = pino({ level: 'silent' });
    const server = createEtcdGrpcServer(backend, { maxRequestBytes: maxRequestBytesDefault, logger });
    const listeners = await listenClientUrls([new URL('http://127.0.0.1:0')], server, (req, res) => {
      res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(req.url === '/health' ? '{"health":"true"}' : '');
    });
    close = listeners.close;
    endpoint = `127.0.0.1:${listeners.ports[0]}`;
    etcd3 = new Etcd3({ hosts: `http://${endpoint}` });
    client = new EtcdClient({ endpoints: [endpoint] });
  });

  afterAll(async () => {
    etcd3?.close();
    client?.close();
    await close?.();
  });

  test('the etcd3 npm client can put, get, delete and run a txn', async () => {
    // Proves etcd3 (its own copy of rpc.proto) interoperates with our field numbers and handlers.
    await etcd3.put('npm/a').value('1');
    expect(await etcd3.get('npm/a').string()).toBe('1');
    const result = await etcd3.if('npm/a', 'Value', '==', '1').then(etcd3.put('npm/a').value('2')).commit();
    expect(result.succeeded).toBe(true);
    expect(await etcd3.get('npm/a').string()).toBe('2');
    expect(await etcd3.getAll().prefix('npm/').keys()).toEqual(['npm/a']);
    await etcd3.delete().key('npm/a');
    expect(await etcd3.get('npm/a').string()).toBeNull();
  });

  test('the etcd3 npm client receives watch events', async () => {
    // Proves the Watch stream: created first, then events for puts made after creation.
    const watcher = await etcd3.watch().prefix('w3/').create();
    const seen: string[] = [];
    watcher.on('put', (kv) => seen.push(`${kv.key.toString()}=${kv.value.toString()}`));
    await etcd3.put('w3/x').value('y');
    await until(() => seen.length === 1);
    expect(seen).toEqual(['w3/x=y']);
    await watcher.cancel();
  });

  test('etcdctl can put, get, delete and txn', async () => {
    // Proves etcdctl 3.4 (clientv3) works against the server, including its output of our headers.
    expect((await etcdctl(endpoint, ['put', 'ctl/a', 'v1'])).stdout.trim()).toBe('OK');
    expect((await etcdctl(endpoint, ['get', 'ctl/a'])).stdout).toBe('ctl/a\nv1\n');
    const txn = await etcdctl(endpoint, ['txn'], 'value("ctl/a") = "v1"\n\nput ctl/b v2\n\nput ctl/c v3\n\n');
    expect(txn.stdout).toBe('SUCCESS\n\nOK\n');
    expect(
      (await etcdctl(endpoint, ['get', '--prefix', 'ctl/', '--keys-only'])).stdout.trim().split(/\n+/),
    ).toEqual(['ctl/a', 'ctl/b']);
    expect((await etcdctl(endpoint, ['del', '--prefix', 'ctl/'])).stdout.trim()).toBe('2');
  });

  test('etcdctl watch prints events', async () => {
    // Proves a long-running etcdctl watch receives events over the stream.
    const child = spawn('etcdctl', ['--endpoints', endpoint, 'watch', 'ctlw/k'], { env: ctlEnv });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await until(() => backend.watchers.size > 0);
      await etcdctl(endpoint, ['put', 'ctlw/k', 'hello']);
      await until(() => out.includes('hello'));
      expect(out).toBe('PUT\nctlw/k\nhello\n');
    } finally {
      child.kill('SIGTERM');
    }
  });

  test('an HTTP GET /health on the client port reaches the HTTP handler', async () => {
    // Proves the cmux-style listener routes HTTP/1.1 to the http handler on the gRPC port.
    const res = await fetch(`http://${endpoint}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ health: 'true' });
  });

  test('an EtcdError from the backend reaches etcdctl as etcd message', async () => {
    // Proves errors keep etcd's exact text, which clientv3 maps back to its typed errors.
    await etcdctl(endpoint, ['put', 'cmp/a', '1']);
    await etcdctl(endpoint, ['put', 'cmp/a', '2']);
    expect((await etcdctl(endpoint, ['compaction', String(backend.revision)])).code).toBe(0);
    const res = await etcdctl(endpoint, ['get', 'cmp/a', '--rev', '2']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('Error: etcdserver: mvcc: required revision has been compacted');
  });

  test('oversized puts are refused and the server keeps serving', async () => {
    // Proves etcd's two limits: gRPC refuses > max+512KiB, the server refuses > max with etcd's error.
    const err2MiB = (await client
      .put('big', Buffer.alloc(2 * 1024 * 1024))
      .catch((e) => e)) as EtcdClientError;
    expect(err2MiB.code).toBe(8); // ResourceExhausted, as real etcd 3.4 answers
    expect(err2MiB.details).toMatch(/larger than max/i);
    const err18 = (await client
      .put('big', Buffer.alloc(1.8 * 1024 * 1024))
      .catch((e) => e)) as EtcdClientError;
    expect(err18.code).toBe(3);
    expect(err18.details).toBe('etcdserver: request is too large');
    const ctl = await etcdctl(endpoint, ['put', 'big'], 'x'.repeat(1.8 * 1024 * 1024));
    expect(ctl.stderr).toContain('Error: etcdserver: request is too large');
    await client.put('after-big', 'ok');
    expect((await client.get('after-big')).kvs[0]?.value.toString()).toBe('ok');
  });

  test('watch ids are assigned per stream and duplicates refused, like etcd', async () => {
    // Proves etcd's AutoWatchID rules on one raw stream: 0 assigns the next free id, a taken id is refused.
    const Watch = loadClientServices().Watch;
    const raw = new Watch(endpoint, grpc.credentials.createInsecure());
    const stream = (raw as unknown as { Watch(): grpc.ClientDuplexStream<object, Wire> }).Watch();
    const seen: Wire[] = [];
    stream.on('data', (r: Wire) => seen.push(r));
    stream.on('error', () => {});
    const create = (watchId: number): void => {
      stream.write({ create_request: { key: Buffer.from('ids'), watch_id: watchId } });
    };
    create(0);
    create(1);
    create(0);
    create(1);
    create(3);
    create(0);
    await until(() => seen.length === 6);
    expect(seen.map((r) => [r.watch_id, r.created, r.canceled, r.cancel_reason])).toEqual([
      ['0', true, false, ''],
      ['1', true, false, ''],
      ['2', true, false, ''],
      ['-1', true, true, 'mvcc: duplicate watch ID provided on the WatchStream'],
      ['3', true, false, ''],
      ['4', true, false, ''],
    ]);
    stream.end();
    raw.close();
    await until(() => backend.watchers.size === 0);
  });

  test('a progress request is answered once for the stream with watch id -1', async () => {
    // Proves etcd's watch id rules and etcd 3.4's stream-wide progress response.
    const seen: WatchResult[] = [];
    const h = await client.watch('pw/', { prefix: true }, (r) => seen.push(r));
    expect(h.watchId).toBe(0);
    await client.put('pw/a', '1');
    h.requestProgress();
    await until(() => seen.some((r) => r.watch_id === -1));
    const progress = seen.find((r) => r.watch_id === -1);
    expect(progress?.header.revision).toBe(backend.revision);
    expect(seen.map((r) => [r.watch_id, r.created, r.events.length])).toEqual([
      [0, true, 0],
      [0, false, 1],
      [-1, false, 0],
    ]);
    h.cancel();
    await until(() => backend.watchers.size === 0);
  });

  test('a watch from a compacted revision is canceled with the compact revision', async () => {
    // Proves backend-initiated cancellation reaches the client with compact_revision set.
    await client.put('cw', '1');
    await client.put('cw', '2');
    await client.compact(backend.revision);
    const seen: WatchResult[] = [];
    await client.watch('cw', { startRevision: 1 }, (r) => seen.push(r));
    await until(() => seen.some((r) => r.canceled));
    expect(seen.at(-1)).toMatchObject({ canceled: true, compact_revision: backend.compactRevision });
  });

  test('leases, members, maintenance and auth answer like etcd', async () => {
    // Proves the unary services, LeaseKeepAlive's TTL 0 for unknown leases and Snapshot's chunks.
    const lease = await client.leaseGrant(30);
    expect(lease.TTL).toBe(30);
    expect((await client.leaseKeepAliveOnce(lease.ID)).TTL).toBe(30);
    expect((await client.leaseKeepAliveOnce('424242')).TTL).toBe(0);
    expect((await client.leaseTimeToLive('424242')).TTL).toBe(-1);
    expect((await client.leaseLeases()).leases.map((l) => l.ID)).toContain(lease.ID);
    await client.leaseRevoke(lease.ID);
    expect((await client.memberList()).members[0]).toMatchObject({ ID: '22', name: 'fake' });
    expect((await client.memberAdd(['http://127.0.0.1:9'], { isLearner: true })).member.isLearner).toBe(true);
    await expect(client.memberRemove('99')).rejects.toMatchObject({
      code: 5,
      details: 'etcdserver: member not found',
    });
    expect((await client.status()).version).toBe('3.4.23');
    expect((await client.hashKV()).hash).toBe(5678);
    const chunks: string[] = [];
    for await (const chunk of client.snapshot()) chunks.push(chunk.toString());
    expect(chunks.join('')).toBe('chunk-1;chunk-2;end');
    await expect(client.moveLeader('1')).rejects.toMatchObject({
      code: 2,
      details: 'boom: a bug in the backend',
    });
    const auth = await etcdctl(endpoint, ['auth', 'enable']);
    expect(auth.stderr).toContain('etcdserver: not implemented');
  });

  test('bad requests get etcd errors and the server survives', async () => {
    // Proves request checks (empty key) and that a garbage watch request does not break the stream.
    await expect(client.put('', 'v')).rejects.toMatchObject({
      code: 3,
      details: 'etcdserver: key is not provided',
    });
    await expect(client.get('')).rejects.toMatchObject({ details: 'etcdserver: key is not provided' });
    const refused = await client.watch('z', { rangeEnd: 'a' }, () => {}).catch((e) => e);
    expect(refused.details).toBe('mvcc: watcher range is empty');
    expect((await client.get('after-big')).count).toBe(1);
  });
});
