// Errors of the load balancer: one class with a stable code, so that callers branch on codes.

export type LbErrorCode =
  /** A flag or option is malformed or out of range. */
  | 'BAD_CONFIG'
  /** The listen or admin address could not be bound. */
  | 'LISTEN_FAILED'
  /** close() was called twice or start() after close(). */
  | 'CLOSED';

export class LbError extends Error {
  constructor(
    readonly code: LbErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'LbError';
  }
}

/** An assertion failure is a bug in the load balancer, never an expected condition. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
