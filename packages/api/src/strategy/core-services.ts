// core/v1 Services and Endpoints: SetDefaults_Service, ValidateService / ValidateServiceUpdate
// (ports, type, selector, clusterIP rules) and the allocated values an update keeps
// (pkg/registry/core/service/storage: patchAllocatedValues). Allocation itself is admission's.

import type { FieldError, KubeObject } from '../types.js';
import {
  child,
  deepEqual,
  duplicate,
  forbidden,
  index,
  invalid,
  notSupported,
  required,
} from '../validation/field.js';
import { validateLabels } from '../validation/meta.js';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isValidIP,
  isValidPortName,
  isValidPortNum,
  nameIsDNS1035Label,
  parseIP,
} from '../validation/names.js';
import { PORT_PROTOCOLS } from '../validation/pod.js';
import { coreInfo } from './core-pods.js';
import {
  defineStrategy,
  ensureObj,
  getList,
  getObj,
  getStr,
  isObj,
  type Obj,
  setDefault,
  setDefaultStr,
} from './generic.js';

export const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const SESSION_AFFINITIES = ['ClientIP', 'None'];
const CLIENT_IP_TIMEOUT_SECONDS_DEFAULT = 10800;

export function defaultService(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  setDefaultStr(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    const clientIP = ensureObj(ensureObj(spec, 'sessionAffinityConfig'), 'clientIP');
    setDefault(clientIP, 'timeoutSeconds', CLIENT_IP_TIMEOUT_SECONDS_DEFAULT);
  }
  setDefaultStr(spec, 'type', 'ClusterIP');
  for (const p of getList(spec, 'ports')) {
    if (!isObj(p)) continue;
    setDefaultStr(p, 'protocol', 'TCP');
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') {
      p.targetPort = p.port;
    }
  }
  const type = spec.type;
  if (type === 'NodePort' || type === 'LoadBalancer') setDefaultStr(spec, 'externalTrafficPolicy', 'Cluster');
  if (type === 'NodePort' || type === 'LoadBalancer' || type === 'ClusterIP') {
    setDefault(spec, 'internalTrafficPolicy', 'Cluster');
  }
  if (type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
  defaultClusterIPs(spec);
}

/**
 * NormalizeClusterIPs on create: a client that sets only clusterIP gets clusterIPs too (never the
 * other way round: new clients set both). IP families follow the address (single stack).
 */
function defaultClusterIPs(spec: Obj): void {
  if (spec.type === 'ExternalName') return;
  const clusterIP = getStr(spec, 'clusterIP');
  if (clusterIP !== '' && getList(spec, 'clusterIPs').length === 0) spec.clusterIPs = [clusterIP];
  setDefaultStr(spec, 'ipFamilyPolicy', 'SingleStack');
  if (getList(spec, 'ipFamilies').length === 0) {
    const family = clusterIP !== '' && clusterIP !== 'None' ? parseIP(clusterIP) : undefined;
    spec.ipFamilies = [family ?? 'IPv4'];
  }
}

function validateServicePort(p: Obj, at: string, requireName: boolean, type: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = getStr(p, 'name');
  if (requireName && name === '') errs.push(required(child(at, 'name')));
  else if (name !== '')
    for (const msg of isDNS1123Label(name)) errs.push(invalid(child(at, 'name'), name, msg));
  for (const msg of isValidPortNum(Number(p.port))) errs.push(invalid(child(at, 'port'), p.port ?? 0, msg));
  const protocol = p.protocol ?? '';
  if (protocol === '') errs.push(required(child(at, 'protocol')));
  else if (!PORT_PROTOCOLS.includes(protocol as string))
    errs.push(notSupported(child(at, 'protocol'), protocol, PORT_PROTOCOLS));
  const target = p.targetPort;
  if (typeof target === 'number') {
    for (const msg of isValidPortNum(target)) errs.push(invalid(child(at, 'targetPort'), target, msg));
  } else if (typeof target === 'string') {
    for (const msg of isValidPortName(target)) errs.push(invalid(child(at, 'targetPort'), target, msg));
  }
  if (p.nodePort !== undefined && p.nodePort !== 0) {
    if (type === 'ClusterIP')
      errs.push(forbidden(child(at, 'nodePort'), "may not be used when `type` is 'ClusterIP'"));
    else
      for (const msg of isValidPortNum(Number(p.nodePort)))
        errs.push(invalid(child(at, 'nodePort'), p.nodePort, msg));
  }
  return errs;
}

function validateServicePorts(spec: Obj, type: string, headless: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const ports = getList(spec, 'ports');
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(required('spec.ports'));
  const names = new Set<string>();
  const keys = new Set<string>();
  ports.forEach((raw, i) => {
    const p = isObj(raw) ? raw : {};
    const at = index('spec.ports', i);
    errs.push(...validateServicePort(p, at, ports.length > 1, type));
    const name = getStr(p, 'name');
    if (name !== '' && names.has(name)) errs.push(duplicate(child(at, 'name'), name));
    names.add(name);
    const key = `${String(p.port)}/${String(p.protocol)}`;
    if (keys.has(key)) errs.push(duplicate(at, { port: p.port, protocol: p.protocol }));
    keys.add(key);
  });
  return errs;
}

function isHeadless(spec: Obj): boolean {
  const ips = getList(spec, 'clusterIPs');
  return ips.length === 1 && ips[0] === 'None';
}

/** ValidateServiceClusterIPsRelatedFields, the parts a single-stack cluster can meet. */
function validateClusterIP(spec: Obj, type: string): FieldError[] {
  const clusterIP = getStr(spec, 'clusterIP');
  if (type === 'ExternalName') {
    const errs: FieldError[] = [];
    if (clusterIP !== '' || getList(spec, 'clusterIPs').length > 0) {
      errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    }
    if (spec.ipFamilyPolicy !== undefined)
      errs.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    if (getList(spec, 'ipFamilies').length > 0)
      errs.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    return errs;
  }
  const errs: FieldError[] = [];
  const ips = getList(spec, 'clusterIPs');
  if (clusterIP !== '') {
    if (ips.length === 0) errs.push(required('spec.clusterIPs'));
    else if (ips[0] !== clusterIP)
      errs.push(invalid('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  } else if (ips.length > 0) {
    errs.push(invalid('spec.clusterIPs', ips, 'must be empty when `clusterIP` is not specified'));
  }
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1)
        errs.push(invalid('spec.clusterIPs', ips, "'None' must be the first and only value"));
      return;
    }
    for (const msg of isValidIP(String(ip))) errs.push(invalid(index('spec.clusterIPs', i), ip, msg));
  });
  if (ips.length > 2) errs.push(invalid('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  if (isHeadless(spec) && (type === 'NodePort' || type === 'LoadBalancer')) {
    errs.push(invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`));
  }
  return errs;
}

export function validateService(obj: KubeObject): FieldError[] {
  const spec = getObj(obj, 'spec') ?? {};
  const type = getStr(spec, 'type');
  const errs: FieldError[] = [];
  if (!SERVICE_TYPES.includes(type)) errs.push(notSupported('spec.type', spec.type ?? '', SERVICE_TYPES));
  if (type === 'ExternalName') {
    const name = getStr(spec, 'externalName').replace(/\.$/, '');
    if (name === '') errs.push(required('spec.externalName'));
    else for (const msg of isDNS1123Subdomain(name)) errs.push(invalid('spec.externalName', name, msg));
  }
  errs.push(...validateServicePorts(spec, type, getStr(spec, 'clusterIP') === 'None'));
  errs.push(...validateClusterIP(spec, type));
  errs.push(...validateLabels(spec.selector, 'spec.selector'));
  const affinity = spec.sessionAffinity ?? '';
  if (affinity === '') errs.push(required('spec.sessionAffinity'));
  else if (!SESSION_AFFINITIES.includes(affinity as string)) {
    errs.push(notSupported('spec.sessionAffinity', affinity, SESSION_AFFINITIES));
  }
  return errs;
}

/** validateUpgradeDowngradeClusterIPs: allocated cluster IPs never change unless to/from ExternalName. */
export function validateServiceUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  const spec = getObj(obj, 'spec') ?? {};
  const prev = getObj(old, 'spec') ?? {};
  if (spec.type === 'ExternalName' || prev.type === 'ExternalName') return [];
  if (isHeadless(spec) && isHeadless(prev)) return [];
  const ips = getList(spec, 'clusterIPs');
  const oldIPs = getList(prev, 'clusterIPs');
  const errs: FieldError[] = [];
  if (oldIPs.length === ips.length) {
    oldIPs.forEach((ip, i) => {
      if (ip !== ips[i]) errs.push(invalid(index('spec.clusterIPs', i), ips, 'may not change once set'));
    });
  } else if (oldIPs.length > ips.length) {
    if (ips.length === 0) errs.push(invalid('spec.clusterIPs[0]', ips, 'primary clusterIP can not be unset'));
    else if (ips[0] !== oldIPs[0]) errs.push(invalid('spec.clusterIPs[0]', ips, 'may not change once set'));
  } else if (oldIPs.length > 0 && ips[0] !== oldIPs[0]) {
    errs.push(invalid('spec.clusterIPs[0]', ips, 'may not change once set'));
  }
  return errs;
}

/**
 * NormalizeClusterIPs on update, then patchAllocatedValues: an update that leaves out allocated
 * values (kubectl replace of a manifest without clusterIP or nodePort) keeps the old ones while
 * both types still need them, as the service REST does.
 */
function keepAllocatedValues(obj: KubeObject, old: KubeObject): void {
  const spec = getObj(obj, 'spec');
  const prev = getObj(old, 'spec');
  if (!spec || !prev) return;
  normalizeClusterIPsOnUpdate(spec, prev);
  dropTypeDependentFields(spec, prev);
  if (spec.type === 'ExternalName' || prev.type === 'ExternalName') return;
  if (getStr(spec, 'clusterIP') === '' && prev.clusterIP !== undefined) spec.clusterIP = prev.clusterIP;
  if (getList(spec, 'clusterIPs').length === 0 && getList(prev, 'clusterIPs').length > 0) {
    spec.clusterIPs = structuredClone(prev.clusterIPs);
  }
  if (needsNodePort(spec) && needsNodePort(prev)) patchNodePorts(spec, prev);
  if (spec.healthCheckNodePort === undefined && prev.healthCheckNodePort !== undefined) {
    spec.healthCheckNodePort = prev.healthCheckNodePort;
  }
}

function normalizeClusterIPsOnUpdate(spec: Obj, prev: Obj): void {
  const oldIPs = getList(prev, 'clusterIPs');
  const sameIPs = deepEqual(spec.clusterIPs, prev.clusterIPs);
  if (oldIPs.length > 0 && getList(spec, 'clusterIPs').length === 0 && spec.clusterIP === prev.clusterIP) {
    spec.clusterIPs = structuredClone(prev.clusterIPs);
  }
  if (getStr(spec, 'clusterIP') === getStr(prev, 'clusterIP') || !sameIPs) return;
  // clusterIP changed but clusterIPs did not: the client manages the singular field only.
  if (getStr(spec, 'clusterIP') === '') delete spec.clusterIPs;
  else spec.clusterIPs = [spec.clusterIP];
}

/**
 * dropTypeDependentFields: switching to a type that no longer needs a field clears it, but only
 * when the client left it as it was (it was most likely allocated or defaulted, not asked for).
 */
function dropTypeDependentFields(spec: Obj, prev: Obj): void {
  const same = (f: string): boolean => deepEqual(spec[f], prev[f]);
  if (prev.type !== 'ExternalName' && spec.type === 'ExternalName') {
    if (same('clusterIP') && same('clusterIPs')) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (same('ipFamilies')) delete spec.ipFamilies;
    if (same('ipFamilyPolicy')) delete spec.ipFamilyPolicy;
    if (same('internalTrafficPolicy')) delete spec.internalTrafficPolicy;
  }
  const nodePorts = (o: Obj): unknown[] =>
    getList(o, 'ports').map((p) => (isObj(p) ? p.nodePort : undefined));
  if (needsNodePort(prev) && !needsNodePort(spec) && deepEqual(nodePorts(spec), nodePorts(prev))) {
    for (const p of getList(spec, 'ports')) if (isObj(p)) delete p.nodePort;
  }
  if (prev.type === 'LoadBalancer' && spec.type !== 'LoadBalancer' && same('healthCheckNodePort')) {
    delete spec.healthCheckNodePort;
  }
  if (spec.type !== 'LoadBalancer') delete spec.allocateLoadBalancerNodePorts;
  if (needsNodePort(prev) && !needsNodePort(spec) && same('externalTrafficPolicy'))
    delete spec.externalTrafficPolicy;
}

function needsNodePort(spec: Obj): boolean {
  return spec.type === 'NodePort' || spec.type === 'LoadBalancer';
}

/** Missing node ports come back from the old port of the same name, unless another port uses them. */
function patchNodePorts(spec: Obj, prev: Obj): void {
  const used = (ports: unknown[]): Set<unknown> =>
    new Set(
      ports.map((p) => (isObj(p) ? p.nodePort : undefined)).filter((n) => typeof n === 'number' && n !== 0),
    );
  const newUsed = used(getList(spec, 'ports'));
  const byName = new Map<string, unknown>();
  for (const p of getList(prev, 'ports')) if (isObj(p)) byName.set(getStr(p, 'name'), p.nodePort);
  for (const p of getList(spec, 'ports')) {
    if (!isObj(p) || (p.nodePort !== undefined && p.nodePort !== 0)) continue;
    const oldPort = byName.get(getStr(p, 'name'));
    if (typeof oldPort === 'number' && oldPort !== 0 && !newUsed.has(oldPort)) p.nodePort = oldPort;
  }
}

export const serviceStrategy = defineStrategy({
  info: coreInfo('services'),
  nameValidator: nameIsDNS1035Label,
  hasStatus: true,
  hasGeneration: false,
  defaults: defaultService,
  initialStatus: () => ({ loadBalancer: {} }),
  prepareForUpdate: keepAllocatedValues,
  validate: validateService,
  validateUpdate: validateServiceUpdate,
  fields: (obj) => ({
    'spec.clusterIP': getStr(getObj(obj, 'spec'), 'clusterIP'),
    'spec.type': getStr(getObj(obj, 'spec'), 'type'),
  }),
});

// ---------------------------------------------------------------------------------------------
// Endpoints.

function validateEndpointSubset(subset: Obj, at: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const key of ['addresses', 'notReadyAddresses']) {
    getList(subset, key).forEach((a, i) => {
      const ip = getStr(a, 'ip');
      for (const msg of isValidIP(ip)) errs.push(invalid(child(index(child(at, key), i), 'ip'), ip, msg));
    });
  }
  const ports = getList(subset, 'ports');
  ports.forEach((raw, i) => {
    const p = isObj(raw) ? raw : {};
    const pat = index(child(at, 'ports'), i);
    const name = getStr(p, 'name');
    if (ports.length > 1 && name === '') errs.push(required(child(pat, 'name')));
    else if (name !== '')
      for (const msg of isDNS1123Label(name)) errs.push(invalid(child(pat, 'name'), name, msg));
    for (const msg of isValidPortNum(Number(p.port)))
      errs.push(invalid(child(pat, 'port'), p.port ?? 0, msg));
    if (!PORT_PROTOCOLS.includes(getStr(p, 'protocol'))) {
      errs.push(notSupported(child(pat, 'protocol'), p.protocol ?? '', PORT_PROTOCOLS));
    }
  });
  return errs;
}

export const endpointsStrategy = defineStrategy({
  info: coreInfo('endpoints'),
  hasStatus: false,
  hasGeneration: false,
  defaults: (obj) => {
    for (const s of getList(obj, 'subsets')) {
      for (const p of getList(s, 'ports')) if (isObj(p)) setDefaultStr(p, 'protocol', 'TCP');
    }
  },
  validate: (obj) =>
    getList(obj, 'subsets').flatMap((s, i) => validateEndpointSubset(isObj(s) ? s : {}, index('subsets', i))),
});
