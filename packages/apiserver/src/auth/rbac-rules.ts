// The pure part of RBAC, written after k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go and
// plugin/pkg/auth/authorizer/rbac/rbac.go: rule matching, subjects, the rule walk over bindings and
// the 403 message of k8s.io/apiserver's responsewriters.Forbidden.
import { type StatusDetails, StatusError } from '@keelson/api';
import type { Decision, RequestAttributes, UserInfo } from '../types.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind: string;
  apiGroup?: string;
  name: string;
  namespace?: string;
}

export interface RoleRef {
  apiGroup: string;
  kind: string;
  name: string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Role or ClusterRole. */
export interface RoleObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  rules?: PolicyRule[] | null;
  aggregationRule?: { clusterRoleSelectors?: LabelSelector[] };
}

/** RoleBinding or ClusterRoleBinding. */
export interface BindingObject {
  metadata?: { name?: string; namespace?: string };
  subjects?: Subject[] | null;
  roleRef: RoleRef;
}

// ---------------------------------------------------------------------------------------------
// Rules.

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  return rule.verbs.some((v) => v === '*' || v === verb);
}

export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === '*' || g === group);
}

/** `combined` is "resource" or "resource/subresource"; a rule may name "*", the combined form or "*\/sub". */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource === '') continue;
    if (r.length === subresource.length + 2 && r.startsWith('*/') && r.endsWith(subresource)) return true;
  }
  return false;
}

export function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(name);
}

/** "*" matches all, "/foo" exactly, "/foo/*" (any trailing stars) every path with that prefix. */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const url of rule.nonResourceURLs ?? []) {
    if (url === '*' || url === path) return true;
    if (url.endsWith('*') && path.startsWith(url.replace(/\*+$/, ''))) return true;
  }
  return false;
}

export function ruleAllows(attrs: RequestAttributes, rule: PolicyRule): boolean {
  if (!attrs.resourceRequest) return verbMatches(rule, attrs.verb) && nonResourceURLMatches(rule, attrs.path);
  const combined = attrs.subresource === '' ? attrs.resource : `${attrs.resource}/${attrs.subresource}`;
  return (
    verbMatches(rule, attrs.verb) &&
    apiGroupMatches(rule, attrs.apiGroup) &&
    resourceMatches(rule, combined, attrs.subresource) &&
    resourceNameMatches(rule, attrs.name)
  );
}

// ---------------------------------------------------------------------------------------------
// Subjects.

export function serviceAccountMatches(namespace: string, name: string, username: string): boolean {
  return username === `system:serviceaccount:${namespace}:${name}`;
}

/** `namespace` is the binding's namespace ("" for ClusterRoleBindings): the default of ServiceAccount subjects. */
export function subjectApplies(user: UserInfo, subject: Subject, namespace: string): boolean {
  switch (subject.kind) {
    case 'User':
      return user.username === subject.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const ns = subject.namespace || namespace;
      return ns !== '' && serviceAccountMatches(ns, subject.name, user.username);
    }
    default:
      return false;
  }
}

export function labelSelectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    const values = req.values ?? [];
    if (req.operator === 'In' && !(has && values.includes(value as string))) return false;
    if (req.operator === 'NotIn' && has && values.includes(value as string)) return false;
    if (req.operator === 'Exists' && !has) return false;
    if (req.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The walk over bindings.

/** What the evaluation reads: a consistent view of the RBAC objects. */
export interface PolicySource {
  clusterRoleBindings(): Iterable<BindingObject>;
  roleBindings(namespace: string): Iterable<BindingObject>;
  /** Effective rules of a ClusterRole (aggregation applied); undefined when it does not exist. */
  clusterRoleRules(name: string): PolicyRule[] | undefined;
  roleRules(namespace: string, name: string): PolicyRule[] | undefined;
}

function roleRefRules(
  source: PolicySource,
  ref: RoleRef,
  namespace: string,
): { rules: PolicyRule[] } | { error: string } {
  if (ref.kind === 'ClusterRole') {
    const rules = source.clusterRoleRules(ref.name);
    return rules === undefined ? { error: `clusterrole.${RBAC_GROUP} "${ref.name}" not found` } : { rules };
  }
  if (ref.kind === 'Role' && namespace !== '') {
    const rules = source.roleRules(namespace, ref.name);
    return rules === undefined ? { error: `role.${RBAC_GROUP} "${ref.name}" not found` } : { rules };
  }
  return { error: `unsupported role reference kind: "${ref.kind}"` };
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} "${s.name}/${s.namespace || bindingNamespace}"`;
  return `${s.kind} "${s.name}"`;
}

function describeBinding(b: BindingObject, subject: Subject, namespace: string): string {
  const name = b.metadata?.name ?? '';
  const what = namespace === '' ? `ClusterRoleBinding "${name}"` : `RoleBinding "${name}/${namespace}"`;
  return `${what} of ${b.roleRef.kind} "${b.roleRef.name}" to ${describeSubject(subject, namespace)}`;
}

function checkBindings(
  source: PolicySource,
  attrs: RequestAttributes,
  bindings: Iterable<BindingObject>,
  namespace: string,
  errors: string[],
): string | undefined {
  for (const b of bindings) {
    const subject = (b.subjects ?? []).find((s) => subjectApplies(attrs.user, s, namespace));
    if (subject === undefined) continue;
    const found = roleRefRules(source, b.roleRef, namespace);
    if ('error' in found) {
      errors.push(found.error);
      continue;
    }
    if (found.rules.some((r) => ruleAllows(attrs, r)))
      return `RBAC: allowed by ${describeBinding(b, subject, namespace)}`;
  }
  return undefined;
}

/**
 * RBAC's decision: allowed by the first ClusterRoleBinding, then RoleBinding of the request's
 * namespace, whose role has a matching rule. RBAC never denies outright; its "no" carries the
 * errors met on the way (missing roles) as the reason, as kube-apiserver reports them.
 */
export function evaluateRbac(source: PolicySource, attrs: RequestAttributes): Decision {
  const errors: string[] = [];
  const byCluster = checkBindings(source, attrs, source.clusterRoleBindings(), '', errors);
  if (byCluster !== undefined) return { allowed: true, reason: byCluster };
  if (attrs.namespace !== '') {
    const byRole = checkBindings(
      source,
      attrs,
      source.roleBindings(attrs.namespace),
      attrs.namespace,
      errors,
    );
    if (byRole !== undefined) return { allowed: true, reason: byRole };
  }
  if (errors.length === 0) return { allowed: false, reason: '' };
  const aggregate = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  return { allowed: false, reason: `RBAC: ${aggregate}` };
}

// ---------------------------------------------------------------------------------------------
// The 403.

/** Go's %q for the strings that appear here (JSON escaping agrees with it for printable text). */
function quote(s: string): string {
  return JSON.stringify(s);
}

/** Kubernetes avoids error text that looks like HTML; quotes are left alone. */
function sanitize(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** responsewriters.forbiddenMessage. */
export function forbiddenReasonText(attrs: RequestAttributes): string {
  const user = quote(attrs.user.username);
  if (!attrs.resourceRequest) return `User ${user} cannot ${attrs.verb} path ${quote(attrs.path)}`;
  const resource = attrs.subresource === '' ? attrs.resource : `${attrs.resource}/${attrs.subresource}`;
  const base = `User ${user} cannot ${attrs.verb} resource ${quote(resource)} in API group ${quote(attrs.apiGroup)}`;
  return attrs.namespace !== ''
    ? `${base} in the namespace ${quote(attrs.namespace)}`
    : `${base} at the cluster scope`;
}

/**
 * The Status error kube-apiserver answers a denied request with, e.g. `pods is forbidden: User
 * "system:serviceaccount:default:x" cannot list resource "pods" in API group "" in the namespace "default"`.
 */
export function forbiddenError(attrs: RequestAttributes, reason: string): StatusError {
  const text = sanitize(forbiddenReasonText(attrs));
  const err = reason === '' ? text : `${text}: ${reason}`;
  const resource = attrs.resourceRequest ? attrs.resource : '';
  const group = attrs.resourceRequest ? attrs.apiGroup : '';
  const name = attrs.name;
  const qualified = group === '' ? resource : `${resource}.${group}`;
  let message: string;
  if (qualified === '') message = `forbidden: ${err}`;
  else if (name === '') message = `${qualified} is forbidden: ${err}`;
  else message = `${qualified} ${quote(name)} is forbidden: ${err}`;
  const details: StatusDetails = {};
  if (name !== '') details.name = name;
  if (group !== '') details.group = group;
  if (resource !== '') details.kind = resource;
  return new StatusError(403, 'Forbidden', message, details);
}

// ---------------------------------------------------------------------------------------------
// The rules of a user (SelfSubjectRulesReview).

/**
 * Every rule the user holds in `namespace` (cluster-wide bindings included), and the errors met
 * (missing roles), as RBAC's RulesFor lists them.
 */
export function rulesFor(
  source: PolicySource,
  user: UserInfo,
  namespace: string,
): { rules: PolicyRule[]; errors: string[] } {
  const rules: PolicyRule[] = [];
  const errors: string[] = [];
  const collect = (bindings: Iterable<BindingObject>, ns: string): void => {
    for (const b of bindings) {
      if (!(b.subjects ?? []).some((s) => subjectApplies(user, s, ns))) continue;
      const found = roleRefRules(source, b.roleRef, ns);
      if ('error' in found) errors.push(found.error);
      else rules.push(...found.rules);
    }
  };
  collect(source.clusterRoleBindings(), '');
  if (namespace !== '') collect(source.roleBindings(namespace), namespace);
  return { rules, errors };
}
