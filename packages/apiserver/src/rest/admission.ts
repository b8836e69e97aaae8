// Runs the admission chain around a write: every mutating plugin, then (after the strategy's own
// validation) every validating plugin. Extras collected by plugins commit in the write's txn.
import type { KubeObject } from '@keelson/api';
import type { AdmissionContext, AdmissionRequest, Operation, TxnExtras } from '../types.js';
import type { RestRequest } from './context.js';
import type { RestDeps } from './deps.js';

export interface AdmissionRun {
  req: AdmissionRequest;
  ctx: AdmissionContext;
}

export function newAdmission(
  deps: RestDeps,
  r: RestRequest,
  operation: Operation,
  object: KubeObject | undefined,
  oldObject: KubeObject | undefined,
  dryRun: boolean,
): AdmissionRun {
  const extras: TxnExtras = { compares: [], puts: [] };
  const name = object?.metadata?.name ?? oldObject?.metadata?.name ?? r.path.name;
  return {
    req: {
      operation,
      info: r.info,
      subresource: r.path.subresource,
      namespace: r.info.namespaced ? r.path.namespace : '',
      name,
      object,
      oldObject,
      user: r.user,
      dryRun,
    },
    ctx: { storage: deps.storage, extras, tokens: deps.tokens },
  };
}

export async function admitMutating(deps: RestDeps, run: AdmissionRun): Promise<void> {
  for (const plugin of deps.admission) await plugin.admit?.(run.req, run.ctx);
}

export async function admitValidating(deps: RestDeps, run: AdmissionRun): Promise<void> {
  // The name may have been generated since the run was made.
  run.req.name = run.req.object?.metadata?.name ?? run.req.name;
  for (const plugin of deps.admission) await plugin.validate?.(run.req, run.ctx);
}

/**
 * Admission extras (a quota charge, a ClusterIP from the shared bitmap) that lost a race are
 * recomputed at most this many times. Every service create compares on the same bitmap key, so a
 * burst of N concurrent creates needs up to N rounds for the last one: 64 covers bursts that size
 * (H7 measured 54 rounds for 100 at once), and the pause below spreads the rounds out.
 */
export const EXTRAS_ATTEMPTS_MAX = 64;
const EXTRAS_RETRY_PAUSE_MS_MAX = 50;

/** A short random pause before re-admitting after a lost extras race, so racers do not collide again in step. */
export function extrasRetryPause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * EXTRAS_RETRY_PAUSE_MS_MAX));
}

export function extrasOf(run: AdmissionRun): TxnExtras | undefined {
  const e = run.ctx.extras;
  return e.compares.length === 0 && e.puts.length === 0 ? undefined : e;
}
