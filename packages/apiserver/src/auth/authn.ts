// Authentication, as kube-apiserver's union authenticator does it: an x509 client certificate
// verified against --client-ca-file, else a bearer token from the static token file or a
// service-account JWT. Present but bad credentials are a 401; none at all make the request
// anonymous, which `resolveUser` allows only with --anonymous-auth.

import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { unauthorized } from '@keelson/api';
import { ANONYMOUS, type Authenticator, type UserInfo } from '../types.js';
import { parseCertificateBundle, verifySignedBy } from './tls.js';
import * as x509 from './x509.js';

export const GROUP_AUTHENTICATED = 'system:authenticated';
export const GROUP_UNAUTHENTICATED = 'system:unauthenticated';
export const GROUP_MASTERS = 'system:masters';
const tokenFileLinesMax = 100_000;

export class TokenFileError extends Error {
  readonly code = 'TOKEN_FILE_INVALID';
  constructor(
    readonly path: string,
    readonly line: number,
    why: string,
  ) {
    super(`token file '${path}' line ${line}: ${why}`);
    this.name = 'TokenFileError';
  }
}

// ---------------------------------------------------------------------------------------------
// The static token file: token,user,uid[,"group1,group2"] — Go's encoding/csv record syntax.

/** One CSV record: fields split by commas, double-quoted fields may hold commas and "" for a quote. */
export function parseCsvLine(line: string): { fields: string[] } | { error: string } {
  const fields: string[] = [];
  let i = 0;
  for (let guard = 0; guard <= line.length + 1; guard++) {
    if (line[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) return { error: 'extraneous or missing " in quoted-field' };
        value += line.slice(j, q);
        if (line[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (i < line.length && line[i] !== ',') return { error: 'extraneous or missing " in quoted-field' };
      fields.push(value);
    } else {
      const comma = line.indexOf(',', i);
      const value = comma < 0 ? line.slice(i) : line.slice(i, comma);
      if (value.includes('"')) return { error: 'bare " in non-quoted-field' };
      fields.push(value);
      i = comma < 0 ? line.length : comma;
    }
    if (i >= line.length) return { fields };
    i++; // the comma
    if (i === line.length) {
      fields.push('');
      return { fields };
    }
  }
  throw new Error('assertion failed: CSV field loop did not terminate');
}

/**
 * The users of a static token file. Blank lines are skipped. Stricter than kube-apiserver, which
 * only warns: an empty or duplicate token is refused, like a line with fewer than three columns.
 */
export function parseTokenFile(text: string, path = 'token file'): Map<string, UserInfo> {
  const lines = text.split('\n');
  if (lines.length > tokenFileLinesMax) throw new TokenFileError(path, tokenFileLinesMax, 'too many lines');
  const tokens = new Map<string, UserInfo>();
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const lineNo = index + 1;
    if (line.trim() === '') return;
    const parsed = parseCsvLine(line);
    if ('error' in parsed) throw new TokenFileError(path, lineNo, parsed.error);
    const [token, username, uid, groups] = parsed.fields;
    if (token === undefined || username === undefined || uid === undefined) {
      throw new TokenFileError(
        path,
        lineNo,
        `must have at least 3 columns (token, user name, user uid), found ${parsed.fields.length}`,
      );
    }
    if (token === '') throw new TokenFileError(path, lineNo, 'empty token');
    if (username === '') throw new TokenFileError(path, lineNo, 'empty user name');
    if (tokens.has(token)) throw new TokenFileError(path, lineNo, 'duplicate token');
    const user: UserInfo = { username, groups: (groups ?? '').split(',').filter((g) => g !== '') };
    if (uid !== '') user.uid = uid;
    tokens.set(token, user);
  });
  return tokens;
}

export function loadTokenFile(path: string): Map<string, UserInfo> {
  return parseTokenFile(readFileSync(path, 'utf8'), path);
}

// ---------------------------------------------------------------------------------------------
// The authenticator.

/** What authn needs of service-account tokens (ServiceAccountTokens provides it). */
export interface ServiceAccountVerifier {
  isOurs(token: string): boolean;
  verify(token: string): Promise<UserInfo>;
}

export interface AuthenticatorOptions {
  /** A token file path, or tokens already parsed. */
  tokenFile?: string | Map<string, UserInfo>;
  /** PEM bundle of CAs for client certificates; none: client certificates are ignored. */
  clientCa?: string;
  serviceAccountVerifier?: ServiceAccountVerifier;
  /** --anonymous-auth: whether requests without credentials are served as system:anonymous. */
  anonymous: boolean;
}

export interface KeelsonAuthenticator extends Authenticator {
  readonly anonymousAllowed: boolean;
}

/** The bearer token of the Authorization header, as kube-apiserver reads it; undefined when none. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization?.trim() ?? '';
  if (header === '') return undefined;
  const parts = header.split(' ');
  if (parts.length < 2 || parts[0]?.toLowerCase() !== 'bearer') return undefined;
  const token = parts[1] ?? '';
  return token === '' ? undefined : token;
}

/** The user with system:authenticated added, as kube-apiserver's AuthenticatedGroupAdder does. */
export function withAuthenticatedGroup(user: UserInfo): UserInfo {
  if (user.groups.includes(GROUP_AUTHENTICATED)) return user;
  return { ...user, groups: [...user.groups, GROUP_AUTHENTICATED] };
}

export function createAuthenticator(opts: AuthenticatorOptions): KeelsonAuthenticator {
  const tokens =
    typeof opts.tokenFile === 'string' ? loadTokenFile(opts.tokenFile) : (opts.tokenFile ?? new Map());
  const cas =
    opts.clientCa === undefined || opts.clientCa === '' ? [] : parseCertificateBundle(opts.clientCa);
  const sa = opts.serviceAccountVerifier;
  /** Keep-alive connections carry many requests: verify a connection's certificate once. */
  const peerUsers = new WeakMap<object, Promise<UserInfo | undefined>>();

  async function byToken(token: string): Promise<UserInfo> {
    const user = tokens.get(token);
    if (user !== undefined) return withAuthenticatedGroup(user);
    if (sa?.isOurs(token)) {
      try {
        return withAuthenticatedGroup(await sa.verify(token));
      } catch {
        throw unauthorized();
      }
    }
    throw unauthorized();
  }

  return {
    anonymousAllowed: opts.anonymous,
    async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
      if (cas.length > 0) {
        const socket = req.socket as Partial<TLSSocket>;
        let pending = peerUsers.get(req.socket);
        if (pending === undefined) {
          pending = userFromPeerCertificate(socket, cas);
          peerUsers.set(req.socket, pending);
        }
        const user = await pending;
        if (user !== undefined) return user;
      }
      const token = bearerToken(req);
      if (token === undefined) return undefined;
      return byToken(token);
    },
  };
}

/**
 * The user of a TLS peer certificate (CN user, each O a group), undefined without one; throws
 * unauthorized() for a certificate not signed by a client CA, expired, or not for client auth.
 */
async function userFromPeerCertificate(
  socket: Partial<TLSSocket>,
  cas: x509.X509Certificate[],
): Promise<UserInfo | undefined> {
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate();
  if (peer === null || peer === undefined || peer.raw === undefined) return undefined;
  const cert = new x509.X509Certificate(new Uint8Array(peer.raw));
  if (!(await verifySignedBy(cert, cas))) throw unauthorized();
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku !== null && !eku.usages.map(String).includes(x509.ExtendedKeyUsage.clientAuth))
    throw unauthorized();
  const username = cert.subjectName.getField('CN')[0] ?? '';
  if (username === '') throw unauthorized();
  return withAuthenticatedGroup({ username, groups: cert.subjectName.getField('O') });
}

/**
 * The user a request is served as: the authenticated user, else system:anonymous when anonymous
 * requests are allowed; throws unauthorized() (401) otherwise or for bad credentials.
 */
export async function resolveUser(
  authn: Authenticator,
  req: IncomingMessage,
  anonymousAllowed: boolean,
): Promise<UserInfo> {
  const user = await authn.authenticate(req);
  if (user !== undefined) return user;
  if (!anonymousAllowed) throw unauthorized();
  return ANONYMOUS;
}

/** Whether a request without credentials may proceed as system:anonymous (--anonymous-auth). */
export function anonymousAllowed(authn: Authenticator): boolean {
  return (authn as Partial<KeelsonAuthenticator>).anonymousAllowed === true;
}
