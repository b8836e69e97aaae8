// Proves `bench kv` against a single in-process Keelson member: every op runs the requested number of
// requests and each is counted once, percentiles come out ordered, and requests to an endpoint that is
// down are counted as errors by code instead of failing the run. Figures are printed, never asserted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdClient, type RunningMember, startMember } from '@keelson/store';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soloMemberConfig } from '../../test/util/member.js';
import { freePorts } from '../../test/util/ports.js';
import { LatencyHistogram } from '../src/histogram.js';
import { errorKey, KV_OPS, type KvOptions, type KvResult, runKv, validateKvOptions } from '../src/kv.js';

const root = mkdtempSync(join(tmpdir(), 'keelson-bench-kv-'));
let member: RunningMember | undefined;
let endpoint = '';
let client: EtcdClient | undefined;

beforeAll(async () => {
  // One call for both ports: two separate calls may hand out the same port.
  const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
  member = await startMember(
    soloMemberConfig('bench', join(root, 'bench'), clientPort, peerPort),
    pino({ level: 'silent' }),
  );
  endpoint = `127.0.0.1:${clientPort}`;
  client = new EtcdClient({ endpoints: [endpoint] });
  const deadline = Date.now() + 15_000;
  while (!member.member.isLeader()) {
    if (Date.now() > deadline) throw new Error('the single member did not become leader in 15 s');
    await new Promise((r) => setTimeout(r, 20));
  }
});

afterAll(async () => {
  client?.close();
  await member?.stop().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

function options(over: Partial<KvOptions>): KvOptions {
  return {
    endpoints: [endpoint],
    clients: 8,
    conns: 2,
    total: 200,
    op: 'put',
    keySpace: 50,
    keySize: 8,
    valSize: 64,
    ...over,
  };
}

async function revision(): Promise<number> {
  return (await (client as EtcdClient).get('none')).header.revision;
}

function expectOrdered(r: KvResult): void {
  const l = r.latencyMs;
  expect(l.p50).toBeGreaterThan(0);
  expect(l.p50).toBeLessThanOrEqual(l.p90);
  expect(l.p90).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.p999);
  expect(l.p999).toBeLessThanOrEqual(l.max);
}

describe('runKv against one Keelson member', () => {
  for (const op of KV_OPS) {
    // Proves the op makes exactly `total` requests without errors, and each write lands exactly once.
    it(`runs ${op} for --total 200`, async () => {
      const lines: string[] = [];
      const before = await revision();
      const r = await runKv(options({ op, progress: (l) => lines.push(l) }));
      const writes = (await revision()) - before;
      console.log(
        `${op}: ${Math.round(r.opsPerSec)} ops/s, p99 ${r.latencyMs.p99} ms, ${writes} writes, errors ${JSON.stringify(r.errors)}`,
      );
      expect(r).toMatchObject({ op, clients: 8, conns: 2, ops: 200, errors: {} });
      expect(r.durationS).toBeGreaterThan(0);
      expectOrdered(r);
      // Reads prefill the key space first (50 puts); the measured part adds its own writes.
      const prefillWrites = op === 'put' || op === 'txn-cas' ? 0 : 50;
      if (op === 'put') expect(writes).toBe(200);
      if (op === 'get' || op === 'get-serializable') expect(writes).toBe(prefillWrites);
      if (op === 'txn-cas') {
        expect(r.casFailures).toBeLessThanOrEqual(200);
        expect(writes).toBe(200 - r.casFailures);
      } else expect(r.casFailures).toBe(0);
      if (op === 'mixed') expect(writes).toBeGreaterThanOrEqual(prefillWrites);
    });
  }

  // Proves --duration stops the run after about that long and counts what it did.
  it('runs for a duration', async () => {
    const { total: _, ...rest } = options({});
    const r = await runKv({ ...rest, durationS: 0.5, op: 'get-serializable' });
    expect(r.ops).toBeGreaterThan(0);
    expect(r.durationS).toBeGreaterThanOrEqual(0.5);
    expect(r.durationS).toBeLessThan(15);
    expectOrdered(r);
  });

  // Proves requests to a dead endpoint count as UNAVAILABLE errors while the live one keeps serving.
  it('counts errors when an endpoint is down', async () => {
    const dead = `127.0.0.1:${(await freePorts(1))[0]}`;
    const lines: string[] = [];
    const r = await runKv(options({ endpoints: [endpoint, dead], progress: (l) => lines.push(l) }));
    const failed = r.errors.UNAVAILABLE ?? 0;
    expect(Object.keys(r.errors)).toEqual(['UNAVAILABLE']);
    expect(failed).toBeGreaterThan(0);
    expect(r.ops).toBeGreaterThan(0);
    expect(r.ops + failed).toBe(200);
    expect(lines.some((l) => l.includes(`cannot connect to ${dead}`))).toBe(true);
  });
});

describe('bench kv helpers', () => {
  // Proves bad options are refused with every problem named.
  it('validates options', () => {
    expect(() => validateKvOptions(options({ clients: 0 }))).toThrow(/clients must be an integer/);
    expect(() => validateKvOptions(options({ durationS: 3 }))).toThrow(/exactly one of total/);
    expect(() => validateKvOptions(options({ keySpace: 1000, keySize: 2 }))).toThrow(/too small/);
    expect(() => validateKvOptions(options({ endpoints: [] }))).toThrow(/endpoint/);
    expect(() => validateKvOptions(options({}))).not.toThrow();
  });

  // Proves error keys carry etcd's message but not connection details that would make each key unique.
  it('keys errors by code and etcd message', () => {
    expect(errorKey({ code: 14, details: 'connect ECONNREFUSED 127.0.0.1:1 (2026-01-01T00:00:00Z)' })).toBe(
      'UNAVAILABLE',
    );
    expect(errorKey({ code: 14, details: 'etcdserver: leader changed' })).toBe(
      'UNAVAILABLE: etcdserver: leader changed',
    );
    expect(errorKey(new Error('boom'))).toBe('CLIENT: boom');
  });

  // Proves the histogram's percentiles match a known uniform distribution to its 3-digit precision.
  it('reads percentiles from the histogram', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.recordMs(i);
    const p = h.percentilesMs();
    expect(h.count).toBe(1000);
    expect(p.p50).toBeCloseTo(500, -1);
    expect(p.p99).toBeCloseTo(990, -1);
    expect(p.max).toBe(1000);
  });
});
