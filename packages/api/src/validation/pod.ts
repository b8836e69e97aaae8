// Pod spec defaulting (SetDefaults_PodSpec, _Container, _Probe, _Volume …) and validation
// (ValidatePodSpec and its parts) shared by Pods and by every pod template (ReplicationControllers
// here; Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and CronJobs in the other groups).

import {
  ensureObj,
  getList,
  getObj,
  getStr,
  isObj,
  type Obj,
  setDefault,
  setDefaultStr,
} from '../strategy/generic.js';
import type { FieldError } from '../types.js';
import { child, duplicate, index, invalid, nonNegative, notFound, notSupported, required } from './field.js';
import { validateAnnotations, validateLabels } from './meta.js';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isValidPortName,
  isValidPortNum,
} from './names.js';
import { QUANTITY_FORMAT_ERROR, quantityValue } from './quantity.js';

export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;
/** The defaultMode of secret, configMap, projected and downwardAPI volumes (0644). */
const VOLUME_DEFAULT_MODE = 0o644;
const VOLUME_SOURCES_DEFAULTED = ['secret', 'configMap', 'projected', 'downwardAPI'] as const;

// ---------------------------------------------------------------------------------------------
// Defaults.

/** The image's tag, "latest" when it has neither tag nor digest (parsers.ParseImageName). */
export function imageTag(image: string): string {
  if (image.includes('@')) return '';
  const lastSlash = image.lastIndexOf('/');
  const lastColon = image.lastIndexOf(':');
  return lastColon > lastSlash ? image.slice(lastColon + 1) : 'latest';
}

function defaultProbe(probe: unknown): void {
  if (!isObj(probe)) return;
  setDefault(probe, 'timeoutSeconds', 1);
  setDefault(probe, 'periodSeconds', 10);
  setDefault(probe, 'successThreshold', 1);
  setDefault(probe, 'failureThreshold', 3);
  const httpGet = getObj(probe, 'httpGet');
  if (httpGet) {
    setDefaultStr(httpGet, 'path', '/');
    setDefaultStr(httpGet, 'scheme', 'HTTP');
  }
}

export function defaultContainer(c: Obj): void {
  setDefaultStr(c, 'imagePullPolicy', imageTag(getStr(c, 'image')) === 'latest' ? 'Always' : 'IfNotPresent');
  setDefaultStr(c, 'terminationMessagePath', '/dev/termination-log');
  setDefaultStr(c, 'terminationMessagePolicy', 'File');
  // resources is a struct in Go, so it is always serialized, as {} when empty.
  setDefault(c, 'resources', {});
  for (const p of getList(c, 'ports')) if (isObj(p)) setDefaultStr(p, 'protocol', 'TCP');
  for (const e of getList(c, 'env')) {
    const fieldRef = getObj(getObj(e, 'valueFrom'), 'fieldRef');
    if (fieldRef) setDefaultStr(fieldRef, 'apiVersion', 'v1');
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) defaultProbe(c[probe]);
}

function defaultVolume(v: Obj): void {
  const sources = Object.keys(v).filter((k) => k !== 'name');
  if (sources.length === 0) v.emptyDir = {};
  for (const src of VOLUME_DEFAULTED_SOURCES(v)) setDefault(src, 'defaultMode', VOLUME_DEFAULT_MODE);
  const hostPath = getObj(v, 'hostPath');
  if (hostPath) setDefault(hostPath, 'type', '');
}

function VOLUME_DEFAULTED_SOURCES(v: Obj): Obj[] {
  return VOLUME_SOURCES_DEFAULTED.map((k) => getObj(v, k)).filter((s): s is Obj => s !== undefined);
}

/** SetDefaults_PodSpec and everything under it; for pods and pod templates alike. */
export function defaultPodSpec(spec: Obj): void {
  setDefaultStr(spec, 'dnsPolicy', 'ClusterFirst');
  setDefaultStr(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'terminationGracePeriodSeconds', DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
  setDefaultStr(spec, 'schedulerName', 'default-scheduler');
  syncServiceAccount(spec);
  for (const c of [...getList(spec, 'containers'), ...getList(spec, 'initContainers')]) {
    if (isObj(c)) defaultContainer(c);
  }
  for (const v of getList(spec, 'volumes')) if (isObj(v)) defaultVolume(v);
  if (spec.hostNetwork === true) defaultHostNetworkPorts(spec);
}

/**
 * The v1 conversion keeps the deprecated serviceAccount field equal to serviceAccountName (which
 * wins), so both appear in every pod Kubernetes serves. Called again after admission set the name.
 */
export function syncServiceAccount(spec: Obj): void {
  const name = getStr(spec, 'serviceAccountName') || getStr(spec, 'serviceAccount');
  if (name === '') return;
  spec.serviceAccountName = name;
  spec.serviceAccount = name;
}

/** With hostNetwork, hostPort defaults to containerPort. */
function defaultHostNetworkPorts(spec: Obj): void {
  for (const c of [...getList(spec, 'containers'), ...getList(spec, 'initContainers')]) {
    for (const p of getList(c, 'ports')) if (isObj(p) && !p.hostPort) p.hostPort = p.containerPort;
  }
}

/**
 * SetDefaults_Pod on top of the spec defaults: requests default to limits, enableServiceLinks,
 * and the priority fields the Priority admission plugin fills for pods without a class.
 */
export function defaultPod(pod: Obj): void {
  const spec = ensureObj(pod, 'spec');
  defaultPodSpec(spec);
  for (const c of [...getList(spec, 'containers'), ...getList(spec, 'initContainers')]) {
    const resources = getObj(c, 'resources');
    const limits = getObj(resources, 'limits');
    if (!resources || !limits) continue;
    const requests = ensureObj(resources, 'requests');
    for (const [k, v] of Object.entries(limits)) setDefault(requests, k, v);
  }
  setDefault(spec, 'enableServiceLinks', true);
  setDefault(spec, 'priority', 0);
  setDefaultStr(spec, 'preemptionPolicy', 'PreemptLowerPriority');
}

/** Defaults of a pod template (template.spec). */
export function defaultPodTemplate(template: unknown): void {
  if (isObj(template)) defaultPodSpec(ensureObj(template, 'spec'));
}

// ---------------------------------------------------------------------------------------------
// QoS class (qos.GetPodQOS), over cpu and memory.

export function podQOSClass(spec: unknown): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const requests = new Map<string, number>();
  const limits = new Map<string, number>();
  let guaranteed = true;
  for (const c of [...getList(spec, 'containers'), ...getList(spec, 'initContainers')]) {
    const res = getObj(c, 'resources');
    addPositive(requests, getObj(res, 'requests'));
    const found = addPositive(limits, getObj(res, 'limits'));
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  for (const [name, req] of requests) if (limits.get(name) !== req) guaranteed = false;
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

/** Sums the positive cpu and memory quantities of `list` into `into`; returns the names found. */
function addPositive(into: Map<string, number>, list: Obj | undefined): Set<string> {
  const found = new Set<string>();
  for (const name of ['cpu', 'memory']) {
    const q = quantityValue(list?.[name]);
    if (q === undefined || q <= 0) continue;
    found.add(name);
    into.set(name, (into.get(name) ?? 0) + q);
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Validation.

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
export const PORT_PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];
const INT32_MAX = 2147483647;

export function validateRestartPolicy(value: unknown, path: string): FieldError[] {
  if (value === undefined || value === '') return [required(path)];
  return RESTART_POLICIES.includes(value as string) ? [] : [notSupported(path, value, RESTART_POLICIES)];
}

function validateContainerPorts(ports: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  ports.forEach((raw, i) => {
    const p = isObj(raw) ? raw : {};
    const at = index(path, i);
    const name = getStr(p, 'name');
    if (name !== '') {
      for (const msg of isValidPortName(name)) errs.push(invalid(child(at, 'name'), name, msg));
      if (names.has(name)) errs.push(duplicate(child(at, 'name'), name));
      names.add(name);
    }
    if (p.containerPort === undefined || p.containerPort === 0)
      errs.push(required(child(at, 'containerPort')));
    else
      for (const msg of isValidPortNum(Number(p.containerPort)))
        errs.push(invalid(child(at, 'containerPort'), p.containerPort, msg));
    if (p.hostPort !== undefined && p.hostPort !== 0) {
      for (const msg of isValidPortNum(Number(p.hostPort)))
        errs.push(invalid(child(at, 'hostPort'), p.hostPort, msg));
    }
    const protocol = p.protocol ?? '';
    if (protocol === '') errs.push(required(child(at, 'protocol')));
    else if (!PORT_PROTOCOLS.includes(protocol as string))
      errs.push(notSupported(child(at, 'protocol'), protocol, PORT_PROTOCOLS));
  });
  return errs;
}

function validateEnv(env: unknown[], path: string): FieldError[] {
  const errs: FieldError[] = [];
  env.forEach((raw, i) => {
    const at = index(path, i);
    const name = getStr(raw, 'name');
    if (name === '') errs.push(required(child(at, 'name')));
    else for (const msg of isEnvVarName(name)) errs.push(invalid(child(at, 'name'), name, msg));
  });
  return errs;
}

export function validateResources(resources: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const values: Record<string, Record<string, number>> = { requests: {}, limits: {} };
  for (const kind of ['requests', 'limits']) {
    for (const [name, q] of Object.entries(getObj(resources, kind) ?? {})) {
      const at = `${child(path, kind)}[${name}]`;
      const v = quantityValue(q);
      if (v === undefined) errs.push(invalid(at, q, QUANTITY_FORMAT_ERROR));
      else if (v < 0) errs.push(invalid(at, q, 'must be greater than or equal to 0'));
      else (values[kind] as Record<string, number>)[name] = v;
    }
  }
  const limits = getObj(resources, 'limits') ?? {};
  for (const [name, req] of Object.entries(values.requests ?? {})) {
    const lim = values.limits?.[name];
    if (lim !== undefined && req > lim) {
      errs.push(
        invalid(
          `${child(path, 'requests')}[${name}]`,
          getObj(resources, 'requests')?.[name],
          `must be less than or equal to ${name} limit of ${String(limits[name])}`,
        ),
      );
    }
  }
  return errs;
}

function validateVolumeMounts(mounts: unknown[], volumes: Set<string>, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const paths = new Set<string>();
  mounts.forEach((raw, i) => {
    const at = index(path, i);
    const name = getStr(raw, 'name');
    const mountPath = getStr(raw, 'mountPath');
    if (name === '') errs.push(required(child(at, 'name')));
    else if (!volumes.has(name)) errs.push(notFound(child(at, 'name'), name));
    if (mountPath === '') errs.push(required(child(at, 'mountPath')));
    else if (paths.has(mountPath)) errs.push(invalid(child(at, 'mountPath'), mountPath, 'must be unique'));
    paths.add(mountPath);
  });
  return errs;
}

function validateContainer(c: Obj, at: string, names: Set<string>, volumes: Set<string>): FieldError[] {
  const errs: FieldError[] = [];
  const name = getStr(c, 'name');
  if (name === '') errs.push(required(child(at, 'name')));
  else {
    for (const msg of isDNS1123Label(name)) errs.push(invalid(child(at, 'name'), name, msg));
    if (names.has(name)) errs.push(duplicate(child(at, 'name'), name));
    names.add(name);
  }
  const image = getStr(c, 'image');
  if (image === '') errs.push(required(child(at, 'image')));
  else if (image.trim() !== image) {
    errs.push(invalid(child(at, 'image'), image, 'must not have leading or trailing whitespace'));
  }
  const pull = c.imagePullPolicy ?? '';
  if (pull === '') errs.push(required(child(at, 'imagePullPolicy')));
  else if (!PULL_POLICIES.includes(pull as string))
    errs.push(notSupported(child(at, 'imagePullPolicy'), pull, PULL_POLICIES));
  const tmp = c.terminationMessagePolicy ?? '';
  if (tmp === '')
    errs.push(required(child(at, 'terminationMessagePolicy'), "must be 'File' or 'FallbackToLogsOnError'"));
  else if (!TERMINATION_MESSAGE_POLICIES.includes(tmp as string)) {
    errs.push(
      invalid(child(at, 'terminationMessagePolicy'), tmp, "must be 'File' or 'FallbackToLogsOnError'"),
    );
  }
  errs.push(...validateContainerPorts(getList(c, 'ports'), child(at, 'ports')));
  errs.push(...validateEnv(getList(c, 'env'), child(at, 'env')));
  errs.push(...validateResources(c.resources, child(at, 'resources')));
  errs.push(...validateVolumeMounts(getList(c, 'volumeMounts'), volumes, child(at, 'volumeMounts')));
  return errs;
}

function validateVolumes(volumes: unknown[], path: string): { errs: FieldError[]; names: Set<string> } {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  volumes.forEach((raw, i) => {
    const at = index(path, i);
    const name = getStr(raw, 'name');
    if (name === '') errs.push(required(child(at, 'name')));
    else {
      for (const msg of isDNS1123Label(name)) errs.push(invalid(child(at, 'name'), name, msg));
      if (names.has(name)) errs.push(duplicate(child(at, 'name'), name));
    }
    names.add(name);
    const sources = isObj(raw) ? Object.keys(raw).filter((k) => k !== 'name') : [];
    if (sources.length === 0) errs.push(required(at, 'must specify a volume type'));
    else if (sources.length > 1)
      errs.push({
        type: 'FieldValueForbidden',
        field: child(at, sources[1] ?? ''),
        detail: 'may not specify more than 1 volume type',
      });
  });
  return { errs, names };
}

/** ValidatePodSpec: containers, init containers, volumes and the policies. `path` is "spec" or "spec.template.spec". */
export function validatePodSpec(spec: unknown, path: string): FieldError[] {
  const s = isObj(spec) ? spec : {};
  const vols = validateVolumes(getList(s, 'volumes'), child(path, 'volumes'));
  const errs = [...vols.errs];
  const names = new Set<string>();
  const containers = getList(s, 'containers');
  if (containers.length === 0) errs.push(required(child(path, 'containers')));
  getList(s, 'initContainers').forEach((c, i) => {
    errs.push(
      ...validateContainer(isObj(c) ? c : {}, index(child(path, 'initContainers'), i), names, vols.names),
    );
  });
  containers.forEach((c, i) => {
    errs.push(
      ...validateContainer(isObj(c) ? c : {}, index(child(path, 'containers'), i), names, vols.names),
    );
  });
  errs.push(...validateRestartPolicy(s.restartPolicy, child(path, 'restartPolicy')));
  const dns = s.dnsPolicy ?? '';
  if (dns === '') errs.push(required(child(path, 'dnsPolicy')));
  else if (!DNS_POLICIES.includes(dns as string))
    errs.push(notSupported(child(path, 'dnsPolicy'), dns, DNS_POLICIES));
  errs.push(...nonNegative(s.terminationGracePeriodSeconds, child(path, 'terminationGracePeriodSeconds')));
  errs.push(...validateActiveDeadline(s.activeDeadlineSeconds, child(path, 'activeDeadlineSeconds')));
  for (const f of ['nodeName', 'serviceAccountName']) {
    const v = getStr(s, f);
    if (v !== '') for (const msg of isDNS1123Subdomain(v)) errs.push(invalid(child(path, f), v, msg));
  }
  errs.push(...validateLabels(s.nodeSelector, child(path, 'nodeSelector')));
  return errs;
}

function validateActiveDeadline(value: unknown, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= INT32_MAX
    ? []
    : [invalid(path, value, `must be between 1 and ${INT32_MAX}, inclusive`)];
}

/** A pod template: its labels and annotations, then the pod spec. `path` is e.g. "spec.template". */
export function validatePodTemplateSpec(template: unknown, path: string): FieldError[] {
  if (!isObj(template)) return [required(path)];
  const m = getObj(template, 'metadata') ?? {};
  return [
    // Kubernetes reports these as template.labels, without "metadata" (ValidatePodTemplateSpec).
    ...validateLabels(m.labels, child(path, 'labels')),
    ...validateAnnotations(m.annotations, child(path, 'annotations')),
    ...validatePodSpec(template.spec, child(path, 'spec')),
  ];
}
