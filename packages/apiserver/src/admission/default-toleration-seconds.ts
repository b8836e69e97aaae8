// DefaultTolerationSeconds (plugin/pkg/admission/defaulttolerationseconds): pods tolerate the
// node-lifecycle controller's not-ready and unreachable NoExecute taints for 300 s unless they say
// otherwise, so a brief node outage does not evict everything at once.

import type { AdmissionPlugin, AdmissionRequest } from '../types.js';
import { arrayField, ensureRecord, isCoreResource, recordsOf } from './errors.js';

export const DEFAULT_TOLERATION_SECONDS = 'DefaultTolerationSeconds';
export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';

export interface DefaultTolerationSecondsOptions {
  /** --default-not-ready-toleration-seconds. */
  notReadySeconds?: number;
  /** --default-unreachable-toleration-seconds. */
  unreachableSeconds?: number;
}

export function defaultTolerationSeconds(opts: DefaultTolerationSecondsOptions = {}): AdmissionPlugin {
  const notReadySeconds = opts.notReadySeconds ?? 300;
  const unreachableSeconds = opts.unreachableSeconds ?? 300;

  async function admit(req: AdmissionRequest): Promise<void> {
    if (!isCoreResource(req, 'pods') || req.object === undefined) return;
    if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return;
    const spec = ensureRecord(req.object, 'spec');
    const tolerations = recordsOf(spec, 'tolerations');
    const added: Record<string, unknown>[] = [];
    if (!tolerations.some((t) => tolerates(t, TAINT_NODE_NOT_READY))) {
      added.push(noExecute(TAINT_NODE_NOT_READY, notReadySeconds));
    }
    if (!tolerations.some((t) => tolerates(t, TAINT_NODE_UNREACHABLE))) {
      added.push(noExecute(TAINT_NODE_UNREACHABLE, unreachableSeconds));
    }
    if (added.length > 0) spec.tolerations = [...arrayField(spec, 'tolerations'), ...added];
  }

  return { name: DEFAULT_TOLERATION_SECONDS, admit };
}

/** An empty key or effect matches any, exactly as the plugin checks it. */
function tolerates(t: Record<string, unknown>, key: string): boolean {
  const keyMatches = t.key === undefined || t.key === '' || t.key === key;
  const effectMatches = t.effect === undefined || t.effect === '' || t.effect === 'NoExecute';
  return keyMatches && effectMatches;
}

function noExecute(key: string, seconds: number): Record<string, unknown> {
  return { key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds };
}
