// Parsing of Kubernetes API paths into what a request addresses, as the apiserver's RequestInfoFactory
// does: /api/v1/..., /apis/<group>/<version>/..., namespaces/<ns>/<plural>/<name>/<subresource>.

const namespaceSubresources = new Set(['status', 'finalize']);

export interface ResourcePath {
  /** "" for the core group. */
  group: string;
  version: string;
  /** "" for cluster-wide requests (and for namespaces themselves). */
  namespace: string;
  plural: string;
  /** "" for collection requests. */
  name: string;
  subresource: string;
}

/** A path that is not a resource path yields undefined: discovery, /version, /healthz... */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const parts = pathname.split('/').filter((p) => p !== '');
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    rest = parts.slice(1);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1] as string;
    rest = parts.slice(2);
  } else return undefined;
  const version = rest[0] as string;
  let segs = rest.slice(1).map(decodeSegment);
  if (segs.some((s) => s === undefined)) return undefined;
  let namespace = '';
  // "namespaces/<ns>/<plural>..." addresses a namespaced resource; "namespaces/<ns>[/<sub>]" the namespace.
  // "namespaces/<ns>/status" and ".../finalize" are subresources of the namespace itself.
  if (segs[0] === 'namespaces' && segs.length >= 2) {
    namespace = segs[1] as string;
    if (segs.length >= 3 && !namespaceSubresources.has(segs[2] as string)) segs = segs.slice(2);
  }
  if (segs.length === 0 || segs.length > 3) return undefined;
  const [plural, name = '', subresource = ''] = segs as string[];
  return { group, version, namespace, plural: plural as string, name, subresource };
}

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
