// Discovery documents: /version, /api and /apis (the legacy lists and aggregated discovery v2),
// /api/v1 and /apis/<group>/<version> (APIResourceList), all built from the resource catalog.
import type { ResourceInfo, Verb } from '@keelson/api';
import type { ResourceCatalog } from './rest/deps.js';

export const KUBERNETES_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-keelson' };

export function versionInfo(): Record<string, string> {
  return {
    major: KUBERNETES_VERSION.major,
    minor: KUBERNETES_VERSION.minor,
    gitVersion: KUBERNETES_VERSION.gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'tsc',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export const DISCOVERY_V2_MEDIA_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Whether Accept asks for aggregated discovery v2 before anything else it accepts. */
export function wantsAggregated(accept: string | undefined): boolean {
  for (const entry of (accept ?? '').split(',')) {
    const parts = entry.split(';').map((s) => s.trim());
    const params = new Set(parts.slice(1).map((p) => p.replace(/\s/g, '')));
    if (params.has('as=APIGroupDiscoveryList') && params.has('g=apidiscovery.k8s.io') && params.has('v=v2'))
      return true;
    if (parts[0] === 'application/json' && !params.has('as=APIGroupDiscoveryList')) return false;
    if (parts[0] === '*/*') return false;
  }
  return false;
}

interface GroupEntry {
  name: string;
  versions: string[];
}

/** Groups (core excluded) with their versions, preferred first, in catalog order. */
function groupsOf(catalog: ResourceCatalog): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const r of catalog.all()) {
    if (r.group === '') continue;
    let g = out.find((x) => x.name === r.group);
    if (g === undefined) {
      g = { name: r.group, versions: [] };
      out.push(g);
    }
    if (!g.versions.includes(r.version)) g.versions.push(r.version);
  }
  for (const g of out) g.versions.sort(compareVersions);
  return out;
}

/** Kubernetes' version priority: GA before beta before alpha, higher numbers first. */
function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (m === null) return [3, 0, 0];
    const level = m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2;
    return [level, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  const [x, y] = [rank(a), rank(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

export function apiGroupList(catalog: ResourceCatalog): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groupsOf(catalog).map((g) => apiGroup(g)),
  };
}

function apiGroup(g: GroupEntry): Record<string, unknown> {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

export function apiGroupFor(catalog: ResourceCatalog, group: string): Record<string, unknown> | undefined {
  const g = groupsOf(catalog).find((x) => x.name === group);
  return g === undefined ? undefined : { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(g) };
}

function subresourceKind(
  info: ResourceInfo,
  sub: string,
): { group: string; version: string; kind: string; verbs: Verb[] } {
  switch (sub) {
    case 'scale':
      return { group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] };
    case 'binding':
      return { group: '', version: 'v1', kind: 'Binding', verbs: ['create'] };
    case 'eviction':
      return { group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] };
    case 'token':
      return { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest', verbs: ['create'] };
    default:
      return { group: info.group, version: info.version, kind: info.kind, verbs: ['get', 'patch', 'update'] };
  }
}

export function apiResourceList(
  catalog: ResourceCatalog,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const infos = catalog.all().filter((r) => r.group === group && r.version === version);
  if (infos.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const r of infos) {
    const entry: Record<string, unknown> = {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
    };
    if (r.shortNames.length > 0) entry.shortNames = r.shortNames;
    if (r.categories.length > 0) entry.categories = r.categories;
    resources.push(entry);
    for (const sub of r.subresources) {
      const k = subresourceKind(r, sub);
      const subEntry: Record<string, unknown> = {
        name: `${r.plural}/${sub}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: k.kind,
        verbs: k.verbs,
      };
      if (k.group !== r.group || k.version !== r.version) {
        subEntry.group = k.group;
        subEntry.version = k.version;
      }
      resources.push(subEntry);
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources,
  };
}

function discoveryResource(r: ResourceInfo): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
  };
  if (r.shortNames.length > 0) entry.shortNames = r.shortNames;
  if (r.categories.length > 0) entry.categories = r.categories;
  if (r.subresources.length > 0) {
    entry.subresources = r.subresources.map((sub) => {
      const k = subresourceKind(r, sub);
      return {
        subresource: sub,
        responseKind: { group: k.group, version: k.version, kind: k.kind },
        verbs: k.verbs,
      };
    });
  }
  return entry;
}

/** Aggregated discovery v2: the core group for /api, every other group for /apis. */
export function aggregatedDiscovery(catalog: ResourceCatalog, core: boolean): Record<string, unknown> {
  const all = catalog.all();
  const groups = core ? [{ name: '', versions: ['v1'] }] : groupsOf(catalog);
  const items = groups.map((g) => ({
    metadata: g.name === '' ? { creationTimestamp: null } : { name: g.name, creationTimestamp: null },
    versions: g.versions.map((v) => ({
      version: v,
      resources: all.filter((r) => r.group === g.name && r.version === v).map(discoveryResource),
      freshness: 'Current',
    })),
  }));
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items };
}
