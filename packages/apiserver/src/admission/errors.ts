// Errors the admission plugins answer with, built as k8s.io/apiserver's admission.NewForbidden and
// apimachinery's errors.NewForbidden build them, so kubectl prints the messages users know.

import { type StatusCause, StatusError } from '@keelson/api';
import type { AdmissionRequest } from '../types.js';

/** "pods" or "deployments.apps", as GroupResource.String() prints it. */
export function groupResource(req: AdmissionRequest): string {
  return req.info.group === '' ? req.info.plural : `${req.info.plural}.${req.info.group}`;
}

/** The name admission reports: the request's, else the object's (admission's extractResourceName). */
export function requestObjectName(req: AdmissionRequest): string {
  if (req.name !== '') return req.name;
  const name = req.object?.metadata?.name;
  return typeof name === 'string' ? name : '';
}

/** errors.NewForbidden(resource, name, err): `pods "x" is forbidden: <why>`. */
export function forbiddenFor(
  resource: string,
  group: string,
  name: string,
  why: string,
  causes?: StatusCause[],
) {
  const qualified = group === '' ? resource : `${resource}.${group}`;
  const message =
    name === '' ? `${qualified} is forbidden: ${why}` : `${qualified} "${name}" is forbidden: ${why}`;
  const details: { name: string; group: string; kind: string; causes?: StatusCause[] } = {
    name,
    group,
    kind: resource,
  };
  if (causes !== undefined) details.causes = causes;
  return new StatusError(403, 'Forbidden', message, details);
}

/** admission.NewForbidden(attributes, err). */
export function admissionForbidden(req: AdmissionRequest, why: string, causes?: StatusCause[]): StatusError {
  return forbiddenFor(req.info.plural, req.info.group, requestObjectName(req), why, causes);
}

/** utilerrors.NewAggregate(errs).Error(): one message alone, several as `[a, b]`, duplicates dropped. */
export function aggregateMessage(messages: string[]): string {
  const unique = [...new Set(messages)];
  if (unique.length === 1) return unique[0] ?? '';
  return `[${unique.join(', ')}]`;
}

/** Whether the request is for the core-group resource `plural` (e.g. pods), not a subresource. */
export function isCoreResource(req: AdmissionRequest, plural: string): boolean {
  return req.info.group === '' && req.info.plural === plural && req.subresource === '';
}

/** A plain-object view of a nested field, or undefined when absent or not an object. */
export function objectField(value: unknown, key: string): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const child = (value as Record<string, unknown>)[key];
  if (child === null || typeof child !== 'object' || Array.isArray(child)) return undefined;
  return child as Record<string, unknown>;
}

/** The list at value[key], or an empty list. */
export function arrayField(value: unknown, key: string): unknown[] {
  if (value === null || typeof value !== 'object') return [];
  const child = (value as Record<string, unknown>)[key];
  return Array.isArray(child) ? child : [];
}

/** Records of a list field, skipping anything that is not an object (validation reports those). */
export function recordsOf(value: unknown, key: string): Record<string, unknown>[] {
  return arrayField(value, key).filter(
    (v): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v),
  );
}

/** parent[key] as an object, created empty when absent (for mutating admission). */
export function ensureRecord(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const existing = parent[key];
  if (existing !== null && typeof existing === 'object' && !Array.isArray(existing)) {
    return existing as Record<string, unknown>;
  }
  const created: Record<string, unknown> = {};
  parent[key] = created;
  return created;
}
