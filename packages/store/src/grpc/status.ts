// Turns what a backend throws into the gRPC status a client sees. etcd's clients (clientv3, etcdctl)
// map the status message text back to typed errors, so an EtcdError goes out with etcd's exact message
// and nothing appended; Keelson's detail suffix is logged instead.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { EtcdError, GrpcCode } from '../errors.js';

export interface StatusError {
  code: number;
  details: string;
}

/** The status for an error thrown while serving `method`; anything but an EtcdError is a bug and logged. */
export function toStatusError(e: unknown, method: string, logger: Logger): StatusError {
  if (e instanceof EtcdError) {
    if (e.message !== e.etcdMessage) logger.debug({ method, err: e.message }, 'request failed');
    return { code: e.grpcCode, details: e.etcdMessage };
  }
  logger.error({ method, err: e }, 'unexpected error while serving a request (a Keelson bug)');
  const message = e instanceof Error ? e.message : String(e);
  return { code: GrpcCode.Unknown, details: message };
}

/** A ServiceError for grpc-js's unary callback. */
export function toServiceError(e: unknown, method: string, logger: Logger): Partial<grpc.StatusObject> {
  const status = toStatusError(e, method, logger);
  return { code: status.code, details: status.details };
}
