// The backends: their health (checked actively on a timer per backend), their connections, and the
// choice of a backend for each new client connection.
//
// How fast a bad backend leaves the rotation: checks start every healthIntervalMs (the next one is
// scheduled from the start of the previous, and never overlaps it). A backend that goes bad at time
// t fails the first check starting after t, at most one interval later, and the fall-th such check
// starts at most fall × interval after t and ends at most healthTimeoutMs later. So it is out of
// rotation within fall × interval + timeout; when it answers at once (a 500, a refused connection),
// within about fall × interval: with interval 500 ms and fall 2, about one second. Coming back takes
// rise × interval (+ timeout) the same way.
import type { Logger } from 'pino';
import { type Candidate, pickBackend } from './balancer.js';
import type { BalanceMode, HostPort } from './config.js';
import { formatHostPort } from './config.js';
import { assert } from './errors.js';
import { type HealthState, initialHealth, observeCheck, observeRefusal } from './health-state.js';
import type { LbMetrics } from './metrics.js';
import type { CheckResult, Probe } from './probe.js';

/** What GET /backends shows for each backend. */
export interface BackendStatus {
  /** "api1", "api2", ... in the order the backends were given. */
  readonly name: string;
  readonly address: string;
  readonly healthy: boolean;
  readonly activeConnections: number;
  readonly totalConnections: number;
  /** The latest completed check; null until the first one completes. */
  readonly lastCheck: { ok: boolean; code?: number; error?: string; at: string } | null;
}

export class Backend {
  readonly address: string;
  health: HealthState = initialHealth();
  activeConnections = 0;
  totalConnections = 0;
  lastCheck: CheckResult | undefined;
  /** The pending check timer; undefined while a check runs or after stop. */
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    readonly target: HostPort,
  ) {
    this.address = formatHostPort(target);
  }

  status(): BackendStatus {
    const c = this.lastCheck;
    return {
      name: this.name,
      address: this.address,
      healthy: this.health.healthy,
      activeConnections: this.activeConnections,
      totalConnections: this.totalConnections,
      lastCheck:
        c === undefined
          ? null
          : {
              ok: c.ok,
              ...(c.code === undefined ? {} : { code: c.code }),
              ...(c.error === undefined ? {} : { error: c.error }),
              at: c.at,
            },
    };
  }
}

export interface PoolOptions {
  readonly backends: readonly HostPort[];
  readonly balance: BalanceMode;
  readonly healthIntervalMs: number;
  readonly rise: number;
  readonly fall: number;
  readonly probe: Probe;
  readonly metrics: LbMetrics;
  readonly logger: Logger;
}

export class BackendPool {
  readonly backends: readonly Backend[];
  private cursor = 0;
  private running = false;

  constructor(private readonly opts: PoolOptions) {
    assert(opts.backends.length > 0, 'a pool has backends');
    this.backends = opts.backends.map((t, i) => new Backend(`api${i + 1}`, t));
    for (const b of this.backends) opts.metrics.backendUp.set({ backend: b.address }, 1);
  }

  /** Starts checking every backend at once, then every interval. */
  start(): void {
    assert(!this.running, 'the pool is started once');
    this.running = true;
    for (const b of this.backends) this.schedule(b, 0);
  }

  stop(): void {
    this.running = false;
    for (const b of this.backends) {
      clearTimeout(b.timer);
      b.timer = undefined;
    }
  }

  /** A backend for a new connection, not one of `exclude`; undefined when none is healthy. */
  pick(exclude: ReadonlySet<Backend>): Backend | undefined {
    const candidates: Candidate[] = this.backends.map((b) => ({
      healthy: b.health.healthy,
      activeConnections: b.activeConnections,
    }));
    const excluded = new Set<number>();
    this.backends.forEach((b, i) => {
      if (exclude.has(b)) excluded.add(i);
    });
    const chosen = pickBackend(candidates, this.opts.balance, this.cursor, excluded);
    if (chosen === undefined) return undefined;
    this.cursor = chosen.cursor;
    return this.backends[chosen.index];
  }

  attached(b: Backend): void {
    b.activeConnections++;
    b.totalConnections++;
    this.opts.metrics.connectionsTotal.inc({ backend: b.address });
    this.opts.metrics.connectionsActive.inc({ backend: b.address });
  }

  detached(b: Backend): void {
    assert(b.activeConnections > 0, 'a detached connection was attached');
    b.activeConnections--;
    this.opts.metrics.connectionsActive.dec({ backend: b.address });
  }

  private schedule(b: Backend, delayMs: number): void {
    if (!this.running) return;
    b.timer = setTimeout(() => {
      b.timer = undefined;
      void this.check(b);
    }, delayMs);
  }

  private async check(b: Backend): Promise<void> {
    const startedMs = performance.now();
    let result: CheckResult;
    try {
      result = await this.opts.probe(b.target);
    } catch (err) {
      // A probe that throws is a failed check, not a reason to stop checking.
      result = { ok: false, error: (err as Error).message, at: new Date().toISOString(), durationMs: 0 };
    }
    if (!this.running) return;
    this.apply(b, result);
    const elapsedMs = performance.now() - startedMs;
    this.schedule(b, Math.max(0, this.opts.healthIntervalMs - elapsedMs));
  }

  /** Applies one check result: the state machine, the metrics and a log line on each transition. */
  apply(b: Backend, result: CheckResult): void {
    const before = b.health;
    b.health = observeCheck(before, result.ok, this.opts.rise, this.opts.fall);
    b.lastCheck = result;
    this.opts.metrics.healthChecksTotal.inc({ backend: b.address, result: result.ok ? 'ok' : 'fail' });
    this.transitioned(b, before, result);
  }

  /**
   * A client connection to b was refused: b leaves the rotation now rather than at its next failed
   * checks (up to fall × interval later), so that a killed apiserver costs new clients no retries.
   */
  refused(b: Backend, err: Error): void {
    const before = b.health;
    b.health = observeRefusal(before, this.opts.rise, this.opts.fall);
    this.transitioned(b, before, {
      ok: false,
      error: `client connection refused: ${err.message}`,
      at: new Date().toISOString(),
      durationMs: 0,
    });
  }

  private transitioned(b: Backend, before: HealthState, result: CheckResult): void {
    const m = this.opts.metrics;
    if (before.healthy === b.health.healthy) return;
    m.backendUp.set({ backend: b.address }, b.health.healthy ? 1 : 0);
    m.backendTransitionsTotal.inc({ backend: b.address, to: b.health.healthy ? 'up' : 'down' });
    const fields = {
      backend: b.name,
      address: b.address,
      code: result.code,
      error: result.error,
      activeConnections: b.activeConnections,
    };
    if (b.health.healthy) this.opts.logger.info(fields, 'backend up');
    else this.opts.logger.warn(fields, 'backend down: no new connections, existing ones go on');
  }
}
