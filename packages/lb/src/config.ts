// The load balancer's configuration: defaults, host:port parsing and validation. Pure functions only.
import { isIP } from 'node:net';
import { LbError } from './errors.js';

export type BalanceMode = 'roundrobin' | 'leastconn';
export type HealthScheme = 'https' | 'http';

/** A host and a port, as given on the command line (an IPv6 host is written [::1]:6443). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface LbConfig {
  /** Where clients connect (port 0: a free port). */
  readonly listen: HostPort;
  /** The apiservers, in the order given; they are named api1, api2, ... in that order. */
  readonly backends: readonly HostPort[];
  readonly balance: BalanceMode;
  readonly healthPath: string;
  readonly healthScheme: HealthScheme;
  /** PEM bundle that HTTPS checks verify backends against; undefined: checks do not verify. */
  readonly healthCaPem: string | undefined;
  /** Where the CA bundle came from (for the HAProxy configuration); undefined when not a file. */
  readonly healthCaFile: string | undefined;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  /** Consecutive failed checks that mark an up backend down. */
  readonly fall: number;
  /** Consecutive successful checks that mark a down backend up. */
  readonly rise: number;
  /** On close, how long existing connections may go on before they are cut. */
  readonly drainTimeoutMs: number;
  /** A backend that has not accepted a connection within this is given up for the next one. */
  readonly connectTimeoutMs: number;
  /** A connection with no bytes either way for this long is closed (0: never). */
  readonly idleTimeoutMs: number;
  /** Client connections beyond this many at once are refused. */
  readonly maxConnections: number;
  /** How many distinct backends one client connection may try before it is closed. */
  readonly connectAttemptsMax: number;
  /** The admin HTTP port (/healthz, /backends, /metrics); undefined: none. */
  readonly admin: HostPort | undefined;
}

export const LB_DEFAULTS = {
  balance: 'roundrobin' as BalanceMode,
  healthPath: '/readyz',
  healthScheme: 'https' as HealthScheme,
  healthIntervalMs: 500,
  healthTimeoutMs: 1000,
  fall: 2,
  rise: 2,
  drainTimeoutMs: 30_000,
  connectTimeoutMs: 5_000,
  // Watches stay open with no traffic for as long as the apiserver lets them (kube-apiserver ends
  // them after --min-request-timeout, 30 to 60 minutes); a shorter idle timeout would cut them.
  idleTimeoutMs: 3_600_000,
  maxConnections: 4_096,
  connectAttemptsMax: 3,
} as const;

/** Bounds that keep a typo from becoming an outage (a 0 ms interval would spin). */
const BOUNDS = {
  healthIntervalMs: [50, 3_600_000],
  healthTimeoutMs: [10, 600_000],
  fall: [1, 100],
  rise: [1, 100],
  drainTimeoutMs: [0, 3_600_000],
  connectTimeoutMs: [10, 600_000],
  idleTimeoutMs: [0, 86_400_000],
  maxConnections: [1, 1_000_000],
  connectAttemptsMax: [1, 16],
} as const;

/** Parses "host:port" or "[v6]:port"; a port of 0 is allowed only when `allowZeroPort`. */
export function parseHostPort(value: string, allowZeroPort = false): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value);
  if (m === null) throw new LbError('BAD_CONFIG', `expected host:port (or [ipv6]:port), got "${value}"`);
  const host = m[1] as string;
  const port = Number(m[2]);
  const portMin = allowZeroPort ? 0 : 1;
  if (!Number.isInteger(port) || port < portMin || port > 65_535)
    throw new LbError('BAD_CONFIG', `port of "${value}" must be from ${portMin} to 65535`);
  if (host.includes(':') && isIP(host) !== 6)
    throw new LbError('BAD_CONFIG', `"${host}" is not an IPv6 address`);
  return { host, port };
}

/** "host:port", with brackets around an IPv6 host. */
export function formatHostPort(hp: HostPort): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

export type LbConfigInput = Partial<Omit<LbConfig, 'listen' | 'backends'>> &
  Pick<LbConfig, 'listen' | 'backends'>;

/** Fills in defaults and checks every field; throws LbError('BAD_CONFIG') naming the bad one. */
export function resolveConfig(input: LbConfigInput): LbConfig {
  const config: LbConfig = {
    ...LB_DEFAULTS,
    healthCaPem: undefined,
    healthCaFile: undefined,
    admin: undefined,
    ...dropUndefined(input),
    listen: input.listen,
    backends: input.backends,
  };
  validateConfig(config);
  return config;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function validateConfig(c: LbConfig): void {
  if (c.backends.length === 0) throw new LbError('BAD_CONFIG', 'give at least one --backend');
  const seen = new Set<string>();
  for (const b of c.backends) {
    const key = formatHostPort(b);
    if (seen.has(key)) throw new LbError('BAD_CONFIG', `backend ${key} is given twice`);
    seen.add(key);
  }
  if (c.balance !== 'roundrobin' && c.balance !== 'leastconn')
    throw new LbError('BAD_CONFIG', `--balance must be roundrobin or leastconn, not "${String(c.balance)}"`);
  if (c.healthScheme !== 'https' && c.healthScheme !== 'http')
    throw new LbError('BAD_CONFIG', `--health-scheme must be https or http, not "${String(c.healthScheme)}"`);
  if (!c.healthPath.startsWith('/'))
    throw new LbError('BAD_CONFIG', `--health-path must start with "/", got "${c.healthPath}"`);
  for (const [name, [min, max]] of Object.entries(BOUNDS)) {
    const v = c[name as keyof typeof BOUNDS];
    if (!Number.isInteger(v) || v < min || v > max)
      throw new LbError('BAD_CONFIG', `${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
}
