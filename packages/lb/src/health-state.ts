// The health state machine of one backend, as HAProxy's: fall consecutive failed checks mark an up
// backend down, rise consecutive successful checks mark a down backend up. Pure: the caller runs the
// checks and applies their results here.
import { assert } from './errors.js';

export interface HealthState {
  readonly healthy: boolean;
  /** Consecutive successful checks, 0 after a failure. Invariant: okStreak === 0 || failStreak === 0. */
  readonly okStreak: number;
  /** Consecutive failed checks, 0 after a success. */
  readonly failStreak: number;
  /** Whether any check has completed yet. */
  readonly checked: boolean;
}

/**
 * A backend starts up, so that the load balancer serves at once, but (like HAProxy's default
 * init-state "up") its first check decides: a failure then marks it down without waiting for
 * `fall`, since nothing has ever shown it to be healthy.
 */
export function initialHealth(): HealthState {
  return { healthy: true, okStreak: 0, failStreak: 0, checked: false };
}

/** The state after one check; the streaks are capped so that a long-lived backend cannot overflow. */
export function observeCheck(s: HealthState, ok: boolean, rise: number, fall: number): HealthState {
  assert(rise >= 1 && fall >= 1, 'rise and fall are at least 1');
  assert(s.okStreak === 0 || s.failStreak === 0, 'only one streak runs at a time');
  const cap = Math.max(rise, fall);
  if (ok) {
    const okStreak = Math.min(s.okStreak + 1, cap);
    return { healthy: s.healthy || okStreak >= rise, okStreak, failStreak: 0, checked: true };
  }
  const failStreak = Math.min(s.failStreak + 1, cap);
  const down = failStreak >= fall || !s.checked;
  return { healthy: s.healthy && !down, okStreak: 0, failStreak, checked: true };
}

/**
 * The state after a client connection was refused (nothing listens at the backend): down at once, as
 * HAProxy's `observe layer4 error-limit 1 on-error mark-down`; checks bring it back after `rise`
 * successes. A refused connect is definitive, unlike a timeout, which may only mean load.
 */
export function observeRefusal(s: HealthState, rise: number, fall: number): HealthState {
  assert(rise >= 1 && fall >= 1, 'rise and fall are at least 1');
  return { healthy: false, okStreak: 0, failStreak: Math.max(s.failStreak, fall), checked: true };
}
