// kube-apiserver's --endpoint-reconciler-type=lease: every interval each apiserver renews its master
// lease and converges the kubernetes Service's endpoints to the set of live leases. An apiserver that
// dies stops renewing; its lease expires and the next reconcile of any survivor drops it. One that
// shuts down gracefully removes its lease and reconciles at once (RemoveEndpoints).
import type { Logger } from 'pino';
import { type EndpointsAdapter, EndpointsReconcileError, type SyncResult } from './endpoints-adapter.js';
import type { MasterAddress, MasterLeases } from './master-leases.js';

/** kube-apiserver reconciles every 10 s against a 15 s lease: two thirds of the TTL. */
export function reconcileIntervalMsFor(ttlSeconds: number): number {
  return Math.max(500, Math.floor((ttlSeconds * 1000 * 2) / 3));
}

export interface LeaseEndpointReconcilerOptions {
  leases: MasterLeases;
  adapter: EndpointsAdapter;
  /** This apiserver's advertised address and secure port. */
  self: MasterAddress;
  intervalMs: number;
  logger: Logger;
}

/**
 * Invariant: at most one reconcile runs at a time (`chain` serialises them, as kube's reconcilingLock
 * does), and none starts once `stopped` is set.
 */
export class LeaseEndpointReconciler {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: LeaseEndpointReconcilerOptions) {
    if (!(o.intervalMs > 0))
      throw new Error(`assertion failed: reconcile interval must be > 0, got ${o.intervalMs}`);
  }

  /** Reconciles now, then every interval until stop() or removeEndpoints(). */
  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    const tick = async (): Promise<void> => {
      await this.reconcileEndpoints().catch((err: unknown) =>
        this.o.logger.warn({ err: (err as Error).message }, 'reconciling the kubernetes endpoints failed'),
      );
      if (this.stopped) return;
      this.timer = setTimeout(() => void tick(), this.o.intervalMs);
      // The loop must never keep a stopping process alive.
      this.timer.unref();
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  /** Refreshes our lease, then converges the endpoints to every live lease (ReconcileEndpoints). */
  reconcileEndpoints(): Promise<SyncResult | undefined> {
    return this.serialised(async () => {
      if (this.stopped) return undefined;
      // Refreshed whatever happens below, so that the other apiservers add us even if our write loses.
      await this.o.leases.update(this.o.self);
      return this.o.adapter.sync(() => this.o.leases.list());
    });
  }

  /**
   * Stops reconciling, removes our lease and reconciles without it (kube's RemoveEndpoints, from its
   * pre-shutdown hook): in-cluster clients stop being sent here while we still serve.
   */
  removeEndpoints(): Promise<SyncResult | undefined> {
    this.stop();
    return this.serialised(async () => {
      await this.o.leases.remove(this.o.self);
      this.o.logger.info({ self: this.o.self }, 'removed this apiserver from the kubernetes endpoints');
      try {
        return await this.o.adapter.sync(() => this.o.leases.list());
      } catch (err) {
        // The last apiserver to leave: like kube, its endpoint stays rather than none at all. Expected,
        // so not a failed shutdown hook.
        if (!(err instanceof EndpointsReconcileError && err.code === 'NO_MASTER_LEASES')) throw err;
        this.o.logger.info('no other apiserver holds a lease: the kubernetes endpoints are left as they are');
        return undefined;
      }
    });
  }

  /** Stops the loop without touching the store (the lease then expires on its own). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private serialised<T>(run: () => Promise<T>): Promise<T> {
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
