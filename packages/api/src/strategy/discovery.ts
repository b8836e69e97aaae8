// discovery.k8s.io/v1 EndpointSlices: addressType is required and fixed, every endpoint has at
// least one address of that type, ports default to protocol TCP and name "" (pkg/apis/discovery).
// The fields sit at the top level (no spec), and any change outside metadata, or to the labels,
// is a new generation (pkg/registry/discovery/endpointslice/strategy.go).

import { findResource } from '../registry.js';
import type { FieldError, KubeObject, ResourceInfo } from '../types.js';
import {
  child,
  deepEqual,
  duplicate,
  immutable,
  index,
  invalid,
  notSupported,
  required,
  tooMany,
} from '../validation/field.js';
import { validateLabels } from '../validation/meta.js';
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName, parseIP } from '../validation/names.js';
import {
  defineStrategy,
  getStr,
  isObj,
  type Obj,
  StrategyAssertionError,
  setDefault,
  specOf,
} from './generic.js';

function info(plural: string): ResourceInfo {
  const found = findResource('discovery.k8s.io', 'v1', plural);
  if (found === undefined)
    throw new StrategyAssertionError(`discovery.k8s.io/v1 ${plural} is not in the registry`);
  return found;
}

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const ENDPOINTS_MAX = 1000;
const ADDRESSES_MAX = 100;
const PORTS_MAX = 20000;
const TOPOLOGY_LABELS_MAX = 16;

function listOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** SetDefaults_EndpointPort. */
export function defaultEndpointSlice(obj: KubeObject): void {
  for (const port of listOf(obj.ports)) {
    if (!isObj(port)) continue;
    setDefault(port, 'name', '');
    setDefault(port, 'protocol', 'TCP');
  }
}

/** ValidateNonSpecialIP: addresses a Service may not route to. */
function specialIpProblem(address: string, family: 'IPv4' | 'IPv6'): string | undefined {
  const a = address.toLowerCase();
  if (family === 'IPv4') {
    const [first, second, third] = a.split('.').map(Number);
    if (a === '0.0.0.0') return 'may not be unspecified (0.0.0.0, ::)';
    if (first === 127) return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
    if (first === 169 && second === 254)
      return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
    if (first === 224 && second === 0 && third === 0) {
      return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
    }
    return undefined;
  }
  if (a === '::') return 'may not be unspecified (0.0.0.0, ::)';
  if (a === '::1') return 'may not be in the loopback range (127.0.0.0/8, ::1/128)';
  if (/^fe[89ab]/.test(a)) return 'may not be in the link-local range (169.254.0.0/16, fe80::/10)';
  if (a.startsWith('ff02:')) return 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)';
  return undefined;
}

function validateAddress(address: string, addressType: unknown, path: string): FieldError[] {
  if (addressType === 'FQDN') {
    const errs = isDNS1123Subdomain(address).map((msg) => invalid(path, address, msg));
    if (address.split('.').length < 2) {
      errs.push(invalid(path, address, 'should be a domain with at least two segments separated by dots'));
    }
    return errs;
  }
  if (addressType !== 'IPv4' && addressType !== 'IPv6') return [];
  const family = parseIP(address);
  if (family !== addressType) return [invalid(path, address, `must be a valid ${addressType} address`)];
  const problem = specialIpProblem(address, family);
  return problem === undefined ? [] : [invalid(path, address, problem)];
}

function validateEndpoint(endpoint: unknown, addressType: unknown, path: string): FieldError[] {
  const e = isObj(endpoint) ? endpoint : {};
  const addresses = listOf(e.addresses);
  const addressPath = child(path, 'addresses');
  const errs: FieldError[] = [];
  if (addresses.length === 0) errs.push(required(addressPath, 'must contain at least 1 address'));
  else if (addresses.length > ADDRESSES_MAX) errs.push(tooMany(addressPath, addresses.length, ADDRESSES_MAX));
  errs.push(...addresses.flatMap((a, i) => validateAddress(String(a), addressType, index(addressPath, i))));
  if (typeof e.nodeName === 'string') {
    for (const msg of isDNS1123Subdomain(e.nodeName))
      errs.push(invalid(child(path, 'nodeName'), e.nodeName, msg));
  }
  const topology = isObj(e.deprecatedTopology) ? e.deprecatedTopology : {};
  const topologyCount = Object.keys(topology).length;
  if (topologyCount > TOPOLOGY_LABELS_MAX) {
    errs.push(tooMany(child(path, 'deprecatedTopology'), topologyCount, TOPOLOGY_LABELS_MAX));
  }
  errs.push(...validateLabels(e.deprecatedTopology, child(path, 'deprecatedTopology')));
  if (typeof e.hostname === 'string') {
    for (const msg of isDNS1123Label(e.hostname))
      errs.push(invalid(child(path, 'hostname'), e.hostname, msg));
  }
  return errs;
}

function validatePort(port: unknown, seen: Set<string>, path: string): FieldError[] {
  const p: Obj = isObj(port) ? port : {};
  const name = getStr(p, 'name');
  const errs: FieldError[] = [];
  if (name !== '') for (const msg of isDNS1123Label(name)) errs.push(invalid(child(path, 'name'), name, msg));
  if (seen.has(name)) errs.push(duplicate(child(path, 'name'), name));
  seen.add(name);
  if (p.protocol == null) errs.push(required(child(path, 'protocol')));
  else if (!PROTOCOLS.includes(String(p.protocol)))
    errs.push(notSupported(child(path, 'protocol'), p.protocol, PROTOCOLS));
  if (typeof p.appProtocol === 'string') {
    for (const msg of isQualifiedName(p.appProtocol))
      errs.push(invalid(child(path, 'appProtocol'), p.appProtocol, msg));
  }
  return errs;
}

/** ValidateEndpointSlice. */
export function validateEndpointSlice(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const addressType = obj.addressType;
  if (addressType == null || addressType === '') errs.push(required('addressType'));
  else if (!ADDRESS_TYPES.includes(String(addressType)))
    errs.push(notSupported('addressType', addressType, ADDRESS_TYPES));
  const endpoints = listOf(obj.endpoints);
  if (endpoints.length > ENDPOINTS_MAX) errs.push(tooMany('endpoints', endpoints.length, ENDPOINTS_MAX));
  else errs.push(...endpoints.flatMap((e, i) => validateEndpoint(e, addressType, index('endpoints', i))));
  const ports = listOf(obj.ports);
  if (ports.length > PORTS_MAX) errs.push(tooMany('ports', ports.length, PORTS_MAX));
  else {
    const seen = new Set<string>();
    errs.push(...ports.flatMap((p, i) => validatePort(p, seen, index('ports', i))));
  }
  return errs;
}

export const endpointSliceStrategy = defineStrategy({
  info: info('endpointslices'),
  defaults: defaultEndpointSlice,
  validate: validateEndpointSlice,
  validateUpdate: (obj, old) => immutable(obj.addressType, old.addressType, 'addressType'),
  hasStatus: false,
  hasGeneration: true,
  bumpsGeneration: (obj, old) =>
    !deepEqual(specOf(obj), specOf(old)) || !deepEqual(obj.metadata?.labels, old.metadata?.labels),
});

export const discoveryStrategies = [endpointSliceStrategy];
