// Server-side printing: the meta.k8s.io/v1 Table columns and rows of kube-apiserver's printers.

export { humanDuration } from './format.js';
export { type PodSummary, summarizePod } from './pod.js';
export {
  asPartialObjectMetadata,
  type BuildTableOptions,
  buildTable,
  hasPrinter,
  type IncludeObject,
  type Table,
  type TableRow,
  type TableRowCondition,
  tableColumnsFor,
  tableRowFor,
} from './table.js';
