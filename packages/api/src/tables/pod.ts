// The pod row of kube-apiserver's printers (printPod in pkg/printers/internalversion/printers.go):
// READY counts ready containers (plus started sidecars), STATUS is the phase refined by init and
// container states, RESTARTS carries "(5m ago)" from the last termination, and -o wide adds IP,
// NODE, NOMINATED NODE and READINESS GATES.

import { ageSince, arr, bool, int, type Json, obj, parseTime, str } from './format.js';

/** The Completed row condition printers.go attaches to succeeded and failed pods. */
export interface TableRowCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

const NODE_UNREACHABLE_POD_REASON = 'NodeLost';

/** What printPod computes before laying out the cells. */
export interface PodSummary {
  reason: string;
  readyContainers: number;
  totalContainers: number;
  restarts: number;
  /** Milliseconds since the epoch of the last container termination, 0 when none. */
  lastRestartMs: number;
}

function isRestartableInitContainer(container: Json | undefined): boolean {
  return container !== undefined && str(container, 'restartPolicy') === 'Always';
}

function lastTerminationMs(status: Json): number {
  const terminated = obj(status, 'lastState', 'terminated');
  return parseTime(terminated.finishedAt) ?? 0;
}

function hasCondition(pod: Json, type: string): boolean {
  return arr(obj(pod, 'status'), 'conditions').some(
    (c) => str(c, 'type') === type && str(c, 'status') === 'True',
  );
}

/** isPodInitializedConditionTrue: the first Initialized condition decides. */
function isInitialized(pod: Json): boolean {
  const condition = arr(obj(pod, 'status'), 'conditions').find((c) => str(c, 'type') === 'Initialized');
  return condition !== undefined && str(condition, 'status') === 'True';
}

/** The reason a terminated container or init container shows, with an "Init:" prefix for the latter. */
function terminatedReason(terminated: Json, prefix: string): string {
  const reason = str(terminated, 'reason');
  if (reason !== '') return `${prefix}${reason}`;
  const signal = int(terminated, 'signal');
  return signal !== 0 ? `${prefix}Signal:${signal}` : `${prefix}ExitCode:${int(terminated, 'exitCode')}`;
}

/**
 * Walks the init container statuses in order; the first one not done decides the reason.
 * Returns whether the pod is still initializing.
 */
function summarizeInit(pod: Json, s: PodSummary, restartable: { restarts: number; lastMs: number }): boolean {
  const spec = obj(pod, 'spec');
  const initContainers = new Map(arr(spec, 'initContainers').map((c) => [str(c, 'name'), c]));
  const statuses = arr(obj(pod, 'status'), 'initContainerStatuses');
  for (let i = 0; i < statuses.length; i++) {
    const container = statuses[i] as Json;
    const restartCount = int(container, 'restartCount');
    s.restarts += restartCount;
    s.lastRestartMs = Math.max(s.lastRestartMs, lastTerminationMs(container));
    const sidecar = isRestartableInitContainer(initContainers.get(str(container, 'name')));
    if (sidecar) {
      restartable.restarts += restartCount;
      restartable.lastMs = Math.max(restartable.lastMs, lastTerminationMs(container));
    }
    const state = obj(container, 'state');
    const terminated = state.terminated !== undefined ? obj(state, 'terminated') : undefined;
    const waiting = state.waiting !== undefined ? obj(state, 'waiting') : undefined;
    if (terminated !== undefined && int(terminated, 'exitCode') === 0) continue;
    if (sidecar && bool(container, 'started') === true) {
      if (bool(container, 'ready') === true) s.readyContainers++;
      continue;
    }
    if (terminated !== undefined) {
      s.reason = terminatedReason(terminated, 'Init:');
    } else if (
      waiting !== undefined &&
      str(waiting, 'reason') !== '' &&
      str(waiting, 'reason') !== 'PodInitializing'
    ) {
      s.reason = `Init:${str(waiting, 'reason')}`;
    } else {
      s.reason = `Init:${i}/${arr(spec, 'initContainers').length}`;
    }
    return true;
  }
  return false;
}

/** Walks the container statuses from last to first, as printers.go does, so the first one wins. */
function summarizeContainers(pod: Json, s: PodSummary): void {
  const statuses = arr(obj(pod, 'status'), 'containerStatuses');
  let hasRunning = false;
  for (let i = statuses.length - 1; i >= 0; i--) {
    const container = statuses[i] as Json;
    s.restarts += int(container, 'restartCount');
    s.lastRestartMs = Math.max(s.lastRestartMs, lastTerminationMs(container));
    const state = obj(container, 'state');
    const waitingReason = str(obj(state, 'waiting'), 'reason');
    if (state.waiting !== undefined && waitingReason !== '') {
      s.reason = waitingReason;
    } else if (state.terminated !== undefined) {
      s.reason = terminatedReason(obj(state, 'terminated'), '');
    } else if (bool(container, 'ready') === true && state.running !== undefined) {
      hasRunning = true;
      s.readyContainers++;
    }
  }
  // A pod whose last container completed but another still runs is Running (or NotReady).
  if (s.reason === 'Completed' && hasRunning) s.reason = hasCondition(pod, 'Ready') ? 'Running' : 'NotReady';
}

/** The READY, STATUS and RESTARTS inputs of a pod. */
export function summarizePod(pod: Json): PodSummary {
  const spec = obj(pod, 'spec');
  const status = obj(pod, 'status');
  const phase = str(status, 'phase');
  const s: PodSummary = {
    reason: str(status, 'reason') !== '' ? str(status, 'reason') : phase,
    readyContainers: 0,
    totalContainers: arr(spec, 'containers').length,
    restarts: 0,
    lastRestartMs: 0,
  };
  if (
    arr(status, 'conditions').some(
      (c) => str(c, 'type') === 'PodScheduled' && str(c, 'reason') === 'SchedulingGated',
    )
  ) {
    s.reason = 'SchedulingGated';
  }
  s.totalContainers += arr(spec, 'initContainers').filter(isRestartableInitContainer).length;
  const restartable = { restarts: 0, lastMs: 0 };
  const initializing = summarizeInit(pod, s, restartable);
  if (!initializing || isInitialized(pod)) {
    s.restarts = restartable.restarts;
    s.lastRestartMs = restartable.lastMs;
    summarizeContainers(pod, s);
  }
  const deletionTimestamp = obj(pod, 'metadata').deletionTimestamp;
  const deleting = deletionTimestamp !== undefined && deletionTimestamp !== null;
  if (deleting && str(status, 'reason') === NODE_UNREACHABLE_POD_REASON) s.reason = 'Unknown';
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') s.reason = 'Terminating';
  return s;
}

function readinessGates(pod: Json): string {
  const gates = arr(obj(pod, 'spec'), 'readinessGates');
  if (gates.length === 0) return '<none>';
  const conditions = arr(obj(pod, 'status'), 'conditions');
  const trueCount = gates.filter((g) => {
    const c = conditions.find((cond) => str(cond, 'type') === str(g, 'conditionType'));
    return c !== undefined && str(c, 'status') === 'True';
  }).length;
  return `${trueCount}/${gates.length}`;
}

/** The pod's first IP: v1 podIP is authoritative, as the v1 to internal conversion makes it. */
function podIp(pod: Json): string {
  const status = obj(pod, 'status');
  const ip = str(status, 'podIP') || str(arr(status, 'podIPs')[0] ?? {}, 'ip');
  return ip === '' ? '<none>' : ip;
}

/** NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES. */
export function podCells(pod: Json, now: Date): unknown[] {
  const meta = obj(pod, 'metadata');
  const s = summarizePod(pod);
  let restarts = String(s.restarts);
  if (s.restarts !== 0 && s.lastRestartMs !== 0) {
    restarts = `${s.restarts} (${ageSince(new Date(s.lastRestartMs).toISOString(), now)} ago)`;
  }
  const nodeName = str(obj(pod, 'spec'), 'nodeName');
  const nominated = str(obj(pod, 'status'), 'nominatedNodeName');
  return [
    str(meta, 'name'),
    `${s.readyContainers}/${s.totalContainers}`,
    s.reason,
    restarts,
    ageSince(meta.creationTimestamp, now),
    podIp(pod),
    nodeName === '' ? '<none>' : nodeName,
    nominated === '' ? '<none>' : nominated,
    readinessGates(pod),
  ];
}

/** Succeeded and failed pods carry a Completed row condition. */
export function podConditions(pod: Json): TableRowCondition[] | undefined {
  const phase = str(obj(pod, 'status'), 'phase');
  if (phase === 'Succeeded') {
    return [
      {
        type: 'Completed',
        status: 'True',
        reason: 'Succeeded',
        message: 'The pod has completed successfully.',
      },
    ];
  }
  if (phase === 'Failed')
    return [{ type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' }];
  return undefined;
}
