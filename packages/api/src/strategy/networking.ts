// networking.k8s.io/v1 strategies: Ingresses (every path needs a pathType and one backend),
// IngressClasses (the controller is fixed once created) and NetworkPolicies (policyTypes default
// to Ingress, plus Egress when egress rules exist). After pkg/apis/networking/v1/defaults.go and
// pkg/apis/networking/validation.

import { findResource } from '../registry.js';
import type { FieldError, KubeObject, ResourceInfo } from '../types.js';
import {
  child,
  forbidden,
  immutable,
  index,
  invalid,
  notSupported,
  required,
  tooLong,
} from '../validation/field.js';
import { validateNamespaceName } from '../validation/meta.js';
import {
  isDNS1035Label,
  isDNS1123Subdomain,
  isValidPathSegmentName,
  isValidPortName,
  isValidPortNum,
  parseIP,
  regexError,
} from '../validation/names.js';
import { validateLabelSelector } from './apps.js';
import {
  defineStrategy,
  ensureObj,
  getObj,
  getStr,
  isObj,
  type Obj,
  StrategyAssertionError,
  setDefault,
} from './generic.js';

function info(plural: string): ResourceInfo {
  const found = findResource('networking.k8s.io', 'v1', plural);
  if (found === undefined)
    throw new StrategyAssertionError(`networking.k8s.io/v1 ${plural} is not in the registry`);
  return found;
}

function listOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

// ---------------------------------------------------------------------------------------------
// Ingresses.

const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];
const WILDCARD_FMT = '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const WILDCARD_RE = new RegExp(`^${WILDCARD_FMT}$`);
const WILDCARD_MSG =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";

function validateHost(host: string, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (parseIP(host) !== undefined) errs.push(invalid(path, host, 'must be a DNS name, not an IP address'));
  if (host.includes('*')) {
    if (host.length > 253) errs.push(invalid(path, host, 'must be no more than 253 characters'));
    if (!WILDCARD_RE.test(host))
      errs.push(invalid(path, host, regexError(WILDCARD_MSG, WILDCARD_FMT, '*.example.com')));
  } else {
    for (const msg of isDNS1123Subdomain(host)) errs.push(invalid(path, host, msg));
  }
  return errs;
}

/** validateIngressTypedLocalObjectReference. */
function validateTypedReference(ref: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (typeof ref.apiGroup === 'string') {
    for (const msg of isDNS1123Subdomain(ref.apiGroup))
      errs.push(invalid(child(path, 'apiGroup'), ref.apiGroup, msg));
  }
  for (const f of ['kind', 'name']) {
    const v = getStr(ref, f);
    if (v === '') errs.push(required(child(path, f), `${f} is required`));
    else for (const msg of isValidPathSegmentName(v)) errs.push(invalid(child(path, f), v, msg));
  }
  return errs;
}

function validateServiceBackend(service: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = getStr(service, 'name');
  if (name === '') errs.push(required(child(path, 'service', 'name')));
  else for (const msg of isDNS1035Label(name)) errs.push(invalid(child(path, 'service', 'name'), name, msg));
  const port = getObj(service, 'port') ?? {};
  const portName = getStr(port, 'name');
  const portNumber = typeof port.number === 'number' ? port.number : 0;
  if (portName !== '' && portNumber !== 0)
    errs.push(invalid(path, '', 'cannot set both port name & port number'));
  else if (portName !== '') {
    for (const msg of isValidPortName(portName))
      errs.push(invalid(child(path, 'service', 'port', 'name'), portName, msg));
  } else if (portNumber !== 0) {
    for (const msg of isValidPortNum(portNumber)) {
      errs.push(invalid(child(path, 'service', 'port', 'number'), portNumber, msg));
    }
  } else errs.push(required(path, 'port name or number is required'));
  return errs;
}

/** validateIngressBackend: exactly one of service and resource. */
export function validateIngressBackend(backend: unknown, path: string): FieldError[] {
  const b = isObj(backend) ? backend : {};
  const resource = getObj(b, 'resource');
  const service = getObj(b, 'service');
  if (resource !== undefined && service !== undefined) {
    return [invalid(path, '', 'cannot set both resource and service backends')];
  }
  if (resource !== undefined) return validateTypedReference(resource, child(path, 'resource'));
  if (service !== undefined) return validateServiceBackend(service, path);
  return [invalid(path, '', 'resource or service backend is required')];
}

function validateHttpPath(p: unknown, path: string): FieldError[] {
  const entry = isObj(p) ? p : {};
  const pathType = entry.pathType;
  if (pathType == null) return [required(child(path, 'pathType'), 'pathType must be specified')];
  const value = getStr(entry, 'path');
  const errs: FieldError[] = [];
  if (pathType === 'Exact' || pathType === 'Prefix') {
    if (!value.startsWith('/')) errs.push(invalid(child(path, 'path'), value, 'must be an absolute path'));
    for (const seq of INVALID_PATH_SEQUENCES) {
      if (value.includes(seq)) errs.push(invalid(child(path, 'path'), value, `must not contain '${seq}'`));
    }
    for (const suffix of INVALID_PATH_SUFFIXES) {
      if (value.endsWith(suffix))
        errs.push(invalid(child(path, 'path'), value, `cannot end with '${suffix}'`));
    }
  } else if (pathType === 'ImplementationSpecific') {
    if (value !== '' && !value.startsWith('/'))
      errs.push(invalid(child(path, 'path'), value, 'must be an absolute path'));
  } else {
    errs.push(notSupported(child(path, 'pathType'), pathType, PATH_TYPES));
  }
  errs.push(...validateIngressBackend(entry.backend, child(path, 'backend')));
  return errs;
}

function validateIngressRule(rule: unknown, path: string): FieldError[] {
  const r = isObj(rule) ? rule : {};
  const host = getStr(r, 'host');
  const errs = host === '' ? [] : validateHost(host, child(path, 'host'));
  const http = getObj(r, 'http');
  if (http !== undefined) {
    const paths = listOf(http.paths);
    if (paths.length === 0) errs.push(required(child(path, 'http', 'paths')));
    errs.push(...paths.flatMap((p, i) => validateHttpPath(p, index(child(path, 'http', 'paths'), i))));
  }
  return errs;
}

function validateIngressTls(tls: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  tls.forEach((entry, i) => {
    const hosts = isObj(entry) ? listOf(entry.hosts) : [];
    hosts.forEach((h, j) => {
      const host = String(h);
      const at = index(child(index(path, i), 'hosts'), j);
      if (host.includes('*')) {
        if (!WILDCARD_RE.test(host))
          errs.push(invalid(at, host, regexError(WILDCARD_MSG, WILDCARD_FMT, '*.example.com')));
      } else for (const msg of isDNS1123Subdomain(host)) errs.push(invalid(at, host, msg));
    });
  });
  return errs;
}

/** ValidateIngressSpec. */
export function validateIngress(obj: KubeObject): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const rules = listOf(spec.rules);
  const errs: FieldError[] = [];
  if (rules.length === 0 && spec.defaultBackend == null) {
    errs.push(invalid('spec', rules, 'either `defaultBackend` or `rules` must be specified'));
  }
  if (spec.defaultBackend != null)
    errs.push(...validateIngressBackend(spec.defaultBackend, 'spec.defaultBackend'));
  errs.push(...rules.flatMap((r, i) => validateIngressRule(r, index('spec.rules', i))));
  errs.push(...validateIngressTls(listOf(spec.tls), 'spec.tls'));
  const className = spec.ingressClassName;
  if (typeof className === 'string') {
    for (const msg of isDNS1123Subdomain(className))
      errs.push(invalid('spec.ingressClassName', className, msg));
  }
  return errs;
}

export const ingressStrategy = defineStrategy({
  info: info('ingresses'),
  validate: validateIngress,
  hasStatus: true,
  hasGeneration: true,
});

// ---------------------------------------------------------------------------------------------
// IngressClasses.

const CONTROLLER_LENGTH_MAX = 250;
const HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";
const HTTP_PATH_RE = new RegExp(`^${HTTP_PATH_FMT}$`);

/** SetDefaults_IngressClass: parameters are cluster-scoped unless said otherwise. */
export function defaultIngressClass(obj: KubeObject): void {
  const params = getObj(obj.spec, 'parameters');
  if (params !== undefined) setDefault(params, 'scope', 'Cluster');
}

/** IsDomainPrefixedPath. */
function validateDomainPrefixedPath(value: string, path: string): FieldError[] {
  if (value === '') return [required(path)];
  const slash = value.indexOf('/');
  const host = slash < 0 ? value : value.slice(0, slash);
  const rest = slash < 0 ? '' : value.slice(slash + 1);
  if (slash < 0 || host === '' || rest === '') {
    return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')];
  }
  const errs = isDNS1123Subdomain(host).map((msg) => invalid(path, host, msg));
  if (!HTTP_PATH_RE.test(rest)) errs.push(invalid(path, rest, regexError('Invalid path', HTTP_PATH_FMT)));
  return errs;
}

function validateParametersReference(params: unknown, path: string): FieldError[] {
  if (!isObj(params)) return [];
  const errs = validateTypedReference(params, path);
  const scope = params.scope;
  if (scope == null) return [...errs, required(child(path, 'scope'))];
  if (scope !== 'Cluster' && scope !== 'Namespace') {
    return [...errs, notSupported(child(path, 'scope'), scope, ['Cluster', 'Namespace'])];
  }
  const namespace = params.namespace;
  if (scope === 'Namespace') {
    if (typeof namespace !== 'string')
      errs.push(required(child(path, 'namespace'), "`parameters.scope` is set to 'Namespace'"));
    else
      for (const msg of validateNamespaceName(namespace, false))
        errs.push(invalid(child(path, 'namespace'), namespace, msg));
  } else if (namespace != null) {
    errs.push(forbidden(child(path, 'namespace'), "`parameters.scope` is set to 'Cluster'"));
  }
  return errs;
}

/** validateIngressClassSpec. */
export function validateIngressClass(obj: KubeObject): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const controller = getStr(spec, 'controller');
  const errs: FieldError[] = [];
  if (controller.length > CONTROLLER_LENGTH_MAX) {
    errs.push(tooLong('spec.controller', controller, CONTROLLER_LENGTH_MAX));
  }
  errs.push(...validateDomainPrefixedPath(controller, 'spec.controller'));
  errs.push(...validateParametersReference(spec.parameters, 'spec.parameters'));
  return errs;
}

export const ingressClassStrategy = defineStrategy({
  info: info('ingressclasses'),
  defaults: defaultIngressClass,
  validate: validateIngressClass,
  validateUpdate: (obj, old) =>
    immutable(getObj(obj, 'spec')?.controller, getObj(old, 'spec')?.controller, 'spec.controller'),
  hasStatus: false,
  hasGeneration: true,
});

// ---------------------------------------------------------------------------------------------
// NetworkPolicies.

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

/** SetDefaults_NetworkPolicy and SetDefaults_NetworkPolicyPort. */
export function defaultNetworkPolicy(obj: KubeObject): void {
  const spec = ensureObj(obj, 'spec');
  for (const direction of ['ingress', 'egress']) {
    for (const rule of listOf(spec[direction])) {
      const ports = isObj(rule) ? listOf(rule.ports) : [];
      for (const port of ports) if (isObj(port)) setDefault(port, 'protocol', 'TCP');
    }
  }
  if (listOf(spec.policyTypes).length === 0) {
    spec.policyTypes = listOf(spec.egress).length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
}

function validatePort(port: unknown, path: string): FieldError[] {
  const p = isObj(port) ? port : {};
  const errs: FieldError[] = [];
  if (p.protocol != null && !PROTOCOLS.includes(String(p.protocol))) {
    errs.push(notSupported(child(path, 'protocol'), p.protocol, PROTOCOLS));
  }
  const value = p.port;
  const endPort = p.endPort;
  if (typeof value === 'number') {
    for (const msg of isValidPortNum(value)) errs.push(invalid(child(path, 'port'), value, msg));
    if (typeof endPort === 'number') {
      if (endPort < value)
        errs.push(invalid(child(path, 'endPort'), value, 'must be greater than or equal to `port`'));
      for (const msg of isValidPortNum(endPort)) errs.push(invalid(child(path, 'endPort'), endPort, msg));
    }
  } else if (typeof value === 'string') {
    if (endPort != null)
      errs.push(invalid(child(path, 'endPort'), endPort, 'may not be specified when `port` is non-numeric'));
    for (const msg of isValidPortName(value)) errs.push(invalid(child(path, 'port'), value, msg));
  } else if (endPort != null) {
    errs.push(invalid(child(path, 'endPort'), endPort, 'may not be specified when `port` is not specified'));
  }
  return errs;
}

interface Cidr {
  family: 'IPv4' | 'IPv6';
  /** The network address (host bits cleared) as an integer. */
  network: bigint;
  bits: number;
}

/** The address as an unsigned integer (IPv4: 32 bits, IPv6: 128 bits); the input is a valid literal. */
function ipToBigInt(address: string, family: 'IPv4' | 'IPv6'): bigint {
  if (family === 'IPv4')
    return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  return ipv6Groups(address).reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** The eight 16-bit groups of an IPv6 literal, with "::" expanded and a dotted IPv4 tail split. */
function ipv6Groups(address: string): string[] {
  const halves = address.split('::');
  const groupsOf = (part: string): string[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [g];
          const v4 = ipToBigInt(g, 'IPv4');
          return [(v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16)];
        });
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length > 1 ? groupsOf(halves[1] ?? '') : [];
  const fill = halves.length > 1 ? new Array<string>(8 - head.length - tail.length).fill('0') : [];
  return [...head, ...fill, ...tail];
}

/** ParseCIDRSloppy: "address/prefix", or undefined when it is not one. */
function parseCidr(value: string): Cidr | undefined {
  const slash = value.indexOf('/');
  if (slash < 0) return undefined;
  const address = value.slice(0, slash);
  const family = parseIP(address);
  const prefix = value.slice(slash + 1);
  if (family === undefined || !/^[0-9]{1,3}$/.test(prefix)) return undefined;
  const width = family === 'IPv4' ? 32 : 128;
  const bits = Number(prefix);
  if (bits > width) return undefined;
  const hostBits = BigInt(width - bits);
  const network = (ipToBigInt(address, family) >> hostBits) << hostBits;
  return { family, network, bits };
}

/** Whether `inner` lies inside `outer` and is strictly smaller. */
function strictSubset(inner: Cidr, outer: Cidr): boolean {
  if (inner.family !== outer.family || inner.bits <= outer.bits) return false;
  const width = outer.family === 'IPv4' ? 32 : 128;
  const hostBits = BigInt(width - outer.bits);
  return inner.network >> hostBits === outer.network >> hostBits;
}

const CIDR_MSG = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

function validateIpBlock(block: Obj, path: string): FieldError[] {
  const cidr = getStr(block, 'cidr');
  if (cidr === '') return [required(child(path, 'cidr'))];
  const parsed = parseCidr(cidr);
  if (parsed === undefined) return [invalid(child(path, 'cidr'), cidr, CIDR_MSG)];
  const errs: FieldError[] = [];
  listOf(block.except).forEach((e, i) => {
    const at = index(child(path, 'except'), i);
    const inner = parseCidr(String(e));
    if (inner === undefined) errs.push(invalid(at, e, CIDR_MSG));
    else if (!strictSubset(inner, parsed)) errs.push(invalid(at, e, 'must be a strict subset of `cidr`'));
  });
  return errs;
}

function validatePeer(peer: unknown, path: string): FieldError[] {
  const p = isObj(peer) ? peer : {};
  const errs: FieldError[] = [];
  let count = 0;
  for (const f of ['podSelector', 'namespaceSelector']) {
    if (p[f] == null) continue;
    count++;
    errs.push(...validateLabelSelector(p[f], child(path, f)));
  }
  const block = getObj(p, 'ipBlock');
  if (block !== undefined) {
    count++;
    errs.push(...validateIpBlock(block, child(path, 'ipBlock')));
  }
  if (count === 0) errs.push(required(path, 'must specify a peer'));
  else if (count > 1 && block !== undefined)
    errs.push(forbidden(path, 'may not specify both ipBlock and another peer'));
  return errs;
}

/** ValidateNetworkPolicySpec. */
export function validateNetworkPolicy(obj: KubeObject): FieldError[] {
  const spec = isObj(obj.spec) ? obj.spec : {};
  const errs = validateLabelSelector(spec.podSelector, 'spec.podSelector');
  for (const [direction, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    listOf(spec[direction]).forEach((rule, i) => {
      const at = index(child('spec', direction), i);
      const r = isObj(rule) ? rule : {};
      errs.push(...listOf(r.ports).flatMap((p, j) => validatePort(p, index(child(at, 'ports'), j))));
      errs.push(...listOf(r[peers]).flatMap((p, j) => validatePeer(p, index(child(at, peers), j))));
    });
  }
  const types = listOf(spec.policyTypes);
  if (types.length > 2)
    return [...errs, invalid('spec.policyTypes', types, 'may not specify more than two policyTypes')];
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress')
      errs.push(notSupported(index('spec.policyTypes', i), t, ['Ingress', 'Egress']));
  });
  return errs;
}

export const networkPolicyStrategy = defineStrategy({
  info: info('networkpolicies'),
  defaults: defaultNetworkPolicy,
  validate: validateNetworkPolicy,
  hasStatus: false,
  hasGeneration: true,
});

export const networkingStrategies = [ingressStrategy, ingressClassStrategy, networkPolicyStrategy];
