// The load balancer's Prometheus metrics, on a registry of its own (never prom-client's global one,
// so that several load balancers, or a load balancer and a store member, can share a process).
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

export interface LbMetricsOptions {
  /** Also collect process_* and nodejs_* metrics (default true; tests turn them off). */
  readonly defaultMetrics?: boolean;
}

export class LbMetrics {
  readonly registry = new Registry();
  readonly connectionsTotal = new Counter({
    name: 'keelson_lb_connections_total',
    help: 'Client connections forwarded to each backend.',
    labelNames: ['backend'],
    registers: [this.registry],
  });
  readonly connectionsActive = new Gauge({
    name: 'keelson_lb_connections_active',
    help: 'Client connections currently forwarded to each backend.',
    labelNames: ['backend'],
    registers: [this.registry],
  });
  readonly connectFailuresTotal = new Counter({
    name: 'keelson_lb_backend_connect_failures_total',
    help: 'Connections to a backend that failed or timed out (the client was tried on the next one).',
    labelNames: ['backend'],
    registers: [this.registry],
  });
  readonly refusedTotal = new Counter({
    name: 'keelson_lb_connections_refused_total',
    help: 'Client connections closed without a backend: max_connections reached, no_backend reachable.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly healthChecksTotal = new Counter({
    name: 'keelson_lb_health_checks_total',
    help: 'Active health checks of each backend, by result (ok or fail).',
    labelNames: ['backend', 'result'],
    registers: [this.registry],
  });
  readonly backendUp = new Gauge({
    name: 'keelson_lb_backend_up',
    help: 'Whether the backend is in rotation (1) or marked down by its health checks (0).',
    labelNames: ['backend'],
    registers: [this.registry],
  });
  readonly backendTransitionsTotal = new Counter({
    name: 'keelson_lb_backend_transitions_total',
    help: 'Times each backend was marked up or down.',
    labelNames: ['backend', 'to'],
    registers: [this.registry],
  });

  constructor(opts: LbMetricsOptions = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
