// Composition: from kube-apiserver's flags to a running ApiServer. Connects to the store, loads or
// generates TLS and service-account keys, builds authentication, authorisation and admission, and
// adapts packages/api's registry, strategies, selectors, tables, patches and OpenAPI to the REST layer.

import { randomInt, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import * as api from '@keelson/api';
import { badRequest, type KubeObject, type ResourceInfo, type ResourceStrategy } from '@keelson/api';
import { EtcdClient } from '@keelson/store';
import { type Logger, pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { defaultAdmissionPlugins } from './admission/index.js';
import { ensureDefaultServiceAccount } from './admission/service-account.js';
import {
  AllocationSession,
  allocateCreate,
  kubernetesServiceIP,
  parseNodePortRange,
  parseServiceIPRange,
} from './allocators/index.js';
import { createAuthenticator } from './auth/authn.js';
import { ensureBootstrapPolicy } from './auth/bootstrap-policy.js';
import { writeAdminKubeconfig } from './auth/kubeconfig.js';
import { createRbacAuthorizer } from './auth/rbac.js';
import { loadServingTls } from './auth/tls.js';
import {
  DEFAULT_SERVICE_ACCOUNT_ISSUER,
  loadServiceAccountKeys,
  ServiceAccountTokens,
} from './auth/tokens.js';
import {
  defaultWatchCacheSize,
  parseWatchCacheSizes,
  WatchCache,
  watchCacheMetrics,
} from './cache/watch-cache.js';
import { KUBERNETES_VERSION } from './discovery.js';
import { ApiServerMetrics } from './metrics.js';
import {
  EndpointsAdapter,
  LeaseEndpointReconciler,
  MASTER_LEASE_TTL_SECONDS_DEFAULT,
  MasterLeases,
  reconcileIntervalMsFor,
} from './reconcilers/index.js';
import type {
  FieldValidator,
  ManagedFieldsTracker,
  Patcher,
  ResourceCatalog,
  RestDeps,
  Selectors,
  TableConvertor,
} from './rest/deps.js';
import { ApiServer, type OpenApiSource } from './server.js';
import { EtcdObjectStorage } from './storage/etcd.js';
import {
  type Authorizer,
  ExtrasConflictError,
  KeyExistsError,
  type ObjectStorage,
  type TxnExtras,
} from './types.js';

export type AuthorizationMode = 'RBAC' | 'AlwaysAllow';

export interface ApiServerFlags {
  etcdServers: string[];
  etcdPrefix: string;
  bindAddress: string;
  securePort: number;
  /** The loopback plain-HTTP port (0: a free one; undefined: none). */
  insecurePort?: number;
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  clientCaFile?: string;
  certDir: string;
  tokenAuthFile?: string;
  serviceAccountKeyFiles: string[];
  serviceAccountSigningKeyFile?: string;
  serviceAccountIssuer: string;
  anonymousAuth: boolean;
  authorizationModes: AuthorizationMode[];
  serviceClusterIpRange: string;
  serviceNodePortRange: string;
  enableAdmissionPlugins: string[];
  disableAdmissionPlugins: string[];
  logLevel: string;
  /** --watch-cache: serve watches and lists from the watch cache (default true). */
  watchCache?: boolean;
  /** --default-watch-cache-size: recent events kept per resource (default 1000; 0 disables). */
  defaultWatchCacheSize?: number;
  /** --watch-cache-sizes: "resource[.group]#size" entries overriding the default per resource. */
  watchCacheSizes?: string[];
  /**
   * --advertise-address: the IP the kubernetes Service's endpoints give for this apiserver. Default:
   * --bind-address, or 127.0.0.1 when that is 0.0.0.0.
   */
  advertiseAddress?: string;
  /** --endpoint-reconciler-type: lease (default) keeps default/kubernetes' endpoints; none leaves them alone. */
  endpointReconcilerType?: EndpointReconcilerType;
  /** The master lease's TTL in whole seconds (kube's 15 s, renewed every two thirds of it); short in tests. */
  endpointReconcilerLeaseTtlSeconds?: number;
}

export type EndpointReconcilerType = 'lease' | 'none';

/**
 * How often the watch cache's store watches ask for a progress notification: a linearizable list of
 * an idle resource waits at most about this long for the cache to learn it is current.
 */
const watchCacheProgressIntervalMs = 100;

function createWatchCache(
  flags: ApiServerFlags,
  client: EtcdClient,
  logger: Logger,
  metrics: ApiServerMetrics,
): WatchCache | undefined {
  if (flags.watchCache === false) return undefined;
  // Its own storage over the same client, so that only the cache's few store watches ask for
  // progress this often; client watches without the cache keep the default interval.
  const storage = new EtcdObjectStorage({ client, logger, progressIntervalMs: watchCacheProgressIntervalMs });
  return new WatchCache({
    storage,
    etcdPrefix: flags.etcdPrefix,
    defaultWindowEvents: flags.defaultWatchCacheSize ?? defaultWatchCacheSize,
    windowEventsByResource: parseWatchCacheSizes(flags.watchCacheSizes ?? []),
    logger,
    metrics: watchCacheMetrics(metrics.registry),
  });
}

export function defaultFlags(): ApiServerFlags {
  return {
    etcdServers: ['http://127.0.0.1:2379'],
    etcdPrefix: '/registry',
    bindAddress: '0.0.0.0',
    securePort: 6443,
    certDir: '/var/run/kubernetes',
    serviceAccountKeyFiles: [],
    serviceAccountIssuer: DEFAULT_SERVICE_ACCOUNT_ISSUER,
    anonymousAuth: false,
    authorizationModes: ['RBAC'],
    serviceClusterIpRange: '10.96.0.0/12',
    serviceNodePortRange: '30000-32767',
    enableAdmissionPlugins: [],
    disableAdmissionPlugins: [],
    logLevel: 'info',
  };
}

/** Authorization mode AlwaysAllow, as kube-apiserver offers it: every request is allowed. */
export const allowAll: Authorizer = {
  authorize: async () => ({ allowed: true, reason: '' }),
};

// ---- adapters from packages/api to the REST layer's interfaces ----

export function apiCatalog(): ResourceCatalog {
  const strategies = new Map<ResourceInfo, ResourceStrategy>();
  return {
    all: () => [...api.RESOURCES],
    find: (group, version, plural) => api.findResource(group, version, plural),
    strategy: (info) => {
      let s = strategies.get(info);
      if (s === undefined) {
        s = api.getStrategy(info.group, info.plural, info.version);
        if (s === undefined)
          throw new Error(`assertion failed: no strategy for served resource ${info.plural}.${info.group}`);
        strategies.set(info, s);
      }
      return s;
    },
  };
}

export const apiSelectors: Selectors = {
  labels: (text) => {
    const sel = api.parseLabelSelector(text);
    return (labels) => api.matchesLabels(sel, labels);
  },
  fields: (text, info) => {
    const sel = api.convertFieldSelector(info.kind, api.parseFieldSelector(text));
    return (fields) => api.matchesFields(sel, fields);
  },
};

export const apiTables: TableConvertor = {
  columns: (info) => api.tableColumnsFor(info.kind),
  cells: (info, obj) => api.tableRowFor(info.kind, obj, new Date()),
};

export const apiFieldValidator: FieldValidator = {
  unknownFields: (info, obj) => {
    const schema = api.schemaFor({ group: info.group, version: info.version, kind: info.kind });
    return schema === undefined ? [] : api.unknownFields(obj, schema);
  },
  jsonIssues: (info, rawJson) => {
    const schema = api.schemaFor({ group: info.group, version: info.version, kind: info.kind });
    return api.strictDecodeErrors(rawJson, schema).map(api.fieldIssueMessage);
  },
};

export function apiOpenApi(): OpenApiSource {
  const resources = api.RESOURCES;
  const options = { version: KUBERNETES_VERSION.gitVersion };
  return {
    v2: () => api.buildOpenApiV2(resources, options),
    v2Proto: () => api.buildOpenApiV2Proto(resources, options),
    v3Root: () => api.buildOpenApiV3Root(resources, options),
    v3: (path) => api.buildOpenApiV3(resources, path, options),
  };
}

function parsePatchBody(body: Buffer, yaml: boolean): unknown {
  const text = body.toString('utf8');
  try {
    return yaml ? parseYaml(text, { maxAliasCount: 100 }) : JSON.parse(text);
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message.split('\n')[0]}`);
  }
}

function schemaOf(info: ResourceInfo) {
  return api.schemaFor({ group: info.group, version: info.version, kind: info.kind });
}

export const apiPatcher: Patcher = {
  patch: (req) => {
    const current = req.current ?? {};
    const doc = parsePatchBody(req.body, req.type === 'apply');
    switch (req.type) {
      case 'merge':
        return asObject(api.applyMergePatch(current, doc));
      case 'json':
        return asObject(api.applyJsonPatch(current, doc));
      case 'strategic':
        return asObject(api.applyStrategicMergePatch(current, doc, schemaOf(req.info)));
      case 'apply': {
        const result = api.applyConfiguration({
          live: req.current,
          applied: asObject(doc),
          manager: req.fieldManager,
          schema: schemaOf(req.info),
          force: req.force,
          apiVersion: req.info.group === '' ? req.info.version : `${req.info.group}/${req.info.version}`,
          now: new Date(),
          subresource: req.subresource === '' ? undefined : req.subresource,
          ignoredFields: req.subresource === '' ? [['status']] : undefined,
        });
        if ('conflicts' in result) throw api.applyConflictError(result.conflicts);
        return result.object;
      }
    }
  },
};

function asObject(value: unknown): KubeObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('the patch did not produce an object');
  }
  return value as KubeObject;
}

export const apiManagedFields: ManagedFieldsTracker = {
  update: (info, obj, old, manager, subresource) => {
    const managedFields = api.trackUpdate({
      old,
      updated: obj,
      manager,
      operation: 'Update',
      schema: schemaOf(info),
      apiVersion: info.group === '' ? info.version : `${info.group}/${info.version}`,
      now: new Date(),
      subresource: subresource === '' ? undefined : subresource,
      ignoredFields: subresource === '' ? [['status']] : undefined,
    });
    const meta = obj.metadata ?? {};
    if (managedFields.length > 0) meta.managedFields = managedFields;
    else delete meta.managedFields;
    obj.metadata = meta;
  },
};

// ---- startup ----

/**
 * kube-apiserver's bootstrap controller also keeps default/kubernetes, the Service in-cluster clients
 * find the apiserver by: the first IP of the service range (which the allocator never hands out
 * otherwise), port 443 named https to the secure port. The IP is reserved in the shared bitmap in the
 * same txn as the Service, so the first apiserver to start wins and the others see it exists.
 * Its Endpoints and EndpointSlices are kept by the endpoint reconciler (reconcilers/).
 */
async function ensureKubernetesService(storage: ObjectStorage, flags: ApiServerFlags): Promise<void> {
  const key = `${flags.etcdPrefix}/services/specs/default/kubernetes`;
  if ((await storage.get(key)) !== undefined) return;
  const svc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'kubernetes',
      namespace: 'default',
      uid: randomUUID(),
      creationTimestamp: `${new Date().toISOString().slice(0, 19)}Z`,
      labels: { component: 'apiserver', provider: 'kubernetes' },
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: kubernetesServiceIP(flags.serviceClusterIpRange),
      clusterIPs: [kubernetesServiceIP(flags.serviceClusterIpRange)],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      sessionAffinity: 'None',
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: flags.securePort || 6443 }],
    },
    status: { loadBalancer: {} },
  };
  const session = new AllocationSession(
    storage,
    parseServiceIPRange(flags.serviceClusterIpRange),
    parseNodePortRange(flags.serviceNodePortRange),
    flags.etcdPrefix,
    (n) => randomInt(n),
  );
  try {
    await allocateCreate(session, svc);
    const extras: TxnExtras = { compares: [], puts: [] };
    session.addTo(extras);
    await storage.create(key, svc, extras);
  } catch (err) {
    // Two apiservers starting on an empty store race for it: the loser finds the key taken
    // (KeyExists), the bitmap changed (ExtrasConflict), or the IP already allocated by the winner.
    // Whatever the loser's error, the Service existing now is success.
    if ((await storage.get(key)) !== undefined) return;
    if (!(err instanceof KeyExistsError) && !(err instanceof ExtrasConflictError)) throw err;
  }
}

/**
 * kube-apiserver's endpoint reconciler, started once the server listens (a post-start hook there):
 * this apiserver's lease under masterleases/ and the kubernetes Service's Endpoints and EndpointSlices
 * kept to the live leases. On graceful shutdown it removes itself first, as kube's pre-shutdown hook.
 */
function startEndpointReconciler(
  flags: ApiServerFlags,
  client: EtcdClient,
  storage: ObjectStorage,
  server: ApiServer,
  logger: Logger,
): LeaseEndpointReconciler | undefined {
  if ((flags.endpointReconcilerType ?? 'lease') === 'none') return undefined;
  if (server.securePort === 0) {
    logger.warn('no secure port: the kubernetes Service gets no endpoint for this apiserver');
    return undefined;
  }
  const ttlSeconds = flags.endpointReconcilerLeaseTtlSeconds ?? MASTER_LEASE_TTL_SECONDS_DEFAULT;
  const ip = flags.advertiseAddress ?? (flags.bindAddress === '0.0.0.0' ? '127.0.0.1' : flags.bindAddress);
  const log = logger.child({ controller: 'endpoint-reconciler' });
  const reconciler = new LeaseEndpointReconciler({
    leases: new MasterLeases({ client, etcdPrefix: flags.etcdPrefix, ttlSeconds, logger: log }),
    adapter: new EndpointsAdapter({ storage, etcdPrefix: flags.etcdPrefix, logger: log }),
    self: { ip, port: server.securePort },
    intervalMs: reconcileIntervalMsFor(ttlSeconds),
    logger: log,
  });
  server.addPreShutdownHook('endpoint-reconciler', () => reconciler.removeEndpoints());
  reconciler.start();
  return reconciler;
}

const bootstrapNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** kube-apiserver's bootstrap controller: the system namespaces exist before anyone asks. */
async function ensureNamespaces(storage: ObjectStorage, etcdPrefix: string): Promise<void> {
  for (const name of bootstrapNamespaces) {
    const obj: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        uid: randomUUID(),
        creationTimestamp: `${new Date().toISOString().slice(0, 19)}Z`,
        labels: { 'kubernetes.io/metadata.name': name },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    };
    try {
      await storage.create(`${etcdPrefix}/namespaces/${name}`, obj);
    } catch (err) {
      if (!(err instanceof KeyExistsError)) throw err;
    }
    // Until the controller-manager's serviceaccount controller exists (see rest/write.ts).
    await ensureDefaultServiceAccount(storage, name, etcdPrefix);
  }
}

export interface RunningApiServer {
  server: ApiServer;
  storage: EtcdObjectStorage;
  /** The lease endpoint reconciler; undefined with --endpoint-reconciler-type=none or no secure port. */
  endpointReconciler?: LeaseEndpointReconciler;
  /** The admin kubeconfig written next to the generated CA, if the apiserver owns its CA. */
  kubeconfig: string | undefined;
  stop(): Promise<void>;
}

export async function startApiServer(
  flags: ApiServerFlags,
  logger: Logger = pino({ level: flags.logLevel }, pino.destination(2)).child({ component: 'apiserver' }),
): Promise<RunningApiServer> {
  const client = new EtcdClient({ endpoints: flags.etcdServers });
  const storage = new EtcdObjectStorage({ client, logger });
  mkdirSync(flags.certDir, { recursive: true, mode: 0o700 });
  const keys = loadServiceAccountKeys({
    signingKeyFile: flags.serviceAccountSigningKeyFile,
    keyFiles: flags.serviceAccountKeyFiles,
    certDir: flags.certDir,
  });
  const tokens = new ServiceAccountTokens({
    signingKeyPem: keys.signingKeyPem,
    verifyKeyPems: keys.verifyKeyPems,
    issuer: flags.serviceAccountIssuer,
    storage,
    etcdPrefix: flags.etcdPrefix,
  });
  const tls = await loadServingTls({
    tlsCertFile: flags.tlsCertFile,
    tlsPrivateKeyFile: flags.tlsPrivateKeyFile,
    clientCaFile: flags.clientCaFile,
    certDir: flags.certDir,
    hosts: [
      '127.0.0.1',
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      flags.bindAddress,
    ].filter((h) => h !== '0.0.0.0'),
  });
  const authenticator = createAuthenticator({
    tokenFile: flags.tokenAuthFile,
    clientCa: tls.clientCaPem,
    serviceAccountVerifier: tokens,
    anonymous: flags.anonymousAuth,
  });
  const rbac = flags.authorizationModes.includes('RBAC')
    ? createRbacAuthorizer({ storage, logger })
    : undefined;
  const authorizer = rbac ?? allowAll;
  await ensureNamespaces(storage, flags.etcdPrefix);
  await ensureKubernetesService(storage, flags);
  if (rbac !== undefined) {
    await ensureBootstrapPolicy(storage);
    await rbac.start();
  }
  const metrics = new ApiServerMetrics();
  const watchCache = createWatchCache(flags, client, logger, metrics);
  const deps: RestDeps = {
    storage,
    etcdPrefix: flags.etcdPrefix,
    catalog: apiCatalog(),
    selectors: apiSelectors,
    tables: apiTables,
    patcher: apiPatcher,
    fieldValidator: apiFieldValidator,
    managedFields: apiManagedFields,
    admission: defaultAdmissionPlugins({
      etcdPrefix: flags.etcdPrefix,
      enable: flags.enableAdmissionPlugins,
      disable: flags.disableAdmissionPlugins,
      services: {
        serviceClusterIPRange: flags.serviceClusterIpRange,
        serviceNodePortRange: flags.serviceNodePortRange,
      },
    }),
    tokens,
    logger,
    watchers: (info, delta) => metrics.watchers.labels(info.group, info.version, info.plural).inc(delta),
    watchCache,
  };
  const server = new ApiServer({
    deps,
    authenticator,
    anonymousAuth: flags.anonymousAuth,
    authorizer,
    policySource: rbac,
    openapi: apiOpenApi(),
    metrics,
    logger,
    tls,
    bindAddress: flags.bindAddress,
    securePort: flags.securePort,
    insecurePort: flags.insecurePort,
  });
  await server.start();
  const endpointReconciler = startEndpointReconciler(flags, client, storage, server, logger);
  const kubeconfig =
    flags.tlsCertFile === undefined && server.securePort > 0
      ? await writeAdminKubeconfig(
          flags.certDir,
          `https://${flags.bindAddress === '0.0.0.0' ? '127.0.0.1' : flags.bindAddress}:${server.securePort}`,
        )
      : undefined;
  logger.info(
    {
      kubeconfig,
      securePort: server.securePort,
      insecurePort: server.insecurePort,
      etcd: flags.etcdServers,
      admission: deps.admission.map((p) => p.name),
    },
    'apiserver serving',
  );
  return {
    server,
    storage,
    endpointReconciler,
    kubeconfig,
    stop: async () => {
      endpointReconciler?.stop();
      await server.stop();
      watchCache?.stop();
      rbac?.stop();
      storage.close();
    },
  };
}
