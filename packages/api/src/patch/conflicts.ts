// Apply conflicts: which manager owns a field an apply would change, printed the way
// kube-apiserver prints them (fieldmanager's NewConflictError and getConflictMessage).

import { StatusError } from '../status.js';
import { type FieldSet, members, pathString } from './fieldsv1.js';
import type { Manager } from './managers.js';
import { assert } from './util.js';

export interface ApplyConflict {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion?: string;
  subresource?: string;
  /** The field as Kubernetes prints it: `.spec.replicas`, `.spec.containers[name="nginx"].image`. */
  field: string;
}

/** The conflicts of an apply, one per field, managers in identifier order. */
export function conflictsOf(
  managers: Map<string, Manager>,
  taken: Map<string, FieldSet>,
): { conflicts: ApplyConflict[]; message: string } {
  assert(taken.size > 0, 'conflicts need a taken field');
  const conflicts: ApplyConflict[] = [];
  for (const managerId of [...taken.keys()].sort()) {
    const { entry } = managers.get(managerId) as Manager;
    for (const path of members(taken.get(managerId) as FieldSet)) {
      const conflict: ApplyConflict = {
        manager: entry.manager ?? '',
        operation: entry.operation ?? 'Update',
        field: pathString(path),
      };
      if (entry.apiVersion !== undefined) conflict.apiVersion = entry.apiVersion;
      if (entry.subresource !== undefined) conflict.subresource = entry.subresource;
      conflicts.push(conflict);
    }
  }
  return { conflicts, message: conflictMessage(conflicts) };
}

/** How the field manager prints a manager in conflicts: `"kubectl" ` or `"x" using apps/v1`. */
function printManager(c: ApplyConflict): string {
  let out = JSON.stringify(c.manager);
  if (c.subresource !== undefined && c.subresource !== '')
    out += ` with subresource ${JSON.stringify(c.subresource)}`;
  if (c.operation === 'Update') out += ` using ${c.apiVersion ?? ''}`;
  return out;
}

/** The message of kube-apiserver's apply conflict error (fieldmanager's getConflictMessage). */
export function conflictMessage(conflicts: ApplyConflict[]): string {
  assert(conflicts.length > 0, 'a conflict message needs conflicts');
  const first = conflicts[0] as ApplyConflict;
  if (conflicts.length === 1) {
    return `Apply failed with 1 conflict: conflict with ${printManager(first)}: ${first.field}`;
  }
  const byManager = new Map<string, string[]>();
  for (const c of conflicts) {
    const name = printManager(c);
    byManager.set(name, [...(byManager.get(name) ?? []), c.field]);
  }
  const lines: string[] = [];
  for (const [name, fields] of byManager) {
    lines.push(`conflicts with ${name}:`);
    for (const field of fields) lines.push(`- ${field}`);
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
}

/** errors.NewApplyConflict: 409 Conflict with one FieldManagerConflict cause per field. */
export function applyConflictError(conflicts: ApplyConflict[]): StatusError {
  return new StatusError(409, 'Conflict', conflictMessage(conflicts), {
    causes: conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with ${printManager(c)}`,
      field: c.field,
    })),
  });
}
