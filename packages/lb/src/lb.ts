// The load balancer: a TCP listener whose connections are forwarded to healthy backends, the
// backends' health checks, and the admin port. close() drains: stop accepting, let existing
// connections go on for up to the drain timeout, then cut the rest.
import type { Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { createAdminServer } from './admin.js';
import { formatHostPort, type HostPort, type LbConfig, type LbConfigInput, resolveConfig } from './config.js';
import { assert, LbError } from './errors.js';
import { createLbLogger, lbLogger } from './log.js';
import { LbMetrics, type LbMetricsOptions } from './metrics.js';
import { type Backend, BackendPool, type BackendStatus } from './pool.js';
import { httpProbe, type Probe } from './probe.js';
import { ProxiedConnection, type ProxyDeps } from './proxy.js';

export interface LoadBalancerOptions {
  /** The configuration; missing fields take LB_DEFAULTS. */
  readonly config: LbConfigInput;
  /** Default: pino JSON on stderr at info. Lines carry component "lb". */
  readonly logger?: Logger;
  readonly metrics?: LbMetricsOptions;
  /** The health check; default an HTTP(S) GET of the health path (tests may swap it). */
  readonly probe?: Probe;
}

export interface DrainResult {
  /** Connections that ended by themselves during the drain. */
  readonly drainedConnections: number;
  /** Connections still open at the drain timeout, which were cut. */
  readonly cutConnections: number;
  readonly durationMs: number;
}

/** Starts listening (and checking backends, and the admin port); resolves once both are bound. */
export async function startLoadBalancer(opts: LoadBalancerOptions): Promise<LoadBalancer> {
  const lb = new LoadBalancer(opts);
  await lb.listen();
  return lb;
}

export class LoadBalancer {
  readonly config: LbConfig;
  readonly metrics: LbMetrics;
  private readonly logger: Logger;
  private readonly pool: BackendPool;
  private readonly server: Server;
  private admin: HttpServer | undefined;
  /** Every client connection from accept until both its sockets close. Bounded by maxConnections. */
  private readonly connections = new Set<ProxiedConnection>();
  private readonly deps: ProxyDeps;
  private closing: Promise<DrainResult> | undefined;
  private boundListen = '';
  private boundAdmin: string | undefined;

  constructor(opts: LoadBalancerOptions) {
    this.config = resolveConfig(opts.config);
    this.logger = lbLogger(opts.logger ?? createLbLogger());
    this.metrics = new LbMetrics(opts.metrics);
    const c = this.config;
    this.pool = new BackendPool({
      backends: c.backends,
      balance: c.balance,
      healthIntervalMs: c.healthIntervalMs,
      rise: c.rise,
      fall: c.fall,
      probe:
        opts.probe ??
        httpProbe({
          scheme: c.healthScheme,
          path: c.healthPath,
          timeoutMs: c.healthTimeoutMs,
          caPem: c.healthCaPem,
        }),
      metrics: this.metrics,
      logger: this.logger,
    });
    this.deps = this.proxyDeps();
    // Paused at accept: nothing is read from the client until a backend has accepted, so that a
    // failed backend can be swapped for another without losing bytes.
    this.server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => this.accept(s));
  }

  /** Binds the listener and the admin port, and starts the health checks. */
  async listen(): Promise<void> {
    const c = this.config;
    await bind(this.server, c.listen, 'listen');
    this.boundListen = boundAddress(this.server);
    // After the bind, listener errors (EMFILE at accept, say) are logged; the listener goes on.
    this.server.on('error', (err: Error) => this.logger.error({ err: err.message }, 'listener error'));
    if (c.admin !== undefined) {
      const admin = createAdminServer(
        {
          backends: () => this.backends(),
          metrics: this.metrics,
          draining: () => this.closing !== undefined,
        },
        this.logger,
      );
      try {
        await bind(admin, c.admin, 'admin');
      } catch (err) {
        this.server.close();
        throw err;
      }
      this.admin = admin;
      this.boundAdmin = boundAddress(admin);
    }
    this.pool.start();
    this.logger.info(
      {
        listen: this.listenAddress,
        admin: this.adminAddress,
        backends: this.pool.backends.map((b) => b.address),
        balance: c.balance,
      },
      'load balancer listening',
    );
  }

  /** The bound listen address (host:port), with the real port when 0 was asked for. */
  get listenAddress(): string {
    assert(this.boundListen !== '', 'listen() has resolved');
    return this.boundListen;
  }

  get adminAddress(): string | undefined {
    return this.boundAdmin;
  }

  backends(): BackendStatus[] {
    return this.pool.backends.map((b) => b.status());
  }

  /** Client connections open now (connecting or forwarded). */
  activeConnections(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting and drains: existing connections go on until they end or `drainTimeoutMs`
   * (default the configured one) passes, then the rest are cut. Idempotent: a second call returns
   * the first drain.
   */
  close(drainTimeoutMs = this.config.drainTimeoutMs): Promise<DrainResult> {
    this.closing ??= this.drain(drainTimeoutMs);
    return this.closing;
  }

  private async drain(drainTimeoutMs: number): Promise<DrainResult> {
    const startedMs = performance.now();
    const atStart = this.connections.size;
    this.logger.info({ connections: atStart, drainTimeoutMs }, 'draining: no longer accepting');
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.pool.stop();
    await this.waitForConnections(drainTimeoutMs);
    const cut = this.connections.size;
    if (cut > 0) {
      this.logger.warn({ connections: cut }, 'drain timeout: cutting the connections still open');
      for (const conn of this.connections) conn.destroy();
      // Destroyed sockets report close on a later tick; wait for them so the count is settled.
      await this.waitForConnections(1_000);
    }
    await listenerClosed;
    if (this.admin !== undefined) {
      const admin = this.admin;
      const adminClosed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
      await adminClosed;
    }
    const result = {
      drainedConnections: atStart - cut,
      cutConnections: cut,
      durationMs: Math.round(performance.now() - startedMs),
    };
    this.logger.info(result, 'drained');
    return result;
  }

  /** Resolves when no connection is left or after `timeoutMs`, whichever is first. */
  private waitForConnections(timeoutMs: number): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(finish, timeoutMs);
      const poll = setInterval(() => {
        if (this.connections.size === 0) finish();
      }, 20);
      function finish(): void {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      }
    });
  }

  private accept(client: Socket): void {
    if (this.connections.size >= this.config.maxConnections) {
      this.metrics.refusedTotal.inc({ reason: 'max_connections' });
      this.logger.warn(
        { maxConnections: this.config.maxConnections, remote: client.remoteAddress },
        'connection refused: --max-connections reached',
      );
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const conn = new ProxiedConnection(client, this.deps);
    this.connections.add(conn);
    conn.start();
  }

  private proxyDeps(): ProxyDeps {
    const c = this.config;
    return {
      pick: (exclude) => this.pool.pick(exclude),
      attached: (b) => this.pool.attached(b),
      detached: (b) => this.pool.detached(b),
      connectFailed: (b: Backend, err: Error) => {
        this.metrics.connectFailuresTotal.inc({ backend: b.address });
        if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') this.pool.refused(b, err);
        this.logger.warn(
          { backend: b.name, address: b.address, err: err.message },
          'backend did not accept the connection: trying the next one',
        );
      },
      gaveUp: (reason) => this.metrics.refusedTotal.inc({ reason }),
      done: (conn) => {
        assert(this.connections.delete(conn), 'a connection is done once');
      },
      connectTimeoutMs: c.connectTimeoutMs,
      idleTimeoutMs: c.idleTimeoutMs,
      connectAttemptsMax: c.connectAttemptsMax,
      logger: this.logger,
    };
  }
}

function bind(server: Server, at: HostPort, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new LbError('LISTEN_FAILED', `cannot ${what} on ${formatHostPort(at)}: ${err.message}`));
    server.once('error', onError);
    server.listen(at.port, at.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function boundAddress(server: Server): string {
  const a = server.address() as AddressInfo | null;
  assert(a !== null && typeof a === 'object', 'the server is bound');
  return formatHostPort({ host: a.address, port: a.port });
}
