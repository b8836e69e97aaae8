// kv: the etcd3 npm client's put, get, getAll().prefix(), delete (single and prefix) and count round-trip through the cluster.
// txn: if/then/else commits the right branch for Value, Version, Create and Mod compares and returns the branch's responses.
// watch: a prefix watcher with prevKv sees another client's puts and deletes, in order, with previous values.
// lease: grant, put with the lease, keepalive (once and automatic), and revoke makes the attached key disappear.
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { useCluster, waitFor, within } from './harness.js';

const cluster = useCluster({ size: 3, label: 'etcd3' });

let a: Etcd3;
let b: Etcd3;

beforeAll(() => {
  const endpoints = cluster().endpoints;
  // Two clients on different members, so that one observes the other's writes through replication.
  a = new Etcd3({ hosts: `http://${endpoints[0]}` });
  b = new Etcd3({ hosts: `http://${endpoints[1]}` });
});

afterAll(() => {
  a?.close();
  b?.close();
});

describe('etcd3 npm client against a 3-member cluster', () => {
  test('put, get, getAll prefix, delete', async () => {
    const put = await a.put('kv/one').value('1').exec();
    expect(Number(put.header?.revision)).toBeGreaterThan(0);
    await a.put('kv/two').value('2');
    await a.put('kv/three').value(Buffer.from([0, 1, 2, 255]));
    await a.put('kv0').value('outside');
    expect(await b.get('kv/one').string()).toBe('1');
    expect(await b.get('kv/three').buffer()).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await b.get('kv/missing').string()).toBeNull();
    expect(await b.getAll().prefix('kv/').keys()).toEqual(['kv/one', 'kv/three', 'kv/two']);
    expect(await b.getAll().prefix('kv/').count()).toBe(3);
    const strings = await b.getAll().prefix('kv/').strings();
    expect(strings['kv/one']).toBe('1');
    expect(strings['kv/two']).toBe('2');

    const full = await b.get('kv/one').exec();
    const kv = full.kvs[0];
    expect(kv?.version).toBe('1');
    expect(kv?.create_revision).toBe(String(put.header?.revision));

    const deleted = await a.delete().key('kv/one').getPrevious();
    expect(deleted.map((d) => d.value.toString())).toEqual(['1']);
    expect(await b.get('kv/one').string()).toBeNull();
    const byPrefix = await a.delete().prefix('kv/').exec();
    expect(byPrefix.deleted).toBe('2');
    expect(await b.getAll().prefix('kv/').keys()).toEqual([]);
    expect(await b.get('kv0').string()).toBe('outside');
  });

  test('txn if/then/else on Value, Version, Create and Mod', async () => {
    const created = Number((await a.put('txn/k').value('v1').exec()).header?.revision);
    const modified = Number((await a.put('txn/k').value('v2').exec()).header?.revision);

    const yes = await b
      .if('txn/k', 'Value', '==', 'v2')
      .and('txn/k', 'Version', '==', 2)
      .and('txn/k', 'Create', '==', created)
      .and('txn/k', 'Mod', '>', modified - 1)
      .then(b.put('txn/branch').value('then'), b.get('txn/k'))
      .else(b.put('txn/branch').value('else'))
      .commit();
    expect(yes.succeeded).toBe(true);
    expect(yes.responses).toHaveLength(2);
    expect(yes.responses[1]?.response_range?.kvs[0]?.value.toString()).toBe('v2');
    expect(await a.get('txn/branch').string()).toBe('then');

    const no = await b
      .if('txn/k', 'Value', '==', 'v2')
      .and('txn/k', 'Version', '>', 5)
      .then(b.put('txn/branch').value('then'))
      .else(b.put('txn/branch').value('else'), b.delete().key('txn/k'))
      .commit();
    expect(no.succeeded).toBe(false);
    expect(no.responses[1]?.response_delete_range?.deleted).toBe('1');
    expect(await a.get('txn/branch').string()).toBe('else');
    expect(await a.get('txn/k').string()).toBeNull();

    // Create == 0 is the "key does not exist" idiom locks are built on.
    const lock = await a.if('txn/lock', 'Create', '==', 0).then(a.put('txn/lock').value('me')).commit();
    expect(lock.succeeded).toBe(true);
    const again = await b.if('txn/lock', 'Create', '==', 0).then(b.put('txn/lock').value('you')).commit();
    expect(again.succeeded).toBe(false);
    expect(await b.get('txn/lock').string()).toBe('me');
  });

  test('prefix watcher with prevKv sees another client puts and deletes', async () => {
    const events: string[] = [];
    const watcher: Watcher = await within(
      a.watch().prefix('watch/').withPreviousKV().create(),
      10_000,
      'creating the watcher',
    );
    try {
      // The client passes null (not undefined) when an event has no previous value.
      const text = (kv: IKeyValue | null | undefined) => (kv == null ? '-' : `${kv.key}=${kv.value}`);
      watcher.on('put', (kv, prev) => events.push(`put ${text(kv)} prev ${text(prev)}`));
      watcher.on('delete', (kv, prev) => events.push(`delete ${kv.key} prev ${text(prev)}`));
      await b.put('watch/x').value('1');
      await b.put('watch/x').value('2');
      await b.put('watchx').value('not in prefix');
      await b.delete().key('watch/x');
      await b.put('watch/y').value('3');
      await waitFor('4 watch events', () => events.length >= 4, 10_000, 50);
      expect(events).toEqual([
        'put watch/x=1 prev -',
        'put watch/x=2 prev watch/x=1',
        'delete watch/x prev watch/x=2',
        'put watch/y=3 prev -',
      ]);
    } finally {
      await watcher.cancel();
    }
  });

  test('lease grant, put with lease, keepalive, revoke removes the key', async () => {
    const lease = a.lease(30, { autoKeepAlive: false });
    const id = await lease.grant();
    expect(BigInt(id)).toBeGreaterThan(0n);
    await lease.put('lease/k').value('v');
    expect(await b.get('lease/k').string()).toBe('v');
    const kept = await lease.keepaliveOnce();
    expect(Number(kept.TTL)).toBe(30);
    expect((await b.get('lease/k').exec()).kvs[0]?.lease).toBe(id);
    await lease.revoke();
    expect(lease.revoked()).toBe(true);
    await waitFor(
      'the leased key to vanish on the other member',
      async () => (await b.get('lease/k').string()) === null,
      5_000,
    );

    // The automatic keepalive stream keeps a short lease (and its key) alive past its TTL.
    const auto = b.lease(2);
    let keepalives = 0;
    auto.on('keepaliveSucceeded', () => {
      keepalives++;
    });
    await auto.put('lease/auto').value('alive');
    await waitFor('two automatic keepalives', () => keepalives >= 2, 10_000, 100);
    expect(await a.get('lease/auto').string()).toBe('alive');
    await auto.revoke();
    await waitFor(
      'the auto-leased key to vanish',
      async () => (await a.get('lease/auto').string()) === null,
      5_000,
    );
  });
});
