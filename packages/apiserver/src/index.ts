// The public API of @keelson/apiserver. Each module appends its exports here.

export * from './types.js';
