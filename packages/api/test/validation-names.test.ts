// Name validators against tables of valid and invalid names with Kubernetes' exact messages, plus
// fast-check properties over generated names. FC_SEED pins the seed; a failure reports it.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidIP,
  isValidLabelValue,
  isValidPathSegmentName,
  isValidPortName,
  nameIsDNSSubdomain,
  parseIP,
} from '../src/validation/names.js';

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
const fcOptions = { seed, numRuns: 300 };

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QNAME_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

describe('DNS-1123 subdomain', () => {
  it.each(['a', 'example.com', 'a-b.c-d', '0', 'x'.repeat(253), '1.2.3.4'])('accepts %s', (name) => {
    // Proves names Kubernetes accepts as DNS-1123 subdomains (up to 253 characters, IPs) yield no errors.
    expect(isDNS1123Subdomain(name)).toEqual([]);
  });
  it.each(['', 'A', 'a_b', '-a', 'a-', 'a..b', '.a', 'a.', 'ü'])('refuses %j', (name) => {
    // Proves a malformed subdomain (empty, uppercase, bad or edge punctuation, non-ASCII) gets Kubernetes'
    // message.
    expect(isDNS1123Subdomain(name)).toEqual([SUBDOMAIN_MSG]);
  });
  it('refuses 254 characters with the length message', () => {
    // Proves the length limit is reported separately from the pattern.
    expect(isDNS1123Subdomain('a'.repeat(254))).toEqual(['must be no more than 253 characters']);
  });
});

describe('DNS-1123 label and DNS-1035 label', () => {
  it('labels', () => {
    // Proves DNS-1123 labels refuse dots with Kubernetes' special message, bad characters with the regex
    // message, and more than 63 characters.
    expect(isDNS1123Label('my-name')).toEqual([]);
    expect(isDNS1123Label('123-abc')).toEqual([]);
    expect(isDNS1123Label('a.b')).toEqual(['must not contain dots']);
    expect(isDNS1123Label('My')).toEqual([LABEL_MSG]);
    expect(isDNS1123Label('a'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });
  it('DNS-1035 labels', () => {
    // Proves DNS-1035 labels must start with a letter and may not contain dots.
    expect(isDNS1035Label('abc-123')).toEqual([]);
    expect(isDNS1035Label('1abc')).toEqual([DNS1035_MSG]);
    expect(isDNS1035Label('a.b')).toEqual([DNS1035_MSG]);
  });
});

describe('qualified names and label values', () => {
  it('qualified names', () => {
    // Proves label keys with and without prefixes are checked part by part.
    for (const ok of ['app', 'app.kubernetes.io/name', 'MyName', 'a_b.c-d', 'example.com/X']) {
      expect(isQualifiedName(ok), ok).toEqual([]);
    }
    expect(isQualifiedName('-bad')).toEqual([QNAME_MSG]);
    expect(isQualifiedName('/name')).toEqual(['prefix part must be non-empty']);
    expect(isQualifiedName('example.com/')).toEqual(['name part must be non-empty', QNAME_MSG]);
    expect(isQualifiedName('Example.com/x')).toEqual([`prefix part ${SUBDOMAIN_MSG}`]);
    expect(isQualifiedName('a/b/c')[0]).toMatch(
      /^a qualified name must consist of .* with an optional DNS subdomain prefix and '\/' \(e\.g\. 'example\.com\/MyName'\)$/,
    );
    expect(isQualifiedName('a'.repeat(64))).toEqual(['name part must be no more than 63 characters']);
  });
  it('label values', () => {
    // Proves label values may be empty and follow the qualified-name pattern otherwise.
    expect(isValidLabelValue('')).toEqual([]);
    expect(isValidLabelValue('v1.2_3-x')).toEqual([]);
    expect(isValidLabelValue('bad value')).toEqual([LABEL_VALUE_MSG]);
    expect(isValidLabelValue('a'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });
});

describe('other validators', () => {
  it('config keys, env vars, ports, IPs, path segments', () => {
    // Proves config keys, env names, port names, IPs and path segments follow Kubernetes' rules.
    expect(isConfigMapKey('key.name')).toEqual([]);
    expect(isConfigMapKey('..x')).toEqual(["must not start with '..'"]);
    expect(isConfigMapKey('a b')[0]).toMatch(/^a valid config key must consist of alphanumeric characters/);
    expect(isEnvVarName('MY_ENV.NAME')).toEqual([]);
    expect(isEnvVarName('1A')).toHaveLength(1);
    expect(isValidPortName('http')).toEqual([]);
    expect(isValidPortName('123')).toEqual(['must contain at least one letter (a-z)']);
    expect(isValidPortName('a--b')).toEqual(['must not contain consecutive hyphens']);
    expect(isValidPortName('a-very-long-port-name')).toEqual(['must be no more than 15 characters']);
    expect(isValidIP('10.0.0.1')).toEqual([]);
    expect(parseIP('2001:db8::ffff')).toBe('IPv6');
    expect(parseIP('::1')).toBe('IPv6');
    expect(parseIP('::ffff:1.2.3.4')).toBe('IPv6');
    expect(isValidIP('10.0.0.256')).toEqual([
      'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
    expect(parseIP('1:2:3:4:5:6:7:8:9')).toBeUndefined();
    expect(isValidPathSegmentName('system:admin')).toEqual([]);
    expect(isValidPathSegmentName('..')).toEqual(["may not be '..'"]);
    expect(isValidPathSegmentName('a/b%')).toEqual(["may not contain '/'", "may not contain '%'"]);
  });
  it('generateName prefixes', () => {
    // Proves generateName prefixes may end in '-', as maskTrailingDash allows.
    expect(nameIsDNSSubdomain('web-', true)).toEqual([]);
    expect(nameIsDNSSubdomain('web-', false)).toEqual([SUBDOMAIN_MSG]);
  });
});

const labelChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split(''));
const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const dnsLabel = fc
  .tuple(alnum, fc.array(labelChar, { maxLength: 20 }), alnum)
  .map(([a, mid, z]) => `${a}${mid.join('')}${z}`);
const subdomain = fc.array(dnsLabel, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('.'));

describe('properties', () => {
  it('generated DNS-1123 names pass', () => {
    // Proves every generated RFC 1123 subdomain passes the subdomain validator and every generated label the
    // label validator.
    fc.assert(
      fc.property(subdomain, dnsLabel, (s, l) => {
        expect(isDNS1123Subdomain(s)).toEqual([]);
        expect(isDNS1123Label(l)).toEqual([]);
      }),
      fcOptions,
    );
  });
  it('an uppercase letter fails', () => {
    // Proves a single uppercase letter anywhere makes a name invalid under every DNS validator.
    const upper = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split(''));
    fc.assert(
      fc.property(subdomain, upper, fc.nat(), (s, u, pos) => {
        const at = pos % (s.length + 1);
        const name = s.slice(0, at) + u + s.slice(at);
        expect(isDNS1123Subdomain(name)).not.toEqual([]);
        expect(isDNS1123Label(name)).not.toEqual([]);
        expect(isDNS1035Label(name)).not.toEqual([]);
      }),
      fcOptions,
    );
  });
});
