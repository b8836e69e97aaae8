// SelfSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io/v1): the requester asks
// what it may do. `kubectl auth can-i` creates the first, `kubectl auth can-i --list` the second.
// The REST layer routes POSTs of these kinds here; nothing is stored.
import { type FieldError, invalid, type KubeObject } from '@keelson/api';
import type { Authorizer, RequestAttributes, UserInfo } from '../types.js';
import { type PolicyRule, type PolicySource, rulesFor } from './rbac-rules.js';

const group = 'authorization.k8s.io';

export interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

export interface NonResourceAttributes {
  path?: string;
  verb?: string;
}

export interface SelfSubjectAccessReviewSpec {
  resourceAttributes?: ResourceAttributes | null;
  nonResourceAttributes?: NonResourceAttributes | null;
}

/** SubjectAccessReviewStatus: empty and false fields are omitted, as Kubernetes serialises it. */
export interface SubjectAccessReviewStatus {
  allowed: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

/** authorizer.AttributesRecord from a review spec (ResourceAttributesFrom / NonResourceAttributesFrom). */
export function attributesFromSpec(user: UserInfo, spec: SelfSubjectAccessReviewSpec): RequestAttributes {
  const r = spec.resourceAttributes;
  if (r) {
    return {
      user,
      verb: r.verb ?? '',
      resourceRequest: true,
      apiGroup: r.group ?? '',
      apiVersion: r.version ?? '',
      resource: r.resource ?? '',
      subresource: r.subresource ?? '',
      namespace: r.namespace ?? '',
      name: r.name ?? '',
      path: '',
    };
  }
  const n = spec.nonResourceAttributes ?? {};
  return {
    user,
    verb: n.verb ?? '',
    resourceRequest: false,
    apiGroup: '',
    apiVersion: '',
    resource: '',
    subresource: '',
    namespace: '',
    name: '',
    path: n.path ?? '',
  };
}

/** ValidateSelfSubjectAccessReviewSpec. */
export function validateSelfSubjectAccessReviewSpec(spec: SelfSubjectAccessReviewSpec): FieldError[] {
  const hasResource = spec.resourceAttributes != null;
  const hasNonResource = spec.nonResourceAttributes != null;
  if (hasResource && hasNonResource) {
    return [
      {
        type: 'FieldValueInvalid',
        field: 'spec.nonResourceAttributes',
        value: spec.nonResourceAttributes,
        detail: 'cannot be specified in combination with resourceAttributes',
      },
    ];
  }
  if (!hasResource && !hasNonResource) {
    return [
      {
        type: 'FieldValueInvalid',
        field: 'spec.resourceAttributes',
        value: null,
        detail: 'exactly one of nonResourceAttributes or resourceAttributes must be specified',
      },
    ];
  }
  return [];
}

/** The status Kubernetes fills for the user's review of `spec`. */
export async function reviewSelf(
  user: UserInfo,
  spec: SelfSubjectAccessReviewSpec,
  authorizer: Authorizer,
): Promise<SubjectAccessReviewStatus> {
  try {
    const decision = await authorizer.authorize(attributesFromSpec(user, spec));
    const status: SubjectAccessReviewStatus = { allowed: decision.allowed };
    if (decision.reason !== '') status.reason = decision.reason;
    return status;
  } catch (err) {
    return { allowed: false, evaluationError: (err as Error).message };
  }
}

/**
 * The response to a POSTed SelfSubjectAccessReview: the review with its status. Throws a 422
 * Status error for a spec without exactly one of resourceAttributes / nonResourceAttributes.
 */
export async function selfSubjectAccessReview(
  user: UserInfo,
  body: KubeObject,
  authorizer: Authorizer,
): Promise<KubeObject> {
  const spec = (body.spec ?? {}) as SelfSubjectAccessReviewSpec;
  const errs = validateSelfSubjectAccessReviewSpec(spec);
  if (errs.length > 0) throw invalid('SelfSubjectAccessReview', group, body.metadata?.name ?? '', errs);
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion: `${group}/v1`,
    metadata: { ...(body.metadata ?? {}), creationTimestamp: null as unknown as string },
    spec,
    status: await reviewSelf(user, spec, authorizer),
  };
}

export interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

export interface NonResourceRule {
  verbs: string[];
  nonResourceURLs?: string[];
}

function toReviewRules(rules: PolicyRule[]): {
  resourceRules: ResourceRule[];
  nonResourceRules: NonResourceRule[];
} {
  const resourceRules: ResourceRule[] = [];
  const nonResourceRules: NonResourceRule[] = [];
  for (const r of rules) {
    if ((r.resources ?? []).length > 0) {
      const rr: ResourceRule = { verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources };
      if ((r.resourceNames ?? []).length > 0) rr.resourceNames = r.resourceNames;
      resourceRules.push(rr);
    }
    if ((r.nonResourceURLs ?? []).length > 0)
      nonResourceRules.push({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs });
  }
  return { resourceRules, nonResourceRules };
}

/**
 * The response to a POSTed SelfSubjectRulesReview for spec.namespace: every RBAC rule the user
 * holds there. `incomplete` is set when a binding names a missing role.
 */
export function selfSubjectRulesReview(user: UserInfo, body: KubeObject, source: PolicySource): KubeObject {
  const spec = (body.spec ?? {}) as { namespace?: string };
  const { rules, errors } = rulesFor(source, user, spec.namespace ?? '');
  const status: Record<string, unknown> = { ...toReviewRules(rules), incomplete: errors.length > 0 };
  if (errors.length > 0) status.evaluationError = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  return {
    kind: 'SelfSubjectRulesReview',
    apiVersion: `${group}/v1`,
    metadata: { ...(body.metadata ?? {}), creationTimestamp: null as unknown as string },
    spec,
    status,
  };
}

/**
 * The response to a POSTed SelfSubjectReview (authentication.k8s.io/v1, `kubectl auth whoami`):
 * the requester's user as the apiserver authenticated it.
 */
export function selfSubjectReview(user: UserInfo, body: KubeObject = {}): KubeObject {
  const userInfo: Record<string, unknown> = { username: user.username };
  if (user.uid !== undefined && user.uid !== '') userInfo.uid = user.uid;
  if (user.groups.length > 0) userInfo.groups = [...user.groups];
  if (user.extra !== undefined && Object.keys(user.extra).length > 0)
    userInfo.extra = structuredClone(user.extra);
  return {
    kind: 'SelfSubjectReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { ...(body.metadata ?? {}), creationTimestamp: null as unknown as string },
    status: { userInfo },
  };
}
