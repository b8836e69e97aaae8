// Proves the bench:vs-etcd command line: --help, usage errors for bad flags, and the documented defaults.
import { describe, expect, it } from 'vitest';
import { parseSettings, USAGE, UsageError } from '../src/vs-etcd.js';

describe('bench:vs-etcd command line', () => {
  it('answers --help with the usage and rejects bad flags with a usage error', () => {
    // Proves -h/--help asks for the usage only, and unknown flags or out-of-range values are usage errors.
    expect(parseSettings(['--help'])).toBeNull();
    expect(parseSettings(['-h'])).toBeNull();
    expect(USAGE).toContain('--warmup S');
    expect(() => parseSettings(['--bogus'])).toThrow(UsageError);
    expect(() => parseSettings(['--rounds', '0'])).toThrow(/--rounds must be an integer in 1\.\.20/);
    expect(() => parseSettings(['--only', 'put-2'])).toThrow(UsageError);
  });

  it('takes the full defaults, the quick ones, and explicit values', () => {
    // Proves the documented defaults (3 rounds, 10 s, 10-s warm-up) and that flags override them.
    const full = parseSettings([]);
    expect(full).toMatchObject({ quick: false, rounds: 3, durationS: 10, warmupS: 10, revisions: 300_000 });
    const quick = parseSettings(['--quick']);
    expect(quick).toMatchObject({ quick: true, rounds: 1, durationS: 3, warmupS: 1 });
    const some = parseSettings(['--rounds', '5', '--only', 'put-1,failover']);
    expect(some?.rounds).toBe(5);
    expect([...(some?.only ?? [])]).toEqual(['put-1', 'failover']);
  });
});
