// Proves the creates benchmark is well-formed end to end: through a real LB and two real apiservers, every
// pod it counts as created is there afterwards (LIST count equals 201s), both apiservers served creates,
// and the figures are ordered and consistent. Figures are printed, never asserted against a target.
import { describe, expect, it } from 'vitest';
import {
  type ApiserverCreatesOptions,
  formatApiserverCreates,
  parseApiserverCreatesArgs,
  runApiserverCreates,
} from '../src/apiserver-creates.js';

describe('apiserver creates bench', () => {
  // Checks that bad flags are refused with a usage error before anything is started.
  it('rejects bad flags', () => {
    expect(() => parseApiserverCreatesArgs(['--clients', '0'])).toThrow(/--clients/);
    expect(() => parseApiserverCreatesArgs(['--targets', 'nlb'])).toThrow(/--targets/);
    expect(() => parseApiserverCreatesArgs(['--bogus', '1'])).toThrow(/unknown flag/);
    expect(parseApiserverCreatesArgs(['--clients', '4,1', '--json']).options.clients).toEqual([4, 1]);
  });

  // Runs ~2 s per row through the LB and directly, and checks every row's bookkeeping.
  it('creates pods through the LB that a LIST then finds', async () => {
    const o: ApiserverCreatesOptions = {
      clients: [4],
      durationS: 2,
      warmupS: 0.5,
      primeS: 1,
      targets: ['lb', 'direct'],
      balance: 'roundrobin',
    };
    const result = await runApiserverCreates(o);
    process.stdout.write(`${formatApiserverCreates(result)}\n`);
    expect(result.rows.map((r) => r.target)).toEqual(['lb', 'direct']);
    for (const row of result.rows) {
      expect(row.errors).toEqual({});
      expect(row.creates).toBeGreaterThan(0);
      expect(row.created).toBeGreaterThanOrEqual(row.creates);
      expect(row.listed).toBe(row.created);
      expect(row.perApiserver.reduce((a, b) => a + b, 0)).toBe(row.created);
      expect(row.createsPerS).toBeCloseTo(row.creates / o.durationS, 6);
      const p = row.latencyMs;
      expect(0 < p.p50 && p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.max).toBe(true);
    }
    const [viaLb, direct] = result.rows;
    // Four keep-alive connections round-robin over two backends: two each, so both serve creates.
    expect(viaLb?.lbConnections).toEqual([2, 2]);
    expect(viaLb?.perApiserver.every((n) => n > 0)).toBe(true);
    expect(direct?.lbConnections).toEqual([]);
    expect(direct?.perApiserver[1]).toBe(0);
  }, 120_000);
});
