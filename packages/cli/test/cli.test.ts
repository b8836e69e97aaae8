import { memoryIo, runCli } from '@keelson/cli';
import { formatSeedString, specFromSeed } from '@keelson/raft-sim';
import { describe, expect, it } from 'vitest';

const argv = (...args: string[]): string[] => ['node', 'keelson', ...args];

describe('keelson sim run', () => {
  // Proves `sim run` replays a seed string, prints the result and stats, and exits 0 when it holds.
  it('replays a passing seed', async () => {
    const io = memoryIo();
    const seed = formatSeedString(specFromSeed(3, { steps: 300, confChangePermille: 0 }));
    expect(await runCli(argv('sim', 'run', seed), io)).toBe(0);
    const out = io.stdout.join('\n');
    expect(out).toContain(`schedule ${seed}`);
    expect(out).toContain('result: OK');
    expect(out).toMatch(/trace hash [0-9a-f]{8}/);
    expect(out).toContain('invariant checks');
  });

  // Proves the same seed printed twice gives the same trace hash (the replay is exact).
  it('prints the same trace hash every time', async () => {
    const hash = async (): Promise<string | undefined> => {
      const io = memoryIo();
      await runCli(argv('sim', 'run', '1234'), io);
      return io.stdout.find((l) => l.startsWith('trace hash'))?.split(' ')[2];
    };
    expect(await hash()).toBe(await hash());
  });

  // Proves --trace streams the trace lines before the result.
  it('streams the trace with --trace', async () => {
    const io = memoryIo();
    const seed = formatSeedString(specFromSeed(5, { steps: 50 }));
    await runCli(argv('sim', 'run', seed, '--trace'), io);
    expect(io.stdout.length).toBeGreaterThan(100);
    expect(io.stdout[0]).toMatch(/^\[\s+\d+\] /);
  });

  // Proves a malformed seed string is refused with a hint and a non-zero exit code.
  it('refuses a bad seed string', async () => {
    const io = memoryIo();
    expect(await runCli(argv('sim', 'run', 'v1-wat'), io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/unknown field "wat".*\n.*seed string looks like/);
  });
});

describe('keelson sim soak', () => {
  // Proves soak runs the requested seeds, reports progress on stderr and a summary on stdout.
  it('runs and summarises', async () => {
    const io = memoryIo();
    expect(
      await runCli(
        argv('sim', 'soak', '--seeds', '3', '--start', '11', '--steps', '200', '--nodes', '3'),
        io,
      ),
    ).toBe(0);
    expect(io.stderr.some((l) => /^soak: \d+\/3 runs/.test(l))).toBe(true);
    const out = io.stdout.join('\n');
    expect(out).toMatch(/runs\s+3 of 3/);
    expect(out).toMatch(/violations\s+0/);
    expect(out).toMatch(/wall time/);
  });

  // Proves option values are validated with a helpful message.
  it('validates options', async () => {
    const io = memoryIo();
    expect(await runCli(argv('sim', 'soak', '--nodes', '9'), io)).not.toBe(0);
    expect(io.stderr.join('\n')).toMatch(/expected an integer from 1 to 7/);
  });
});

describe('keelson demo', () => {
  // Proves the demo narrates a faulty 5-node run in plain words and ends with the verdict.
  it('narrates a run', async () => {
    const io = memoryIo();
    expect(await runCli(argv('demo'), io)).toBe(0);
    const out = io.stdout.join('\n');
    expect(out).toMatch(/became leader for term/);
    expect(out).toMatch(/network partition/);
    expect(out).toMatch(/crashed/);
    expect(out).toMatch(/configuration at index \d+ is now/);
    expect(out).toMatch(/invariants checked [\d,]+ times/);
    expect(out).toContain('Result: every invariant held.');
    expect(out).toContain('npm run sim -- run v1-');
  });
});
