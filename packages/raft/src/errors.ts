// Errors of the Raft core. Expected failures are RaftError with a stable `code` that callers branch
// on; a broken invariant is an AssertionError and means a bug: it is thrown, never caught and ignored.

export type RaftErrorCode =
  /** A proposal or read was not accepted; `details.reason` says why. */
  | 'ProposalDropped'
  /** The requested index is below the first index of the log (compacted away). */
  | 'Compacted'
  /** The requested index is beyond the last index of the log. */
  | 'Unavailable'
  /** A snapshot older than the current one was offered. */
  | 'SnapOutOfDate'
  /** Storage is producing a snapshot; try again later. */
  | 'SnapshotTemporarilyUnavailable'
  /** A local-only message was passed to step from the network. */
  | 'StepLocalMsg'
  /** A response came from a node not in the configuration. */
  | 'StepPeerNotFound'
  /** A configuration change is not valid for the current configuration. */
  | 'InvalidConfChange'
  /** The caller broke the API contract (for example, advance() without ready()). */
  | 'InvalidCall';

export type DropReason =
  | 'no-leader'
  | 'not-leader'
  | 'transfer-in-progress'
  | 'uncommitted-size-limit'
  | 'not-in-config'
  | 'conf-change-pending'
  | 'read-queue-full';

export interface RaftErrorDetails {
  readonly reason?: DropReason;
  /** The leader the caller should talk to instead, when known (0 when unknown). */
  readonly leader?: number;
  readonly index?: number;
}

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  readonly details: RaftErrorDetails;

  constructor(code: RaftErrorCode, message: string, details: RaftErrorDetails = {}) {
    super(message);
    this.name = 'RaftError';
    this.code = code;
    this.details = details;
  }
}

export function proposalDropped(reason: DropReason, leader: number): RaftError {
  const where = leader === 0 ? 'leader unknown' : `leader is ${leader}`;
  const what: Record<DropReason, string> = {
    'no-leader': 'no leader',
    'not-leader': 'not leader',
    'transfer-in-progress': 'leadership transfer in progress',
    'uncommitted-size-limit': 'uncommitted log size limit reached',
    'not-in-config': 'this node is not a member of the configuration',
    'conf-change-pending': 'a configuration change is already pending',
    'read-queue-full': 'too many pending read requests',
  };
  return new RaftError('ProposalDropped', `proposal dropped: ${what[reason]}; ${where}`, { reason, leader });
}

export class AssertionError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'AssertionError';
  }
}

/** Breaks loudly when an invariant does not hold. */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === 'string' ? message : message());
}
