// The public API of @keelson/lb: a TCP load balancer with active health checks in front of the
// apiservers, and the equivalent HAProxy configuration. Everything else in this package is internal.

export { type Candidate, type Pick, pickBackend } from './balancer.js';
export {
  type BalanceMode,
  formatHostPort,
  type HealthScheme,
  type HostPort,
  LB_DEFAULTS,
  type LbConfig,
  type LbConfigInput,
  parseHostPort,
  resolveConfig,
  validateConfig,
} from './config.js';
export { LbError, type LbErrorCode } from './errors.js';
export { renderHaproxyConfig } from './haproxy.js';
export { type HealthState, initialHealth, observeCheck, observeRefusal } from './health-state.js';
export { type DrainResult, LoadBalancer, type LoadBalancerOptions, startLoadBalancer } from './lb.js';
export { createLbLogger, type LogLevel } from './log.js';
export { LbMetrics, type LbMetricsOptions } from './metrics.js';
export type { BackendStatus } from './pool.js';
export { type CheckResult, httpProbe, type Probe, type ProbeOptions } from './probe.js';
