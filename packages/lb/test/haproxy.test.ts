// Debian's haproxy runs the configuration `keelson lb --haproxy-config` prints, in front of real
// HTTPS backends (certificates from the apiserver's CA code), and forwards a request to one.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get as httpsGet, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueServingCert } from '@keelson/apiserver';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, sleep } from './helpers.js';
import { keelsonMain } from './process.js';

const HAPROXY = '/usr/sbin/haproxy';

/**
 * The issue asks for this test to run Debian's haproxy when installed. When it is not, it is
 * installed here if the test runs as root (as the apiserver tests do for etcd); otherwise the test
 * fails saying so — it never skips silently.
 */
function ensureHaproxyInstalled(): void {
  if (existsSync(HAPROXY)) return;
  if (process.getuid?.() !== 0)
    throw new Error(`${HAPROXY} is missing: install Debian's haproxy (apt-get install haproxy)`);
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'haproxy'], {
      stdio: 'inherit',
      timeout: 300_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  // A fresh container may have no package lists yet: update once and try again.
  if (install().status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', timeout: 300_000 });
    install();
  }
  if (!existsSync(HAPROXY)) throw new Error('installing haproxy with apt-get failed');
}

let dir: string | undefined;
let haproxy: ChildProcess | undefined;
const servers: Server[] = [];

afterAll(async () => {
  if (haproxy !== undefined && haproxy.exitCode === null && haproxy.signalCode === null)
    haproxy.kill('SIGKILL');
  for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('haproxy with the printed configuration', () => {
  it('forwards a request to a backend', { timeout: 330_000 }, async () => {
    // Proves haproxy accepts the printed haproxy.cfg, its checks find the backends up, and a request
    // goes through it to a backend (TLS passthrough, the client verifying the backend's certificate).
    ensureHaproxyInstalled();
    dir = mkdtempSync(join(tmpdir(), 'keelson-lb-haproxy-'));
    const ca = await ensureCa(join(dir, 'pki'));
    const serving = await issueServingCert({ ca, hosts: ['127.0.0.1'], dir: join(dir, 'pki') });
    const backendPorts: number[] = [];
    const readyStatus = new Map([
      ['b1', 200],
      ['b2', 200],
    ]);
    for (const name of ['b1', 'b2']) {
      const s = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
        const status = req.url === '/readyz' ? (readyStatus.get(name) ?? 500) : 200;
        res.writeHead(status);
        res.end(req.url === '/readyz' ? String(status) : name);
      });
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      servers.push(s);
      backendPorts.push((s.address() as AddressInfo).port);
    }
    const listenPort = await freePort();
    const printed = spawnSync(
      process.execPath,
      [
        keelsonMain,
        'lb',
        `--listen=127.0.0.1:${listenPort}`,
        ...backendPorts.map((p) => `--backend=127.0.0.1:${p}`),
        '--haproxy-config',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(printed.status, printed.stderr).toBe(0);
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, printed.stdout);
    const check = spawnSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8', timeout: 15_000 });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);

    let logs = '';
    haproxy = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout?.on('data', (b: Buffer) => {
      logs = (logs + b.toString()).slice(-16_384);
    });
    haproxy.stderr?.on('data', (b: Buffer) => {
      logs = (logs + b.toString()).slice(-16_384);
    });
    const names = new Set<string>();
    const deadline = performance.now() + 15_000;
    while (names.size < 2 && performance.now() < deadline) {
      try {
        names.add(await httpsGetBody(listenPort, ca.certPem));
      } catch {
        await sleep(100);
      }
    }
    expect([...names].sort(), logs).toEqual(['b1', 'b2']);
    // The printed checks work too: b1's /readyz failing takes it out (inter 500 fall 2: about 1 s).
    readyStatus.set('b1', 500);
    await sleep(2_000);
    const after = new Set<string>();
    for (let i = 0; i < 6; i++) after.add(await httpsGetBody(listenPort, ca.certPem));
    expect([...after], logs).toEqual(['b2']);
  });
});

function httpsGetBody(port: number, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(
      { host: '127.0.0.1', port, path: '/who', ca: caPem, agent: false, timeout: 2_000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve(body));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}
