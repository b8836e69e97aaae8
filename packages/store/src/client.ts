// EtcdClient: a thin, typed, promise-based client for etcd's v3 gRPC API, on the same .proto files as
// the server. It is what the rest of Keelson (apiserver, chaos, bench) uses to talk to Keelson or to a
// real etcd. Thin on purpose: one method is one RPC; the only smartness is moving to the next endpoint
// when one is unavailable, and retrying there only for calls that are safe to repeat (reads, member
// list, status). Puts, deletes and txns are never retried: the first attempt may have been applied.
import * as grpc from '@grpc/grpc-js';
import * as R from './grpc/client-requests.js';
import * as C from './grpc/client-types.js';
import { type EtcdServiceName, loadClientServices } from './grpc/proto.js';

export * from './grpc/client-requests.js';
export * from './grpc/client-types.js';

export interface EtcdClientOptions {
  /** 'http://127.0.0.1:2379' or '127.0.0.1:2379'. */
  endpoints: string[];
  /** How long a call waits for a connection to an endpoint before giving up on it (default 2 s, like etcdctl). */
  dialTimeoutMs?: number;
  /** Deadline of each unary call (default 5 s, like etcdctl's --command-timeout). */
  requestTimeoutMs?: number;
}

/** An error from the server or the connection: `code` is the gRPC status code, `details` etcd's message. */
export class EtcdClientError extends Error {
  readonly code: number;
  readonly details: string;
  readonly method: string;

  constructor(method: string, code: number, details: string) {
    super(details);
    this.name = 'EtcdClientError';
    this.method = method;
    this.code = code;
    this.details = details;
  }
}

export interface WatchHandle {
  /** The server-assigned watch id. */
  readonly watchId: number;
  /** Cancels the watch and closes its stream. */
  cancel(): void;
  /** Asks for a progress notification (etcd 3.4 answers with watch_id -1 and no events). */
  requestProgress(): void;
}

/** Options that pin a per-member call (status, hashKV, defragment, moveLeader) to one endpoint. */
export interface EndpointOptions {
  endpoint?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages are checked by the converters
type Wire = any;
type Clients = Record<EtcdServiceName, grpc.Client>;

interface Endpoint {
  address: string;
  channel: grpc.Channel;
  clients: Clients;
}

const dialTimeoutMsDefault = 2_000;
const requestTimeoutMsDefault = 5_000;
/** Retries of an idempotent call are bounded: twice around the endpoints, at most this many attempts. */
const attemptsMax = 8;
const retryBackoffMs = 50;

const channelOptions: grpc.ChannelOptions = {
  // The server enforces etcd's request limit; the client only bounds what it is willing to receive.
  'grpc.max_send_message_length': -1,
  'grpc.max_receive_message_length': 512 * 1024 * 1024,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  // Channelz keeps per-call counters and traces (a cost on every request); nothing reads them.
  'grpc.enable_channelz': 0,
};

export class EtcdClient {
  private readonly endpoints: Endpoint[];
  private readonly dialTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  /** The endpoint calls go to; moves on when it is unavailable. */
  private current = 0;
  private readonly openStreams = new Set<grpc.ClientDuplexStream<unknown, unknown>>();
  private closed = false;

  constructor(opts: EtcdClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('EtcdClient needs at least one endpoint');
    this.dialTimeoutMs = opts.dialTimeoutMs ?? dialTimeoutMsDefault;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? requestTimeoutMsDefault;
    this.endpoints = opts.endpoints.map((e) => createEndpoint(normalizeEndpoint(e)));
  }

  // ---- KV ----

  get(key: R.Bytes, opts: R.GetOptions = {}): Promise<C.RangeResult> {
    return this.range(R.rangeRequest(key, opts));
  }

  /** A raw RangeRequest in rpc.proto's shape (snake_case fields). */
  async range(req: R.WireRequest): Promise<C.RangeResult> {
    return C.toRange(await this.unary('KV', 'Range', req, true));
  }

  async put(key: R.Bytes, value: R.Bytes, opts: R.PutOptions = {}): Promise<C.PutResult> {
    return C.toPut(await this.unary('KV', 'Put', R.putRequest(key, value, opts), false));
  }

  async delete(key: R.Bytes, opts: R.DeleteOptions = {}): Promise<C.DeleteResult> {
    return C.toDelete(await this.unary('KV', 'DeleteRange', R.deleteRequest(key, opts), false));
  }

  /** A transaction; build it with `cmp` and `op`, e.g. {compare: [cmp.version('k', '=', 0)], success: [op.put('k', 'v')]}. */
  async txn(spec: R.TxnSpec): Promise<C.TxnResult> {
    return C.toTxn(await this.unary('KV', 'Txn', R.txnRequest(spec), false));
  }

  async compact(revision: number, opts: { physical?: boolean } = {}): Promise<{ header: C.Header }> {
    const res = await this.unary('KV', 'Compact', { revision, physical: opts.physical ?? false }, false);
    return { header: C.toHeader(res.header) };
  }

  // ---- Watch ----

  /**
   * Opens a watch on its own stream and resolves once the server has created it, so that every change
   * made after the promise resolves is seen. Every response (created, events, progress, cancel) goes to
   * onResponse. A watch the server refuses rejects with the server's cancel reason.
   */
  async watch(
    key: R.Bytes,
    opts: R.WatchOptions,
    onResponse: (r: C.WatchResult) => void,
  ): Promise<WatchHandle> {
    const ep = await this.readyEndpoint('Watch');
    const k = R.bytes(key);
    const createRequest = {
      key: k.length === 0 && (opts.prefix || opts.fromKey) ? Buffer.from([0]) : k,
      range_end: R.rangeEndOf(k, opts),
      start_revision: opts.startRevision ?? 0,
      progress_notify: opts.progressNotify ?? false,
      filters: opts.filters ?? [],
      prev_kv: opts.prevKv ?? false,
    };
    const stream = (ep.clients.Watch as Wire).Watch() as grpc.ClientDuplexStream<Wire, Wire>;
    this.openStreams.add(stream);
    return new Promise((resolve, reject) => {
      let handle: WatchHandle | null = null;
      let over = false;
      const finish = (): void => {
        over = true;
        this.openStreams.delete(stream);
        stream.end();
      };
      stream.on('data', (raw: Wire) => {
        const r = C.toWatch(raw);
        if (handle === null && r.created && r.canceled) {
          finish();
          reject(new EtcdClientError('Watch', grpc.status.CANCELLED, r.cancel_reason || 'watch refused'));
          return;
        }
        if (handle === null && r.created) {
          handle = watchHandle(r.watch_id, stream, () => !over, finish);
          resolve(handle);
        }
        if (r.canceled && !r.created) finish();
        onResponse(r);
      });
      stream.on('error', (e: Error) => {
        if (over || this.closed) return;
        finish();
        const err = toClientError('Watch', e);
        if (handle === null) reject(err);
        else opts.onError?.(err);
      });
      stream.write({ create_request: R.withoutEmptyBytes(createRequest) });
    });
  }

  // ---- Lease ----

  async leaseGrant(ttlSeconds: number, id: R.Id = 0): Promise<C.LeaseGrantResult> {
    const res = await this.unary('Lease', 'LeaseGrant', { TTL: ttlSeconds, ID: id }, false);
    return { header: C.toHeader(res.header), ID: String(res.ID), TTL: C.num(res.TTL), error: res.error };
  }

  async leaseRevoke(id: R.Id): Promise<{ header: C.Header }> {
    const res = await this.unary('Lease', 'LeaseRevoke', { ID: id }, false);
    return { header: C.toHeader(res.header) };
  }

  /** Renews a lease once. TTL 0 in the answer means the lease does not exist (any more). */
  async leaseKeepAliveOnce(id: R.Id): Promise<C.LeaseKeepAliveResult> {
    const ep = await this.readyEndpoint('LeaseKeepAlive');
    const stream = (ep.clients.Lease as Wire).LeaseKeepAlive({
      deadline: Date.now() + this.requestTimeoutMs,
    }) as grpc.ClientDuplexStream<Wire, Wire>;
    return new Promise((resolve, reject) => {
      stream.once('data', (res: Wire) => {
        resolve({ header: C.toHeader(res.header), ID: String(res.ID), TTL: C.num(res.TTL) });
        stream.end();
      });
      stream.on('error', (e: Error) => reject(toClientError('LeaseKeepAlive', e)));
      stream.write({ ID: id });
    });
  }

  async leaseTimeToLive(id: R.Id, opts: { keys?: boolean } = {}): Promise<C.LeaseTimeToLiveResult> {
    const res = await this.unary('Lease', 'LeaseTimeToLive', { ID: id, keys: opts.keys ?? false }, true);
    return {
      header: C.toHeader(res.header),
      ID: String(res.ID),
      TTL: C.num(res.TTL),
      grantedTTL: C.num(res.grantedTTL),
      keys: res.keys,
    };
  }

  async leaseLeases(): Promise<{ header: C.Header; leases: { ID: string }[] }> {
    const res = await this.unary('Lease', 'LeaseLeases', {}, true);
    return { header: C.toHeader(res.header), leases: res.leases.map((l: Wire) => ({ ID: String(l.ID) })) };
  }

  // ---- Cluster ----

  async memberList(): Promise<{ header: C.Header; members: C.Member[] }> {
    const res = await this.unary('Cluster', 'MemberList', {}, true);
    return { header: C.toHeader(res.header), members: res.members.map(C.toMember) };
  }

  async memberAdd(
    peerURLs: string[],
    opts: { isLearner?: boolean } = {},
  ): Promise<{ header: C.Header; member: C.Member; members: C.Member[] }> {
    const res = await this.unary(
      'Cluster',
      'MemberAdd',
      { peerURLs, isLearner: opts.isLearner ?? false },
      false,
    );
    return {
      header: C.toHeader(res.header),
      member: C.toMember(res.member),
      members: res.members.map(C.toMember),
    };
  }

  async memberRemove(id: R.Id): Promise<{ header: C.Header; members: C.Member[] }> {
    return toMembers(await this.unary('Cluster', 'MemberRemove', { ID: id }, false));
  }

  async memberUpdate(id: R.Id, peerURLs: string[]): Promise<{ header: C.Header; members: C.Member[] }> {
    return toMembers(await this.unary('Cluster', 'MemberUpdate', { ID: id, peerURLs }, false));
  }

  async memberPromote(id: R.Id): Promise<{ header: C.Header; members: C.Member[] }> {
    return toMembers(await this.unary('Cluster', 'MemberPromote', { ID: id }, false));
  }

  // ---- Maintenance ----

  /** The status of the member behind `opts.endpoint`, or of whichever endpoint answers. */
  async status(opts: EndpointOptions = {}): Promise<C.StatusResult> {
    return C.toStatus(await this.unary('Maintenance', 'Status', {}, true, opts.endpoint));
  }

  async alarm(
    action: 'GET' | 'ACTIVATE' | 'DEACTIVATE',
    opts: { memberID?: R.Id; alarm?: C.AlarmMember['alarm'] } = {},
  ): Promise<{ header: C.Header; alarms: C.AlarmMember[] }> {
    const req = { action, memberID: opts.memberID ?? 0, alarm: opts.alarm ?? 'NONE' };
    const res = await this.unary('Maintenance', 'Alarm', req, action === 'GET');
    const alarms = res.alarms.map(
      (a: Wire): C.AlarmMember => ({ memberID: String(a.memberID), alarm: a.alarm }),
    );
    return { header: C.toHeader(res.header), alarms };
  }

  async hash(opts: EndpointOptions = {}): Promise<{ header: C.Header; hash: number }> {
    const res = await this.unary('Maintenance', 'Hash', {}, true, opts.endpoint);
    return { header: C.toHeader(res.header), hash: res.hash };
  }

  async hashKV(
    revision = 0,
    opts: EndpointOptions = {},
  ): Promise<{ header: C.Header; hash: number; compact_revision: number }> {
    const res = await this.unary('Maintenance', 'HashKV', { revision }, true, opts.endpoint);
    return { header: C.toHeader(res.header), hash: res.hash, compact_revision: C.num(res.compact_revision) };
  }

  async defragment(opts: EndpointOptions = {}): Promise<{ header: C.Header }> {
    const res = await this.unary('Maintenance', 'Defragment', {}, false, opts.endpoint);
    return { header: C.toHeader(res.header) };
  }

  /** Must reach the leader (pass its endpoint); other members answer "etcdserver: not leader". */
  async moveLeader(targetId: R.Id, opts: EndpointOptions = {}): Promise<{ header: C.Header }> {
    const res = await this.unary('Maintenance', 'MoveLeader', { targetID: targetId }, false, opts.endpoint);
    return { header: C.toHeader(res.header) };
  }

  /** The member's backend database as chunks; etcd ends it with a SHA-256 of the preceding bytes. */
  async *snapshot(opts: EndpointOptions = {}): AsyncGenerator<Buffer> {
    const ep =
      opts.endpoint === undefined ? await this.readyEndpoint('Snapshot') : this.endpointFor(opts.endpoint);
    const stream = (ep.clients.Maintenance as Wire).Snapshot({}) as grpc.ClientReadableStream<Wire>;
    try {
      for await (const res of stream) yield (res as Wire).blob as Buffer;
    } catch (e) {
      throw toClientError('Snapshot', e);
    } finally {
      stream.cancel();
    }
  }

  /** Cancels open watches and closes every connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.openStreams) stream.cancel();
    this.openStreams.clear();
    for (const ep of this.endpoints) ep.channel.close();
  }

  // ---- plumbing ----

  private async unary(
    service: EtcdServiceName,
    method: string,
    req: R.WireRequest,
    idempotent: boolean,
    endpoint?: string,
  ): Promise<Wire> {
    if (endpoint !== undefined) return this.callOnce(this.endpointFor(endpoint), service, method, req);
    const attempts = idempotent ? Math.min(attemptsMax, Math.max(2, 2 * this.endpoints.length)) : 1;
    let lastError: unknown;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const ep = this.endpoints[this.current % this.endpoints.length] as Endpoint;
      try {
        return await this.callOnce(ep, service, method, req);
      } catch (e) {
        if (!(e instanceof EtcdClientError && e.code === grpc.status.UNAVAILABLE)) throw e;
        lastError = e;
        this.current = (this.current + 1) % this.endpoints.length;
        if (attempt + 1 < attempts) await sleep(retryBackoffMs * (attempt + 1));
      }
    }
    throw lastError;
  }

  private async callOnce(
    ep: Endpoint,
    service: EtcdServiceName,
    method: string,
    req: R.WireRequest,
  ): Promise<Wire> {
    await this.connect(ep, method);
    const client = ep.clients[service] as Wire;
    return new Promise((resolve, reject) => {
      client[method](
        R.withoutEmptyBytes(req),
        { deadline: Date.now() + this.requestTimeoutMs },
        (err: Error | null, res: Wire) => {
          if (err) reject(toClientError(method, err));
          else resolve(res);
        },
      );
    });
  }

  /** An endpoint with a connection, trying each once from the current one; for streams. */
  private async readyEndpoint(method: string): Promise<Endpoint> {
    let lastError: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const ep = this.endpoints[this.current % this.endpoints.length] as Endpoint;
      try {
        await this.connect(ep, method);
        return ep;
      } catch (e) {
        lastError = e;
        this.current = (this.current + 1) % this.endpoints.length;
      }
    }
    throw lastError;
  }

  private connect(ep: Endpoint, method: string): Promise<void> {
    if (this.closed)
      return Promise.reject(new EtcdClientError(method, grpc.status.CANCELLED, 'client closed'));
    if (ep.channel.getConnectivityState(true) === grpc.connectivityState.READY) return Promise.resolve();
    return new Promise((resolve, reject) => {
      grpc.waitForClientReady(ep.clients.KV, Date.now() + this.dialTimeoutMs, (e) => {
        if (e === undefined) resolve();
        else {
          const details = `cannot connect to ${ep.address} within ${this.dialTimeoutMs} ms: ${e.message}`;
          reject(new EtcdClientError(method, grpc.status.UNAVAILABLE, details));
        }
      });
    });
  }

  private endpointFor(endpoint: string): Endpoint {
    const address = normalizeEndpoint(endpoint);
    const ep = this.endpoints.find((e) => e.address === address);
    if (ep === undefined) throw new Error(`endpoint ${endpoint} is not one of this client's endpoints`);
    return ep;
  }
}

function watchHandle(
  watchId: number,
  stream: grpc.ClientDuplexStream<Wire, Wire>,
  isOpen: () => boolean,
  finish: () => void,
): WatchHandle {
  return {
    watchId,
    cancel: () => {
      if (!isOpen()) return;
      stream.write({ cancel_request: { watch_id: watchId } });
      finish();
    },
    requestProgress: () => {
      if (isOpen()) stream.write({ progress_request: {} });
    },
  };
}

function toMembers(res: Wire): { header: C.Header; members: C.Member[] } {
  return { header: C.toHeader(res.header), members: res.members.map(C.toMember) };
}

function toClientError(method: string, e: unknown): EtcdClientError {
  if (e instanceof EtcdClientError) return e;
  const se = e as Partial<grpc.ServiceError>;
  const code = typeof se.code === 'number' ? se.code : grpc.status.UNKNOWN;
  const details = typeof se.details === 'string' && se.details !== '' ? se.details : String(se.message ?? e);
  return new EtcdClientError(method, code, details);
}

/** 'http://host:port' or 'host:port' → 'host:port'. */
export function normalizeEndpoint(endpoint: string): string {
  if (endpoint.startsWith('https://')) throw new Error(`endpoint ${endpoint}: TLS is not supported yet`);
  return endpoint.replace(/^http:\/\//, '').replace(/\/+$/, '');
}

function createEndpoint(address: string): Endpoint {
  const services = loadClientServices();
  const channel = new grpc.Channel(address, grpc.credentials.createInsecure(), channelOptions);
  const clients = {} as Clients;
  for (const name of Object.keys(services) as EtcdServiceName[]) {
    clients[name] = new services[name](address, grpc.credentials.createInsecure(), {
      channelOverride: channel,
    });
  }
  return { address, channel, clients };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
