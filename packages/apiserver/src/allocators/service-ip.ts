// Service ClusterIPs from --service-cluster-ip-range (IPv4): offset 0 is the first address after the
// network address (the `kubernetes` service's, never handed out dynamically); the broadcast address
// is excluded. Stored at /registry/ranges/serviceips as Kubernetes does.

import { bandOffsetFor, type RangeSpec, rangeBitsMax } from './bitmap.js';

export const SERVICE_IPS_KEY = 'ranges/serviceips';

export class RangeConfigError extends Error {
  readonly code = 'RANGE_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'RangeConfigError';
  }
}

export interface ServiceIPRange extends RangeSpec {
  /** The network address as a 32-bit number. */
  readonly network: number;
  readonly prefixBits: number;
  /** The offset of an IP, or undefined when it is outside the allocatable range. */
  offsetOf(ip: number): number | undefined;
  ipAt(offset: number): string;
}

/** Parses a dotted quad strictly; undefined for anything else (IPv6, garbage). */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    const octet = Number(p);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIPv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new Error(`assertion failed: IPv4 ${value}`);
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** The range of --service-cluster-ip-range, e.g. "10.96.0.0/12" (a /12 is the largest allowed). */
export function parseServiceIPRange(cidr: string): ServiceIPRange {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(cidr.trim());
  const ip = m?.[1] === undefined ? undefined : parseIPv4(m[1]);
  const prefixBits = Number(m?.[2]);
  if (ip === undefined || !(prefixBits >= 0 && prefixBits <= 32)) {
    throw new RangeConfigError(`--service-cluster-ip-range ${cidr} is not an IPv4 CIDR (e.g. 10.96.0.0/12)`);
  }
  const hostBits = 32 - prefixBits;
  const cidrSize = 2 ** hostBits;
  if (cidrSize - 2 > rangeBitsMax) {
    throw new RangeConfigError(
      `--service-cluster-ip-range ${cidr} is too large; for 32-bit addresses, the mask must be >= 12`,
    );
  }
  const network = ip - (ip % cidrSize);
  const size = Math.max(0, cidrSize - 2);
  const base = network + 1;
  return {
    text: `${formatIPv4(network)}/${prefixBits}`,
    size,
    bandOffset: bandOffsetFor(cidrSize, 16, 256, 16),
    reservedOffsets: new Set([0]),
    network,
    prefixBits,
    offsetOf: (value) => {
      const offset = value - base;
      return offset >= 0 && offset < size ? offset : undefined;
    },
    ipAt: (offset) => formatIPv4(base + offset),
  };
}

/** The IP of the `kubernetes` service in default: the first address of the range (offset 0). */
export function kubernetesServiceIP(cidr: string): string {
  return parseServiceIPRange(cidr).ipAt(0);
}
