// Patches and server-side apply: JSON merge patch, JSON patch, strategic merge patch, and the
// managedFields bookkeeping of apply and of every other write.

export {
  type ApplyInput,
  type ApplyResult,
  applyConfiguration,
  BEFORE_FIRST_APPLY,
  fieldSetOf,
  LAST_APPLIED_ANNOTATION,
  type TrackUpdateInput,
  trackUpdate,
} from './apply.js';
export { type ApplyConflict, applyConflictError, conflictMessage } from './conflicts.js';
export {
  type FieldPath,
  type FieldSet,
  FieldsV1Error,
  fromFieldsV1,
  members as fieldSetMembers,
  pathString as fieldPathString,
  toFieldsV1,
} from './fieldsv1.js';
export {
  applyJsonPatch,
  JSON_PATCH_COPY_BYTES_MAX,
  JSON_PATCH_OPERATIONS_MAX,
  jsonPatchFailed,
} from './json.js';
export { ANCIENT_CHANGES, rfc3339Seconds, UPDATE_MANAGERS_MAX } from './managers.js';
export { applyMergePatch, createMergePatch } from './merge.js';
export { applyStrategicMergePatch } from './strategic.js';
