// Service-account JWTs: claims, verification, expiry, foreign keys, deleted accounts, shared keys.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_SERVICE_ACCOUNT_ISSUER,
  ensureServiceAccountKey,
  loadServiceAccountKeys,
  parseServiceAccountUsername,
  ServiceAccountTokens,
} from '@keelson/apiserver';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage } from './auth-fakes.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keelson-auth-tokens-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sa = { namespace: 'default', name: 'builder', uid: '1111-2222' };

async function storageWithSa(): Promise<MemoryStorage> {
  const storage = new MemoryStorage();
  await storage.put('/registry/serviceaccounts/default/builder', {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'builder', namespace: 'default', uid: sa.uid },
  });
  return storage;
}

describe('ServiceAccountTokens', () => {
  it('issues a token with Kubernetes claims that verifies to the service account user', async () => {
    // Proves the claim layout (iss, sub, aud, exp/iat/nbf, kubernetes.io) and the user it maps to.
    const storage = await storageWithSa();
    const tokens = new ServiceAccountTokens({ signingKeyPem: ensureServiceAccountKey(tempDir()), storage });
    const { token, expirationTimestamp } = await tokens.issue(sa, {
      audiences: [],
      expirationSeconds: 3600,
      boundObject: { kind: 'Pod', apiVersion: 'v1', name: 'p', uid: 'pod-uid' },
    });
    await storage.put('/registry/pods/default/p', {
      metadata: { name: 'p', namespace: 'default', uid: 'pod-uid' },
    });
    const claims = decodeJwt(token);
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
    expect(claims.iss).toBe(DEFAULT_SERVICE_ACCOUNT_ISSUER);
    expect(claims.sub).toBe('system:serviceaccount:default:builder');
    expect(claims.aud).toEqual([DEFAULT_SERVICE_ACCOUNT_ISSUER]);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims['kubernetes.io']).toEqual({
      namespace: 'default',
      serviceaccount: { name: 'builder', uid: sa.uid },
      pod: { name: 'p', uid: 'pod-uid' },
    });
    expect(expirationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const user = await tokens.verify(token);
    expect(user).toMatchObject({
      username: 'system:serviceaccount:default:builder',
      uid: sa.uid,
      groups: ['system:serviceaccounts', 'system:serviceaccounts:default'],
    });
    expect(user.extra?.['authentication.kubernetes.io/pod-name']).toEqual(['p']);
    expect(tokens.isOurs(token)).toBe(true);
    expect(tokens.isOurs('static-token')).toBe(false);
    expect(parseServiceAccountUsername(user.username)).toEqual({ namespace: 'default', name: 'builder' });
  });

  it('refuses an expired token, a token for another audience, and one signed by another key', async () => {
    // Proves exp, aud and the signature are all checked.
    let nowMs = Date.now();
    const storage = await storageWithSa();
    const tokens = new ServiceAccountTokens({
      signingKeyPem: ensureServiceAccountKey(tempDir()),
      storage,
      nowMs: () => nowMs,
    });
    const { token } = await tokens.issue(sa, { audiences: [], expirationSeconds: 600 });
    nowMs += 601_000;
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'EXPIRED' });
    nowMs -= 601_000;
    const other = await tokens.issue(sa, { audiences: ['vault'], expirationSeconds: 600 });
    await expect(tokens.verify(other.token)).rejects.toMatchObject({ code: 'INVALID' });
    const stranger = new ServiceAccountTokens({ signingKeyPem: ensureServiceAccountKey(tempDir()), storage });
    const forged = await stranger.issue(sa, { audiences: [], expirationSeconds: 600 });
    await expect(tokens.verify(forged.token)).rejects.toMatchObject({ code: 'INVALID' });
    await expect(tokens.verify('not.a.jwt')).rejects.toMatchObject({ code: 'INVALID' });
  });

  it('refuses a token once its service account is deleted or recreated, after the cache expires', async () => {
    // Proves the existence and uid checks through ObjectStorage, and that lookups are cached briefly.
    let nowMs = Date.now();
    const storage = await storageWithSa();
    const tokens = new ServiceAccountTokens({
      signingKeyPem: ensureServiceAccountKey(tempDir()),
      storage,
      lookupCacheMs: 1_000,
      nowMs: () => nowMs,
    });
    const { token } = await tokens.issue(sa, { audiences: [], expirationSeconds: 3600 });
    await tokens.verify(token);
    await tokens.verify(token);
    expect(storage.gets).toBe(1);
    await storage.remove('/registry/serviceaccounts/default/builder');
    await tokens.verify(token); // still cached
    nowMs += 1_001;
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'SA_GONE' });
    await storage.put('/registry/serviceaccounts/default/builder', {
      metadata: { name: 'builder', namespace: 'default', uid: 'a-new-uid' },
    });
    nowMs += 1_001;
    await expect(tokens.verify(token)).rejects.toMatchObject({ code: 'SA_GONE' });
  });

  it('lets apiservers sharing a cert dir accept each other’s tokens', async () => {
    // Proves the generated sa.key is shared (0600, created once) so tokens verify on any apiserver.
    const dir = tempDir();
    const a = new ServiceAccountTokens(loadServiceAccountKeys({ certDir: dir }));
    const b = new ServiceAccountTokens(loadServiceAccountKeys({ certDir: dir }));
    expect(statSync(join(dir, 'sa.key')).mode & 0o777).toBe(0o600);
    const { token } = await a.issue(sa, { audiences: [], expirationSeconds: 600 });
    expect((await b.verify(token)).username).toBe('system:serviceaccount:default:builder');
  });

  it('signs RS256 with a PKCS#1 key from --service-account-signing-key-file and verifies with --service-account-key-file', async () => {
    // Proves RSA keys from flags, and that extra public keys verify tokens of another signer.
    const dir = tempDir();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(dir, 'sa-rsa.key');
    const pubFile = join(dir, 'sa-rsa.pub');
    writeFileSync(keyFile, rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
    writeFileSync(pubFile, rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const signer = new ServiceAccountTokens(
      loadServiceAccountKeys({ certDir: dir, signingKeyFile: keyFile }),
    );
    const { token } = await signer.issue(sa, { audiences: [], expirationSeconds: 600 });
    expect(decodeProtectedHeader(token).alg).toBe('RS256');
    const verifier = new ServiceAccountTokens(loadServiceAccountKeys({ certDir: dir, keyFiles: [pubFile] }));
    expect((await verifier.verify(token)).uid).toBe(sa.uid);
  });
});
