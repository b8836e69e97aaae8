// HTTPS health checks against real node:https backends with certificates from the apiserver's CA
// code, and TLS passing through the load balancer untouched.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, get as httpsGet, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, issueServingCert } from '@keelson/apiserver';
import { createLbLogger, type LoadBalancer, startLoadBalancer } from '@keelson/lb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitAddress, waitFor } from './helpers.js';

let dir: string;
let caPem: string;
let otherCaPem: string;
let server: Server;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keelson-lb-tls-'));
  const ca = await ensureCa(join(dir, 'pki'));
  otherCaPem = (await ensureCa(join(dir, 'other'), 'other-ca')).certPem;
  caPem = ca.certPem;
  const serving = await issueServingCert({ ca, hosts: ['127.0.0.1', 'localhost'], dir: join(dir, 'pki') });
  server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    res.writeHead(req.url === '/readyz' ? 200 : 404);
    res.end(req.url === '/readyz' ? 'ok' : 'through the lb');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

async function lbWith(ca: string | undefined): Promise<LoadBalancer> {
  return startLoadBalancer({
    config: {
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ host: '127.0.0.1', port }],
      healthScheme: 'https',
      healthCaPem: ca,
      healthIntervalMs: 100,
    },
    logger: createLbLogger('silent'),
    metrics: { defaultMetrics: false },
  });
}

describe('https health checks', () => {
  it('does not verify without --health-ca-file', async () => {
    // Proves without a CA the check does not verify (verify none) and the backend is healthy.
    const lb = await lbWith(undefined);
    try {
      await waitFor('a check', () => lb.backends()[0]?.lastCheck !== null);
      expect(lb.backends()[0]).toMatchObject({ healthy: true, lastCheck: { ok: true, code: 200 } });
    } finally {
      await lb.close(0);
    }
  });

  it('verifies against --health-ca-file', async () => {
    // Proves with the right CA the check verifies and passes, and with another CA it fails.
    const good = await lbWith(caPem);
    const bad = await lbWith(otherCaPem);
    try {
      await waitFor(
        'checks',
        () => good.backends()[0]?.lastCheck !== null && bad.backends()[0]?.lastCheck !== null,
      );
      expect(good.backends()[0]).toMatchObject({ healthy: true, lastCheck: { ok: true } });
      expect(bad.backends()[0]).toMatchObject({ healthy: false, lastCheck: { ok: false } });
      expect(bad.backends()[0]?.lastCheck?.error).toMatch(/certificate/i);
    } finally {
      await good.close(0);
      await bad.close(0);
    }
  });

  it('passes TLS through to the backend', async () => {
    // Proves TLS passes through: a client verifying the backend's certificate talks to it via the lb.
    const lb = await lbWith(caPem);
    try {
      const [host, lbPort] = splitAddress(lb.listenAddress);
      const body = await new Promise<string>((resolve, reject) => {
        httpsGet({ host, port: lbPort, path: '/hello', ca: caPem, agent: false }, (res) => {
          let b = '';
          res.on('data', (d: Buffer) => {
            b += d.toString();
          });
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      expect(body).toBe('through the lb');
    } finally {
      await lb.close(0);
    }
  });
});
