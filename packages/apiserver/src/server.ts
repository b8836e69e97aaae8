// The apiserver's HTTP(S) front: every request goes authentication → authorisation → (admission and
// storage inside the REST layer), with metrics and logs around it. Non-resource paths serve
// discovery, OpenAPI, health and metrics.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  type KubeObject,
  OPENAPI_V2_PROTOBUF_ACCEPT_MARK,
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  StatusError,
  type Verb,
} from '@keelson/api';
import type { Logger } from 'pino';
import { GROUP_AUTHENTICATED, GROUP_MASTERS, resolveUser } from './auth/authn.js';
import type { PolicySource } from './auth/rbac-rules.js';
import { forbiddenError } from './auth/rbac-rules.js';
import { selfSubjectAccessReview, selfSubjectReview, selfSubjectRulesReview } from './auth/ssar.js';
import {
  aggregatedDiscovery,
  apiGroupFor,
  apiGroupList,
  apiResourceList,
  apiVersions,
  DISCOVERY_V2_MEDIA_TYPE,
  versionInfo,
  wantsAggregated,
} from './discovery.js';
import type { ApiServerMetrics } from './metrics.js';
import { decodeObject, mediaType, readBody } from './rest/body.js';
import { type RestRequest, verbOf } from './rest/context.js';
import type { RestDeps } from './rest/deps.js';
import { handleResource, resolveResource } from './rest/handler.js';
import { toStatusError, writeError, writeJson } from './rest/respond.js';
import { parseResourcePath, type ResourcePath } from './rest/url.js';
import {
  type LifecycleOptions,
  type PreShutdownHook,
  ServerLifecycle,
  type ShutdownResult,
} from './shutdown.js';
import type { Authenticator, Authorizer, RequestAttributes, UserInfo } from './types.js';

/** What /openapi/* serve; built by packages/api's OpenAPI module. */
export interface OpenApiSource {
  v2(): unknown;
  /** The same document as protobuf (openapi_v2.Document), which is the only form kubectl reads. */
  v2Proto(): Uint8Array;
  v3Root(): unknown;
  /** The document of one group version ("api/v1", "apis/apps/v1"); undefined when not served. */
  v3(path: string): unknown;
}

export interface ApiServerOptions {
  deps: RestDeps;
  authenticator: Authenticator;
  anonymousAuth: boolean;
  authorizer: Authorizer;
  /** The RBAC rules behind `authorizer`, for SelfSubjectRulesReview; undefined under AlwaysAllow. */
  policySource?: PolicySource;
  openapi: OpenApiSource | undefined;
  metrics: ApiServerMetrics;
  logger: Logger;
  /** HTTPS serving material; none: no secure port. */
  tls?: { certPem: string; keyPem: string; clientCaPem: string };
  bindAddress: string;
  securePort?: number;
  /** A plain-HTTP port on 127.0.0.1 for loopback tests: requests on it skip authentication and authorisation. */
  insecurePort?: number;
  /** Shutdown delay and timeout, goaway chance, watch timeouts; kube-apiserver's defaults when absent. */
  lifecycle?: Partial<LifecycleOptions>;
}

/**
 * The user of the loopback plain-HTTP port, as kube-apiserver's old insecure port served it:
 * a member of system:masters, never seen on the secure port.
 */
export const INSECURE_USER: UserInfo = {
  username: 'system:unsecured',
  groups: [GROUP_MASTERS, GROUP_AUTHENTICATED],
};

const metricVerbs: Record<Verb, string> = {
  get: 'GET',
  list: 'LIST',
  watch: 'WATCH',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  deletecollection: 'DELETE',
};

export class ApiServer {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<import('node:net').Socket>();
  private securePortBound = 0;
  private insecurePortBound = 0;
  private readonly lifecycle: ServerLifecycle;
  /** opts.deps, with watch timeouts from this server's --min-request-timeout unless deps set their own. */
  private readonly deps: RestDeps;

  constructor(private readonly opts: ApiServerOptions) {
    this.lifecycle = new ServerLifecycle(opts.lifecycle ?? {}, opts.logger);
    // A function, not a number: the CLI configures the lifecycle after the server is built.
    this.deps = {
      ...opts.deps,
      watchTimeoutSeconds: opts.deps.watchTimeoutSeconds ?? (() => this.lifecycle.watchTimeoutSeconds()),
    };
  }

  /** Work to run as shutdown begins, while requests are still served (kube's AddPreShutdownHook). */
  addPreShutdownHook(name: string, hook: PreShutdownHook): void {
    this.lifecycle.addPreShutdownHook(name, hook);
  }

  /** Sets the shutdown and rebalancing options (the CLI's flags) on a server built without them. */
  configureLifecycle(options: Partial<LifecycleOptions>): void {
    this.lifecycle.configure(options);
  }

  /** True once shutdown() was called: /readyz fails from then on. */
  get shuttingDown(): boolean {
    return this.lifecycle.shuttingDown;
  }

  /** Watches whose stream is open (for tests and logs). */
  get openWatches(): number {
    return this.lifecycle.watchCount;
  }

  /**
   * The graceful part of stopping, as kube-apiserver does it on SIGTERM: fail /readyz, keep serving
   * for the shutdown delay, stop accepting, end every watch, let in-flight requests finish (bounded
   * by the shutdown timeout), close idle connections. Call stop() afterwards to cut what is left.
   */
  shutdown(): Promise<ShutdownResult> {
    return this.lifecycle.shutdown(this.servers);
  }

  get securePort(): number {
    return this.securePortBound;
  }

  get insecurePort(): number {
    return this.insecurePortBound;
  }

  async start(): Promise<void> {
    const o = this.opts;
    if (o.tls !== undefined && o.securePort !== undefined) {
      const server = createHttpsServer(
        {
          cert: o.tls.certPem,
          key: o.tls.keyPem,
          ca: o.tls.clientCaPem || undefined,
          requestCert: true,
          rejectUnauthorized: false,
        },
        (req, res) => void this.serve(req, res, false),
      );
      this.securePortBound = await this.listen(server, o.securePort, o.bindAddress);
    }
    if (o.insecurePort !== undefined) {
      const server = createHttpServer((req, res) => void this.serve(req, res, true));
      this.insecurePortBound = await this.listen(server, o.insecurePort, '127.0.0.1');
    }
    if (this.servers.length === 0)
      throw new Error(
        'the apiserver has no port to serve on: give --secure-port with TLS or --insecure-port',
      );
  }

  async stop(): Promise<void> {
    const closing = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    // Watches are long-lived: end their connections instead of waiting for them.
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
  }

  private listen(server: Server, port: number, host: string): Promise<number> {
    this.servers.push(server);
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // Watches stay open far longer than Node's default request timeout.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, insecure: boolean): Promise<void> {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://apiserver');
    const path = parseResourcePath(url.pathname);
    const verb = path === undefined ? undefined : verbOf(req.method ?? 'GET', path, url.searchParams);
    const mutating = !['GET', 'HEAD', 'OPTIONS'].includes(req.method ?? 'GET');
    const inflight = this.opts.metrics.inflight.labels(mutating ? 'mutating' : 'readOnly');
    inflight.inc();
    this.lifecycle.requestStarted(res, verb === 'watch');
    let code = 200;
    try {
      const user = insecure
        ? INSECURE_USER
        : await resolveUser(
            this.opts.authenticator,
            req,
            this.opts.anonymousAuth || (path === undefined && isPublicInfoPath(url.pathname)),
          );
      if (path !== undefined && verb !== undefined) {
        await this.serveResource(req, res, url, path, verb, user, insecure);
        // The watch handler returns once its stream is open; from here the server may end it.
        if (verb === 'watch') this.lifecycle.watchStarted(res);
      } else await this.serveNonResource(req, res, url, user, insecure);
      code = res.statusCode;
    } catch (err) {
      const status = toStatusError(err);
      code = status.code;
      if (status.code >= 500)
        this.opts.logger.error({ err, path: url.pathname, method: req.method }, 'request failed');
      writeError(res, status);
    } finally {
      inflight.dec();
      const metricVerb =
        verb === undefined
          ? (req.method ?? 'GET')
          : verb === 'patch' && mediaType(req) === 'application/apply-patch+yaml'
            ? 'APPLY'
            : metricVerbs[verb];
      const resource = path?.plural ?? '';
      this.opts.metrics.requests.labels(metricVerb, resource, String(code)).inc();
      if (verb !== 'watch')
        this.opts.metrics.duration
          .labels(metricVerb, resource)
          .observe(Number(process.hrtime.bigint() - started) / 1e9);
      this.opts.logger.debug({ method: req.method, path: url.pathname, code }, 'request');
    }
  }

  private async authorize(attrs: RequestAttributes, insecure: boolean, kind: string): Promise<void> {
    if (insecure) return;
    const decision = await this.opts.authorizer.authorize(attrs);
    if (!decision.allowed) {
      const err = forbiddenError(attrs, decision.reason);
      if (kind !== '' && err.details !== undefined) err.details.kind = attrs.resource;
      throw err;
    }
  }

  private async serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    path: ResourcePath,
    verb: Verb,
    user: UserInfo,
    insecure: boolean,
  ): Promise<void> {
    const attrs: RequestAttributes = {
      user,
      verb,
      resourceRequest: true,
      apiGroup: path.group,
      apiVersion: path.version,
      resource: path.plural,
      subresource: path.subresource,
      namespace: path.namespace,
      name: path.name,
      path: url.pathname,
    };
    await this.authorize(attrs, insecure, path.plural);
    if (path.group === 'authorization.k8s.io' && path.version === 'v1' && verb === 'create') {
      if (path.plural === 'selfsubjectaccessreviews') {
        const body = decodeObject(await readBody(req), mediaType(req));
        writeJson(res, 201, await selfSubjectAccessReview(user, body as KubeObject, this.opts.authorizer));
        return;
      }
      if (path.plural === 'selfsubjectrulesreviews') {
        const body = decodeObject(await readBody(req), mediaType(req));
        writeJson(res, 201, this.rulesReview(user, body));
        return;
      }
    }
    if (
      path.group === 'authentication.k8s.io' &&
      path.version === 'v1' &&
      path.plural === 'selfsubjectreviews' &&
      verb === 'create'
    ) {
      // `kubectl auth whoami`: who the request authenticated as.
      const body = decodeObject(await readBody(req), mediaType(req));
      writeJson(res, 201, selfSubjectReview(user, body as KubeObject));
      return;
    }
    if (
      path.group === 'apiextensions.k8s.io' &&
      path.plural === 'customresourcedefinitions' &&
      verb === 'list'
    ) {
      // Custom resources are not served; kubectl asks for the CRDs to merge their schemas into its
      // validation and fails on a 404, so answer with the empty truth.
      writeJson(res, 200, {
        kind: 'CustomResourceDefinitionList',
        apiVersion: 'apiextensions.k8s.io/v1',
        metadata: { resourceVersion: String(await this.opts.deps.storage.currentRevision()) },
        items: [],
      });
      return;
    }
    const info = resolveResource(this.deps, path);
    const r: RestRequest = { req, res, url, path, info, verb, user };
    await handleResource(this.deps, r);
  }

  /** `kubectl auth can-i --list`: RBAC's rules, or everything under AlwaysAllow. */
  private rulesReview(user: UserInfo, body: KubeObject): KubeObject {
    const source = this.opts.policySource;
    if (source !== undefined) return selfSubjectRulesReview(user, body, source);
    return {
      kind: 'SelfSubjectRulesReview',
      apiVersion: 'authorization.k8s.io/v1',
      metadata: { creationTimestamp: null as unknown as string },
      spec: body.spec ?? {},
      status: {
        resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
        nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
        incomplete: false,
      },
    };
  }

  private async serveNonResource(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    user: UserInfo,
    insecure: boolean,
  ): Promise<void> {
    const p = url.pathname.replace(/\/+$/, '') || '/';
    const attrs: RequestAttributes = {
      user,
      verb: (req.method ?? 'GET').toLowerCase(),
      resourceRequest: false,
      apiGroup: '',
      apiVersion: '',
      resource: '',
      subresource: '',
      namespace: '',
      name: '',
      path: p,
    };
    await this.authorize(attrs, insecure, '');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new StatusError(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
      );
    const catalog = this.opts.deps.catalog;
    const accept = req.headers.accept;
    if (p === '/version') return writeJson(res, 200, versionInfo());
    if (p === '/healthz' || p === '/livez' || p.startsWith('/healthz/') || p.startsWith('/livez/'))
      return writeText(res, 200, 'ok');
    if (p === '/readyz' || p.startsWith('/readyz/')) {
      // kube's shutdown check: the balancer must see this apiserver leave before it stops accepting.
      if (this.lifecycle.shuttingDown)
        return writeText(
          res,
          500,
          '[+]ping ok\n[-]shutdown failed: process is shutting down\nreadyz check failed',
        );
      const ready = await this.opts.deps.storage.ping();
      return writeText(
        res,
        ready ? 200 : 500,
        ready ? 'ok' : '[-]etcd failed: the store does not answer\nreadyz check failed',
      );
    }
    if (p === '/metrics')
      return writeText(res, 200, await this.opts.metrics.text(), this.opts.metrics.registry.contentType);
    if (p === '/api') {
      if (wantsAggregated(accept))
        return writeJson(res, 200, aggregatedDiscovery(catalog, true), {
          'Content-Type': DISCOVERY_V2_MEDIA_TYPE,
        });
      return writeJson(
        res,
        200,
        apiVersions(`${req.socket.localAddress ?? '127.0.0.1'}:${req.socket.localPort ?? 0}`),
      );
    }
    if (p === '/apis') {
      if (wantsAggregated(accept))
        return writeJson(res, 200, aggregatedDiscovery(catalog, false), {
          'Content-Type': DISCOVERY_V2_MEDIA_TYPE,
        });
      return writeJson(res, 200, apiGroupList(catalog));
    }
    const parts = p.split('/').filter((s) => s !== '');
    if (parts[0] === 'api' && parts.length === 2)
      return writeFound(res, apiResourceList(catalog, '', parts[1] as string));
    if (parts[0] === 'apis' && parts.length === 2)
      return writeFound(res, apiGroupFor(catalog, parts[1] as string));
    if (parts[0] === 'apis' && parts.length === 3)
      return writeFound(res, apiResourceList(catalog, parts[1] as string, parts[2] as string));
    if (parts[0] === 'openapi') return this.serveOpenApi(res, parts.slice(1), accept);
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private serveOpenApi(res: ServerResponse, parts: string[], accept: string | undefined): void {
    const openapi = this.opts.openapi;
    if (openapi === undefined)
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (parts.length === 1 && parts[0] === 'v2' && accept?.includes(OPENAPI_V2_PROTOBUF_ACCEPT_MARK)) {
      const body = openapi.v2Proto();
      res.writeHead(200, {
        'Content-Type': OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
        'Content-Length': body.byteLength,
      });
      res.end(body);
    } else if (parts.length === 1 && parts[0] === 'v2') writeJson(res, 200, openapi.v2());
    else if (parts.length === 1 && parts[0] === 'v3') writeJson(res, 200, openapi.v3Root());
    else if (parts[0] === 'v3') writeFound(res, openapi.v3(parts.slice(1).join('/')));
    else throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }
}

/**
 * Paths that answer requests without credentials even with --anonymous-auth=false: health and
 * version, what system:public-info-viewer grants. Load balancers probe /readyz without credentials,
 * and kubectl's version check may come before any login. Kubernetes 1.32 offers the same through
 * AnonymousAuthConfigurableEndpoints (anonymous auth limited to these endpoints).
 */
function isPublicInfoPath(pathname: string): boolean {
  const p = pathname.replace(/\/+$/, '');
  return (
    p === '/version' ||
    ['/healthz', '/livez', '/readyz'].some((base) => p === base || p.startsWith(`${base}/`))
  );
}

function writeFound(res: ServerResponse, body: unknown): void {
  if (body === undefined)
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  writeJson(res, 200, body);
}

function writeText(
  res: ServerResponse,
  code: number,
  text: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(text);
}
