// Kubernetes' patch tags of the built-in types: the `+patchStrategy`, `+patchMergeKey`, `+listType`
// and `+listMapKey` markers of the Go types, which the .d.ts files the definitions are generated from
// do not carry. They drive strategic merge patch (merge keys, retainKeys) and server-side apply
// (list types, map keys), and they are published in /openapi/v2 and /openapi/v3 as
// x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key, x-kubernetes-list-type and
// x-kubernetes-list-map-keys, as kube-apiserver 1.32 does.
//
// Covered, with the tags of Kubernetes 1.32 (its api/openapi-spec; the core/v1 and meta/v1 list
// semantics were checked against client-go's structured-merge-diff schema in
// applyconfigurations/internal): ObjectMeta (finalizers, ownerReferences, managedFields), PodSpec
// (containers, initContainers, ephemeralContainers, volumes, imagePullSecrets, hostAliases,
// topologySpreadConstraints, resourceClaims, schedulingGates, tolerations, readinessGates),
// Container and EphemeralContainer (ports, env, envFrom, volumeMounts, volumeDevices, resizePolicy,
// command, args), PodStatus, ServiceSpec/ServiceStatus, NodeSpec/NodeStatus, ServiceAccount,
// Endpoints, the conditions of every served kind, LabelSelector, affinity terms, volume projections,
// and the lists of apps, batch, autoscaling, networking, discovery, rbac, policy and storage types.
// Lists not listed here are atomic, Kubernetes' default for an untagged list. Not expressed:
// x-kubernetes-map-type (atomic maps and structs such as ServiceSpec.selector, LabelSelector), for
// which SchemaNode has no member.

export interface ListTags {
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: string[];
  patchStrategy?: 'merge' | 'replace' | 'retainKeys' | 'merge,retainKeys';
  patchMergeKey?: string;
}

const CORE = 'io.k8s.api.core.v1';
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

/** A list merged by one key field. */
function byKey(key: string, strategy: ListTags['patchStrategy'] = 'merge'): ListTags {
  return { listType: 'map', listMapKeys: [key], patchStrategy: strategy, patchMergeKey: key };
}

const ATOMIC: ListTags = { listType: 'atomic' };
const SET: ListTags = { listType: 'set' };
/** Conditions with a `type` key, the usual shape of status.conditions. */
const CONDITIONS = byKey('type');

const CONTAINER_TAGS: Record<string, ListTags> = {
  args: ATOMIC,
  command: ATOMIC,
  env: byKey('name'),
  envFrom: ATOMIC,
  ports: {
    listType: 'map',
    listMapKeys: ['containerPort', 'protocol'],
    patchStrategy: 'merge',
    patchMergeKey: 'containerPort',
  },
  resizePolicy: ATOMIC,
  volumeDevices: byKey('devicePath'),
  volumeMounts: byKey('mountPath'),
};

/** Definition name → field → tags. */
export const PATCH_TAGS: Readonly<Record<string, Readonly<Record<string, ListTags>>>> = {
  [`${META}.ObjectMeta`]: {
    finalizers: { listType: 'set', patchStrategy: 'merge' },
    managedFields: ATOMIC,
    ownerReferences: byKey('uid'),
  },
  [`${META}.LabelSelector`]: { matchExpressions: ATOMIC },
  [`${META}.LabelSelectorRequirement`]: { values: ATOMIC },
  [`${META}.StatusDetails`]: { causes: ATOMIC },
  [`${META}.DeleteOptions`]: { dryRun: ATOMIC },
  [`${CORE}.PodSpec`]: {
    containers: byKey('name'),
    ephemeralContainers: byKey('name'),
    hostAliases: byKey('ip'),
    imagePullSecrets: byKey('name'),
    initContainers: byKey('name'),
    readinessGates: ATOMIC,
    resourceClaims: byKey('name', 'merge,retainKeys'),
    schedulingGates: byKey('name'),
    tolerations: ATOMIC,
    topologySpreadConstraints: {
      listType: 'map',
      listMapKeys: ['topologyKey', 'whenUnsatisfiable'],
      patchStrategy: 'merge',
      patchMergeKey: 'topologyKey',
    },
    volumes: byKey('name', 'merge,retainKeys'),
  },
  [`${CORE}.Container`]: CONTAINER_TAGS,
  [`${CORE}.EphemeralContainer`]: CONTAINER_TAGS,
  [`${CORE}.HostAlias`]: { hostnames: ATOMIC },
  [`${CORE}.PodSecurityContext`]: { supplementalGroups: ATOMIC, sysctls: ATOMIC },
  [`${CORE}.Capabilities`]: { add: ATOMIC, drop: ATOMIC },
  [`${CORE}.PodDNSConfig`]: { nameservers: ATOMIC, options: ATOMIC, searches: ATOMIC },
  [`${CORE}.PodStatus`]: {
    conditions: CONDITIONS,
    containerStatuses: ATOMIC,
    ephemeralContainerStatuses: ATOMIC,
    hostIPs: { listType: 'atomic', patchStrategy: 'merge', patchMergeKey: 'ip' },
    initContainerStatuses: ATOMIC,
    podIPs: byKey('ip'),
    resourceClaimStatuses: byKey('name', 'merge,retainKeys'),
  },
  [`${CORE}.NodeSelector`]: { nodeSelectorTerms: ATOMIC },
  [`${CORE}.NodeSelectorTerm`]: { matchExpressions: ATOMIC, matchFields: ATOMIC },
  [`${CORE}.NodeSelectorRequirement`]: { values: ATOMIC },
  [`${CORE}.NodeAffinity`]: { preferredDuringSchedulingIgnoredDuringExecution: ATOMIC },
  [`${CORE}.PodAffinity`]: {
    preferredDuringSchedulingIgnoredDuringExecution: ATOMIC,
    requiredDuringSchedulingIgnoredDuringExecution: ATOMIC,
  },
  [`${CORE}.PodAntiAffinity`]: {
    preferredDuringSchedulingIgnoredDuringExecution: ATOMIC,
    requiredDuringSchedulingIgnoredDuringExecution: ATOMIC,
  },
  [`${CORE}.PodAffinityTerm`]: { matchLabelKeys: ATOMIC, mismatchLabelKeys: ATOMIC, namespaces: ATOMIC },
  [`${CORE}.TopologySpreadConstraint`]: { matchLabelKeys: ATOMIC },
  [`${CORE}.ConfigMapVolumeSource`]: { items: ATOMIC },
  [`${CORE}.SecretVolumeSource`]: { items: ATOMIC },
  [`${CORE}.ProjectedVolumeSource`]: { sources: ATOMIC },
  [`${CORE}.DownwardAPIVolumeSource`]: { items: ATOMIC },
  [`${CORE}.ConfigMapProjection`]: { items: ATOMIC },
  [`${CORE}.SecretProjection`]: { items: ATOMIC },
  [`${CORE}.DownwardAPIProjection`]: { items: ATOMIC },
  [`${CORE}.ContainerStatus`]: { volumeMounts: byKey('mountPath') },
  [`${CORE}.ScopedResourceSelectorRequirement`]: { values: ATOMIC },
  [`${CORE}.ExecAction`]: { command: ATOMIC },
  [`${CORE}.HTTPGetAction`]: { httpHeaders: ATOMIC },
  [`${CORE}.ResourceRequirements`]: { claims: { listType: 'map', listMapKeys: ['name'] } },
  [`${CORE}.ServiceSpec`]: {
    clusterIPs: ATOMIC,
    externalIPs: ATOMIC,
    ipFamilies: ATOMIC,
    loadBalancerSourceRanges: ATOMIC,
    ports: {
      listType: 'map',
      listMapKeys: ['port', 'protocol'],
      patchStrategy: 'merge',
      patchMergeKey: 'port',
    },
  },
  [`${CORE}.ServiceStatus`]: { conditions: byKey('type') },
  [`${CORE}.LoadBalancerStatus`]: { ingress: ATOMIC },
  [`${CORE}.LoadBalancerIngress`]: { ports: ATOMIC },
  [`${CORE}.NodeSpec`]: { podCIDRs: { listType: 'set', patchStrategy: 'merge' }, taints: ATOMIC },
  [`${CORE}.NodeStatus`]: {
    addresses: byKey('type'),
    conditions: CONDITIONS,
    images: ATOMIC,
    runtimeHandlers: ATOMIC,
    volumesAttached: ATOMIC,
    volumesInUse: ATOMIC,
  },
  [`${CORE}.ContainerImage`]: { names: ATOMIC },
  [`${CORE}.NamespaceSpec`]: { finalizers: ATOMIC },
  [`${CORE}.NamespaceStatus`]: { conditions: CONDITIONS },
  [`${CORE}.ServiceAccount`]: { imagePullSecrets: ATOMIC, secrets: byKey('name') },
  [`${CORE}.Endpoints`]: { subsets: ATOMIC },
  [`${CORE}.EndpointSubset`]: { addresses: ATOMIC, notReadyAddresses: ATOMIC, ports: ATOMIC },
  [`${CORE}.LimitRangeSpec`]: { limits: ATOMIC },
  [`${CORE}.ResourceQuotaSpec`]: { scopes: ATOMIC },
  [`${CORE}.ScopeSelector`]: { matchExpressions: ATOMIC },
  [`${CORE}.PersistentVolumeSpec`]: { accessModes: ATOMIC, mountOptions: ATOMIC },
  [`${CORE}.PersistentVolumeClaimSpec`]: { accessModes: ATOMIC },
  [`${CORE}.PersistentVolumeClaimStatus`]: { accessModes: ATOMIC, conditions: CONDITIONS },
  [`${CORE}.ReplicationControllerStatus`]: { conditions: CONDITIONS },
  [`${CORE}.ComponentStatus`]: { conditions: CONDITIONS },
  'io.k8s.api.apps.v1.DeploymentStatus': { conditions: CONDITIONS },
  'io.k8s.api.apps.v1.ReplicaSetStatus': { conditions: CONDITIONS },
  'io.k8s.api.apps.v1.StatefulSetStatus': { conditions: CONDITIONS },
  'io.k8s.api.apps.v1.DaemonSetStatus': { conditions: CONDITIONS },
  'io.k8s.api.apps.v1.StatefulSetSpec': { volumeClaimTemplates: ATOMIC },
  'io.k8s.api.batch.v1.JobStatus': {
    conditions: { listType: 'atomic', patchStrategy: 'merge', patchMergeKey: 'type' },
  },
  'io.k8s.api.batch.v1.CronJobStatus': { active: ATOMIC },
  'io.k8s.api.batch.v1.PodFailurePolicy': { rules: ATOMIC },
  'io.k8s.api.batch.v1.PodFailurePolicyRule': { onPodConditions: ATOMIC },
  'io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement': { values: SET },
  'io.k8s.api.batch.v1.SuccessPolicy': { rules: ATOMIC },
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec': { metrics: ATOMIC },
  'io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus': {
    conditions: CONDITIONS,
    currentMetrics: ATOMIC,
  },
  'io.k8s.api.autoscaling.v2.HPAScalingRules': { policies: ATOMIC },
  'io.k8s.api.networking.v1.IngressSpec': { rules: ATOMIC, tls: ATOMIC },
  'io.k8s.api.networking.v1.IngressTLS': { hosts: ATOMIC },
  'io.k8s.api.networking.v1.HTTPIngressRuleValue': { paths: ATOMIC },
  'io.k8s.api.networking.v1.IngressLoadBalancerStatus': { ingress: ATOMIC },
  'io.k8s.api.networking.v1.IngressLoadBalancerIngress': { ports: ATOMIC },
  'io.k8s.api.networking.v1.NetworkPolicySpec': { egress: ATOMIC, ingress: ATOMIC, policyTypes: ATOMIC },
  'io.k8s.api.networking.v1.NetworkPolicyIngressRule': { from: ATOMIC, ports: ATOMIC },
  'io.k8s.api.networking.v1.NetworkPolicyEgressRule': { ports: ATOMIC, to: ATOMIC },
  'io.k8s.api.networking.v1.IPBlock': { except: ATOMIC },
  'io.k8s.api.discovery.v1.EndpointSlice': { endpoints: ATOMIC, ports: ATOMIC },
  'io.k8s.api.discovery.v1.Endpoint': { addresses: SET },
  'io.k8s.api.discovery.v1.EndpointHints': { forZones: ATOMIC },
  'io.k8s.api.rbac.v1.Role': { rules: ATOMIC },
  'io.k8s.api.rbac.v1.ClusterRole': { rules: ATOMIC },
  'io.k8s.api.rbac.v1.AggregationRule': { clusterRoleSelectors: ATOMIC },
  'io.k8s.api.rbac.v1.RoleBinding': { subjects: ATOMIC },
  'io.k8s.api.rbac.v1.ClusterRoleBinding': { subjects: ATOMIC },
  'io.k8s.api.rbac.v1.PolicyRule': {
    apiGroups: ATOMIC,
    nonResourceURLs: ATOMIC,
    resourceNames: ATOMIC,
    resources: ATOMIC,
    verbs: ATOMIC,
  },
  'io.k8s.api.policy.v1.PodDisruptionBudgetStatus': { conditions: CONDITIONS },
  'io.k8s.api.storage.v1.StorageClass': { allowedTopologies: ATOMIC, mountOptions: ATOMIC },
  'io.k8s.api.authentication.v1.TokenRequestSpec': { audiences: ATOMIC },
};

/** The tags of `field` in definition `definitionName`, if Kubernetes declares any. */
export function patchTagsFor(definitionName: string, field: string): ListTags | undefined {
  return PATCH_TAGS[definitionName]?.[field];
}

/** The x-kubernetes-* extensions of a list field, as Kubernetes publishes them in OpenAPI. */
export function patchTagExtensions(tags: ListTags): Record<string, unknown> {
  const ext: Record<string, unknown> = {};
  if (tags.listMapKeys !== undefined) ext['x-kubernetes-list-map-keys'] = tags.listMapKeys;
  if (tags.listType !== undefined) ext['x-kubernetes-list-type'] = tags.listType;
  if (tags.patchMergeKey !== undefined) ext['x-kubernetes-patch-merge-key'] = tags.patchMergeKey;
  if (tags.patchStrategy !== undefined) ext['x-kubernetes-patch-strategy'] = tags.patchStrategy;
  return ext;
}
