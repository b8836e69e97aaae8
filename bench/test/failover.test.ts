// runFailover against real 3-member clusters (Keelson's store and etcd 3.4): it completes its rounds and
// reports one positive, finite gap per round. Speed is reported by the benchmark, never asserted here.
import { describe, expect, it } from 'vitest';
import { type FailoverResult, runFailover } from '../src/failover.js';

const timeoutMs = 180_000;

function expectGaps(r: FailoverResult, rounds: number): void {
  expect(r.rounds).toBe(rounds);
  expect(r.gapsMs).toHaveLength(rounds);
  for (const g of r.gapsMs) {
    expect(Number.isFinite(g)).toBe(true);
    expect(g).toBeGreaterThan(0);
  }
  expect(r.minMs).toBeLessThanOrEqual(r.medianMs);
  expect(r.medianMs).toBeLessThanOrEqual(r.maxMs);
}

describe('runFailover', () => {
  it(
    'kill mode on keelson measures a gap per round after kill -9 of the leader',
    async () => {
      // Proves that two kill/restart rounds on Keelson each yield a positive, finite gap.
      const r = await runFailover({ impl: 'keelson', rounds: 2, mode: 'kill', progress: console.log });
      expect(r.impl).toBe('keelson');
      expect(r.mode).toBe('kill');
      expectGaps(r, 2);
    },
    timeoutMs,
  );

  it(
    'transfer mode on keelson measures a gap per MoveLeader',
    async () => {
      // Proves that two MoveLeader rounds on Keelson each yield a positive, finite gap.
      const r = await runFailover({ impl: 'keelson', rounds: 2, mode: 'transfer', progress: console.log });
      expect(r.mode).toBe('transfer');
      expectGaps(r, 2);
    },
    timeoutMs,
  );

  it(
    'kill mode works against etcd 3.4, the reference',
    async () => {
      // Proves that the same measurement runs against real etcd (one round).
      const r = await runFailover({ impl: 'etcd', rounds: 1, mode: 'kill', progress: console.log });
      expect(r.impl).toBe('etcd');
      expectGaps(r, 1);
    },
    timeoutMs,
  );

  it(
    'transfer mode works against etcd 3.4, the reference',
    async () => {
      // Proves that the MoveLeader measurement runs against real etcd (one round).
      const r = await runFailover({ impl: 'etcd', rounds: 1, mode: 'transfer', progress: console.log });
      expectGaps(r, 1);
    },
    timeoutMs,
  );
});
