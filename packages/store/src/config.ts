// A store member's configuration: etcd 3.4's flags, environment variables (ETCD_*), defaults and
// checks, so that scripts and manifests written for etcd start a Keelson member unchanged.
// This file knows nothing of commander: the CLI declares the flags from STORE_FLAGS and hands the
// parsed option values to loadMemberConfig, which also reads the environment.
import { isIP } from 'node:net';

export interface MemberConfig {
  name: string;
  dataDir: string;
  listenClientUrls: URL[];
  advertiseClientUrls: string[];
  listenPeerUrls: URL[];
  initialAdvertisePeerUrls: string[];
  /** Extra HTTP listeners that serve only /metrics and /health (etcd's --listen-metrics-urls). */
  listenMetricsUrls: URL[];
  /** The bootstrap membership, in the order the flag names members; a name's URLs are merged. */
  initialCluster: Array<{ name: string; peerUrls: string[] }>;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  snapshotCount: number;
  snapshotCatchUpEntries: number;
  /** The backend size at which the NOSPACE alarm is raised; negative disables the quota, as in etcd. */
  quotaBackendBytes: number;
  maxRequestBytes: number;
  maxTxnOps: number;
  logLevel: LogLevel;
  enableFaultInjection: boolean;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** A configuration a member cannot start with. The message is etcd's where etcd has one. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  /** The flag at fault, without dashes (e.g. "election-timeout"), when there is one. */
  readonly flag: string | undefined;
  constructor(message: string, flag?: string) {
    super(message);
    this.name = 'ConfigError';
    this.flag = flag;
  }
}

export const DEFAULT_NAME = 'default';
export const DEFAULT_CLIENT_URL = 'http://localhost:2379';
export const DEFAULT_PEER_URL = 'http://localhost:2380';
export const DEFAULT_CLUSTER_TOKEN = 'etcd-cluster';
/** etcd's DefaultQuotaBytes: what --quota-backend-bytes=0 means. */
export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's MaxQuotaBytes: above it etcd (and Keelson) only warns. */
export const MAX_RECOMMENDED_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;
/** etcd's recommended ceiling for --max-request-bytes (a warning, not an error). */
export const MAX_RECOMMENDED_REQUEST_BYTES = 10 * 1024 * 1024;
/** etcd's maxElectionMs. */
export const ELECTION_TIMEOUT_MS_MAX = 50_000;

export function defaultMemberConfig(): MemberConfig {
  return {
    name: DEFAULT_NAME,
    dataDir: `${DEFAULT_NAME}.etcd`,
    listenClientUrls: [new URL(DEFAULT_CLIENT_URL)],
    advertiseClientUrls: [DEFAULT_CLIENT_URL],
    listenPeerUrls: [new URL(DEFAULT_PEER_URL)],
    initialAdvertisePeerUrls: [DEFAULT_PEER_URL],
    listenMetricsUrls: [],
    initialCluster: [{ name: DEFAULT_NAME, peerUrls: [DEFAULT_PEER_URL] }],
    initialClusterState: 'new',
    initialClusterToken: DEFAULT_CLUSTER_TOKEN,
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    snapshotCount: 100_000,
    snapshotCatchUpEntries: 5000,
    quotaBackendBytes: DEFAULT_QUOTA_BACKEND_BYTES,
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxTxnOps: 128,
    logLevel: 'info',
    enableFaultInjection: false,
  };
}

export type FlagKind = 'string' | 'integer' | 'urls' | 'boolean';

/** One command-line flag. `key` is the option name commander derives from the flag (camelCase). */
export interface StoreFlag {
  readonly flag: string;
  readonly key: string;
  readonly env: string;
  readonly kind: FlagKind;
  readonly description: string;
  /** The default as `--help` shows it. */
  readonly defaultText: string;
}

function flag(name: string, kind: FlagKind, description: string, defaultText: string): StoreFlag {
  const key = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const env = `ETCD_${name.toUpperCase().replace(/-/g, '_')}`;
  return { flag: name, key, env, kind, description, defaultText };
}

/** etcd 3.4's flag names; the last two are Keelson's own (etcd 3.4 hard-codes catch-up entries). */
export const STORE_FLAGS: readonly StoreFlag[] = [
  flag('name', 'string', 'human-readable name for this member', DEFAULT_NAME),
  flag('data-dir', 'string', 'path to the data directory', '<name>.etcd'),
  flag('listen-client-urls', 'urls', 'list of URLs to listen on for client traffic', DEFAULT_CLIENT_URL),
  flag('advertise-client-urls', 'urls', "list of this member's client URLs to advertise", DEFAULT_CLIENT_URL),
  flag('listen-peer-urls', 'urls', 'list of URLs to listen on for peer traffic', DEFAULT_PEER_URL),
  flag(
    'initial-advertise-peer-urls',
    'urls',
    "list of this member's peer URLs to advertise",
    DEFAULT_PEER_URL,
  ),
  flag('listen-metrics-urls', 'urls', 'list of URLs to listen on for the metrics and health endpoints', ''),
  flag('initial-cluster', 'string', 'initial cluster configuration for bootstrapping', 'name=peer-urls'),
  flag('initial-cluster-state', 'string', "initial cluster state ('new' or 'existing')", 'new'),
  flag('initial-cluster-token', 'string', 'initial cluster token for bootstrapping', DEFAULT_CLUSTER_TOKEN),
  flag('heartbeat-interval', 'integer', 'time (in milliseconds) of a heartbeat interval', '100'),
  flag('election-timeout', 'integer', 'time (in milliseconds) for an election to timeout', '1000'),
  flag('snapshot-count', 'integer', 'number of committed transactions to trigger a snapshot', '100000'),
  flag('quota-backend-bytes', 'integer', 'raise alarms when backend size exceeds this (0: 2 GiB)', '0'),
  flag('max-request-bytes', 'integer', 'maximum client request size in bytes', '1572864'),
  flag('max-txn-ops', 'integer', 'maximum number of operations permitted in a transaction', '128'),
  flag('log-level', 'string', 'log level: debug, info, warn or error', 'info'),
  flag('snapshot-catchup-entries', 'integer', 'entries kept after a snapshot for slow followers', '5000'),
  flag('enable-fault-injection', 'boolean', 'serve the fault-injection API (tests only)', 'false'),
];

export type OptionValue = string | number | boolean | readonly string[] | undefined;
export type Env = Readonly<Record<string, string | undefined>>;

/** A parsed configuration and the warnings a member should log when it starts. */
export interface LoadedConfig {
  readonly config: MemberConfig;
  readonly warnings: string[];
}

/** Parses and validates; flags win over ETCD_* environment variables, which win over defaults. */
export function memberConfigFromOptions(opts: Record<string, unknown>, env: Env = {}): MemberConfig {
  return loadMemberConfig(opts, env).config;
}

export function loadMemberConfig(opts: Record<string, unknown>, env: Env = {}): LoadedConfig {
  const warnings: string[] = [];
  const raw = mergeSources(opts, env, warnings);
  const config = buildConfig(raw);
  validateMemberConfig(config);
  warnings.push(...memberConfigWarnings(config));
  return { config, warnings };
}

/** A flag's value as given, and how it was given (for messages). */
interface RawValue {
  readonly text: string;
  readonly source: string;
}

function mergeSources(opts: Record<string, unknown>, env: Env, warnings: string[]): Map<string, RawValue> {
  const raw = new Map<string, RawValue>();
  const known = new Set<string>();
  for (const f of STORE_FLAGS) {
    known.add(f.env);
    const fromFlag = optionText(opts[f.key] as OptionValue, f);
    const fromEnv = env[f.env];
    const envSet = fromEnv !== undefined && fromEnv !== '';
    if (fromFlag !== undefined) {
      raw.set(f.key, { text: fromFlag, source: `flag --${f.flag}` });
      if (envSet) warnings.push(`recognized environment variable ${f.env}, but unused: shadowed by flag`);
    } else if (envSet) {
      raw.set(f.key, { text: fromEnv, source: f.env });
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('ETCD_') && !known.has(name)) {
      warnings.push(`unrecognized environment variable ${name}=${value ?? ''}`);
    }
  }
  return raw;
}

function optionText(v: OptionValue, f: StoreFlag): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.join(',');
  throw new ConfigError(`invalid value for flag --${f.flag}: expected a string`, f.flag);
}

function flagByKey(key: string): StoreFlag {
  const f = STORE_FLAGS.find((x) => x.key === key);
  if (f === undefined) throw new Error(`assertion failed: no store flag with key ${key}`);
  return f;
}

function invalid(key: string, v: RawValue, reason: string): ConfigError {
  const f = flagByKey(key);
  const where = v.source.startsWith('flag') ? `flag --${f.flag}` : v.source;
  return new ConfigError(`invalid value "${v.text}" for ${where}: ${reason}`, f.flag);
}

function getString(raw: Map<string, RawValue>, key: string, fallback: string): string {
  return raw.get(key)?.text ?? fallback;
}

function getInteger(
  raw: Map<string, RawValue>,
  key: string,
  fallback: number,
  allowNegative = false,
): number {
  const v = raw.get(key);
  if (v === undefined) return fallback;
  const pattern = allowNegative ? /^-?\d+$/ : /^\d+$/;
  const n = Number(v.text);
  if (!pattern.test(v.text) || !Number.isSafeInteger(n)) throw invalid(key, v, 'parse error');
  return n;
}

function getBoolean(raw: Map<string, RawValue>, key: string, fallback: boolean): boolean {
  const v = raw.get(key);
  if (v === undefined) return fallback;
  // Go's strconv.ParseBool, which etcd's boolean flags and variables use.
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v.text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v.text)) return false;
  throw invalid(key, v, 'parse error');
}

function getUrls(raw: Map<string, RawValue>, key: string, fallback: readonly string[]): string[] {
  const v = raw.get(key);
  if (v === undefined) return [...fallback];
  if (v.text === '') return [];
  const urls = v.text.split(',');
  for (const u of urls) {
    const reason = urlStringProblem(u);
    if (reason !== null) throw invalid(key, v, reason);
  }
  return urls;
}

/** Listen URLs become URL objects; an empty host cannot be bound (use 0.0.0.0 for every address). */
function toListenUrls(raw: Map<string, RawValue>, key: string, urls: readonly string[]): URL[] {
  return urls.map((u) => {
    if (!URL.canParse(u)) throw invalid(key, raw.get(key) ?? { text: u, source: 'default' }, bindProblem(u));
    return new URL(u);
  });
}

function getEnum<T extends string>(raw: Map<string, RawValue>, key: string, allowed: readonly T[], d: T): T {
  const v = raw.get(key);
  if (v === undefined) return d;
  if (!(allowed as readonly string[]).includes(v.text)) {
    throw invalid(key, v, `valid values are ${allowed.map((a) => `"${a}"`).join(', ')}`);
  }
  return v.text as T;
}

function buildConfig(raw: Map<string, RawValue>): MemberConfig {
  const d = defaultMemberConfig();
  const name = getString(raw, 'name', d.name);
  const advertisePeer = getUrls(raw, 'initialAdvertisePeerUrls', d.initialAdvertisePeerUrls);
  const listenClient = getUrls(raw, 'listenClientUrls', [DEFAULT_CLIENT_URL]);
  if (raw.has('listenClientUrls') && !raw.has('advertiseClientUrls')) {
    throw new ConfigError(
      '--advertise-client-urls is required when --listen-client-urls is set explicitly',
      'advertise-client-urls',
    );
  }
  const cluster = raw.get('initialCluster');
  const quota = getInteger(raw, 'quotaBackendBytes', 0, true);
  return {
    name,
    // etcd's default data directory follows the name.
    dataDir: getString(raw, 'dataDir', `${name}.etcd`),
    listenClientUrls: toListenUrls(raw, 'listenClientUrls', listenClient),
    advertiseClientUrls: getUrls(raw, 'advertiseClientUrls', d.advertiseClientUrls),
    listenPeerUrls: toListenUrls(raw, 'listenPeerUrls', getUrls(raw, 'listenPeerUrls', [DEFAULT_PEER_URL])),
    initialAdvertisePeerUrls: advertisePeer,
    listenMetricsUrls: toListenUrls(raw, 'listenMetricsUrls', getUrls(raw, 'listenMetricsUrls', [])),
    // Without --initial-cluster a member bootstraps a cluster of itself, as etcd does.
    initialCluster:
      cluster === undefined ? [{ name, peerUrls: [...advertisePeer] }] : parseClusterFlag(cluster),
    initialClusterState: getEnum(raw, 'initialClusterState', ['new', 'existing'] as const, 'new'),
    initialClusterToken: getString(raw, 'initialClusterToken', d.initialClusterToken),
    heartbeatIntervalMs: getInteger(raw, 'heartbeatInterval', d.heartbeatIntervalMs),
    electionTimeoutMs: getInteger(raw, 'electionTimeout', d.electionTimeoutMs),
    snapshotCount: getInteger(raw, 'snapshotCount', d.snapshotCount),
    snapshotCatchUpEntries: getInteger(raw, 'snapshotCatchupEntries', d.snapshotCatchUpEntries),
    quotaBackendBytes: quota === 0 ? DEFAULT_QUOTA_BACKEND_BYTES : quota,
    maxRequestBytes: getInteger(raw, 'maxRequestBytes', d.maxRequestBytes),
    maxTxnOps: getInteger(raw, 'maxTxnOps', d.maxTxnOps),
    logLevel: getEnum(raw, 'logLevel', LOG_LEVELS, d.logLevel),
    enableFaultInjection: getBoolean(raw, 'enableFaultInjection', d.enableFaultInjection),
  };
}

function parseClusterFlag(v: RawValue): MemberConfig['initialCluster'] {
  try {
    return parseInitialCluster(v.text);
  } catch (err) {
    if (err instanceof ConfigError) throw invalid('initialCluster', v, err.message);
    throw err;
  }
}

/**
 * Parses "a=http://h1:2380,a=http://h1:2381,b=http://h2:2380": a name may repeat to give a member
 * several peer URLs. Throws a ConfigError naming the bad entry.
 */
export function parseInitialCluster(text: string): MemberConfig['initialCluster'] {
  const members: MemberConfig['initialCluster'] = [];
  if (text === '') return members;
  for (const entry of text.split(',')) {
    const eq = entry.indexOf('=');
    if (eq < 0) throw new ConfigError(`"${entry}" is not of the form name=peer-url`, 'initial-cluster');
    const name = entry.slice(0, eq);
    const url = entry.slice(eq + 1);
    const reason = urlStringProblem(url);
    if (reason !== null) throw new ConfigError(reason, 'initial-cluster');
    const member = members.find((m) => m.name === name);
    if (member === undefined) members.push({ name, peerUrls: [url] });
    else member.peerUrls.push(url);
  }
  return members;
}

/** The inverse of parseInitialCluster. */
export function formatInitialCluster(members: MemberConfig['initialCluster']): string {
  return members.flatMap((m) => m.peerUrls.map((u) => `${m.name}=${u}`)).join(',');
}

/**
 * Why a URL string is not an http(s)://host:port URL, in etcd's words (types.NewURLs), or null.
 * An empty host passes here; where it matters the caller says so.
 */
export function urlStringProblem(raw: string): string | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(raw);
  if (m === null) return `URL scheme must be http or https: ${raw}`;
  const [, scheme = '', hostPort = '', rest = ''] = m;
  if (scheme !== 'http' && scheme !== 'https') return `URL scheme must be http or https: ${raw}`;
  if (rest !== '') return `URL must not contain a path: ${raw}`;
  const hp = /^(\[[0-9a-fA-F:.]+\]|[^:[\]@]*):(\d{1,5})$/.exec(hostPort);
  if (hp === null || Number(hp[2]) > 65_535) return `URL address does not have the form "host:port": ${raw}`;
  if (hp[1] !== '' && !URL.canParse(raw)) return `parse error: ${raw}`;
  return null;
}

function bindProblem(url: string): string {
  return `expected IP in URL for binding (${url})`;
}

/** Throws a ConfigError for the first check that fails; etcd's checks and messages where etcd has them. */
export function validateMemberConfig(c: MemberConfig): void {
  checkPlainFields(c);
  checkTiming(c);
  checkLimits(c);
  checkListenUrls('listen-client-urls', c.listenClientUrls);
  checkListenUrls('listen-peer-urls', c.listenPeerUrls);
  checkListenUrls('listen-metrics-urls', c.listenMetricsUrls, true);
  checkAdvertiseUrls('advertise-client-urls', c.advertiseClientUrls);
  checkAdvertiseUrls('initial-advertise-peer-urls', c.initialAdvertisePeerUrls);
  checkInitialCluster(c);
}

function checkPlainFields(c: MemberConfig): void {
  if (c.dataDir === '') throw new ConfigError('--data-dir must not be empty', 'data-dir');
  if (!(['new', 'existing'] as const).includes(c.initialClusterState)) {
    throw new ConfigError(
      `invalid value "${c.initialClusterState}" for flag --initial-cluster-state: valid values are "new", "existing"`,
      'initial-cluster-state',
    );
  }
  if (!LOG_LEVELS.includes(c.logLevel)) {
    throw new ConfigError(
      `invalid value "${c.logLevel}" for flag --log-level: valid values are "debug", "info", "warn", "error"`,
      'log-level',
    );
  }
}

function checkTiming(c: MemberConfig): void {
  const hb = c.heartbeatIntervalMs;
  const et = c.electionTimeoutMs;
  if (!Number.isSafeInteger(hb) || hb <= 0) {
    throw new ConfigError(`--heartbeat-interval must be >0 (set to ${hb}ms)`, 'heartbeat-interval');
  }
  if (!Number.isSafeInteger(et) || 5 * hb > et) {
    throw new ConfigError(
      `--election-timeout[${et}ms] should be at least as 5 times as --heartbeat-interval[${hb}ms]`,
      'election-timeout',
    );
  }
  if (et > ELECTION_TIMEOUT_MS_MAX) {
    throw new ConfigError(
      `--election-timeout[${et}ms] is too long, and should be set less than ${ELECTION_TIMEOUT_MS_MAX}ms`,
      'election-timeout',
    );
  }
}

function checkLimits(c: MemberConfig): void {
  // etcd accepts zeros for these and misbehaves later (a zero --max-txn-ops rejects every txn);
  // Keelson refuses them up front.
  const positive: Array<[string, number]> = [
    ['snapshot-count', c.snapshotCount],
    ['snapshot-catchup-entries', c.snapshotCatchUpEntries],
    ['max-request-bytes', c.maxRequestBytes],
    ['max-txn-ops', c.maxTxnOps],
  ];
  for (const [name, n] of positive) {
    if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`--${name} must be >0 (set to ${n})`, name);
  }
  if (!Number.isSafeInteger(c.quotaBackendBytes) || c.quotaBackendBytes === 0) {
    throw new ConfigError(
      `--quota-backend-bytes must be a nonzero integer after defaulting (set to ${c.quotaBackendBytes})`,
      'quota-backend-bytes',
    );
  }
}

function checkListenUrls(name: string, urls: readonly URL[], mayBeEmpty = false): void {
  if (urls.length === 0 && !mayBeEmpty) throw new ConfigError(`--${name} must not be empty`, name);
  for (const u of urls) {
    const text = u.href.replace(/\/$/, '');
    if (u.protocol === 'https:') {
      throw new ConfigError(
        `--${name}=${text}: Keelson does not serve TLS yet; use an http:// URL (behind a TLS proxy if needed)`,
        name,
      );
    }
    if (u.protocol !== 'http:') throw new ConfigError(`--${name}: URL scheme must be http: ${text}`, name);
    if (u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '') {
      throw new ConfigError(`--${name}: URL must not contain a path: ${text}`, name);
    }
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host !== 'localhost' && isIP(host) === 0) throw new ConfigError(bindProblem(text), name);
  }
}

function checkAdvertiseUrls(name: string, urls: readonly string[]): void {
  if (urls.length === 0) throw new ConfigError(`--${name} must not be empty`, name);
  for (const u of urls) {
    const reason = urlStringProblem(u);
    if (reason !== null) throw new ConfigError(`invalid value "${u}" for flag --${name}: ${reason}`, name);
    if (/^https?:\/\/:/.test(u)) {
      throw new ConfigError(`--${name} "${u}" must be "host:port" (unexpected empty host (${u}))`, name);
    }
  }
}

function checkInitialCluster(c: MemberConfig): void {
  const all = c.initialCluster.flatMap((m) => m.peerUrls);
  for (const u of all) {
    const reason = urlStringProblem(u);
    if (reason !== null)
      throw new ConfigError(`error setting up initial cluster: ${reason}`, 'initial-cluster');
  }
  if (new Set(all).size !== all.length) {
    throw new ConfigError(
      `initial cluster ${formatInitialCluster(c.initialCluster)} has duplicate url`,
      'initial-cluster',
    );
  }
  const self = c.initialCluster.find((m) => m.name === c.name);
  if (self === undefined) {
    throw new ConfigError(
      `couldn't find local name "${c.name}" in the initial cluster configuration`,
      'initial-cluster',
    );
  }
  // etcd checks that the advertised peer URLs match only when it bootstraps a new cluster.
  if (c.initialClusterState === 'new') checkAdvertiseMatchesCluster(c, self);
}

function checkAdvertiseMatchesCluster(c: MemberConfig, self: MemberConfig['initialCluster'][number]): void {
  const inCluster = [...self.peerUrls].sort();
  const advertised = [...c.initialAdvertisePeerUrls].sort();
  const prefix =
    `--initial-cluster has ${formatInitialCluster([self])} but missing from ` +
    `--initial-advertise-peer-urls=${c.initialAdvertisePeerUrls.join(',')}`;
  const q = (xs: string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(' ')}]`;
  if (inCluster.length !== advertised.length) {
    throw new ConfigError(
      `${prefix} (len(${q(advertised)}) != len(${q(inCluster)}))`,
      'initial-advertise-peer-urls',
    );
  }
  for (let i = 0; i < inCluster.length; i++) {
    if (inCluster[i] !== advertised[i]) {
      throw new ConfigError(
        `${prefix} (resolved urls: ${JSON.stringify(advertised[i])} != ${JSON.stringify(inCluster[i])})`,
        'initial-advertise-peer-urls',
      );
    }
  }
}

/** What a valid configuration still deserves a warning for (etcd logs the same at startup). */
export function memberConfigWarnings(c: MemberConfig): string[] {
  const warnings: string[] = [];
  if (c.quotaBackendBytes > MAX_RECOMMENDED_QUOTA_BYTES) {
    warnings.push(
      `backend quota ${c.quotaBackendBytes} exceeds maximum recommended quota ${MAX_RECOMMENDED_QUOTA_BYTES}`,
    );
  }
  if (c.quotaBackendBytes < 0) warnings.push('disabled backend quota');
  if (c.maxRequestBytes > MAX_RECOMMENDED_REQUEST_BYTES) {
    warnings.push(
      `MaxRequestBytes ${c.maxRequestBytes} exceeds maximum recommended size ${MAX_RECOMMENDED_REQUEST_BYTES}`,
    );
  }
  if (c.enableFaultInjection) warnings.push('fault injection is enabled: never do this in production');
  return warnings;
}
