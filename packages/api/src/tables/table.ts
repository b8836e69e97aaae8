// meta.k8s.io/v1 Table responses, as kube-apiserver builds them for
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`: the printer's columns, one row per object
// with every column (the server always prints wide and lets kubectl drop priority 1 columns), and
// each row's object reduced per includeObject (PartialObjectMetadata by default). Kinds without a
// printer get rest.NewDefaultTableConvertor's NAME / CREATED AT table.

import type { KubeObject, TableColumnDefinition } from '../types.js';
import { COLUMNS, DEFAULT_COLUMNS } from './columns.js';
import {
  configMapCells,
  endpointsCells,
  eventCells,
  namespaceCells,
  nodeCells,
  persistentVolumeCells,
  persistentVolumeClaimCells,
  replicationControllerCells,
  resourceQuotaCells,
  secretCells,
  serviceAccountCells,
  serviceCells,
} from './core.js';
import { type Json, obj, parseTime, str } from './format.js';
import {
  endpointSliceCells,
  hpaCells,
  ingressCells,
  ingressClassCells,
  leaseCells,
  networkPolicyCells,
  podDisruptionBudgetCells,
  roleBindingCells,
  storageClassCells,
} from './other.js';
import { podCells, podConditions, type TableRowCondition } from './pod.js';
import {
  controllerRevisionCells,
  cronJobCells,
  daemonSetCells,
  deploymentCells,
  jobCells,
  replicaSetCells,
  statefulSetCells,
} from './workloads.js';

export type { TableRowCondition } from './pod.js';

type CellsFn = (o: Json, now: Date) => unknown[];

const PRINTERS: Readonly<Record<string, CellsFn>> = {
  Pod: podCells,
  Node: nodeCells,
  Namespace: namespaceCells,
  Service: serviceCells,
  Endpoints: endpointsCells,
  ConfigMap: configMapCells,
  Secret: secretCells,
  ServiceAccount: serviceAccountCells,
  Event: eventCells,
  ResourceQuota: resourceQuotaCells,
  PersistentVolume: persistentVolumeCells,
  PersistentVolumeClaim: persistentVolumeClaimCells,
  ReplicationController: replicationControllerCells,
  Deployment: deploymentCells,
  ReplicaSet: replicaSetCells,
  StatefulSet: statefulSetCells,
  DaemonSet: daemonSetCells,
  ControllerRevision: controllerRevisionCells,
  Job: jobCells,
  CronJob: cronJobCells,
  HorizontalPodAutoscaler: hpaCells,
  Lease: leaseCells,
  RoleBinding: roleBindingCells,
  ClusterRoleBinding: roleBindingCells,
  Ingress: ingressCells,
  IngressClass: ingressClassCells,
  NetworkPolicy: networkPolicyCells,
  EndpointSlice: endpointSliceCells,
  StorageClass: storageClassCells,
  PodDisruptionBudget: podDisruptionBudgetCells,
};

/** Whether kube-apiserver has a dedicated printer for `kind` (otherwise NAME / CREATED AT). */
export function hasPrinter(kind: string): boolean {
  return Object.hasOwn(PRINTERS, kind);
}

/** The Table columns for `kind`, all priorities. */
export function tableColumnsFor(kind: string): TableColumnDefinition[] {
  return (COLUMNS[kind] ?? DEFAULT_COLUMNS).map((c) => ({ ...c }));
}

/** The default convertor's CREATED AT cell: the timestamp in RFC 3339 at second precision, UTC. */
function createdAt(o: Json): string {
  const ms = parseTime(obj(o, 'metadata').creationTimestamp);
  // An unset timestamp is Go's zero time.
  return ms === undefined ? '0001-01-01T00:00:00Z' : `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** The cells of one object's row, one per column of tableColumnsFor(kind). */
export function tableRowFor(kind: string, object: KubeObject, now: Date): unknown[] {
  const o = object as Json;
  const printer = PRINTERS[kind];
  const cells = printer === undefined ? [str(obj(o, 'metadata'), 'name'), createdAt(o)] : printer(o, now);
  const columns = COLUMNS[kind] ?? DEFAULT_COLUMNS;
  if (cells.length !== columns.length) {
    throw new Error(`assertion failed: ${kind} row has ${cells.length} cells for ${columns.length} columns`);
  }
  return cells;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface TableRow {
  cells: unknown[];
  conditions?: TableRowCondition[];
  /** PartialObjectMetadata (Metadata), the whole object (Object) or null (None). */
  object: KubeObject | null;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  /** null when noHeaders is set, as in the second and later events of a Table watch. */
  columnDefinitions: TableColumnDefinition[] | null;
  rows: TableRow[];
}

export interface BuildTableOptions {
  now: Date;
  /** TableOptions.includeObject; Metadata when absent. */
  includeObject?: IncludeObject;
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
  /** TableOptions.noHeaders: leave the column definitions out. */
  noHeaders?: boolean;
}

/** meta.AsPartialObjectMetadata with the meta.k8s.io/v1 kind the handler stamps on it. */
export function asPartialObjectMetadata(object: KubeObject): KubeObject {
  return {
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { ...(object.metadata ?? {}) },
  };
}

function rowObject(object: KubeObject, include: IncludeObject): KubeObject | null {
  if (include === 'None') return null;
  if (include === 'Object') return object;
  return asPartialObjectMetadata(object);
}

/** The whole Table for a list (or for one object: pass it alone with its resourceVersion). */
export function buildTable(kind: string, objects: readonly KubeObject[], opts: BuildTableOptions): Table {
  const include = opts.includeObject ?? 'Metadata';
  const rows = objects.map((o): TableRow => {
    const row: TableRow = { cells: tableRowFor(kind, o, opts.now), object: rowObject(o, include) };
    const conditions = kind === 'Pod' ? podConditions(o as Json) : undefined;
    if (conditions !== undefined) row.conditions = conditions;
    return row;
  });
  const metadata: Table['metadata'] = {};
  if (opts.resourceVersion !== undefined && opts.resourceVersion !== '')
    metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue !== undefined && opts.continue !== '') metadata.continue = opts.continue;
  if (opts.remainingItemCount !== undefined) metadata.remainingItemCount = opts.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: opts.noHeaders === true ? null : tableColumnsFor(kind),
    rows,
  };
}
