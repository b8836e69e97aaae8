// A real `keelson lb` process: its announcement, the admin port, --haproxy-config, and draining on
// SIGTERM with an open stream that outlives the signal.
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { get, sleep, startBackend, type TestBackend, waitFor } from './helpers.js';
import { keelsonMain, type LbProcess, spawnLb } from './process.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backend(name: string): Promise<TestBackend> {
  const b = await startBackend(name);
  cleanups.push(() => b.kill());
  return b;
}

async function lb(args: string[]): Promise<LbProcess> {
  const p = await spawnLb(args);
  cleanups.push(() => p.kill());
  return p;
}

describe('keelson lb', () => {
  it('drains on SIGTERM', async () => {
    // Proves SIGTERM drains: new connections are refused at once, an open stream goes on to its end,
    // a connection that never ends is cut at --drain-timeout-ms, and the process exits 0.
    const b = await backend('b1');
    const p = await lb([
      '--listen=127.0.0.1:0',
      `--backend=127.0.0.1:${b.port}`,
      '--health-scheme=http',
      '--drain-timeout-ms=2500',
      '--log-level=warn',
    ]);
    expect(p.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(p.admin).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await get(p.admin, '/healthz')).toEqual({ status: 200, body: 'ok' });
    // A stream of 10 chunks 150 ms apart outlives the signal by about 1.3 s.
    const stream = get(p.listen, '/stream?chunks=10&everyMs=150', 10_000);
    const held = get(p.listen, '/stream?chunks=1000&everyMs=100', 10_000).catch((e: Error) => e);
    await waitFor('both streams', () => b.requests === 2);
    const signalledMs = performance.now();
    p.proc.kill('SIGTERM');
    await sleep(200);
    await expect(get(p.listen, '/who', 1_000)).rejects.toThrow(/ECONNREFUSED/);
    const streamed = await stream;
    expect(streamed.body.split('\n').filter((l) => l.startsWith('chunk'))).toHaveLength(10);
    expect(streamed.body).toContain('end');
    expect(await held).toBeInstanceOf(Error);
    const exit = await p.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(performance.now() - signalledMs).toBeGreaterThanOrEqual(2_400);
    expect(p.stderr()).toContain('1 connections ended, 1 cut');
  });

  it('prints the HAProxy configuration', () => {
    // Proves --haproxy-config prints the balance and server lines for the given backends and exits 0.
    const res = spawnSync(
      process.execPath,
      [
        keelsonMain,
        'lb',
        '--listen=0.0.0.0:6443',
        '--backend=10.0.0.1:6443',
        '--backend=10.0.0.2:6443',
        '--haproxy-config',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('    balance roundrobin\n');
    expect(res.stdout).toContain(
      '    server api2 10.0.0.2:6443 check check-ssl verify none inter 500 fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down\n',
    );
  });

  it('refuses bad flags', () => {
    // Proves a command line without --backend is refused with exit code 2 and a message asking for one.
    const res = spawnSync(process.execPath, [keelsonMain, 'lb', '--listen=127.0.0.1:0'], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('give at least one --backend');
  });
});
