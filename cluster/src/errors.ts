// Errors a person running `keelson cluster` sees: each has a stable code for callers to branch on,
// and a message that says what went wrong and what to do.

export type ClusterErrorCode =
  /** cluster.json disagrees with the flags given (e.g. --stores 5 on a 3-member dir). */
  | 'LAYOUT_MISMATCH'
  /** The directory is in a state the launcher will not guess about (half a store, bad cluster.json). */
  | 'BAD_DIR'
  /** No cluster.json in the directory (status/down on a dir that never held a cluster). */
  | 'NO_CLUSTER'
  /** A port a component must listen on is taken by something else. */
  | 'PORT_IN_USE'
  /** A component exited while it was starting. */
  | 'EXITED'
  /** A component did not become healthy within the bound. */
  | 'NOT_HEALTHY'
  /** `keelson`'s main.js (what every component runs) is missing. */
  | 'MAIN_MISSING'
  /** The caller aborted `up` (Ctrl-C). */
  | 'ABORTED';

export class ClusterError extends Error {
  constructor(
    readonly code: ClusterErrorCode,
    message: string,
    /** The component at fault and its log, when there is one. */
    readonly details: { readonly component?: string; readonly logFile?: string } = {},
  ) {
    super(message);
    this.name = 'ClusterError';
  }
}

/** A broken invariant: a bug in the launcher, never an expected failure. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
