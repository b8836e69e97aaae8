// `keelson bench kv`: a closed-loop load generator over etcd's v3 gRPC API, so that it drives Keelson's
// store and real etcd alike. `clients` workers each issue their next request when the previous one
// returns, spread over `conns` gRPC connections that go round-robin over the endpoints, as etcd's own
// benchmark tool does. It reports throughput, latency percentiles from an HDR histogram, and errors by
// gRPC code (and etcd message).
//
// It talks gRPC directly rather than through EtcdClient: several EtcdClients to one address share a single
// TCP connection (grpc-js pools subchannels by address and options), so `--conns` would not mean what it
// says; and every CPU cycle the client spends is taken from the servers on the same 2 cores. grpc-js
// spends 150-190 µs of CPU per request, which at ~5-6k ops/s saturates a core and measures the client, so
// by default (`client: 'h2'`) requests go over h2client.ts, a minimal unary gRPC-over-HTTP/2 client; the
// messages are the same proto-loader encodings either way, and `client: 'grpc-js'` keeps the old path.
// Measured with 64 clients putting against one etcd: ~20-26 µs of client CPU per put with h2, ~210-230 µs
// with grpc-js.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { normalizeEndpoint } from '@keelson/store';
import { H2Client } from './h2client.js';
import { LatencyHistogram, type LatencyPercentilesMs } from './histogram.js';

export type KvOp = 'put' | 'get' | 'get-serializable' | 'txn-cas' | 'mixed';
export const KV_OPS: readonly KvOp[] = ['put', 'get', 'get-serializable', 'txn-cas', 'mixed'];
export type KvClient = 'h2' | 'grpc-js';
export const KV_CLIENTS: readonly KvClient[] = ['h2', 'grpc-js'];

export interface KvOptions {
  /** 'http://127.0.0.1:2379' or '127.0.0.1:2379'. */
  endpoints: string[];
  /** Concurrent closed-loop workers. */
  clients: number;
  /** gRPC connections (TCP) the workers share; connection i goes to endpoint i mod endpoints. */
  conns: number;
  /** Stop after this many requests (successful or not); exactly one of total and durationS. */
  total?: number;
  durationS?: number;
  op: KvOp;
  /** Keys are drawn uniformly from this many. */
  keySpace: number;
  /** Bytes per key. */
  keySize: number;
  /** Bytes per value (0: empty values). */
  valSize: number;
  /** Called when the measured part starts (after connecting and prefilling). */
  onMeasureStart?: () => void;
  /** One line a second while the run goes (and during prefill). */
  progress?: (line: string) => void;
  /** Put every key of the key space before measuring (always done for get, get-serializable and mixed). */
  prefill?: boolean;
  /** The gRPC client: 'h2' (default, lean) or 'grpc-js'. */
  client?: KvClient;
}

export interface KvResult {
  op: KvOp;
  clients: number;
  conns: number;
  /** Requests that succeeded (for txn-cas: compare-and-swaps completed, including failed compares). */
  ops: number;
  /** txn-cas only: swaps whose compare failed because another client changed the key in between. */
  casFailures: number;
  /** Failed requests by gRPC code name, with etcd's message when the server gave one. */
  errors: Record<string, number>;
  durationS: number;
  opsPerSec: number;
  /** Of the successful requests (a txn-cas is its read plus its txn). */
  latencyMs: LatencyPercentilesMs;
}

/** Deadline of each request: long enough not to cut a slow but live server short, short enough to end. */
const requestTimeoutMs = 10_000;
/** How long the run waits for each connection before counting its calls as errors. */
const dialTimeoutMs = 3_000;
/** A pause after UNAVAILABLE: calls to a dead endpoint fail at once, and a spinning worker steals CPU. */
const unavailablePauseMs = 10;
/** Distinct error keys kept; more are lumped under 'OTHER' so that a run cannot grow the map unboundedly. */
const errorKeysMax = 32;
/** Share of puts in the mixed workload (the rest are linearizable gets), as in a read-mostly control plane. */
const mixedPutShare = 0.1;

const limits = {
  clients: [1, 100_000],
  conns: [1, 10_000],
  keySpace: [1, 100_000_000],
  keySize: [1, 1024 * 1024],
  valSize: [0, 16 * 1024 * 1024],
  total: [1, Number.MAX_SAFE_INTEGER],
} as const;

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages, read field by field
type Wire = any;

type KvMethod = 'Put' | 'Range' | 'Txn';

/** One gRPC connection (TCP) to one address, with either client. */
interface Conn {
  readonly address: string;
  unary(method: KvMethod, req: Wire): Promise<Wire>;
  /** Resolves true once connected, false when not connected by the deadline. */
  ready(deadlineMs: number): Promise<boolean>;
  close(): void;
}

/** Checks options a person typed; throws an Error that says what is wrong. */
export function validateKvOptions(o: KvOptions): void {
  const problems: string[] = [];
  if (o.endpoints.length === 0) problems.push('at least one endpoint is needed');
  if (!KV_OPS.includes(o.op)) problems.push(`op must be one of ${KV_OPS.join(', ')}, got "${o.op}"`);
  if (o.client !== undefined && !KV_CLIENTS.includes(o.client))
    problems.push(`client must be one of ${KV_CLIENTS.join(', ')}, got "${o.client}"`);
  for (const [name, [min, max]] of Object.entries(limits)) {
    const v = (o as unknown as Record<string, number | undefined>)[name];
    if (v === undefined && name === 'total') continue;
    if (v === undefined || !Number.isInteger(v) || v < min || v > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${v}`);
    }
  }
  if ((o.total === undefined) === (o.durationS === undefined)) {
    problems.push('give exactly one of total (requests) and durationS (seconds)');
  }
  if (o.durationS !== undefined && !(o.durationS > 0 && o.durationS <= 7 * 86_400)) {
    problems.push(`durationS must be above 0 and at most a week, got ${o.durationS}`);
  }
  const digits = String(o.keySpace - 1).length;
  if (Number.isInteger(o.keySpace) && o.keySize < digits) {
    problems.push(`key size ${o.keySize} B is too small for ${o.keySpace} keys (needs ${digits} B)`);
  }
  if (problems.length > 0) throw new Error(`bench kv: ${problems.join('; ')}`);
}

/** Runs the benchmark and resolves with its figures; connection failures are counted, not thrown. */
export async function runKv(o: KvOptions): Promise<KvResult> {
  validateKvOptions(o);
  const progress = o.progress ?? (() => {});
  const conns = openConns(o.endpoints, o.conns, o.client ?? 'h2');
  try {
    const down = await waitReady(conns);
    for (const address of down) {
      progress(`cannot connect to ${address} within ${dialTimeoutMs} ms; its requests will count as errors`);
    }
    const work = new Workload(o);
    if (o.prefill === true || o.op === 'get' || o.op === 'get-serializable' || o.op === 'mixed') {
      await prefill(conns, work, o.keySpace, Math.min(o.clients, o.keySpace), progress);
    }
    o.onMeasureStart?.();
    return await measure(o, conns, work, progress);
  } finally {
    for (const c of conns) c.close();
  }
}

// ---- connections ----

let kvService: grpc.ServiceClientConstructor | undefined;

/**
 * The KV service from Keelson's copy of etcd 3.4's rpc.proto. Longs decode as numbers: the load reads
 * only revisions back (far below 2^53), and turning every 64-bit field of every response into a decimal
 * string (Long.toString) was a tenth of this client's CPU; member and cluster ids lose precision, unread.
 */
function loadKvService(): grpc.ServiceClientConstructor {
  if (kvService !== undefined) return kvService;
  // bench/src/kv.ts and bench/dist/kv.js both sit two levels below the repository root.
  const protoDir = fileURLToPath(new URL('../../packages/store/proto/', import.meta.url));
  if (!existsSync(`${protoDir}rpc.proto`))
    throw new Error(`bench kv: etcd's rpc.proto not found in ${protoDir}`);
  const definition = protoLoader.loadSync('rpc.proto', {
    keepCase: true,
    longs: Number,
    enums: String,
    bytes: Buffer,
    defaults: false,
    arrays: true,
    oneofs: true,
    includeDirs: [protoDir],
  });
  const pkg = grpc.loadPackageDefinition(definition).etcdserverpb as grpc.GrpcObject | undefined;
  const ctor = pkg?.KV;
  if (typeof ctor !== 'function') throw new Error(`bench kv: service etcdserverpb.KV missing in ${protoDir}`);
  kvService = ctor as grpc.ServiceClientConstructor;
  return kvService;
}

/** The KV service's methods (paths and the proto-loader encoders), for callers driving h2client directly. */
export function kvServiceDefinition(): grpc.ServiceDefinition {
  return loadKvService().service;
}

function openConns(endpoints: string[], count: number, client: KvClient): Conn[] {
  const KV = loadKvService();
  const addresses = endpoints.map(normalizeEndpoint);
  return Array.from({ length: count }, (_, i) => {
    const address = addresses[i % addresses.length] as string;
    return client === 'h2' ? new H2Conn(address, KV.service) : new GrpcJsConn(address, KV);
  });
}

/** A grpc-js channel of its own. */
class GrpcJsConn implements Conn {
  private readonly kv: Wire;

  constructor(
    readonly address: string,
    KV: grpc.ServiceClientConstructor,
  ) {
    // A local subchannel pool gives each connection its own TCP connection even to the same address.
    this.kv = new KV(address, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      // Channelz bookkeeping costs CPU on every call; the load generator has no use for it.
      'grpc.enable_channelz': 0,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': -1,
    });
  }

  unary(method: KvMethod, req: Wire): Promise<Wire> {
    return new Promise((resolve, reject) => {
      this.kv[method](req, { deadline: Date.now() + requestTimeoutMs }, (err: Error | null, res: Wire) => {
        if (err) reject(err);
        else resolve(res);
      });
    });
  }

  ready(deadlineMs: number): Promise<boolean> {
    return new Promise((resolve) =>
      grpc.waitForClientReady(this.kv, deadlineMs, (e) => resolve(e === undefined)),
    );
  }

  close(): void {
    this.kv.close();
  }
}

/** One h2client connection; messages are encoded and decoded with the same proto-loader definitions. */
class H2Conn implements Conn {
  private readonly client: H2Client;
  private readonly methods: Record<KvMethod, grpc.MethodDefinition<Wire, Wire>>;

  constructor(
    readonly address: string,
    service: grpc.ServiceDefinition,
  ) {
    this.client = new H2Client(address);
    const method = (name: KvMethod): grpc.MethodDefinition<Wire, Wire> => {
      const m = service[name];
      if (m === undefined) throw new Error(`bench kv: method etcdserverpb.KV/${name} missing in rpc.proto`);
      return m;
    };
    this.methods = { Put: method('Put'), Range: method('Range'), Txn: method('Txn') };
  }

  unary(method: KvMethod, req: Wire): Promise<Wire> {
    const m = this.methods[method];
    return this.client.call(m.path, m.requestSerialize(req), requestTimeoutMs).then(m.responseDeserialize);
  }

  ready(deadlineMs: number): Promise<boolean> {
    return this.client.waitReady(deadlineMs);
  }

  close(): void {
    this.client.close();
  }
}

/** Connects every connection; resolves with the addresses that did not answer in time. */
async function waitReady(conns: Conn[]): Promise<string[]> {
  const deadline = Date.now() + dialTimeoutMs;
  const ready = await Promise.all(conns.map((c) => c.ready(deadline)));
  return [...new Set(conns.filter((_, i) => !ready[i]).map((c) => c.address))];
}

// ---- the workload ----

type Outcome = 'ok' | 'cas-failed';

/** What one request is, for each op; keys uniform over the key space, one random value for every put. */
class Workload {
  private readonly value: Buffer;

  constructor(private readonly o: KvOptions) {
    this.value = randomBytes(o.valSize);
  }

  /** Key i of the key space: its decimal digits, zero-padded to the key size (readable with etcdctl). */
  key(i: number): Buffer {
    return Buffer.from(String(i).padStart(this.o.keySize, '0'));
  }

  randomKey(): Buffer {
    return this.key(Math.floor(Math.random() * this.o.keySpace));
  }

  async put(conn: Conn, key: Buffer): Promise<Outcome> {
    // An empty value is left out: protobufjs would encode a set-but-empty bytes field.
    await conn.unary('Put', this.value.length === 0 ? { key } : { key, value: this.value });
    return 'ok';
  }

  async one(conn: Conn): Promise<Outcome> {
    switch (this.o.op) {
      case 'put':
        return this.put(conn, this.randomKey());
      case 'get':
        await conn.unary('Range', { key: this.randomKey() });
        return 'ok';
      case 'get-serializable':
        await conn.unary('Range', { key: this.randomKey(), serializable: true });
        return 'ok';
      case 'txn-cas':
        return this.compareAndSwap(conn, this.randomKey());
      case 'mixed':
        if (Math.random() < mixedPutShare) return this.put(conn, this.randomKey());
        await conn.unary('Range', { key: this.randomKey() });
        return 'ok';
    }
  }

  /** Reads the key's mod revision, then puts only if nobody changed the key since (0: it did not exist). */
  private async compareAndSwap(conn: Conn, key: Buffer): Promise<Outcome> {
    const read = await conn.unary('Range', { key });
    const modRevision: number = read.kvs?.[0]?.mod_revision ?? 0;
    const compare = [{ key, result: 'EQUAL', target: 'MOD', mod_revision: modRevision }];
    const put = this.value.length === 0 ? { key } : { key, value: this.value };
    const res = await conn.unary('Txn', { compare, success: [{ request_put: put }] });
    return res.succeeded === true ? 'ok' : 'cas-failed';
  }
}

/** Puts every key once, `workers` at a time; a key whose put fails is tried once on every connection. */
async function prefill(
  conns: Conn[],
  work: Workload,
  keySpace: number,
  workers: number,
  progress: (line: string) => void,
): Promise<void> {
  let next = 0;
  let done = 0;
  let failed = 0;
  let lastError: unknown;
  const ticker = setInterval(
    () => progress(`prefill: ${done.toLocaleString('en-US')} of ${keySpace.toLocaleString('en-US')} keys`),
    1000,
  );
  ticker.unref();
  try {
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let i = next++; i < keySpace; i = next++) {
          const ok = await putOnAnyConn(conns, w, work, i).catch((e: unknown) => {
            lastError = e;
            return false;
          });
          if (ok) done++;
          else failed++;
        }
      }),
    );
  } finally {
    clearInterval(ticker);
  }
  if (done === 0)
    throw new Error(`bench kv: prefill failed, no key could be written: ${errorKey(lastError)}`);
  if (failed > 0)
    progress(`prefill: ${failed} of ${keySpace} keys could not be written (${errorKey(lastError)})`);
}

async function putOnAnyConn(conns: Conn[], worker: number, work: Workload, i: number): Promise<boolean> {
  let lastError: unknown;
  for (let attempt = 0; attempt < conns.length; attempt++) {
    try {
      await work.put(conns[(worker + attempt) % conns.length] as Conn, work.key(i));
      return true;
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

// ---- the measured run ----

/** Counters of one run; the workers share it (one thread: no races between awaits). */
class Tally {
  readonly latency = new LatencyHistogram();
  ops = 0;
  casFailures = 0;
  failed = 0;
  readonly errors: Record<string, number> = {};

  error(e: unknown): void {
    this.failed++;
    let key = errorKey(e);
    if (!(key in this.errors) && Object.keys(this.errors).length >= errorKeysMax) key = 'OTHER';
    this.errors[key] = (this.errors[key] ?? 0) + 1;
  }
}

async function measure(
  o: KvOptions,
  conns: Conn[],
  work: Workload,
  progress: (line: string) => void,
): Promise<KvResult> {
  const tally = new Tally();
  const startMs = performance.now();
  const deadlineMs = o.durationS === undefined ? Number.POSITIVE_INFINITY : startMs + o.durationS * 1000;
  let issued = 0;
  // Every request, failed or not, uses up one of `total`: a dead endpoint must not make the run endless.
  const another = (): boolean => {
    if (o.total !== undefined) return issued++ < o.total;
    return performance.now() < deadlineMs;
  };
  const stopTicker = startTicker(tally, startMs, progress);
  try {
    await Promise.all(
      Array.from({ length: o.clients }, (_, i) =>
        worker(conns[i % conns.length] as Conn, work, tally, another),
      ),
    );
  } finally {
    stopTicker();
  }
  const durationS = (performance.now() - startMs) / 1000;
  if (o.total !== undefined && tally.ops + tally.failed !== o.total) {
    throw new Error(`assertion failed: ${tally.ops} ops + ${tally.failed} errors != total ${o.total}`);
  }
  return {
    op: o.op,
    clients: o.clients,
    conns: o.conns,
    ops: tally.ops,
    casFailures: tally.casFailures,
    errors: tally.errors,
    durationS,
    opsPerSec: durationS > 0 ? tally.ops / durationS : 0,
    latencyMs: tally.latency.percentilesMs(),
  };
}

/** One closed-loop client: the next request goes out when the previous one has returned. */
async function worker(conn: Conn, work: Workload, tally: Tally, another: () => boolean): Promise<void> {
  while (another()) {
    const t0Ms = performance.now();
    try {
      const outcome = await work.one(conn);
      tally.latency.recordMs(performance.now() - t0Ms);
      tally.ops++;
      if (outcome === 'cas-failed') tally.casFailures++;
    } catch (e) {
      tally.error(e);
      if ((e as { code?: unknown }).code === grpc.status.UNAVAILABLE) await sleep(unavailablePauseMs);
    }
  }
}

/** A progress line each second: requests so far, the last second's rate, p99 so far; returns a stop. */
function startTicker(tally: Tally, startMs: number, progress: (line: string) => void): () => void {
  let lastOps = 0;
  let lastMs = startMs;
  const timer = setInterval(() => {
    const nowMs = performance.now();
    const rate = ((tally.ops - lastOps) * 1000) / Math.max(1, nowMs - lastMs);
    lastOps = tally.ops;
    lastMs = nowMs;
    progress(
      progressLine((nowMs - startMs) / 1000, tally.ops, rate, tally.latency.atPercentileMs(99), tally.failed),
    );
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}

export function progressLine(
  elapsedS: number,
  ops: number,
  opsPerSec: number,
  p99Ms: number,
  errors: number,
): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const failed = errors > 0 ? `  errors ${n(errors)}` : '';
  return `${elapsedS.toFixed(0)}s  ops ${n(ops)}  ${n(opsPerSec)} ops/s  p99 ${p99Ms.toFixed(2)} ms${failed}`;
}

/**
 * 'UNAVAILABLE', or 'UNAVAILABLE: etcdserver: leader changed' when the server said why in etcd's words.
 * Other details (connection errors) carry addresses and timestamps, which would make every key unique.
 */
export function errorKey(e: unknown): string {
  const se = e as { code?: unknown; details?: unknown; message?: unknown };
  if (typeof se?.code !== 'number') return `CLIENT: ${String(se?.message ?? e)}`;
  const name = grpc.status[se.code] ?? `CODE_${se.code}`;
  const details = typeof se.details === 'string' ? se.details : '';
  return /^(etcdserver|mvcc):/.test(details) ? `${name}: ${details}` : name;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
