// NodePorts from --service-node-port-range ("30000-32767"), stored at /registry/ranges/servicenodeports
// as Kubernetes does. Dynamic allocation prefers the upper band, leaving the lowest ports for users who
// pick one explicitly.

import { bandOffsetFor, type RangeSpec, rangeBitsMax } from './bitmap.js';
import { RangeConfigError } from './service-ip.js';

export const SERVICE_NODE_PORTS_KEY = 'ranges/servicenodeports';
export const DEFAULT_NODE_PORT_RANGE = '30000-32767';

export interface NodePortRange extends RangeSpec {
  readonly base: number;
  offsetOf(port: number): number | undefined;
  portAt(offset: number): number;
}

/** Parses "30000-32767" (or "30000+2768", the base+size form Kubernetes also accepts). */
export function parseNodePortRange(text: string): NodePortRange {
  const m = /^([0-9]{1,5})([-+])([0-9]{1,5})$/.exec(text.trim());
  if (m === null)
    throw new RangeConfigError(`--service-node-port-range ${text} is not a port range (e.g. 30000-32767)`);
  const base = Number(m[1]);
  const size = m[2] === '+' ? Number(m[3]) : Number(m[3]) - base + 1;
  const last = base + size - 1;
  if (base < 1 || size < 1 || last > 65535 || size > rangeBitsMax) {
    throw new RangeConfigError(`--service-node-port-range ${text} must lie within 1-65535 and be non-empty`);
  }
  return {
    text: `${base}-${last}`,
    size,
    bandOffset: bandOffsetFor(size, 16, 128, 32),
    reservedOffsets: new Set(),
    base,
    offsetOf: (port) => {
      const offset = port - base;
      return Number.isInteger(port) && offset >= 0 && offset < size ? offset : undefined;
    },
    portAt: (offset) => base + offset,
  };
}
