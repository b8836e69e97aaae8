// Graceful shutdown and rebalancing of one apiserver behind a load balancer, as kube-apiserver does
// them. On shutdown: /readyz fails at once while requests are still served for the shutdown delay
// (so that the balancer's health checks take this apiserver out before it stops accepting), then the
// listeners close, every watch is ended cleanly (the client re-watches from its last resourceVersion
// through the balancer), in-flight requests get a bounded time to finish, and idle connections close.
// Rebalancing: a random fraction of responses carry `Connection: close` (--goaway-chance; HTTP/1.1's
// form of HTTP/2 GOAWAY), and watches without timeoutSeconds end at a random time in
// [min-request-timeout, 2 × min-request-timeout], so that watchers spread over apiservers again.
// Pre-shutdown hooks (kube's PreShutdownHooks, e.g. removing this apiserver from the kubernetes
// Service's endpoints) run as shutdown begins, alongside the delay.
import type { Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** kube-apiserver rejects a --goaway-chance above this. */
export const GOAWAY_CHANCE_MAX = 0.02;
/** How often the drain looks at in-flight requests and closes connections that went idle. */
const drainPollMs = 50;
/** How long pre-shutdown hooks may take; a hung store must not hold the shutdown up. */
const preShutdownHookTimeoutMs = 5_000;

export interface LifecycleOptions {
  /** --shutdown-delay-duration: how long /readyz fails while everything is still served. */
  shutdownDelayMs: number;
  /** --shutdown-timeout: how long in-flight non-watch requests may go on once accepting stopped. */
  shutdownTimeoutMs: number;
  /** --goaway-chance: the probability that a non-watch response closes its connection. */
  goawayChance: number;
  /** --min-request-timeout: a watch without timeoutSeconds lasts a random time in [this, 2 × this). */
  minRequestTimeoutSeconds: number;
  /** Injected for tests; Math.random by default. */
  random?: () => number;
}

export function defaultLifecycleOptions(): LifecycleOptions {
  return {
    shutdownDelayMs: 2_000,
    shutdownTimeoutMs: 60_000,
    goawayChance: 0,
    minRequestTimeoutSeconds: 1800,
  };
}

export class LifecycleConfigError extends Error {
  readonly code = 'INVALID_LIFECYCLE_CONFIG';
  constructor(
    readonly field: keyof LifecycleOptions,
    message: string,
  ) {
    super(message);
    this.name = 'LifecycleConfigError';
  }
}

/** kube's names for the steps of a graceful termination, logged as each begins. */
export type ShutdownPhase =
  | 'Serving'
  | 'ShutdownInitiated'
  | 'AfterShutdownDelayDuration'
  | 'NotAcceptingNewRequest'
  | 'InFlightRequestsDrained'
  | 'Stopped';

export interface ShutdownResult {
  watchesEnded: number;
  /** Non-watch requests still running when --shutdown-timeout ran out (left to stop() to cut). */
  requestsLeft: number;
  durationMs: number;
}

function validate(o: LifecycleOptions): void {
  const check = (field: keyof LifecycleOptions, ok: boolean, what: string): void => {
    if (!ok) throw new LifecycleConfigError(field, `${field} ${what}, got ${String(o[field])}`);
  };
  check('shutdownDelayMs', Number.isFinite(o.shutdownDelayMs) && o.shutdownDelayMs >= 0, 'must be ≥ 0');
  check('shutdownTimeoutMs', Number.isFinite(o.shutdownTimeoutMs) && o.shutdownTimeoutMs >= 0, 'must be ≥ 0');
  check(
    'goawayChance',
    o.goawayChance >= 0 && o.goawayChance <= GOAWAY_CHANCE_MAX,
    `must be from 0 to ${GOAWAY_CHANCE_MAX}`,
  );
  check(
    'minRequestTimeoutSeconds',
    Number.isFinite(o.minRequestTimeoutSeconds) && o.minRequestTimeoutSeconds > 0,
    'must be > 0',
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Work to do as shutdown begins, while the apiserver still serves; bounded by a timeout. */
export type PreShutdownHook = () => Promise<unknown>;

/**
 * What the apiserver's HTTP front knows about the requests it serves, for shutdown and rebalancing.
 * Invariant: `watches` holds exactly the watch responses whose stream started and has not closed;
 * `inflight` the non-watch responses not yet closed.
 */
export class ServerLifecycle {
  private options: LifecycleOptions;
  private phaseNow: ShutdownPhase = 'Serving';
  private readonly inflight = new Set<ServerResponse>();
  private readonly watches = new Set<ServerResponse>();
  private readonly preShutdownHooks = new Map<string, PreShutdownHook>();
  private shutdownRun: Promise<ShutdownResult> | undefined;

  constructor(
    options: Partial<LifecycleOptions>,
    private readonly logger: Logger,
  ) {
    this.options = { ...defaultLifecycleOptions(), ...options };
    validate(this.options);
  }

  /** Changes options while serving (the CLI sets its flags after the server has started). */
  configure(options: Partial<LifecycleOptions>): void {
    const next = { ...this.options, ...options };
    validate(next);
    this.options = next;
  }

  /** Registers work to run as shutdown begins (kube's AddPreShutdownHook); names are unique. */
  addPreShutdownHook(name: string, hook: PreShutdownHook): void {
    if (this.preShutdownHooks.has(name))
      throw new Error(`assertion failed: pre-shutdown hook ${name} registered twice`);
    if (this.shuttingDown)
      throw new Error(`assertion failed: pre-shutdown hook ${name} added during shutdown`);
    this.preShutdownHooks.set(name, hook);
  }

  /**
   * The lifetime of a watch that gave no timeoutSeconds, drawn afresh for each watch as kube's watch
   * handler does: a random time in [--min-request-timeout, 2 × --min-request-timeout).
   */
  watchTimeoutSeconds(): number {
    const random = this.options.random ?? Math.random;
    const r = random();
    if (!(r >= 0 && r < 1)) throw new Error(`assertion failed: random() gave ${r}, not a number in [0, 1)`);
    return this.options.minRequestTimeoutSeconds * (1 + r);
  }

  get phase(): ShutdownPhase {
    return this.phaseNow;
  }

  /** True from the first moment of shutdown: /readyz fails from then on. */
  get shuttingDown(): boolean {
    return this.phaseNow !== 'Serving';
  }

  get watchCount(): number {
    return this.watches.size;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /**
   * Called before a request is handled. A watch always closes its connection when it ends: a
   * re-watch then opens a new connection through the balancer, which is what lets watch timeouts
   * rebalance (on a kept-alive connection it would go back to the same apiserver). Other responses
   * close theirs during shutdown, or by chance (--goaway-chance), so that clients reconnect.
   */
  requestStarted(res: ServerResponse, isWatch: boolean): void {
    const random = this.options.random ?? Math.random;
    if (isWatch || this.shuttingDown || random() < this.options.goawayChance)
      res.setHeader('Connection', 'close');
    if (isWatch) return;
    this.inflight.add(res);
    res.once('close', () => this.inflight.delete(res));
  }

  /**
   * Called once a watch's handler returned with its stream open. Ending the watch means ending its
   * chunked response, so that the client sees a clean end of stream and re-watches. The watch handler
   * itself ends it at its timeout (timeoutSeconds, or watchTimeoutSeconds()), with a last bookmark
   * just before; a second timer here would only race it.
   */
  watchStarted(res: ServerResponse): void {
    if (!res.headersSent || res.writableEnded || res.destroyed) return;
    // The watch handler may still write an event between our end() and its own 'close' handler;
    // that write fails with ERR_STREAM_WRITE_AFTER_END, which must not crash the process.
    res.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'watch write after its end'));
    if (this.phaseAtLeast('NotAcceptingNewRequest')) {
      res.end();
      return;
    }
    this.watches.add(res);
    res.once('close', () => this.watches.delete(res));
  }

  /** Runs the graceful shutdown once; later calls return the same run. */
  shutdown(servers: readonly Server[]): Promise<ShutdownResult> {
    this.shutdownRun ??= this.runShutdown(servers);
    return this.shutdownRun;
  }

  private async runShutdown(servers: readonly Server[]): Promise<ShutdownResult> {
    const startedMs = Date.now();
    const { shutdownDelayMs, shutdownTimeoutMs } = this.options;
    this.enter('ShutdownInitiated', { shutdownDelayMs, watches: this.watches.size });
    await Promise.all([sleep(shutdownDelayMs), this.runPreShutdownHooks()]);
    this.enter('AfterShutdownDelayDuration', { inflight: this.inflight.size });
    // Node ≥ 19: close() also closes connections that are idle at this moment.
    for (const s of servers) s.close();
    this.enter('NotAcceptingNewRequest', {});
    const watchesEnded = this.endAllWatches();
    this.logger.info({ phase: this.phaseNow, watchesEnded }, 'ended every open watch');
    const requestsLeft = await this.drain(servers, shutdownTimeoutMs);
    if (requestsLeft > 0)
      this.logger.warn(
        { requestsLeft, shutdownTimeoutMs },
        'in-flight requests did not finish within --shutdown-timeout',
      );
    else this.enter('InFlightRequestsDrained', {});
    for (const s of servers) s.closeIdleConnections();
    const durationMs = Date.now() - startedMs;
    this.enter('Stopped', { durationMs });
    return { watchesEnded, requestsLeft, durationMs };
  }

  /** Runs every pre-shutdown hook at once; a failing or hung hook is logged, never fatal. */
  private async runPreShutdownHooks(): Promise<void> {
    const runs = [...this.preShutdownHooks].map(async ([name, hook]) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), preShutdownHookTimeoutMs);
      });
      try {
        const outcome = await Promise.race([hook().then(() => 'done' as const), timedOut]);
        if (outcome === 'timeout')
          this.logger.warn(
            { hook: name, preShutdownHookTimeoutMs },
            'pre-shutdown hook did not finish in time',
          );
      } catch (err) {
        this.logger.warn({ hook: name, err: (err as Error).message }, 'pre-shutdown hook failed');
      } finally {
        clearTimeout(timer);
      }
    });
    await Promise.all(runs);
  }

  private endAllWatches(): number {
    const ending = [...this.watches];
    for (const res of ending) res.end();
    return ending.length;
  }

  /** Waits (bounded by timeoutMs) for in-flight requests; returns how many are left. */
  private async drain(servers: readonly Server[], timeoutMs: number): Promise<number> {
    const pollsMax = Math.ceil(timeoutMs / drainPollMs);
    for (let poll = 0; poll < pollsMax && this.inflight.size > 0; poll++) {
      // A response finished on a kept-alive connection leaves it idle: close it now.
      for (const s of servers) s.closeIdleConnections();
      await sleep(drainPollMs);
    }
    return this.inflight.size;
  }

  private phaseAtLeast(p: ShutdownPhase): boolean {
    const order: ShutdownPhase[] = [
      'Serving',
      'ShutdownInitiated',
      'AfterShutdownDelayDuration',
      'NotAcceptingNewRequest',
      'InFlightRequestsDrained',
      'Stopped',
    ];
    return order.indexOf(this.phaseNow) >= order.indexOf(p);
  }

  private enter(phase: ShutdownPhase, fields: Record<string, unknown>): void {
    if (this.phaseAtLeast(phase)) throw new Error(`assertion failed: shutdown phase ${phase} entered twice`);
    this.phaseNow = phase;
    this.logger.info({ phase, ...fields }, `graceful termination: ${phase}`);
  }
}
