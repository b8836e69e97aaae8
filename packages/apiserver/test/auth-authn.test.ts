// Bearer-token authentication: the static token file format, the union with service-account JWTs,
// the 401 for bad credentials and the anonymous decision.

import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStatusError } from '@keelson/api';
import {
  ANONYMOUS,
  anonymousAllowed,
  bearerToken,
  createAuthenticator,
  ensureServiceAccountKey,
  parseCsvLine,
  parseTokenFile,
  resolveUser,
  ServiceAccountTokens,
  TokenFileError,
} from '@keelson/apiserver';
import { afterAll, describe, expect, it } from 'vitest';

function requestWith(authorization?: string): IncomingMessage {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  return { headers, socket: {} } as unknown as IncomingMessage;
}

async function statusCodeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (isStatusError(err)) return err.code;
    throw err;
  }
}

describe('token file', () => {
  it('parses users, uids and quoted group lists', () => {
    // Proves kube-apiserver's CSV format: token,user,uid,"group1,group2", blank lines and CRLF.
    const tokens = parseTokenFile(
      [
        'admin-token,admin,1,"system:masters,ops"',
        '',
        'dev-token,dev,2\r',
        'x,"quoted ""name""",3,solo',
        'y,nouid,,',
      ].join('\n'),
    );
    expect(tokens.get('admin-token')).toEqual({
      username: 'admin',
      uid: '1',
      groups: ['system:masters', 'ops'],
    });
    expect(tokens.get('dev-token')).toEqual({ username: 'dev', uid: '2', groups: [] });
    expect(tokens.get('x')).toEqual({ username: 'quoted "name"', uid: '3', groups: ['solo'] });
    expect(tokens.get('y')).toEqual({ username: 'nouid', groups: [] });
    expect(tokens.size).toBe(4);
  });

  it.each([
    ['a,b\n', 1, 'at least 3 columns'],
    ['ok,u,1\nbad,"open,1\n', 2, 'quoted-field'],
    ['ok,u,1\n\nb"ad,u,1\n', 3, 'bare "'],
    ['t,u,1\nt,v,2\n', 2, 'duplicate token'],
    [',u,1\n', 1, 'empty token'],
    ['"a"x,u,1\n', 1, 'quoted-field'],
  ])('rejects %j at line %i', (text, line, why) => {
    // Proves bad lines are refused with their line number rather than skipped.
    let caught: unknown;
    try {
      parseTokenFile(text, '/etc/tokens.csv');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TokenFileError);
    expect((caught as TokenFileError).line).toBe(line);
    expect((caught as TokenFileError).message).toContain(`token file '/etc/tokens.csv' line ${line}`);
    expect((caught as TokenFileError).message).toContain(why);
  });

  it('splits CSV records like encoding/csv', () => {
    // Proves the record splitter on edge cases: empty fields, trailing comma, escaped quotes.
    expect(parseCsvLine('a,,b')).toEqual({ fields: ['a', '', 'b'] });
    expect(parseCsvLine('a,')).toEqual({ fields: ['a', ''] });
    expect(parseCsvLine('"a,b","c""d"')).toEqual({ fields: ['a,b', 'c"d'] });
    expect(parseCsvLine('""')).toEqual({ fields: [''] });
  });
});

describe('authenticator', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-auth-authn-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sa = new ServiceAccountTokens({ signingKeyPem: ensureServiceAccountKey(dir) });
  const authn = createAuthenticator({
    tokenFile: parseTokenFile('admin-token,admin,1,"system:masters"\n'),
    serviceAccountVerifier: sa,
    anonymous: false,
  });

  it('reads bearer tokens as kube-apiserver does', () => {
    // Proves the Authorization header parsing: scheme case, missing token, other schemes.
    expect(bearerToken(requestWith('Bearer abc'))).toBe('abc');
    expect(bearerToken(requestWith('bearer abc extra'))).toBe('abc');
    expect(bearerToken(requestWith('Bearer '))).toBeUndefined();
    expect(bearerToken(requestWith('Basic dTpw'))).toBeUndefined();
    expect(bearerToken(requestWith())).toBeUndefined();
  });

  it('authenticates file tokens and service-account tokens, adding system:authenticated', async () => {
    // Proves the union of the two token sources and the groups every authenticated user gets.
    expect(await authn.authenticate(requestWith('Bearer admin-token'))).toEqual({
      username: 'admin',
      uid: '1',
      groups: ['system:masters', 'system:authenticated'],
    });
    const { token } = await sa.issue(
      { namespace: 'ci', name: 'bot', uid: 'u' },
      { audiences: [], expirationSeconds: 600 },
    );
    const user = await authn.authenticate(requestWith(`Bearer ${token}`));
    expect(user?.username).toBe('system:serviceaccount:ci:bot');
    expect(user?.groups).toEqual([
      'system:serviceaccounts',
      'system:serviceaccounts:ci',
      'system:authenticated',
    ]);
  });

  it('answers 401 for unknown or broken tokens and leaves credential-less requests anonymous', async () => {
    // Proves bad credentials are 401 whatever --anonymous-auth says, and no credentials are the caller's call.
    expect(await statusCodeOf(authn.authenticate(requestWith('Bearer nope')))).toBe(401);
    const forged = await new ServiceAccountTokens({
      signingKeyPem: ensureServiceAccountKey(join(dir, 'other')),
    }).issue({ namespace: 'ci', name: 'bot', uid: 'u' }, { audiences: [], expirationSeconds: 600 });
    expect(await statusCodeOf(authn.authenticate(requestWith(`Bearer ${forged.token}`)))).toBe(401);
    expect(await authn.authenticate(requestWith())).toBeUndefined();
    expect(anonymousAllowed(authn)).toBe(false);
    expect(await statusCodeOf(resolveUser(authn, requestWith(), false))).toBe(401);
    expect(await resolveUser(authn, requestWith(), true)).toEqual(ANONYMOUS);
    const open = createAuthenticator({ anonymous: true });
    expect(anonymousAllowed(open)).toBe(true);
    expect(await statusCodeOf(resolveUser(open, requestWith('Bearer x'), true))).toBe(401);
  });
});
