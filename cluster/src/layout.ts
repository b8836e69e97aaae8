// The cluster's layout: which components exist and on which ports, recorded in <dir>/cluster.json so
// that every later `up` (and `down`, `status`) uses exactly the same ports and names.
//
// Ports are allocated from one base port at fixed offsets, so a person can predict them:
//   base+0            the load balancer (what kubectl talks to)
//   base+1            the load balancer's admin port (/healthz, /backends, /metrics)
//   base+10+i         apiserver i+1's secure port
//   base+20+2i, +1    store member i+1's client and peer ports
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert, ClusterError } from './errors.js';

export const LAYOUT_FORMAT_VERSION = 1;
export const BASE_PORT_DEFAULT = 6443;
export const STORES_DEFAULT = 3;
export const APISERVERS_DEFAULT = 2;
export const STORES_MAX = 9;
export const APISERVERS_MAX = 9;
/** Every port of a cluster lies in [base, base + PORT_SPAN). */
export const PORT_SPAN = 40;
export const BASE_PORT_MIN = 1024;
export const BASE_PORT_MAX = 65_535 - PORT_SPAN;

export interface StoreMemberLayout {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

export interface ApiserverLayout {
  readonly name: string;
  readonly securePort: number;
}

export interface LbLayout {
  readonly port: number;
  readonly adminPort: number;
}

export interface ClusterVersions {
  readonly keelson: string;
  readonly node: string;
  readonly kubernetes: string;
}

/** The contents of <dir>/cluster.json. */
export interface ClusterLayout {
  readonly formatVersion: number;
  readonly createdAt: string;
  /** --initial-cluster-token of the store: tells this cluster's data apart from another's. */
  readonly clusterToken: string;
  readonly basePort: number;
  /** What the last `up` ran (updated on every `up`). */
  readonly versions: ClusterVersions;
  readonly stores: readonly StoreMemberLayout[];
  readonly apiservers: readonly ApiserverLayout[];
  readonly lb: LbLayout;
  /**
   * Set once the store has been healthy: from then on a member without data is an error rather than
   * a member to bootstrap (bootstrapping it would make a second, split cluster).
   */
  readonly bootstrapped: boolean;
}

/** What the flags ask for; undefined means "the default, or what the dir already has". */
export interface LayoutRequest {
  readonly stores?: number;
  readonly apiservers?: number;
  readonly basePort?: number;
}

export function layoutFile(dir: string): string {
  return join(dir, 'cluster.json');
}

/** A fresh layout from the request (pure but for the token and the time). */
export function planLayout(req: LayoutRequest, versions: ClusterVersions): ClusterLayout {
  const stores = req.stores ?? STORES_DEFAULT;
  const apiservers = req.apiservers ?? APISERVERS_DEFAULT;
  const base = req.basePort ?? BASE_PORT_DEFAULT;
  checkRequest({ stores, apiservers, basePort: base });
  const layout: ClusterLayout = {
    formatVersion: LAYOUT_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    clusterToken: `keelson-${randomBytes(6).toString('hex')}`,
    basePort: base,
    versions,
    stores: Array.from({ length: stores }, (_, i) => ({
      name: `store-${i + 1}`,
      clientPort: base + 20 + 2 * i,
      peerPort: base + 21 + 2 * i,
    })),
    apiservers: Array.from({ length: apiservers }, (_, i) => ({
      name: `apiserver-${i + 1}`,
      securePort: base + 10 + i,
    })),
    lb: { port: base, adminPort: base + 1 },
    bootstrapped: false,
  };
  assert(new Set(layoutPorts(layout)).size === layoutPorts(layout).length, 'ports are distinct');
  return layout;
}

/** Throws a ClusterError for counts or a base port the launcher does not support. */
export function checkRequest(req: Required<LayoutRequest>): void {
  if (!Number.isInteger(req.stores) || req.stores < 1 || req.stores > STORES_MAX || req.stores % 2 === 0) {
    // An even member count tolerates no more failures than the odd count below it.
    throw new ClusterError(
      'LAYOUT_MISMATCH',
      `--stores must be odd, from 1 to ${STORES_MAX} (1, 3, 5, ...), not ${req.stores}`,
    );
  }
  if (!Number.isInteger(req.apiservers) || req.apiservers < 1 || req.apiservers > APISERVERS_MAX) {
    throw new ClusterError(
      'LAYOUT_MISMATCH',
      `--apiservers must be from 1 to ${APISERVERS_MAX}, not ${req.apiservers}`,
    );
  }
  if (!Number.isInteger(req.basePort) || req.basePort < BASE_PORT_MIN || req.basePort > BASE_PORT_MAX) {
    throw new ClusterError(
      'LAYOUT_MISMATCH',
      `--base-port must be from ${BASE_PORT_MIN} to ${BASE_PORT_MAX}, not ${req.basePort}`,
    );
  }
}

/** Every port the layout uses. */
export function layoutPorts(layout: ClusterLayout): number[] {
  return [
    layout.lb.port,
    layout.lb.adminPort,
    ...layout.apiservers.map((a) => a.securePort),
    ...layout.stores.flatMap((s) => [s.clientPort, s.peerPort]),
  ];
}

/** Throws LAYOUT_MISMATCH when a flag contradicts what the dir was created with. */
export function checkRequestAgainst(layout: ClusterLayout, req: LayoutRequest, dir: string): void {
  const conflicts: string[] = [];
  if (req.stores !== undefined && req.stores !== layout.stores.length)
    conflicts.push(`--stores ${layout.stores.length}`);
  if (req.apiservers !== undefined && req.apiservers !== layout.apiservers.length)
    conflicts.push(`--apiservers ${layout.apiservers.length}`);
  if (req.basePort !== undefined && req.basePort !== layout.basePort)
    conflicts.push(`--base-port ${layout.basePort}`);
  if (conflicts.length === 0) return;
  throw new ClusterError(
    'LAYOUT_MISMATCH',
    `${dir} holds a cluster created with ${conflicts.join(', ')}; omit those flags to restart it, ` +
      'or choose another --dir for a new cluster (or `keelson cluster down` and remove the dir)',
  );
}

/** cluster.json of `dir`, or undefined when there is none. */
export function readLayout(dir: string): ClusterLayout | undefined {
  const file = layoutFile(dir);
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ClusterError('BAD_DIR', `${file} is not valid JSON (${(err as Error).message})`);
  }
  const layout = parsed as Partial<ClusterLayout>;
  if (
    layout.formatVersion !== LAYOUT_FORMAT_VERSION ||
    !Array.isArray(layout.stores) ||
    !Array.isArray(layout.apiservers) ||
    typeof layout.lb?.port !== 'number'
  ) {
    throw new ClusterError(
      'BAD_DIR',
      `${file} is not a cluster.json this keelson understands (format ${String(layout.formatVersion)})`,
    );
  }
  return layout as ClusterLayout;
}

/** Writes cluster.json whole and renames it into place, so a reader never sees half a file. */
export function writeLayout(dir: string, layout: ClusterLayout): void {
  const file = layoutFile(dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(layout, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}
