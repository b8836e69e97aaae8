// Service-account tokens: JWTs the apiserver signs (TokenRequest, the ServiceAccount admission) and
// verifies (authentication), with the claims of Kubernetes' bound service-account tokens. Several
// apiservers accept each other's tokens when they share the signing key: from
// --service-account-signing-key-file, or generated once in the shared cert dir (sa.key).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { ObjectStorage, TokenIssuer, UserInfo } from '../types.js';
import { writeFileIfAbsent } from './tls.js';

/** kube-apiserver's default --service-account-issuer for a cluster.local cluster. */
export const DEFAULT_SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const lookupCacheMsDefault = 3_000;
const lookupCacheEntriesMax = 10_000;
/** TokenRequest's bounds: at least 10 minutes, at most (here) one year. */
export const TOKEN_EXPIRATION_SECONDS_MIN = 600;
const tokenExpirationSecondsMax = 365 * 24 * 3600;

export class TokenError extends Error {
  constructor(
    readonly code: 'INVALID' | 'EXPIRED' | 'SA_GONE' | 'BOUND_OBJECT_GONE' | 'BAD_KEY',
    message: string,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** The private claims under "kubernetes.io". */
export interface KubernetesClaims {
  namespace: string;
  serviceaccount: { name: string; uid: string };
  pod?: { name: string; uid: string };
  secret?: { name: string; uid: string };
  node?: { name: string; uid: string };
}

export interface ServiceAccountTokensOptions {
  /** The signing key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC P-256). */
  signingKeyPem: string;
  /** More keys that verify tokens (--service-account-key-file): public or private keys, PEM. */
  verifyKeyPems?: string[];
  issuer?: string;
  /** Audiences a token must carry one of (--api-audiences); default: [issuer]. */
  apiAudiences?: string[];
  /** To check that the service account (and a bound pod/secret) still exists; none: no check. */
  storage?: ObjectStorage;
  lookupCacheMs?: number;
  /** --etcd-prefix of the store keys looked up; default "/registry". */
  etcdPrefix?: string;
  /** Milliseconds since the epoch; injected by tests. */
  nowMs?: () => number;
}

interface VerifyKey {
  kid: string;
  key: KeyObject;
  alg: 'RS256' | 'ES256';
}

function algorithmOf(key: KeyObject): 'RS256' | 'ES256' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new TokenError('BAD_KEY', `unsupported service-account key type ${key.asymmetricKeyType ?? '?'}`);
}

/** Kubernetes' key id: base64url of the SHA-256 of the public key's DER SubjectPublicKeyInfo. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url');
}

/** Public keys from a PEM that may hold public keys, private keys or certificates. */
export function publicKeysFromPem(pem: string): KeyObject[] {
  const blocks = pem.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? [];
  return blocks.map((block) =>
    block.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(block)) : createPublicKey(block),
  );
}

export class ServiceAccountTokens implements TokenIssuer {
  readonly issuer: string;
  readonly apiAudiences: string[];
  private readonly signingKey: KeyObject;
  private readonly signingKid: string;
  private readonly signingAlg: 'RS256' | 'ES256';
  private readonly verifyKeys: VerifyKey[];
  private readonly storage: ObjectStorage | undefined;
  private readonly lookupCacheMs: number;
  private readonly etcdPrefix: string;
  private readonly nowMs: () => number;
  /** storage key → the uid found there (null: absent) until expiresAtMs. Bounded by lookupCacheEntriesMax. */
  private readonly lookups = new Map<string, { uid: string | null; expiresAtMs: number }>();

  constructor(opts: ServiceAccountTokensOptions) {
    this.issuer = opts.issuer ?? DEFAULT_SERVICE_ACCOUNT_ISSUER;
    this.apiAudiences = opts.apiAudiences ?? [this.issuer];
    if (this.apiAudiences.length === 0) throw new Error('at least one API audience is required');
    this.signingKey = createPrivateKey(opts.signingKeyPem);
    const signingPublic = createPublicKey(this.signingKey);
    this.signingAlg = algorithmOf(this.signingKey);
    this.signingKid = keyIdOf(signingPublic);
    const extra = (opts.verifyKeyPems ?? []).flatMap(publicKeysFromPem);
    this.verifyKeys = [signingPublic, ...extra].map((key) => ({
      kid: keyIdOf(key),
      key,
      alg: algorithmOf(key),
    }));
    this.storage = opts.storage;
    this.lookupCacheMs = opts.lookupCacheMs ?? lookupCacheMsDefault;
    this.etcdPrefix = opts.etcdPrefix ?? '/registry';
    this.nowMs = opts.nowMs ?? Date.now;
  }

  /** Signs a bound token for the service account, as TokenRequest does. */
  async issue(
    sa: { namespace: string; name: string; uid: string },
    opts: {
      audiences: string[];
      expirationSeconds: number;
      boundObject?: { kind: string; name: string; uid: string; apiVersion: string };
    },
  ): Promise<{ token: string; expirationTimestamp: string }> {
    if (sa.namespace === '' || sa.name === '')
      throw new Error('a service account needs a namespace and name');
    const expirationSeconds = Math.min(
      Math.max(opts.expirationSeconds, TOKEN_EXPIRATION_SECONDS_MIN),
      tokenExpirationSecondsMax,
    );
    const nowSeconds = Math.floor(this.nowMs() / 1000);
    const claims: KubernetesClaims = {
      namespace: sa.namespace,
      serviceaccount: { name: sa.name, uid: sa.uid },
    };
    const bound = opts.boundObject;
    if (bound?.kind === 'Pod') claims.pod = { name: bound.name, uid: bound.uid };
    if (bound?.kind === 'Secret') claims.secret = { name: bound.name, uid: bound.uid };
    if (bound?.kind === 'Node') claims.node = { name: bound.name, uid: bound.uid };
    const expSeconds = nowSeconds + expirationSeconds;
    const token = await new SignJWT({ 'kubernetes.io': claims } as unknown as JWTPayload)
      .setProtectedHeader({ alg: this.signingAlg, kid: this.signingKid })
      .setIssuer(this.issuer)
      .setSubject(serviceAccountUsername(sa.namespace, sa.name))
      .setAudience(opts.audiences.length > 0 ? opts.audiences : this.apiAudiences)
      .setIssuedAt(nowSeconds)
      .setNotBefore(nowSeconds)
      .setExpirationTime(expSeconds)
      .setJti(randomUUID())
      .sign(this.signingKey);
    return { token, expirationTimestamp: new Date(expSeconds * 1000).toISOString().replace('.000Z', 'Z') };
  }

  /** Whether the token claims to come from this issuer (else other authenticators may try it). */
  isOurs(token: string): boolean {
    if (token.split('.').length !== 3) return false;
    try {
      return decodeJwt(token).iss === this.issuer;
    } catch {
      return false;
    }
  }

  /** The service account's user for a valid token; throws TokenError for an invalid one. */
  async verify(token: string): Promise<UserInfo> {
    const payload = await this.verifySignature(token);
    const claims = readClaims(payload);
    await this.checkStillExists(claims);
    const user: UserInfo = {
      username: serviceAccountUsername(claims.namespace, claims.serviceaccount.name),
      uid: claims.serviceaccount.uid,
      groups: serviceAccountGroups(claims.namespace),
    };
    const extra: Record<string, string[]> = {};
    if (claims.pod !== undefined) {
      extra['authentication.kubernetes.io/pod-name'] = [claims.pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [claims.pod.uid];
    }
    if (typeof payload.jti === 'string')
      extra['authentication.kubernetes.io/credential-id'] = [`JTI=${payload.jti}`];
    if (Object.keys(extra).length > 0) user.extra = extra;
    return user;
  }

  private async verifySignature(token: string): Promise<JWTPayload> {
    const options = {
      issuer: this.issuer,
      audience: this.apiAudiences,
      algorithms: ['RS256', 'ES256'],
      currentDate: new Date(this.nowMs()),
      requiredClaims: ['exp', 'sub'],
    };
    let header: { alg?: string; kid?: string };
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new TokenError('INVALID', 'invalid service-account token: not a JWS');
    }
    // Try the keys of the token's algorithm, the one its kid names first.
    const candidates = this.verifyKeys
      .filter((vk) => vk.alg === header.alg)
      .sort((a, b) => Number(b.kid === header.kid) - Number(a.kid === header.kid));
    let lastError: unknown = new Error(`no key for algorithm ${header.alg ?? 'none'}`);
    for (const vk of candidates) {
      try {
        const { payload } = await jwtVerify(token, vk.key, options);
        return payload;
      } catch (err) {
        lastError = err;
        // Only a bad signature means "try the next key"; an expired or mis-addressed token is bad under any key.
        if (!(err instanceof joseErrors.JWSSignatureVerificationFailed)) break;
      }
    }
    if (lastError instanceof joseErrors.JWTExpired) throw new TokenError('EXPIRED', 'token has expired');
    throw new TokenError(
      'INVALID',
      `invalid service-account token: ${(lastError as Error)?.message ?? 'no key'}`,
    );
  }

  private async checkStillExists(claims: KubernetesClaims): Promise<void> {
    if (this.storage === undefined) return;
    const ns = claims.namespace;
    const saUid = await this.lookupUid(
      `${this.etcdPrefix}/serviceaccounts/${ns}/${claims.serviceaccount.name}`,
    );
    if (saUid === null) {
      throw new TokenError('SA_GONE', `service account ${ns}/${claims.serviceaccount.name} has been deleted`);
    }
    if (saUid !== claims.serviceaccount.uid) {
      throw new TokenError(
        'SA_GONE',
        `service account UID (${claims.serviceaccount.uid}) does not match the current one (${saUid})`,
      );
    }
    for (const [kind, ref] of [
      ['pods', claims.pod],
      ['secrets', claims.secret],
    ] as const) {
      if (ref === undefined) continue;
      const uid = await this.lookupUid(`${this.etcdPrefix}/${kind}/${ns}/${ref.name}`);
      if (uid !== ref.uid) throw new TokenError('BOUND_OBJECT_GONE', `${kind} ${ns}/${ref.name} is gone`);
    }
  }

  private async lookupUid(key: string): Promise<string | null> {
    const now = this.nowMs();
    const cached = this.lookups.get(key);
    if (cached !== undefined && cached.expiresAtMs > now) return cached.uid;
    const stored = await (this.storage as ObjectStorage).get(key);
    const uid = stored === undefined ? null : (stored.obj.metadata?.uid ?? '');
    this.lookups.delete(key);
    if (this.lookups.size >= lookupCacheEntriesMax) {
      const oldest = this.lookups.keys().next().value;
      if (oldest !== undefined) this.lookups.delete(oldest);
    }
    if (this.lookupCacheMs > 0) this.lookups.set(key, { uid, expiresAtMs: now + this.lookupCacheMs });
    return uid;
  }
}

function readClaims(payload: JWTPayload): KubernetesClaims {
  const k = payload['kubernetes.io'] as Partial<KubernetesClaims> | undefined;
  const ns = k?.namespace;
  const sa = k?.serviceaccount;
  if (typeof ns !== 'string' || ns === '' || typeof sa?.name !== 'string' || typeof sa.uid !== 'string') {
    throw new TokenError('INVALID', 'token lacks the kubernetes.io service-account claims');
  }
  if (payload.sub !== serviceAccountUsername(ns, sa.name)) {
    throw new TokenError('INVALID', 'token subject does not match its service-account claims');
  }
  return k as KubernetesClaims;
}

export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The groups of a service account's user (system:authenticated is added by the authenticator). */
export function serviceAccountGroups(namespace: string): string[] {
  return ['system:serviceaccounts', `system:serviceaccounts:${namespace}`];
}

/** Namespace and name from "system:serviceaccount:<ns>:<name>", or undefined. */
export function parseServiceAccountUsername(
  username: string,
): { namespace: string; name: string } | undefined {
  const parts = username.split(':');
  if (parts.length !== 4 || parts[0] !== 'system' || parts[1] !== 'serviceaccount') return undefined;
  const [, , namespace, name] = parts;
  if (!namespace || !name) return undefined;
  return { namespace, name };
}

// ---------------------------------------------------------------------------------------------
// Keys from flags or the cert dir.

export interface ServiceAccountKeyFlags {
  /** --service-account-signing-key-file */
  signingKeyFile?: string;
  /** --service-account-key-file (repeatable) */
  keyFiles?: string[];
  /** Where sa.key is generated when no signing key file is given. */
  certDir: string;
}

/** The signing key PEM and extra verification PEMs, generating <certDir>/sa.key (ES256) once if needed. */
export function loadServiceAccountKeys(flags: ServiceAccountKeyFlags): {
  signingKeyPem: string;
  verifyKeyPems: string[];
} {
  const verifyKeyPems = (flags.keyFiles ?? []).map((f) => readFileSync(f, 'utf8'));
  if (flags.signingKeyFile !== undefined) {
    return { signingKeyPem: readFileSync(flags.signingKeyFile, 'utf8'), verifyKeyPems };
  }
  return { signingKeyPem: ensureServiceAccountKey(flags.certDir), verifyKeyPems };
}

/** <dir>/sa.key, created (0600, race-safe) when absent. */
export function ensureServiceAccountKey(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'sa.key');
  if (!existsSync(path)) {
    const { privateKey } = generateEcKeyPair();
    writeFileIfAbsent(path, privateKey, 0o600);
  }
  return readFileSync(path, 'utf8');
}

function generateEcKeyPair(): { privateKey: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}
