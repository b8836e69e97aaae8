// Row cells of the apps/v1 and batch/v1 printers (printers.go): deployments, replica sets,
// stateful sets, daemon sets, controller revisions, jobs and cron jobs.

import {
  formatLabelSelector,
  formatLabels,
  labelSelectorFromMeta,
  type MetaLabelSelector,
  SelectorError,
  selectorToString,
} from '../selectors.js';
import {
  ageSince,
  arr,
  bool,
  humanDuration,
  int,
  type Json,
  layoutContainerCells,
  obj,
  parseTime,
  str,
  strMap,
} from './format.js';

type Cells = unknown[];

function name(o: Json): string {
  return str(obj(o, 'metadata'), 'name');
}

function age(o: Json, now: Date): string {
  return ageSince(obj(o, 'metadata').creationTimestamp, now);
}

function metaSelector(spec: Json): MetaLabelSelector | undefined {
  const s = spec.selector;
  return s !== null && typeof s === 'object' ? (s as MetaLabelSelector) : undefined;
}

/** printDeployment formats LabelSelectorAsSelector(...).String(): "" for none, "<invalid>" when bad. */
function deploymentSelector(spec: Json): string {
  try {
    return selectorToString(labelSelectorFromMeta(metaSelector(spec)));
  } catch (err: unknown) {
    if (err instanceof SelectorError) return '<invalid>';
    throw err;
  }
}

export function deploymentCells(d: Json, now: Date): Cells {
  const spec = obj(d, 'spec');
  const status = obj(d, 'status');
  const [names, images] = layoutContainerCells(obj(spec, 'template', 'spec'));
  return [
    name(d),
    `${int(status, 'readyReplicas')}/${int(spec, 'replicas', 1)}`,
    int(status, 'updatedReplicas'),
    int(status, 'availableReplicas'),
    age(d, now),
    names,
    images,
    deploymentSelector(spec),
  ];
}

export function replicaSetCells(rs: Json, now: Date): Cells {
  const spec = obj(rs, 'spec');
  const status = obj(rs, 'status');
  const [names, images] = layoutContainerCells(obj(spec, 'template', 'spec'));
  return [
    name(rs),
    int(spec, 'replicas', 1),
    int(status, 'replicas'),
    int(status, 'readyReplicas'),
    age(rs, now),
    names,
    images,
    formatLabelSelector(metaSelector(spec)),
  ];
}

export function statefulSetCells(ss: Json, now: Date): Cells {
  const spec = obj(ss, 'spec');
  const [names, images] = layoutContainerCells(obj(spec, 'template', 'spec'));
  return [
    name(ss),
    `${int(obj(ss, 'status'), 'readyReplicas')}/${int(spec, 'replicas', 1)}`,
    age(ss, now),
    names,
    images,
  ];
}

export function daemonSetCells(ds: Json, now: Date): Cells {
  const spec = obj(ds, 'spec');
  const status = obj(ds, 'status');
  const podSpec = obj(spec, 'template', 'spec');
  const [names, images] = layoutContainerCells(podSpec);
  return [
    name(ds),
    int(status, 'desiredNumberScheduled'),
    int(status, 'currentNumberScheduled'),
    int(status, 'numberReady'),
    int(status, 'updatedNumberScheduled'),
    int(status, 'numberAvailable'),
    formatLabels(strMap(podSpec, 'nodeSelector')),
    age(ds, now),
    names,
    images,
    formatLabelSelector(metaSelector(spec)),
  ];
}

/** formatResourceName with the controller's group: "statefulset.apps/web", "<none>" without one. */
export function controllerRevisionCells(cr: Json, now: Date): Cells {
  const owner = arr(obj(cr, 'metadata'), 'ownerReferences').find((r) => bool(r, 'controller') === true);
  let controller = '<none>';
  if (owner !== undefined) {
    const apiVersion = str(owner, 'apiVersion');
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    const kind = str(owner, 'kind');
    const groupKind = group === '' ? kind : `${kind}.${group}`;
    controller = groupKind === '' ? str(owner, 'name') : `${groupKind.toLowerCase()}/${str(owner, 'name')}`;
  }
  return [name(cr), controller, int(cr, 'revision'), age(cr, now)];
}

function conditionTrue(status: Json, type: string): boolean {
  const c = arr(status, 'conditions').find((cond) => str(cond, 'type') === type);
  return c !== undefined && str(c, 'status') === 'True';
}

function jobStatus(job: Json): string {
  const status = obj(job, 'status');
  const deleting = obj(job, 'metadata').deletionTimestamp;
  if (conditionTrue(status, 'Complete')) return 'Complete';
  if (conditionTrue(status, 'Failed')) return 'Failed';
  if (deleting !== undefined && deleting !== null) return 'Terminating';
  if (conditionTrue(status, 'Suspended')) return 'Suspended';
  if (conditionTrue(status, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

function jobCompletions(job: Json): string {
  const spec = obj(job, 'spec');
  const succeeded = int(obj(job, 'status'), 'succeeded');
  if (typeof spec.completions === 'number') return `${succeeded}/${spec.completions}`;
  const parallelism = int(spec, 'parallelism');
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

function jobDuration(job: Json, now: Date): string {
  const status = obj(job, 'status');
  const start = parseTime(status.startTime);
  if (start === undefined) return '';
  const end = parseTime(status.completionTime) ?? now.getTime();
  return humanDuration(end - start);
}

export function jobCells(job: Json, now: Date): Cells {
  const spec = obj(job, 'spec');
  const [names, images] = layoutContainerCells(obj(spec, 'template', 'spec'));
  return [
    name(job),
    jobStatus(job),
    jobCompletions(job),
    jobDuration(job, now),
    age(job, now),
    names,
    images,
    formatLabelSelector(metaSelector(spec)),
  ];
}

/** printBoolPtr: "True", "False" or "<unset>" (a string in a boolean column, as Kubernetes does). */
function boolPtr(value: unknown): string {
  if (typeof value !== 'boolean') return '<unset>';
  return value ? 'True' : 'False';
}

export function cronJobCells(cj: Json, now: Date): Cells {
  const spec = obj(cj, 'spec');
  const status = obj(cj, 'status');
  const jobSpec = obj(spec, 'jobTemplate', 'spec');
  const [names, images] = layoutContainerCells(obj(jobSpec, 'template', 'spec'));
  const last =
    typeof status.lastScheduleTime === 'string' ? ageSince(status.lastScheduleTime, now) : '<none>';
  return [
    name(cj),
    str(spec, 'schedule'),
    typeof spec.timeZone === 'string' ? spec.timeZone : '<none>',
    boolPtr(spec.suspend),
    arr(status, 'active').length,
    last,
    age(cj, now),
    names,
    images,
    formatLabelSelector(metaSelector(jobSpec)),
  ];
}
