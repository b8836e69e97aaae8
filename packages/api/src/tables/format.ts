// Small formatting helpers shared by the printers: k8s.io/apimachinery/pkg/util/duration's
// HumanDuration, the "<unknown>" ages of printers.go, and safe readers for untyped JSON objects.

/**
 * duration.HumanDuration: about two significant figures ("5s", "119s", "2m5s", "10m", "3h20m",
 * "2d3h", "3y45d"). Durations of more than a second into the future print "<invalid>".
 */
export function humanDuration(durationMs: number): string {
  const seconds = Math.trunc(durationMs / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const years = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** Milliseconds since the epoch of an RFC 3339 timestamp, or undefined when absent or unparsable. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** translateTimestampSince: the age of a timestamp at `now`, "<unknown>" when it is unset. */
export function ageSince(timestamp: unknown, now: Date): string {
  const ms = parseTime(timestamp);
  return ms === undefined ? '<unknown>' : humanDuration(now.getTime() - ms);
}

export type Json = Record<string, unknown>;

/** The object at `path` of an untyped JSON value, or an empty object. */
export function obj(value: unknown, ...path: string[]): Json {
  let cur: unknown = value;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return {};
    cur = (cur as Json)[key];
  }
  return cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Json) : {};
}

/** The array at `key`, or an empty array. */
export function arr(value: Json, key: string): Json[] {
  const v = value[key];
  return Array.isArray(v) ? (v.filter((x) => x !== null && typeof x === 'object') as Json[]) : [];
}

/** The string list at `key`, or an empty array. */
export function strs(value: Json, key: string): string[] {
  const v = value[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The string at `key`, or "" (Go's zero value). */
export function str(value: Json, key: string): string {
  const v = value[key];
  return typeof v === 'string' ? v : '';
}

/** The integer at `key`, or `fallback` (0, Go's zero value, unless the field defaults otherwise). */
export function int(value: Json, key: string, fallback = 0): number {
  const v = value[key];
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : fallback;
}

/** The boolean at `key`, or undefined. */
export function bool(value: Json, key: string): boolean | undefined {
  const v = value[key];
  return typeof v === 'boolean' ? v : undefined;
}

/** The string map at `key` (labels, selectors), or an empty map. */
export function strMap(value: Json, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(value, key))) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Number of keys of the map at `key`. */
export function mapSize(value: Json, key: string): number {
  return Object.keys(obj(value, key)).length;
}

/** An IntOrString as Kubernetes prints it. */
export function intOrString(value: unknown): string {
  if (typeof value === 'number') return String(Math.trunc(value));
  return typeof value === 'string' ? value : '';
}

/** A resource.Quantity as stored JSON carries it (already canonical on the wire), "0" when absent. */
export function quantity(value: unknown): string {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : '0';
}

/** Go's byte-wise string order (sort.Strings). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** layoutContainerCells: container names and images joined by ",". */
export function layoutContainerCells(podSpec: Json): [string, string] {
  const containers = arr(podSpec, 'containers');
  return [containers.map((c) => str(c, 'name')).join(','), containers.map((c) => str(c, 'image')).join(',')];
}

/** listWithMoreString of printers.go: up to `max` items then " + N more...", "<unset>" when empty. */
export function listWithMore(list: string[], count: number, max: number): string {
  const shown = list.slice(0, max).join(',');
  if (count > max) return `${shown} + ${count - max} more...`;
  return shown === '' ? '<unset>' : shown;
}

/** net.JoinHostPort: IPv6 hosts in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
