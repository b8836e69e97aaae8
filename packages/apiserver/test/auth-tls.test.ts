// The cluster CA, serving and client certificates: files, reuse, verification, and real TLS.

import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../src/auth/x509.js';
import { isStatusError } from '@keelson/api';
import {
  createAuthenticator,
  ensureCa,
  issueClientCert,
  issueServingCert,
  loadCa,
  loadServingTls,
  parseCertificate,
  type UserInfo,
  verifySignedBy,
} from '@keelson/apiserver';
import * as x509 from '@peculiar/x509';
import { afterEach, describe, expect, it } from 'vitest';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keelson-auth-tls-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Served {
  status: number;
  body: string;
}

/** Starts an https server answering with whatever `handle` returns, runs `fn`, and closes it. */
async function withServer(
  tls: { cert: string; key: string; ca?: string },
  handle: (req: IncomingMessage) => Promise<Served>,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const server = createServer(
    {
      cert: tls.cert,
      key: tls.key,
      ca: tls.ca,
      requestCert: tls.ca !== undefined,
      rejectUnauthorized: false,
    },
    (req, res) => {
      handle(req).then(
        (r) => res.writeHead(r.status).end(r.body),
        (err: unknown) => res.writeHead(isStatusError(err) ? err.code : 500).end(String(err)),
      );
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function get(
  url: string,
  opts: { ca: string; cert?: string; key?: string; servername?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: opts.ca, cert: opts.cert, key: opts.key, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

describe('cluster CA', () => {
  it('creates ca.crt and a 0600 ca.key once and reuses them', async () => {
    // Proves the CA is persistent: a second ensureCa returns the same certificate and key.
    const dir = tempDir();
    const a = await ensureCa(dir);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    const b = await ensureCa(dir);
    expect(b.certPem).toBe(a.certPem);
    expect(b.keyPem).toBe(a.keyPem);
    expect(a.cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(await a.cert.verify({ signatureOnly: true })).toBe(true);
  });

  it('agrees on one CA when several processes start on an empty dir at once', async () => {
    // Proves the create-if-absent linking: concurrent callers all end up with the same CA.
    const dir = tempDir();
    const cas = await Promise.all([ensureCa(dir), ensureCa(dir), ensureCa(dir), ensureCa(dir)]);
    for (const ca of cas) expect(ca.certPem).toBe(readFileSync(join(dir, 'ca.crt'), 'utf8'));
  });

  it('refuses a CA key that does not belong to the certificate', async () => {
    // Proves loadCa checks the pair instead of signing with the wrong key.
    const a = await ensureCa(tempDir());
    const b = await ensureCa(tempDir());
    await expect(loadCa(a.certPem, b.keyPem)).rejects.toMatchObject({ code: 'CA_KEY_MISMATCH' });
  });

  it('loads an RSA CA given as PKCS#1 PEM files', async () => {
    // Proves CA files made by other tools (openssl genrsa) can sign our certificates.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = tempDir();
    writeFileSync(join(dir, 'ca.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }) as string, {
      mode: 0o600,
    });
    const ca = await ensureCa(dir);
    expect(ca.signingAlgorithm.name).toBe('RSASSA-PKCS1-v1_5');
    const leaf = await issueClientCert({ ca, user: 'u', groups: [] });
    expect(await verifySignedBy(parseCertificate(leaf.certPem), [ca.cert])).toBe(true);
  });
});

describe('serving and client certificates', () => {
  it('issues a serving cert with IP and DNS SANs that verifies against the CA, and reuses it', async () => {
    // Proves the SANs and the signature, and that a covering cert in the dir is reused.
    const dir = tempDir();
    const ca = await ensureCa(dir);
    const hosts = ['127.0.0.1', 'localhost', 'kubernetes.default.svc'];
    const s = await issueServingCert({ ca, hosts, dir });
    const cert = parseCertificate(s.certPem);
    expect(await verifySignedBy(cert, [ca.cert])).toBe(true);
    const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
    expect(names).toEqual([
      { type: 'ip', value: '127.0.0.1' },
      { type: 'dns', value: 'localhost' },
      { type: 'dns', value: 'kubernetes.default.svc' },
    ]);
    expect(statSync(join(dir, 'apiserver.key')).mode & 0o777).toBe(0o600);
    const again = await issueServingCert({ ca, hosts: ['localhost'], dir });
    expect(again.certPem).toBe(s.certPem);
    const more = await issueServingCert({ ca, hosts: ['localhost', '10.0.0.1'], dir });
    expect(more.certPem).not.toBe(s.certPem);
    const other = await ensureCa(tempDir());
    expect(await verifySignedBy(cert, [other.cert])).toBe(false);
  });

  it('serves node:https that a client trusting only the CA reaches by IP and by name', async () => {
    // Proves the PEM output works with node:https and that hostname verification passes for both SAN kinds.
    const dir = tempDir();
    const tls = await loadServingTls({ certDir: dir, hosts: ['127.0.0.1', 'localhost'] });
    await withServer(
      { cert: tls.certPem, key: tls.keyPem },
      async () => ({ status: 200, body: 'ok' }),
      async (port) => {
        expect(await get(`https://127.0.0.1:${port}/`, { ca: tls.clientCaPem })).toEqual({
          status: 200,
          body: 'ok',
        });
        expect(await get(`https://localhost:${port}/`, { ca: tls.clientCaPem })).toEqual({
          status: 200,
          body: 'ok',
        });
        const stranger = await ensureCa(tempDir());
        await expect(get(`https://127.0.0.1:${port}/`, { ca: stranger.certPem })).rejects.toThrow();
      },
    );
  });

  it('authenticates a client certificate as CN user with O groups, and refuses one from another CA', async () => {
    // Proves x509 authentication over a real TLS connection, including the 401 for a foreign certificate.
    const dir = tempDir();
    const ca = await ensureCa(dir);
    const serving = await issueServingCert({ ca, hosts: ['127.0.0.1'] });
    const admin = await issueClientCert({ ca, user: 'admin', groups: ['system:masters', 'ops'] });
    const foreign = await issueClientCert({ ca: await ensureCa(tempDir()), user: 'mallory', groups: [] });
    const authn = createAuthenticator({ clientCa: ca.certPem, anonymous: false });
    const seen: (UserInfo | undefined)[] = [];
    await withServer(
      { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem },
      async (req) => {
        const user = await authn.authenticate(req);
        seen.push(user);
        return { status: 200, body: JSON.stringify(user ?? null) };
      },
      async (port) => {
        const url = `https://127.0.0.1:${port}/`;
        const ok = await get(url, { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem });
        expect(ok.status).toBe(200);
        expect(JSON.parse(ok.body)).toEqual({
          username: 'admin',
          groups: ['system:masters', 'ops', 'system:authenticated'],
        });
        const none = await get(url, { ca: ca.certPem });
        expect(none).toEqual({ status: 200, body: 'null' });
        const bad = await get(url, { ca: ca.certPem, cert: foreign.certPem, key: foreign.keyPem });
        expect(bad.status).toBe(401);
      },
    );
    expect(seen).toHaveLength(2);
  });
});
