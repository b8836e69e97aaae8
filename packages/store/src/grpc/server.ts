// The etcd v3 gRPC API (KV, Watch, Lease, Cluster, Maintenance, Auth) served from a StoreBackend.
// This layer decodes, checks request sizes and shapes like etcd's api/v3rpc, calls the backend and
// encodes; it holds no state beyond the open streams. Errors go out as etcd's status codes and messages.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { StoreBackend } from '../api/backend.js';
import type * as T from '../api/types.js';
import { EtcdError } from '../errors.js';
import { GrpcH2Server, type MethodHandler, type ServerStreamCall, type UnaryHandler } from './h2server.js';
import { loadServerServices } from './proto.js';
import { toStatusError } from './status.js';
import { handleLeaseKeepAlive, handleSnapshot } from './streams.js';
import {
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
  maxTxnOpsDefault,
} from './validate.js';
import { type WatchCall, WatchStream } from './watch.js';

/** etcd's default --max-request-bytes (1.5 MiB). */
export const maxRequestBytesDefault = 1.5 * 1024 * 1024;
/** etcd lets gRPC receive this much more than --max-request-bytes, for the message envelope. */
export const grpcOverheadBytes = 512 * 1024;
export const watchSendBufferBytesMaxDefault = 32 * 1024 * 1024;

export interface EtcdGrpcServerOptions {
  /** Put, DeleteRange and Txn requests encoded larger than this fail with "etcdserver: request is too large". */
  maxRequestBytes: number;
  logger: Logger;
  /** etcd's --max-txn-ops (default 128). */
  maxTxnOps?: number;
  /** Per Watch stream: unsent bytes beyond this cancel the stream's watches (default 32 MiB). */
  watchSendBufferBytesMax?: number;
}

interface Context {
  backend: StoreBackend;
  logger: Logger;
  maxRequestBytes: number;
  maxTxnOps: number;
  watchSendBufferBytesMax: number;
  /** Encoded size of each decoded write request, recorded by the wrapped deserializers. */
  requestSizes: WeakMap<object, number>;
}

type Handlers = Record<string, MethodHandler>;

export function createEtcdGrpcServer(backend: StoreBackend, opts: EtcdGrpcServerOptions): GrpcH2Server {
  if (!(Number.isInteger(opts.maxRequestBytes) && opts.maxRequestBytes > 0)) {
    throw new Error(`maxRequestBytes must be a positive integer, got ${opts.maxRequestBytes}`);
  }
  const ctx: Context = {
    backend,
    logger: opts.logger.child({ component: 'grpc' }),
    maxRequestBytes: opts.maxRequestBytes,
    maxTxnOps: opts.maxTxnOps ?? maxTxnOpsDefault,
    watchSendBufferBytesMax: opts.watchSendBufferBytesMax ?? watchSendBufferBytesMaxDefault,
    requestSizes: new WeakMap(),
  };
  const services = loadServerServices();
  // etcd's server keepalive defaults (ping an idle client every 2 hours, give up after 20 seconds) are
  // GrpcH2Server's defaults.
  const server = new GrpcH2Server({
    maxReceiveMessageBytes: opts.maxRequestBytes + grpcOverheadBytes,
    logger: ctx.logger,
    errorToStatus: (e, method) => toStatusError(e, method, ctx.logger),
  });
  server.addService(recordRequestSizes(services.KV.service, ctx.requestSizes), kvHandlers(ctx));
  server.addService(services.Watch.service, { Watch: (call: ServerStreamCall) => serveWatch(ctx, call) });
  server.addService(services.Lease.service, leaseHandlers(ctx));
  server.addService(services.Cluster.service, clusterHandlers(ctx));
  server.addService(services.Maintenance.service, maintenanceHandlers(ctx));
  server.addService(services.Auth.service, authHandlers(services.Auth.service));
  return server;
}

/** Wraps the request deserializers so that handlers can learn a request's encoded size. */
function recordRequestSizes(
  service: grpc.ServiceDefinition,
  sizes: WeakMap<object, number>,
): grpc.ServiceDefinition {
  const wrapped: Record<string, grpc.MethodDefinition<object, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const request = method.requestDeserialize(bytes) as object;
        sizes.set(request, bytes.length);
        return request;
      },
    };
  }
  return wrapped;
}

function checkRequestSize(ctx: Context, request: object): void {
  if ((ctx.requestSizes.get(request) ?? 0) > ctx.maxRequestBytes) throw new EtcdError('RequestTooLarge');
}

/** A unary handler: fn's result is the answer; what it throws (or rejects with) becomes the status. */
function unary<Req, Res>(fn: (req: Req) => Promise<Res>): UnaryHandler {
  return fn as unknown as UnaryHandler;
}

function kvHandlers(ctx: Context): Handlers {
  const b = ctx.backend;
  return {
    Range: unary((req: T.RangeRequest) => {
      checkRangeRequest(req);
      return b.range(req);
    }),
    Put: unary((req: T.PutRequest) => {
      checkRequestSize(ctx, req);
      checkPutRequest(req);
      return b.put(req);
    }),
    DeleteRange: unary((req: T.DeleteRangeRequest) => {
      checkRequestSize(ctx, req);
      checkDeleteRequest(req);
      return b.deleteRange(req);
    }),
    Txn: unary((req: T.TxnRequest) => {
      checkRequestSize(ctx, req);
      checkTxnRequest(req, ctx.maxTxnOps);
      return b.txn(req);
    }),
    Compact: unary((req: T.CompactionRequest) => b.compact(req)),
  };
}

function serveWatch(ctx: Context, call: WatchCall): void {
  const stream = new WatchStream(call, {
    backend: ctx.backend,
    logger: ctx.logger,
    sendBufferBytesMax: ctx.watchSendBufferBytesMax,
  });
  call.on('data', (req) => {
    try {
      stream.onRequest(req);
    } catch (e) {
      // A bug in this layer or the backend must not take the process down; it ends this stream only.
      stream.close();
      call.emit('error', toStatusError(e, 'Watch', ctx.logger));
    }
  });
  // Like etcd, a client that half-closes ends the stream: its watches are canceled.
  call.on('end', () => {
    stream.close();
    if (!call.writableEnded) call.end();
  });
  call.on('cancelled', () => stream.close());
  call.on('error', () => stream.close());
  call.on('close', () => stream.close());
}

function leaseHandlers(ctx: Context): Handlers {
  const b = ctx.backend;
  return {
    LeaseGrant: unary((req: { TTL: number; ID: number }) => b.leaseGrant({ TTL: req.TTL, ID: req.ID })),
    LeaseRevoke: unary((req: { ID: number }) => b.leaseRevoke({ ID: req.ID })),
    LeaseKeepAlive: (call: ServerStreamCall) => handleLeaseKeepAlive(b, ctx.logger, call),
    LeaseTimeToLive: unary((req: { ID: number; keys: boolean }) =>
      b.leaseTimeToLive({ ID: req.ID, keys: req.keys }),
    ),
    LeaseLeases: unary(() => b.leaseLeases()),
  };
}

function clusterHandlers(ctx: Context): Handlers {
  const b = ctx.backend;
  return {
    MemberAdd: unary((req: { peerURLs: string[]; isLearner: boolean }) =>
      b.memberAdd({ peerURLs: req.peerURLs, isLearner: req.isLearner }),
    ),
    MemberRemove: unary((req: { ID: number }) => b.memberRemove({ ID: req.ID })),
    MemberUpdate: unary((req: { ID: number; peerURLs: string[] }) =>
      b.memberUpdate({ ID: req.ID, peerURLs: req.peerURLs }),
    ),
    MemberList: unary(() => b.memberList()),
    MemberPromote: unary((req: { ID: number }) => b.memberPromote({ ID: req.ID })),
  };
}

function maintenanceHandlers(ctx: Context): Handlers {
  const b = ctx.backend;
  return {
    Alarm: unary((req: { action: T.AlarmAction; memberID: number; alarm: T.AlarmType }) =>
      b.alarm({ action: req.action, memberID: req.memberID, alarm: req.alarm }),
    ),
    Status: unary(() => b.status()),
    Defragment: unary(() => b.defragment()),
    Hash: unary(() => b.hash()),
    HashKV: unary((req: { revision: number }) => b.hashKV({ revision: req.revision })),
    Snapshot: (call: ServerStreamCall) => {
      void handleSnapshot(b, ctx.logger, call);
    },
    MoveLeader: unary((req: { targetID: number }) => b.moveLeader({ targetID: req.targetID })),
  };
}

/** Keelson has no authentication yet: every Auth method answers Unimplemented with etcd's message. */
function authHandlers(service: grpc.ServiceDefinition): Handlers {
  const handlers: Handlers = {};
  for (const name of Object.keys(service)) {
    handlers[name] = unary(async () => {
      throw new EtcdError('Unimplemented');
    });
  }
  return handlers;
}
