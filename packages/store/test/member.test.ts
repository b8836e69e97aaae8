// Proves that three in-process members on loopback (real level databases, real ws transport, real
// gRPC listeners) elect a leader, replicate writes, serve linearizable reads on followers, survive a
// restart of a member from its data dir, and let a member added later catch up from a snapshot.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType } from '@keelson/raft';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/util/ports.js';
import type * as T from '../src/api/types.js';
import type { MemberConfig } from '../src/config.js';
import { type RunningMember, startMember } from '../src/member/start.js';
import { Disk, encodeValue } from '../src/storage/disk.js';

const log = pino({ level: 'silent' });
const root = mkdtempSync(join(tmpdir(), 'keelson-member-'));
const running = new Set<RunningMember>();

afterAll(async () => {
  for (const m of running) await m.stop().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

interface Spec {
  name: string;
  client: number;
  peer: number;
}

function config(spec: Spec, cluster: Spec[], state: 'new' | 'existing', snapshotCount = 100): MemberConfig {
  return {
    name: spec.name,
    dataDir: join(root, spec.name),
    listenClientUrls: [new URL(`http://127.0.0.1:${spec.client}`)],
    advertiseClientUrls: [`http://127.0.0.1:${spec.client}`],
    listenPeerUrls: [new URL(`http://127.0.0.1:${spec.peer}`)],
    initialAdvertisePeerUrls: [`http://127.0.0.1:${spec.peer}`],
    listenMetricsUrls: [],
    initialCluster: cluster.map((s) => ({ name: s.name, peerUrls: [`http://127.0.0.1:${s.peer}`] })),
    initialClusterState: state,
    initialClusterToken: 'member-test',
    heartbeatIntervalMs: 50,
    electionTimeoutMs: 500,
    snapshotCount,
    snapshotCatchUpEntries: 20,
    quotaBackendBytes: 2 * 1024 ** 3,
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxTxnOps: 128,
    logLevel: 'info',
    enableFaultInjection: false,
  };
}

function putReq(key: string, value: string): T.PutRequest {
  return {
    key: Buffer.from(key),
    value: Buffer.from(value),
    lease: 0,
    prev_kv: false,
    ignore_value: false,
    ignore_lease: false,
  };
}

function getReq(key: string, serializable = false): T.RangeRequest {
  return {
    key: Buffer.from(key),
    range_end: Buffer.alloc(0),
    limit: 0,
    revision: 0,
    sort_order: 'NONE',
    sort_target: 'KEY',
    serializable,
    keys_only: false,
    count_only: false,
    min_mod_revision: 0,
    max_mod_revision: 0,
    min_create_revision: 0,
    max_create_revision: 0,
  };
}

async function until<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 15000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

async function start(c: MemberConfig): Promise<RunningMember> {
  const m = await startMember(c, log.child({ member: c.name }));
  running.add(m);
  return m;
}

/** Starts a new three-member cluster with these names and waits for its leader. */
async function startThree(
  names: [string, string, string],
): Promise<{ specs: Spec[]; members: RunningMember[]; leader: RunningMember }> {
  const specs: Spec[] = [];
  for (const name of names) specs.push({ name, client: await freePort(), peer: await freePort() });
  const members = await Promise.all(specs.map((s) => start(config(s, specs, 'new'))));
  const leader = await until('a leader', () => members.find((m) => m.member.isLeader()));
  return { specs, members, leader };
}

/** One series of a member's /metrics (name with its labels); `missing` if it is absent, else an error. */
async function metric(clientPort: number, series: string, missing?: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${clientPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line !== undefined) return Number(line.slice(series.length + 1));
  if (missing !== undefined) return missing;
  throw new Error(`no ${series} in /metrics`);
}

describe('store members in one process', () => {
  it('replicates, restarts and catches a new member up from a snapshot', async () => {
    const { specs, members, leader } = await startThree(['a', 'b', 'c']);
    const follower = members.find((m) => m !== leader)!;

    // Writes through a follower are forwarded inside Raft and acknowledged once applied.
    const put = await follower.member.put(putReq('k1', 'v1'));
    expect(put.header.revision).toBe(2);
    const got = await members[2]!.member.range(getReq('k1'));
    expect(got.kvs.map((kv) => kv.value.toString())).toEqual(['v1']);
    expect(got.header.cluster_id).toBe(leader.clusterId);

    for (let i = 0; i < 150; i++) await leader.member.put(putReq(`bulk/${i}`, `v${i}`));

    // Restart a follower from its data dir: it keeps its data and rejoins.
    const idx = members.indexOf(follower);
    await follower.stop();
    running.delete(follower);
    const again = await start(config(specs[idx]!, specs, 'new'));
    members[idx] = again;
    const r = await until('restarted member to catch up', async () => {
      const x = await again.member.range(getReq('bulk/149', true));
      return x.kvs.length === 1 ? x : undefined;
    });
    expect(r.kvs[0]!.value.toString()).toBe('v149');

    // A fourth member: the log was compacted (snapshot-count 100), so it must get a snapshot.
    const d: Spec = { name: 'd', client: await freePort(), peer: await freePort() };
    const current = await until('a leader', () => members.find((m) => m.member.isLeader()));
    const added = await current.member.memberAdd({
      peerURLs: [`http://127.0.0.1:${d.peer}`],
      isLearner: false,
    });
    expect(added.members).toHaveLength(4);
    const fourth = await start(config(d, [...specs, d], 'existing'));
    const caught = await until('the fourth member to catch up', async () => {
      const x = await fourth.member.range(getReq('bulk/100', true));
      return x.kvs.length === 1 ? x : undefined;
    });
    expect(caught.kvs[0]!.value.toString()).toBe('v100');
    // The new member publishes its name through Raft once it has caught up.
    const names = await until('the fourth member to publish its name', async () => {
      const list = await fourth.member.memberList();
      const n = list.members.map((m) => m.name).sort();
      return n.includes('d') ? n : undefined;
    });
    expect(names).toEqual(['a', 'b', 'c', 'd']);
  }, 60_000);
});

describe('proposal entries from an older build', () => {
  // Proves a WAL holding put/delete entries in the old msgpackr form (as written before the binary
  // proposal layout) still replays and applies on restart, next to entries in the new form.
  it('applies old-format entries found in the WAL on restart', async () => {
    const spec: Spec = { name: 'solo', client: await freePort(), peer: await freePort() };
    const first = await start(config(spec, [spec], 'new'));
    await until('a leader', () => (first.member.isLeader() ? true : undefined));
    await first.member.put(putReq('new-format', 'n'));
    await first.member.put(putReq('doomed', 'd'));
    await first.stop();
    running.delete(first);

    // Append what an older build would have proposed: msgpackr maps { rid, o }.
    const disk = await Disk.open(config(spec, [spec], 'new').dataDir);
    const loaded = await disk.load();
    const last = loaded!.entries[loaded!.entries.length - 1]!;
    const old = [
      { rid: [1, 1, 1], o: { op: 'put', req: { ...putReq('old-format', 'o'), lease: 0, prev_kv: true } } },
      {
        rid: [1, 1, 2],
        o: { op: 'del', req: { key: Buffer.from('doomed'), range_end: Buffer.alloc(0), prev_kv: false } },
      },
    ];
    await disk.appendLog(
      old.map((p, i) => ({
        term: last.term,
        index: last.index + 1 + i,
        type: EntryType.Normal,
        data: encodeValue(p),
      })),
      null,
    );
    await disk.close();

    const again = await start(config(spec, [spec], 'new'));
    const got = await until('the old-format put to be applied', async () => {
      const x = await again.member.range(getReq('old-format', true));
      return x.kvs.length === 1 ? x : undefined;
    });
    expect(got.kvs[0]!.value.toString()).toBe('o');
    expect((await again.member.range(getReq('doomed', true))).kvs).toEqual([]);
    expect((await again.member.range(getReq('new-format', true))).kvs[0]!.value.toString()).toBe('n');
    await again.stop();
    running.delete(again);
  }, 30_000);
});

describe('backend quota', () => {
  // Proves a full quota raises the NOSPACE alarm and refuses writes with etcd's error while reads go on.
  it('raises NOSPACE and keeps serving reads', async () => {
    const spec: Spec = { name: 'q', client: await freePort(), peer: await freePort() };
    const c = { ...config(spec, [spec], 'new'), quotaBackendBytes: 64 * 1024 };
    const m = await start(c);
    await until('a leader', () => (m.member.isLeader() ? true : undefined));
    const value = 'x'.repeat(4096);
    let refused: Error | undefined;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      try {
        await m.member.put(putReq(`big/${i}`, value));
      } catch (e) {
        refused = e as Error;
      }
    }
    expect(refused?.message).toBe('etcdserver: mvcc: database space exceeded');
    const alarms = await until('the NOSPACE alarm', async () => {
      const a = await m.member.alarm({ action: 'GET', memberID: 0, alarm: 'NONE' });
      return a.alarms.length > 0 ? a.alarms : undefined;
    });
    expect(alarms).toEqual([{ memberID: m.memberId, alarm: 'NOSPACE' }]);
    await expect(m.member.put(putReq('more', 'v'))).rejects.toThrow('database space exceeded');
    const read = await m.member.range(getReq('big/0'));
    expect(read.kvs[0]!.value.toString()).toBe(value);
    expect((await m.member.status()).errors.join()).toContain('NOSPACE');
  }, 60_000);
});

describe('linearizable reads under writes', () => {
  // Proves follower reads issued while writes commit all complete, none timing out (bench/test/kv.test.ts's
  // mixed run covers the single-member case where the read index is often ahead of the applied index).
  it('completes every follower read while writes are in flight', async () => {
    const { members, leader } = await startThree(['r1', 'r2', 'r3']);
    const followers = members.filter((m) => m !== leader);
    // Rounds of writes with reads issued while the writes commit: some reads get a read index the
    // follower has not applied yet and must be woken by the apply.
    for (let round = 0; round < 30; round++) {
      const ops: Promise<unknown>[] = [];
      for (let i = round * 10; i < round * 10 + 10; i++) {
        ops.push(leader.member.put(putReq(`mixed/${i % 10}`, `v${i}`)));
      }
      await new Promise((r) => setImmediate(r));
      for (let i = 0; i < 10; i++) ops.push(followers[i % 2]!.member.range(getReq(`mixed/${i}`)));
      const results = await Promise.allSettled(ops);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    }
    const last = await followers[0]!.member.range(getReq('mixed/9'));
    expect(last.kvs[0]!.value.toString()).toBe('v299');
  }, 60_000);
});

describe('inline WAL writes', () => {
  // Proves a lone write's WAL record is written inline on the event loop (keelson_wal_inline_writes_total
  // counts it) while a burst of writes batched into one Ready goes to the thread pool, and that every
  // write of both kinds is applied and survives a restart.
  it('writes a lone request inline and a burst on the thread pool', async () => {
    const spec: Spec = { name: 'w', client: await freePort(), peer: await freePort() };
    const m = await start(config(spec, [spec], 'new'));
    await until('a leader', () => (m.member.isLeader() ? true : undefined));
    const counters = async (): Promise<{ inline: number; writes: number }> => ({
      inline: await metric(spec.client, 'keelson_wal_inline_writes_total'),
      writes: await metric(spec.client, 'etcd_disk_wal_fsync_duration_seconds_count'),
    });
    const before = await counters();
    for (let i = 0; i < 20; i++) await m.member.put(putReq(`lone/${i}`, `v${i}`));
    const afterLone = await counters();
    expect(afterLone.inline).toBeGreaterThan(before.inline);
    await Promise.all(Array.from({ length: 100 }, (_, i) => m.member.put(putReq(`burst/${i}`, `v${i}`))));
    const afterBurst = await counters();
    // At least one of the burst's writes carried several entries and went to the thread pool.
    expect(afterBurst.writes - afterLone.writes).toBeGreaterThan(afterBurst.inline - afterLone.inline);
    await m.stop();
    running.delete(m);
    const again = await start(config(spec, [spec], 'existing'));
    await until('a leader after restart', () => (again.member.isLeader() ? true : undefined));
    const all = await again.member.range({ ...getReq('burst/'), range_end: Buffer.from('burst0') });
    expect(all.kvs.length).toBe(100);
    const lone = await again.member.range({ ...getReq('lone/'), range_end: Buffer.from('lone0') });
    expect(lone.kvs.length).toBe(20);
    await again.stop();
    running.delete(again);
  }, 60_000);
});

describe('commit notices', () => {
  // Proves the leader's commit-only appends are held and then replaced by the next append (sequential
  // writes) or sent when their time is up (the last write), so that followers still apply every write,
  // and that a follower which forwards writes gets its notices at once: its writes are answered.
  it('replaces, expires and sends at once, and every follower applies every write', async () => {
    const { specs, members, leader } = await startThree(['n1', 'n2', 'n3']);
    const leaderSpec = specs[members.indexOf(leader)]!;
    // A labelled counter appears with its first increment.
    const notices = async (): Promise<Record<'immediate' | 'replaced' | 'expired', number>> => {
      const n = (outcome: string): Promise<number> =>
        metric(leaderSpec.client, `keelson_raft_commit_notices_total{outcome="${outcome}"}`, 0);
      return { immediate: await n('immediate'), replaced: await n('replaced'), expired: await n('expired') };
    };
    // Followers forward their own start-up proposals (member attributes), which makes them eager for a
    // second: write in rounds until the leader has held notices, seen them replaced and let one expire.
    let writes = 0;
    const afterSeq = await until('notices replaced and expired', async () => {
      for (let i = 0; i < 10; i++, writes++) await leader.member.put(putReq(`seq/${writes}`, `v${writes}`));
      await new Promise((r) => setTimeout(r, 20));
      const n = await notices();
      return n.replaced > 0 && n.expired > 0 ? n : undefined;
    });
    for (const m of members) {
      await until('every write applied on each member', async () => {
        const r = await m.member.range({ ...getReq('seq/', true), range_end: Buffer.from('seq0') });
        return r.kvs.length === writes ? true : undefined;
      });
    }
    const follower = members.find((m) => m !== leader)!;
    for (let i = 0; i < 10; i++) {
      const r = await follower.member.put(putReq(`fwd/${i}`, `v${i}`));
      expect(r.header.revision).toBeGreaterThan(writes);
    }
    const afterFwd = await notices();
    expect(afterFwd.immediate).toBeGreaterThan(afterSeq.immediate);
    for (const m of members) {
      await m.stop();
      running.delete(m);
    }
  }, 60_000);
});
