// The public API of @keelson/api: resource types, the resource registry and strategies, defaulting,
// validation, selectors, tables, patches and OpenAPI schemas. Each module appends its exports here.

export * from './status.js';
export type * from './types.js';
