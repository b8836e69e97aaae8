// etcd's client-visible errors (etcd/api/v3rpc/rpctypes), with the same gRPC status codes and
// messages, so that etcdctl and the etcd client libraries print and branch on what users know.
// Internal code throws EtcdError; the gRPC layer turns it into a status with code and details.

/** gRPC status codes (google.rpc.Code), the subset etcd uses. */
export enum GrpcCode {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

const E = {
  EmptyKey: [GrpcCode.InvalidArgument, 'etcdserver: key is not provided'],
  KeyNotFound: [GrpcCode.InvalidArgument, 'etcdserver: key not found'],
  ValueProvided: [GrpcCode.InvalidArgument, 'etcdserver: value is provided'],
  LeaseProvided: [GrpcCode.InvalidArgument, 'etcdserver: lease is provided'],
  TooManyOps: [GrpcCode.InvalidArgument, 'etcdserver: too many operations in txn request'],
  DuplicateKey: [GrpcCode.InvalidArgument, 'etcdserver: duplicate key given in txn request'],
  Compacted: [GrpcCode.OutOfRange, 'etcdserver: mvcc: required revision has been compacted'],
  FutureRev: [GrpcCode.OutOfRange, 'etcdserver: mvcc: required revision is a future revision'],
  NoSpace: [GrpcCode.ResourceExhausted, 'etcdserver: mvcc: database space exceeded'],
  LeaseNotFound: [GrpcCode.NotFound, 'etcdserver: requested lease not found'],
  LeaseExist: [GrpcCode.FailedPrecondition, 'etcdserver: lease already exists'],
  LeaseTTLTooLarge: [GrpcCode.OutOfRange, 'etcdserver: too large lease TTL'],
  MemberExist: [GrpcCode.FailedPrecondition, 'etcdserver: member ID already exist'],
  PeerURLExist: [GrpcCode.FailedPrecondition, 'etcdserver: Peer URLs already exists'],
  MemberNotEnoughStarted: [
    GrpcCode.FailedPrecondition,
    'etcdserver: re-configuration failed due to not enough started members',
  ],
  MemberBadURLs: [GrpcCode.InvalidArgument, 'etcdserver: given member URLs are invalid'],
  MemberNotFound: [GrpcCode.NotFound, 'etcdserver: member not found'],
  MemberNotLearner: [GrpcCode.FailedPrecondition, 'etcdserver: can only promote a learner member'],
  LearnerNotReady: [
    GrpcCode.FailedPrecondition,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ],
  TooManyLearners: [GrpcCode.FailedPrecondition, 'etcdserver: too many learner members in cluster'],
  RequestTooLarge: [GrpcCode.InvalidArgument, 'etcdserver: request is too large'],
  TooManyRequests: [GrpcCode.ResourceExhausted, 'etcdserver: too many requests'],
  NoLeader: [GrpcCode.Unavailable, 'etcdserver: no leader'],
  NotLeader: [GrpcCode.FailedPrecondition, 'etcdserver: not leader'],
  LeaderChanged: [GrpcCode.Unavailable, 'etcdserver: leader changed'],
  NotCapable: [GrpcCode.Unavailable, 'etcdserver: not capable'],
  Stopped: [GrpcCode.Unavailable, 'etcdserver: server stopped'],
  Timeout: [GrpcCode.Unavailable, 'etcdserver: request timed out'],
  TimeoutDueToLeaderFail: [
    GrpcCode.Unavailable,
    'etcdserver: request timed out, possibly due to previous leader failure',
  ],
  TimeoutDueToConnectionLost: [
    GrpcCode.Unavailable,
    'etcdserver: request timed out, possibly due to connection lost',
  ],
  Unhealthy: [GrpcCode.Unavailable, 'etcdserver: unhealthy cluster'],
  Corrupt: [GrpcCode.DataLoss, 'etcdserver: corrupt cluster'],
  BadLeaderTransferee: [GrpcCode.FailedPrecondition, 'etcdserver: bad leader transferee'],
  Unimplemented: [GrpcCode.Unimplemented, 'etcdserver: not implemented'],
} as const satisfies Record<string, readonly [GrpcCode, string]>;

export type EtcdErrorCode = keyof typeof E;

/** An error a client sees: a stable code (etcd's name), its gRPC status code and etcd's message. */
export class EtcdError extends Error {
  readonly code: EtcdErrorCode;
  readonly grpcCode: GrpcCode;

  constructor(code: EtcdErrorCode, detail?: string) {
    const [grpcCode, message] = E[code];
    // etcd's messages are fixed strings that clients match on; details go after them.
    super(detail === undefined ? message : `${message} (${detail})`);
    this.name = 'EtcdError';
    this.code = code;
    this.grpcCode = grpcCode;
  }

  /** etcd's exact message, without Keelson's detail suffix (what goes on the wire). */
  get etcdMessage(): string {
    return E[this.code][1];
  }
}

export function isEtcdError(e: unknown, code?: EtcdErrorCode): e is EtcdError {
  return e instanceof EtcdError && (code === undefined || e.code === code);
}
