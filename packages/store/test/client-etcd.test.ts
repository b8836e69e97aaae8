// Proves EtcdClient and Keelson's copy of rpc.proto match real etcd 3.4: every client method runs against
// a single-member etcd, so a wrong field number or method name would show up as a wrong or missing value.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../../../test/util/ports.js';
import { cmp, EtcdClient, type EtcdClientError, op, type WatchResult } from '../src/client.js';
import { loadClientServices } from '../src/grpc/proto.js';

// biome-ignore lint/suspicious/noExplicitAny: raw decoded protobuf messages
type Wire = any;

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

describe('EtcdClient against real etcd 3.4', () => {
  let etcd: ChildProcess | undefined;
  let dataDir: string;
  let endpoint: string;
  let client: EtcdClient;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'keelson-client-etcd-'));
    const clientPort = await freePort();
    const peerPort = await freePort();
    endpoint = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    etcd = spawn(
      'etcd',
      [
        '--data-dir',
        path.join(dataDir, 'data'),
        '--listen-client-urls',
        endpoint,
        '--advertise-client-urls',
        endpoint,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `default=${peer}`,
      ],
      { stdio: 'ignore' },
    );
    // A dead endpoint first: idempotent calls must move on to the live one.
    const deadPort = await freePort();
    client = new EtcdClient({ endpoints: [`127.0.0.1:${deadPort}`, endpoint], dialTimeoutMs: 500 });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await client.status();
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  });

  afterAll(async () => {
    client?.close();
    if (etcd?.pid !== undefined && etcd.exitCode === null) {
      const exited = new Promise((r) => etcd?.once('exit', r));
      etcd.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (etcd.exitCode === null) etcd.kill('SIGKILL');
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('put, get with options, delete', async () => {
    // Proves KV fields: revisions, versions, prev_kv, prefix ranges, limit/more/count, keys_only, sort.
    const first = await client.put('kv/a', 'one');
    const second = await client.put('kv/a', Buffer.from('two'), { prevKv: true });
    expect(second.header.revision).toBe(first.header.revision + 1);
    expect(second.prev_kv?.value.toString()).toBe('one');
    await client.put('kv/b', 'bee');
    const got = await client.get('kv/a');
    expect(got.kvs[0]).toMatchObject({
      version: 2,
      create_revision: first.header.revision,
      mod_revision: second.header.revision,
      lease: '0',
    });
    const page = await client.get('kv/', {
      prefix: true,
      limit: 1,
      sort: { target: 'KEY', order: 'DESCEND' },
    });
    expect([page.kvs.map((kv) => kv.key.toString()), page.more, page.count]).toEqual([['kv/b'], true, 2]);
    const keysOnly = await client.get('kv/', { prefix: true, keysOnly: true, serializable: true });
    expect(keysOnly.kvs.map((kv) => kv.value.length)).toEqual([0, 0]);
    expect((await client.get('kv/', { prefix: true, countOnly: true })).count).toBe(2);
    expect((await client.get('kv/a', { revision: first.header.revision })).kvs[0]?.value.toString()).toBe(
      'one',
    );
    const raw = await client.range({
      key: Buffer.from('kv/a'),
      range_end: Buffer.from('kv/c'),
      min_mod_revision: second.header.revision + 1,
    });
    expect(raw.kvs.map((kv) => kv.key.toString())).toEqual(['kv/b']);
    // A single-key delete must not reach later keys (empty range_end is left off the wire).
    expect((await client.delete('kv/a')).deleted).toBe(1);
    await client.put('kv/a', 'again');
    const del = await client.delete('kv/', { prefix: true, prevKv: true });
    expect([del.deleted, del.prev_kvs.length]).toEqual([2, 2]);
  });

  test('txn with comparisons, nested reads and failure branch', async () => {
    // Proves Compare's oneof target_union, RequestOp/ResponseOp oneofs and TxnResponse.
    const created = await client.txn({
      compare: [cmp.createRevision('tx/k', '=', 0)],
      success: [op.put('tx/k', 'v1'), op.get('tx/k')],
      failure: [op.get('tx/k')],
    });
    expect(created.succeeded).toBe(true);
    expect(created.responses[1]?.response_range?.kvs[0]?.value.toString()).toBe('v1');
    const again = await client.txn({
      compare: [cmp.value('tx/k', '=', 'nope'), cmp.version('tx/k', '>', 0)],
      success: [op.delete('tx/k')],
      failure: [op.get('tx/k', { keysOnly: true })],
    });
    expect(again.succeeded).toBe(false);
    expect(again.responses[0]?.response_range?.count).toBe(1);
    const tooLate = await client.txn({
      compare: [cmp.modRevision('tx/k', '<', 1)],
      success: [],
      failure: [],
    });
    expect(tooLate.succeeded).toBe(false);
    const dup = await client.txn({ success: [op.put('tx/d', '1'), op.put('tx/d', '2')] }).catch((e) => e);
    expect((dup as EtcdClientError).details).toBe('etcdserver: duplicate key given in txn request');
  });

  test('watch: created, events with prev_kv, progress with id -1, cancel, compaction', async () => {
    // Proves the Watch stream messages (and records etcd 3.4's answers the server must match).
    const seen: WatchResult[] = [];
    const start = await client.put('w/a', '0');
    const handle = await client.watch('w/', { prefix: true, prevKv: true }, (r) => seen.push(r));
    await client.put('w/a', '1');
    await client.delete('w/a');
    await until(() => seen.reduce((n, r) => n + r.events.length, 0) === 2);
    handle.requestProgress();
    await until(() => seen.some((r) => r.watch_id === -1));
    handle.cancel();
    const [created, put, del] = seen.filter((r) => r.created || r.events.length > 0);
    expect(created).toMatchObject({ created: true, watch_id: handle.watchId });
    expect(put?.events[0]).toMatchObject({ type: 'PUT', prev_kv: { version: 1 } });
    expect(del?.events[0]?.type).toBe('DELETE');
    expect(seen.find((r) => r.watch_id === -1)?.header.revision).toBe(del?.header.revision);
    await client.compact(del?.header.revision ?? 0, { physical: true });
    const compacted: WatchResult[] = [];
    await client.watch('w/a', { startRevision: start.header.revision }, (r) => compacted.push(r));
    await until(() => compacted.some((r) => r.canceled));
    expect(compacted.at(-1)).toMatchObject({
      canceled: true,
      compact_revision: del?.header.revision,
      cancel_reason: '',
    });
    const err = await client.get('w/a', { revision: start.header.revision }).catch((e) => e);
    expect([err.code, err.details]).toEqual([11, 'etcdserver: mvcc: required revision has been compacted']);
  });

  test('watch ids on one raw stream follow etcd rules', async () => {
    // Proves the id sequence grpc-server.test.ts expects of Keelson is what etcd 3.4 does.
    const Watch = loadClientServices().Watch;
    const raw = new Watch(endpoint.replace('http://', ''), grpc.credentials.createInsecure());
    const stream = (raw as unknown as { Watch(): grpc.ClientDuplexStream<object, Wire> }).Watch();
    const seen: Wire[] = [];
    stream.on('data', (r: Wire) => seen.push(r));
    stream.on('error', () => {});
    for (const id of [0, 1, 0, 1, 3, 0])
      stream.write({ create_request: { key: Buffer.from('ids'), watch_id: id } });
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
  });

  test('leases', async () => {
    // Proves Lease fields, TTL 0 for an unknown lease on keep-alive and TTL -1 on time-to-live.
    const lease = await client.leaseGrant(60);
    expect(lease.ID).toMatch(/^\d+$/);
    expect(lease.TTL).toBe(60);
    await client.put('lease/k', 'v', { lease: lease.ID });
    expect((await client.get('lease/k')).kvs[0]?.lease).toBe(lease.ID);
    expect((await client.leaseKeepAliveOnce(lease.ID)).TTL).toBe(60);
    const ttl = await client.leaseTimeToLive(lease.ID, { keys: true });
    expect([ttl.grantedTTL, ttl.keys.map(String)]).toEqual([60, ['lease/k']]);
    expect((await client.leaseLeases()).leases.map((l) => l.ID)).toContain(lease.ID);
    await client.leaseRevoke(lease.ID);
    expect((await client.get('lease/k')).kvs).toEqual([]);
    expect((await client.leaseKeepAliveOnce(lease.ID)).TTL).toBe(0);
    expect((await client.leaseTimeToLive(lease.ID)).TTL).toBe(-1);
    const gone = await client.leaseRevoke(lease.ID).catch((e) => e);
    expect([gone.code, gone.details]).toEqual([5, 'etcdserver: requested lease not found']);
  });

  test('cluster membership', async () => {
    // Proves Member fields with 64-bit ids kept as strings, and learner add/promote/update/remove.
    const list = await client.memberList();
    expect(list.members).toHaveLength(1);
    const self = list.members[0];
    expect(self?.ID).toBe(list.header.member_id);
    expect(BigInt(self?.ID ?? 0) > 0n).toBe(true);
    const added = await client.memberAdd(['http://127.0.0.1:1'], { isLearner: true });
    expect(added.member.isLearner).toBe(true);
    expect(added.members).toHaveLength(2);
    await client.memberUpdate(added.member.ID, ['http://127.0.0.1:2']);
    expect((await client.memberList()).members.find((m) => m.ID === added.member.ID)?.peerURLs).toEqual([
      'http://127.0.0.1:2',
    ]);
    const promote = await client.memberPromote(added.member.ID).catch((e) => e);
    expect(promote.details).toBe(
      'etcdserver: can only promote a learner member which is in sync with leader',
    );
    expect((await client.memberRemove(added.member.ID)).members).toHaveLength(1);
    const missing = await client.memberRemove(added.member.ID).catch((e) => e);
    expect([missing.code, missing.details]).toEqual([5, 'etcdserver: member not found']);
  });

  test('maintenance: status, alarm, hash, hashKV, defragment, moveLeader, snapshot', async () => {
    // Proves Maintenance fields and the Snapshot stream (the db followed by etcd's SHA-256).
    const status = await client.status({ endpoint });
    expect(status).toMatchObject({ version: '3.4.23', leader: status.header.member_id, isLearner: false });
    expect(status.dbSize).toBeGreaterThan(0);
    expect(status.raftIndex).toBeGreaterThan(0);
    expect((await client.alarm('GET')).alarms).toEqual([]);
    expect(typeof (await client.hash({ endpoint })).hash).toBe('number');
    const hkv = await client.hashKV(0, { endpoint });
    expect(hkv.compact_revision).toBeGreaterThan(0);
    await client.defragment({ endpoint });
    const move = await client.moveLeader(status.leader, { endpoint }).catch((e) => e);
    expect(move).not.toBeInstanceOf(Error);
    let sizeBytes = 0;
    for await (const chunk of client.snapshot()) sizeBytes += chunk.length;
    expect(sizeBytes).toBeGreaterThan(0);
    expect(sizeBytes % 512).toBe(32); // whole pages plus the SHA-256 etcd appends
  });

  test('a non-idempotent call on a dead endpoint fails instead of retrying', async () => {
    // Proves writes are never silently retried: the caller sees Unavailable.
    const lonely = new EtcdClient({ endpoints: [`127.0.0.1:${await freePort()}`], dialTimeoutMs: 200 });
    try {
      const err = await lonely.put('x', 'y').catch((e) => e);
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      lonely.close();
    }
  });
});
