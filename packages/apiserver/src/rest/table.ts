// meta.k8s.io Table and PartialObjectMetadata answers. Resources without their own columns get
// Kubernetes' default table: Name and Created At.
import type { KubeObject, ResourceInfo, TableColumnDefinition } from '@keelson/api';
import type { TableConvertor } from './deps.js';

const defaultColumns: TableColumnDefinition[] = [
  {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: 'Name must be unique within a namespace.',
    priority: 0,
  },
  {
    name: 'Created At',
    type: 'date',
    format: '',
    description:
      'CreationTimestamp is a timestamp representing the server time when this object was created.',
    priority: 0,
  },
];

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function parseIncludeObject(value: string | null): IncludeObject {
  if (value === null || value === '') return 'Metadata';
  if (value === 'None' || value === 'Metadata' || value === 'Object') return value;
  throw new Error(`unsupported includeObject ${value}`);
}

export function partialMetadata(obj: KubeObject, version: string): KubeObject {
  return {
    kind: 'PartialObjectMetadata',
    apiVersion: `meta.k8s.io/${version}`,
    metadata: obj.metadata ?? {},
  };
}

export interface TableOptions {
  version: string;
  include: IncludeObject;
  /** Column definitions are left out (watch events after the first). */
  noHeaders: boolean;
  listMeta: Record<string, unknown>;
}

export function buildTable(
  convertor: TableConvertor | undefined,
  info: ResourceInfo,
  objs: KubeObject[],
  opts: TableOptions,
): KubeObject {
  const columns = convertor?.columns(info) ?? defaultColumns;
  const rows = objs.map((obj) => {
    const cells = convertor?.cells(info, obj) ?? [
      obj.metadata?.name ?? '',
      obj.metadata?.creationTimestamp ?? '',
    ];
    const row: Record<string, unknown> = { cells };
    if (opts.include === 'Metadata') row.object = partialMetadata(obj, opts.version);
    if (opts.include === 'Object') row.object = obj;
    return row;
  });
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${opts.version}`,
    metadata: opts.listMeta,
    columnDefinitions: opts.noHeaders ? [] : columns,
    rows,
  };
}
