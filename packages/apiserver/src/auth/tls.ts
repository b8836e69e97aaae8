// The cluster CA and the certificates it signs: the apiserver's serving certificate and client
// certificates for kubeconfigs. Everything is PEM that node:https and kubectl read directly.
//
// File layout of a cert dir (the cluster launcher makes one dir, and so one CA, for every apiserver):
//   ca.crt, ca.key            the cluster CA (ECDSA P-256, 10 years); ca.key is 0600. Created once and
//                             then reused; safe when several apiservers start on the same dir at once.
//   <name>.crt, <name>.key    a serving certificate ("apiserver" by default), re-issued when missing,
//                             not signed by this CA, about to expire or not covering the requested hosts.
//                             Apiservers sharing a dir must use distinct names.
//   sa.key                    the service-account signing key (see tokens.ts).
import { createHash, createPrivateKey, createPublicKey, type KeyObject, webcrypto } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from './x509.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const subtle = webcrypto.subtle;
const ecAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ecSigning = { name: 'ECDSA', hash: 'SHA-256' } as const;
const dayMs = 24 * 60 * 60 * 1000;
const caValidityDays = 3650;
const leafValidityDaysDefault = 365;
/** A serving certificate closer than this to its end is re-issued at start. */
const renewBeforeDays = 30;
/** Back-date certificates a little so that a slightly slow clock elsewhere still accepts them. */
const backdateMs = 5 * 60 * 1000;

export class TlsError extends Error {
  constructor(
    readonly code: 'CA_KEY_MISMATCH' | 'BAD_PEM' | 'UNSUPPORTED_KEY',
    message: string,
  ) {
    super(message);
    this.name = 'TlsError';
  }
}

/** A CA able to sign: its certificate and private key, as PEM and as objects. */
export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  signingKey: webcrypto.CryptoKey;
  signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
}

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

// ---------------------------------------------------------------------------------------------
// Keys.

/** A private key from PEM (PKCS#8, PKCS#1 RSA or SEC1 EC) as a WebCrypto signing key. */
export async function importPrivateKeyPem(pem: string): Promise<{
  key: webcrypto.CryptoKey;
  algorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
  keyObject: KeyObject;
}> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw new TlsError('BAD_PEM', `cannot read private key: ${(err as Error).message}`);
  }
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  if (keyObject.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const key = await subtle.importKey('pkcs8', der, alg, true, ['sign']);
    return { key, algorithm: alg, keyObject };
  }
  const curve = keyObject.asymmetricKeyDetails?.namedCurve;
  if (keyObject.asymmetricKeyType === 'ec' && curve === 'prime256v1') {
    const key = await subtle.importKey('pkcs8', der, ecAlgorithm, true, ['sign']);
    return { key, algorithm: ecSigning, keyObject };
  }
  throw new TlsError(
    'UNSUPPORTED_KEY',
    `unsupported key type ${keyObject.asymmetricKeyType ?? '?'} ${curve ?? ''}: use RSA or ECDSA P-256`,
  );
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await subtle.generateKey(ecAlgorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** The SHA-256 of a key's SubjectPublicKeyInfo, to tell whether a certificate belongs to a key. */
function spkiDigest(spkiDer: ArrayBuffer | Buffer): string {
  return createHash('sha256')
    .update(Buffer.from(spkiDer as ArrayBuffer))
    .digest('hex');
}

function keyObjectSpkiDigest(keyObject: KeyObject): string {
  return spkiDigest(createPublicKey(keyObject).export({ type: 'spki', format: 'der' }));
}

// ---------------------------------------------------------------------------------------------
// Files.

/**
 * Writes `content` to `path` only if `path` does not exist yet, atomically: the content goes to a
 * temp file first and is hard-linked into place, so a concurrent reader never sees half a file and
 * of two concurrent writers exactly one wins. Returns whether this call wrote the file.
 */
export function writeFileIfAbsent(path: string, content: string, mode: number): boolean {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, content, { mode, flag: 'wx' });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** Replaces `path` atomically (last writer wins). */
function writeFileReplacing(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, content, { mode, flag: 'wx' });
  renameSync(tmp, path);
}

// ---------------------------------------------------------------------------------------------
// The CA.

/** Loads a CA from PEM (e.g. files given by flags). Checks that the key belongs to the certificate. */
export async function loadCa(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const cert = parseCertificate(certPem);
  const { key, algorithm, keyObject } = await importPrivateKeyPem(keyPem);
  if (keyObjectSpkiDigest(keyObject) !== spkiDigest(cert.publicKey.rawData)) {
    throw new TlsError('CA_KEY_MISMATCH', 'the CA key does not belong to the CA certificate');
  }
  return { certPem, keyPem, cert, signingKey: key, signingAlgorithm: algorithm };
}

export function parseCertificate(pem: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (err) {
    throw new TlsError('BAD_PEM', `cannot read certificate: ${(err as Error).message}`);
  }
}

/** Every certificate in a PEM bundle (a --client-ca-file may hold several). */
export function parseCertificateBundle(pem: string): x509.X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TlsError('BAD_PEM', 'no certificate found in the PEM data');
  return blocks.map(parseCertificate);
}

/**
 * The cluster CA in `dir` (ca.crt, ca.key), created on first use and reused afterwards. Several
 * processes may call this at once on one dir: the key is linked into place once, and a certificate
 * is made for whichever key won.
 */
export async function ensureCa(dir: string, commonName = 'keelson-ca'): Promise<CertificateAuthority> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyPath = join(dir, 'ca.key');
  const certPath = join(dir, 'ca.crt');
  if (!existsSync(keyPath)) {
    const keys = await generateKeyPair();
    writeFileIfAbsent(keyPath, await privateKeyPem(keys.privateKey), 0o600);
  }
  const keyPem = readFileSync(keyPath, 'utf8');
  if (!existsSync(certPath)) {
    writeFileIfAbsent(certPath, await selfSignedCaPem(keyPem, commonName), 0o644);
  }
  return loadCa(readFileSync(certPath, 'utf8'), keyPem);
}

async function selfSignedCaPem(keyPem: string, commonName: string): Promise<string> {
  const { key, algorithm, keyObject } = await importPrivateKeyPem(keyPem);
  const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  const publicKey = await subtle.importKey('spki', spki, key.algorithm, true, ['verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [commonName] }],
    issuer: [{ CN: [commonName] }],
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + caValidityDays * dayMs),
    publicKey,
    signingKey: key,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return cert.toString('pem');
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // a positive INTEGER
  return Buffer.from(bytes).toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Leaf certificates.

interface LeafParams {
  ca: CertificateAuthority;
  subject: x509.JsonName;
  usage: 'server' | 'client';
  sans?: x509.JsonGeneralNames;
  validityDays?: number;
}

async function issueLeaf(p: LeafParams): Promise<CertAndKey> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      [p.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.AuthorityKeyIdentifierExtension.create(p.ca.cert.publicKey),
  ];
  if (p.sans !== undefined) extensions.push(new x509.SubjectAlternativeNameExtension(p.sans, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: p.subject,
    issuer: p.ca.cert.subjectName,
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + (p.validityDays ?? leafValidityDaysDefault) * dayMs),
    publicKey: keys.publicKey,
    signingKey: p.ca.signingKey,
    signingAlgorithm: p.ca.signingAlgorithm,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** Subject alternative names for hosts: IP addresses as iPAddress entries, the rest as dNSName. */
export function sansFor(hosts: string[]): x509.JsonGeneralNames {
  return hosts.map((h) => (isIP(h) !== 0 ? { type: 'ip', value: h } : { type: 'dns', value: h }));
}

export interface ServingCertOptions {
  ca: CertificateAuthority;
  /** IPs and DNS names the server answers on, e.g. ['127.0.0.1', 'localhost', 'kubernetes.default.svc']. */
  hosts: string[];
  /** When given, the cert and key are written to (and reused from) <dir>/<name>.crt and .key. */
  dir?: string;
  name?: string;
  validityDays?: number;
}

/** A serving certificate signed by the CA, with the hosts as SANs. */
export async function issueServingCert(opts: ServingCertOptions): Promise<CertAndKey> {
  if (opts.hosts.length === 0) throw new Error('a serving certificate needs at least one host');
  const name = opts.name ?? 'apiserver';
  const certPath = opts.dir === undefined ? undefined : join(opts.dir, `${name}.crt`);
  const keyPath = opts.dir === undefined ? undefined : join(opts.dir, `${name}.key`);
  if (certPath !== undefined && keyPath !== undefined && existsSync(certPath) && existsSync(keyPath)) {
    const existing = { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
    if (await servingCertReusable(existing, opts)) return existing;
  }
  const issued = await issueLeaf({
    ca: opts.ca,
    subject: [{ CN: [opts.hosts[0] ?? 'apiserver'] }],
    usage: 'server',
    sans: sansFor(opts.hosts),
    validityDays: opts.validityDays,
  });
  if (certPath !== undefined && keyPath !== undefined && opts.dir !== undefined) {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    writeFileReplacing(keyPath, issued.keyPem, 0o600);
    writeFileReplacing(certPath, issued.certPem, 0o644);
  }
  return issued;
}

async function servingCertReusable(existing: CertAndKey, opts: ServingCertOptions): Promise<boolean> {
  try {
    const cert = parseCertificate(existing.certPem);
    const { keyObject } = await importPrivateKeyPem(existing.keyPem);
    if (keyObjectSpkiDigest(keyObject) !== spkiDigest(cert.publicKey.rawData)) return false;
    if (cert.notAfter.getTime() - Date.now() < renewBeforeDays * dayMs) return false;
    if (!(await verifySignedBy(cert, [opts.ca.cert]))) return false;
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const present = new Set((san?.names.toJSON() ?? []).map((n) => `${n.type}:${n.value}`));
    return sansFor(opts.hosts).every((n) => present.has(`${n.type}:${n.value}`));
  } catch {
    return false;
  }
}

export interface ClientCertOptions {
  ca: CertificateAuthority;
  /** The user name (CN). */
  user: string;
  /** The groups (one O each), e.g. ['system:masters'] for an admin. */
  groups: string[];
  validityDays?: number;
}

/** A client certificate for a kubeconfig: CN is the user, each O a group. */
export async function issueClientCert(opts: ClientCertOptions): Promise<CertAndKey> {
  if (opts.user === '') throw new Error('a client certificate needs a user name');
  const subject: x509.JsonName = [{ CN: [opts.user] }];
  if (opts.groups.length > 0) subject.unshift({ O: [...opts.groups] });
  return issueLeaf({ ca: opts.ca, subject, usage: 'client', validityDays: opts.validityDays });
}

/**
 * Whether `cert` is signed by one of `cas` and valid at `at`: the chain the apiserver accepts is
 * one level deep (leaf signed directly by a CA of the bundle), as with kubeadm's and our CA.
 */
export async function verifySignedBy(
  cert: x509.X509Certificate,
  cas: x509.X509Certificate[],
  at: Date = new Date(),
): Promise<boolean> {
  if (at < cert.notBefore || at > cert.notAfter) return false;
  for (const ca of cas) {
    if (ca.subject !== cert.issuer) continue;
    if (await cert.verify({ publicKey: ca.publicKey, signatureOnly: true })) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Flags.

export interface ServingTlsFlags {
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  clientCaFile?: string;
  /** Where ensureCa and the generated serving cert live when no files are given. */
  certDir: string;
  /** Hosts of a generated serving cert. */
  hosts: string[];
}

export interface ServingTls {
  certPem: string;
  keyPem: string;
  /** PEM bundle of CAs that client certificates must chain to (the cluster CA by default). */
  clientCaPem: string;
}

/**
 * The serving material from flags: --tls-cert-file/--tls-private-key-file when given, else a
 * certificate issued by the cluster CA in certDir. --client-ca-file defaults to that CA.
 */
export async function loadServingTls(flags: ServingTlsFlags): Promise<ServingTls> {
  if ((flags.tlsCertFile === undefined) !== (flags.tlsPrivateKeyFile === undefined)) {
    throw new Error('--tls-cert-file and --tls-private-key-file must be given together');
  }
  let clientCaPem = flags.clientCaFile === undefined ? undefined : readFileSync(flags.clientCaFile, 'utf8');
  if (clientCaPem !== undefined) parseCertificateBundle(clientCaPem);
  if (flags.tlsCertFile !== undefined && flags.tlsPrivateKeyFile !== undefined) {
    const certPem = readFileSync(flags.tlsCertFile, 'utf8');
    const keyPem = readFileSync(flags.tlsPrivateKeyFile, 'utf8');
    parseCertificateBundle(certPem);
    await importPrivateKeyPem(keyPem);
    clientCaPem ??= existsSync(join(flags.certDir, 'ca.crt'))
      ? readFileSync(join(flags.certDir, 'ca.crt'), 'utf8')
      : '';
    return { certPem, keyPem, clientCaPem };
  }
  const ca = await ensureCa(flags.certDir);
  const serving = await issueServingCert({ ca, hosts: flags.hosts, dir: flags.certDir });
  return { ...serving, clientCaPem: clientCaPem ?? ca.certPem };
}
