// rbac.authorization.k8s.io/v1 strategies: Roles, RoleBindings, ClusterRoles (with
// aggregationRule) and ClusterRoleBindings. Names are URL path segments (ValidateRBACName), the
// apiGroup of subjects and roleRefs is defaulted (pkg/apis/rbac/v1/defaults.go) and a binding's
// roleRef can never change. Privilege-escalation checks need the authorizer and live in the
// apiserver, not here.

import { findResource } from '../registry.js';
import type { FieldError, KubeObject, ResourceInfo } from '../types.js';
import { child, deepEqual, index, invalid, notSupported, required } from '../validation/field.js';
import { isDNS1123Subdomain, isValidPathSegmentName, nameIsPathSegment } from '../validation/names.js';
import { validateLabelSelector } from './apps.js';
import { defineStrategy, getStr, isObj, type Obj, StrategyAssertionError, setDefaultStr } from './generic.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';

function info(plural: string): ResourceInfo {
  const found = findResource(RBAC_GROUP, 'v1', plural);
  if (found === undefined)
    throw new StrategyAssertionError(`${RBAC_GROUP}/v1 ${plural} is not in the registry`);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Defaults.

/** SetDefaults_Subject: Users and Groups are RBAC subjects, ServiceAccounts are core. */
function defaultSubject(subject: Obj): void {
  if (subject.kind === 'User' || subject.kind === 'Group') setDefaultStr(subject, 'apiGroup', RBAC_GROUP);
}

/** SetDefaults_RoleBinding / SetDefaults_ClusterRoleBinding plus their subjects. */
export function defaultBinding(obj: KubeObject): void {
  if (isObj(obj.roleRef)) setDefaultStr(obj.roleRef, 'apiGroup', RBAC_GROUP);
  for (const s of Array.isArray(obj.subjects) ? obj.subjects : []) if (isObj(s)) defaultSubject(s);
}

// ---------------------------------------------------------------------------------------------
// Validation.

function listOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** ValidatePolicyRule. */
export function validatePolicyRule(rule: unknown, namespaced: boolean, path: string): FieldError[] {
  const r = isObj(rule) ? rule : {};
  const errs: FieldError[] = [];
  if (listOf(r.verbs).length === 0)
    errs.push(required(child(path, 'verbs'), 'verbs must contain at least one value'));
  const urls = listOf(r.nonResourceURLs);
  if (urls.length > 0) {
    if (namespaced) {
      errs.push(
        invalid(child(path, 'nonResourceURLs'), urls, 'namespaced rules cannot apply to non-resource URLs'),
      );
    }
    if (
      listOf(r.apiGroups).length > 0 ||
      listOf(r.resources).length > 0 ||
      listOf(r.resourceNames).length > 0
    ) {
      errs.push(
        invalid(
          child(path, 'nonResourceURLs'),
          urls,
          'rules cannot apply to both regular resources and non-resource URLs',
        ),
      );
    }
    return errs;
  }
  if (listOf(r.apiGroups).length === 0) {
    errs.push(required(child(path, 'apiGroups'), 'resource rules must supply at least one api group'));
  }
  if (listOf(r.resources).length === 0) {
    errs.push(required(child(path, 'resources'), 'resource rules must supply at least one resource'));
  }
  return errs;
}

function validateRules(obj: KubeObject, namespaced: boolean): FieldError[] {
  return listOf(obj.rules).flatMap((rule, i) => validatePolicyRule(rule, namespaced, index('rules', i)));
}

/** ValidateRoleBindingSubject. */
export function validateSubject(subject: unknown, namespaced: boolean, path: string): FieldError[] {
  const s = isObj(subject) ? subject : {};
  const name = getStr(s, 'name');
  const apiGroup = getStr(s, 'apiGroup');
  const errs: FieldError[] = [];
  if (name === '') errs.push(required(child(path, 'name')));
  switch (s.kind) {
    case 'ServiceAccount':
      if (name !== '')
        for (const msg of isDNS1123Subdomain(name)) errs.push(invalid(child(path, 'name'), name, msg));
      if (apiGroup !== '') errs.push(notSupported(child(path, 'apiGroup'), apiGroup, ['']));
      if (!namespaced && getStr(s, 'namespace') === '') errs.push(required(child(path, 'namespace')));
      break;
    case 'User':
    case 'Group':
      if (apiGroup !== RBAC_GROUP) errs.push(notSupported(child(path, 'apiGroup'), apiGroup, [RBAC_GROUP]));
      break;
    default:
      errs.push(notSupported(child(path, 'kind'), s.kind ?? '', ['ServiceAccount', 'User', 'Group']));
  }
  return errs;
}

function validateRoleRef(ref: unknown, kinds: string[]): FieldError[] {
  const r = isObj(ref) ? ref : {};
  const errs: FieldError[] = [];
  const apiGroup = getStr(r, 'apiGroup');
  if (apiGroup !== RBAC_GROUP) errs.push(notSupported('roleRef.apiGroup', apiGroup, [RBAC_GROUP]));
  const kind = getStr(r, 'kind');
  if (!kinds.includes(kind)) errs.push(notSupported('roleRef.kind', kind, kinds));
  const name = getStr(r, 'name');
  if (name === '') errs.push(required('roleRef.name'));
  else for (const msg of isValidPathSegmentName(name)) errs.push(invalid('roleRef.name', name, msg));
  return errs;
}

function validateBinding(obj: KubeObject, namespaced: boolean): FieldError[] {
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  const errs = validateRoleRef(obj.roleRef, kinds);
  errs.push(...listOf(obj.subjects).flatMap((s, i) => validateSubject(s, namespaced, index('subjects', i))));
  return errs;
}

/** ValidateRoleBindingUpdate / ValidateClusterRoleBindingUpdate: the role a binding grants is fixed. */
export function validateRoleRefUpdate(obj: KubeObject, old: KubeObject): FieldError[] {
  return deepEqual(obj.roleRef, old.roleRef)
    ? []
    : [invalid('roleRef', obj.roleRef, 'cannot change roleRef')];
}

/** ValidateClusterRole: rules, and the aggregation rule's selectors. */
export function validateClusterRole(obj: KubeObject): FieldError[] {
  const errs = validateRules(obj, false);
  const aggregation = obj.aggregationRule;
  if (isObj(aggregation)) {
    const path = 'aggregationRule.clusterRoleSelectors';
    const selectors = listOf(aggregation.clusterRoleSelectors);
    if (selectors.length === 0) {
      errs.push(required(path, 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
    }
    errs.push(...selectors.flatMap((s, i) => validateLabelSelector(s, index(path, i))));
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Strategies. RBAC objects have neither status nor generation.

const common = { nameValidator: nameIsPathSegment, hasStatus: false, hasGeneration: false } as const;

export const roleStrategy = defineStrategy({
  ...common,
  info: info('roles'),
  validate: (obj) => validateRules(obj, true),
});

export const roleBindingStrategy = defineStrategy({
  ...common,
  info: info('rolebindings'),
  defaults: defaultBinding,
  validate: (obj) => validateBinding(obj, true),
  validateUpdate: validateRoleRefUpdate,
});

export const clusterRoleStrategy = defineStrategy({
  ...common,
  info: info('clusterroles'),
  validate: validateClusterRole,
});

export const clusterRoleBindingStrategy = defineStrategy({
  ...common,
  info: info('clusterrolebindings'),
  defaults: defaultBinding,
  validate: (obj) => validateBinding(obj, false),
  validateUpdate: validateRoleRefUpdate,
});

export const rbacStrategies = [
  roleStrategy,
  roleBindingStrategy,
  clusterRoleStrategy,
  clusterRoleBindingStrategy,
];
