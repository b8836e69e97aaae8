// Row cells of the core/v1 printers (printers.go): nodes, namespaces, services, endpoints, config
// maps, secrets, service accounts, events, resource quotas, persistent volumes and claims, and
// replication controllers. Pods live in pod.ts.

import { formatLabels } from '../selectors.js';
import {
  ageSince,
  arr,
  bool,
  compareStrings,
  int,
  type Json,
  joinHostPort,
  layoutContainerCells,
  mapSize,
  obj,
  quantity,
  str,
  strMap,
  strs,
} from './format.js';

type Cells = unknown[];

const NODE_ROLE_PREFIX = 'node-role.kubernetes.io/';
const NODE_ROLE_LABEL = 'kubernetes.io/role';

function name(o: Json): string {
  return str(obj(o, 'metadata'), 'name');
}

function age(o: Json, now: Date): string {
  return ageSince(obj(o, 'metadata').creationTimestamp, now);
}

function isDeleting(o: Json): boolean {
  const ts = obj(o, 'metadata').deletionTimestamp;
  return ts !== undefined && ts !== null;
}

/** findNodeRoles: node-role.kubernetes.io/<role> keys and kubernetes.io/role values, sorted and unique. */
function nodeRoles(node: Json): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(strMap(obj(node, 'metadata'), 'labels'))) {
    if (k.startsWith(NODE_ROLE_PREFIX) && k.length > NODE_ROLE_PREFIX.length)
      roles.add(k.slice(NODE_ROLE_PREFIX.length));
    else if (k === NODE_ROLE_LABEL && v !== '') roles.add(v);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort(compareStrings).join(',');
}

function nodeAddress(node: Json, type: string): string {
  const address = arr(obj(node, 'status'), 'addresses').find((a) => str(a, 'type') === type);
  return address === undefined ? '<none>' : str(address, 'address');
}

function orUnknown(s: string): string {
  return s === '' ? '<unknown>' : s;
}

export function nodeCells(node: Json, now: Date): Cells {
  const status: string[] = [];
  const ready = arr(obj(node, 'status'), 'conditions')
    .filter((c) => str(c, 'type') === 'Ready')
    .at(-1);
  if (ready !== undefined) status.push(str(ready, 'status') === 'True' ? 'Ready' : 'NotReady');
  if (status.length === 0) status.push('Unknown');
  if (bool(obj(node, 'spec'), 'unschedulable') === true) status.push('SchedulingDisabled');
  const info = obj(node, 'status', 'nodeInfo');
  return [
    name(node),
    status.join(','),
    nodeRoles(node),
    age(node, now),
    str(info, 'kubeletVersion'),
    nodeAddress(node, 'InternalIP'),
    nodeAddress(node, 'ExternalIP'),
    orUnknown(str(info, 'osImage')),
    orUnknown(str(info, 'kernelVersion')),
    orUnknown(str(info, 'containerRuntimeVersion')),
  ];
}

export function namespaceCells(ns: Json, now: Date): Cells {
  return [name(ns), str(obj(ns, 'status'), 'phase'), age(ns, now)];
}

/** loadBalancerStatusStringer for the wide output the apiserver always produces: sorted, unique, unclipped. */
export function loadBalancerIngress(status: Json): string {
  const result = new Set<string>();
  for (const ingress of arr(status, 'ingress')) {
    const ip = str(ingress, 'ip');
    const host = str(ingress, 'hostname');
    if (ip !== '') result.add(ip);
    else if (host !== '') result.add(host);
  }
  return [...result].sort(compareStrings).join(',');
}

function serviceExternalIp(svc: Json): string {
  const spec = obj(svc, 'spec');
  const externalIps = strs(spec, 'externalIPs');
  switch (str(spec, 'type')) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIps.length > 0 ? externalIps.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerIngress(obj(svc, 'status', 'loadBalancer'));
      if (externalIps.length > 0) return [...(lb === '' ? [] : lb.split(',')), ...externalIps].join(',');
      return lb === '' ? '<pending>' : lb;
    }
    case 'ExternalName':
      return str(spec, 'externalName');
    default:
      return '<unknown>';
  }
}

/** makePortString: "80/TCP", or "80:30080/TCP" with a node port, joined by ",". */
export function servicePorts(svc: Json): string {
  const pieces = arr(obj(svc, 'spec'), 'ports').map((p) => {
    const protocol = str(p, 'protocol');
    const nodePort = int(p, 'nodePort');
    return nodePort > 0 ? `${int(p, 'port')}:${nodePort}/${protocol}` : `${int(p, 'port')}/${protocol}`;
  });
  return pieces.length === 0 ? '<none>' : pieces.join(',');
}

export function serviceCells(svc: Json, now: Date): Cells {
  const spec = obj(svc, 'spec');
  const clusterIp = strs(spec, 'clusterIPs')[0] ?? str(spec, 'clusterIP');
  return [
    name(svc),
    str(spec, 'type'),
    clusterIp === '' ? '<none>' : clusterIp,
    serviceExternalIp(svc),
    servicePorts(svc),
    age(svc, now),
    formatLabels(strMap(spec, 'selector')),
  ];
}

/** formatEndpoints with every port: up to three host:port pairs, then " + N more...". */
function formatEndpoints(endpoints: Json): string {
  const subsets = arr(endpoints, 'subsets');
  if (subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addresses = arr(ss, 'addresses');
    const ports = arr(ss, 'ports');
    if (ports.length === 0) {
      // Headless services may have addresses without ports.
      count += addresses.length;
      for (const a of addresses) if (list.length < max) list.push(str(a, 'ip'));
      continue;
    }
    for (const port of ports) {
      count += addresses.length;
      for (const a of addresses)
        if (list.length < max) list.push(joinHostPort(str(a, 'ip'), int(port, 'port')));
    }
  }
  const shown = list.join(',');
  return count > max ? `${shown} + ${count - max} more...` : shown;
}

export function endpointsCells(ep: Json, now: Date): Cells {
  return [name(ep), formatEndpoints(ep), age(ep, now)];
}

export function configMapCells(cm: Json, now: Date): Cells {
  return [name(cm), mapSize(cm, 'data') + mapSize(cm, 'binaryData'), age(cm, now)];
}

/** stringData merges into data on the way in, so a key in both counts once. */
export function secretCells(secret: Json, now: Date): Cells {
  const keys = new Set([...Object.keys(obj(secret, 'data')), ...Object.keys(obj(secret, 'stringData'))]);
  return [name(secret), str(secret, 'type'), keys.size, age(secret, now)];
}

export function serviceAccountCells(sa: Json, now: Date): Cells {
  return [name(sa), arr(sa, 'secrets').length, age(sa, now)];
}

function eventSource(event: Json): string {
  const source = obj(event, 'source');
  const component = str(source, 'component') || str(event, 'reportingComponent');
  const instance = str(source, 'host') || str(event, 'reportingInstance');
  return instance === '' ? component : `${component}, ${instance}`;
}

/** LAST SEEN TYPE REASON OBJECT SUBOBJECT SOURCE MESSAGE FIRST SEEN COUNT NAME. */
export function eventCells(event: Json, now: Date): Cells {
  const involved = obj(event, 'involvedObject');
  let firstSeen = ageSince(event.firstTimestamp, now);
  if (typeof event.firstTimestamp !== 'string' || event.firstTimestamp === '')
    firstSeen = ageSince(event.eventTime, now);
  let lastSeen = ageSince(event.lastTimestamp, now);
  if (typeof event.lastTimestamp !== 'string' || event.lastTimestamp === '') lastSeen = firstSeen;
  let count = int(event, 'count');
  const series = event.series;
  if (series !== undefined && series !== null) {
    lastSeen = ageSince(obj(event, 'series').lastObservedTime, now);
    count = int(obj(event, 'series'), 'count');
  } else if (count === 0) {
    // Singleton events of the new API carry no count.
    count = 1;
  }
  const kind = str(involved, 'kind').toLowerCase();
  const target = str(involved, 'name') !== '' ? `${kind}/${str(involved, 'name')}` : kind;
  return [
    lastSeen,
    str(event, 'type'),
    str(event, 'reason'),
    target,
    str(involved, 'fieldPath'),
    eventSource(event),
    str(event, 'message').trim(),
    firstSeen,
    count,
    name(event),
  ];
}

/** REQUEST and LIMIT: "resource: used/hard" sorted by resource, limits.* in the second column. */
export function resourceQuotaCells(rq: Json, now: Date): Cells {
  const hard = obj(rq, 'status', 'hard');
  const used = obj(rq, 'status', 'used');
  const requests: string[] = [];
  const limits: string[] = [];
  for (const resource of Object.keys(hard).sort(compareStrings)) {
    const pieces = resource.split('.');
    const target = pieces.length > 1 && pieces[0] === 'limits' ? limits : requests;
    target.push(`${resource}: ${quantity(used[resource])}/${quantity(hard[resource])}`);
  }
  return [name(rq), requests.join(', '), limits.join(', '), age(rq, now)];
}

const ACCESS_MODES: readonly [string, string][] = [
  ['ReadWriteOnce', 'RWO'],
  ['ReadOnlyMany', 'ROX'],
  ['ReadWriteMany', 'RWX'],
  ['ReadWriteOncePod', 'RWOP'],
];

/** helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order. */
function accessModes(modes: string[]): string {
  return ACCESS_MODES.filter(([mode]) => modes.includes(mode))
    .map(([, short]) => short)
    .join(',');
}

const BETA_STORAGE_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';

/** The beta annotation wins over spec.storageClassName, as helper.GetPersistentVolume(Claim)Class does. */
function storageClassOf(o: Json): string {
  const annotations = strMap(obj(o, 'metadata'), 'annotations');
  const beta = annotations[BETA_STORAGE_CLASS_ANNOTATION];
  return beta ?? str(obj(o, 'spec'), 'storageClassName');
}

function volumeMode(spec: Json): string {
  return typeof spec.volumeMode === 'string' ? spec.volumeMode : '<unset>';
}

function volumeAttributesClass(spec: Json): string {
  return typeof spec.volumeAttributesClassName === 'string' ? spec.volumeAttributesClassName : '<unset>';
}

export function persistentVolumeCells(pv: Json, now: Date): Cells {
  const spec = obj(pv, 'spec');
  const status = obj(pv, 'status');
  const claimRef = spec.claimRef !== undefined && spec.claimRef !== null ? obj(spec, 'claimRef') : undefined;
  const claim = claimRef === undefined ? '' : `${str(claimRef, 'namespace')}/${str(claimRef, 'name')}`;
  return [
    name(pv),
    quantity(obj(spec, 'capacity').storage),
    accessModes(strs(spec, 'accessModes')),
    str(spec, 'persistentVolumeReclaimPolicy'),
    isDeleting(pv) ? 'Terminating' : str(status, 'phase'),
    claim,
    storageClassOf(pv),
    volumeAttributesClass(spec),
    str(status, 'reason'),
    age(pv, now),
    volumeMode(spec),
  ];
}

export function persistentVolumeClaimCells(pvc: Json, now: Date): Cells {
  const spec = obj(pvc, 'spec');
  const status = obj(pvc, 'status');
  const bound = str(spec, 'volumeName') !== '';
  return [
    name(pvc),
    isDeleting(pvc) ? 'Terminating' : str(status, 'phase'),
    str(spec, 'volumeName'),
    bound ? quantity(obj(status, 'capacity').storage) : '',
    bound ? accessModes(strs(status, 'accessModes')) : '',
    storageClassOf(pvc),
    volumeAttributesClass(spec),
    age(pvc, now),
    volumeMode(spec),
  ];
}

export function replicationControllerCells(rc: Json, now: Date): Cells {
  const spec = obj(rc, 'spec');
  const status = obj(rc, 'status');
  const [names, images] = layoutContainerCells(obj(spec, 'template', 'spec'));
  return [
    name(rc),
    int(spec, 'replicas', 1),
    int(status, 'replicas'),
    int(status, 'readyReplicas'),
    age(rc, now),
    names,
    images,
    formatLabels(strMap(spec, 'selector')),
  ];
}
