// A lean gRPC client for the load generator: unary calls over HTTP/2 cleartext (h2c) on a raw socket.
// grpc-js spends 150-190 µs of CPU per request, so at a few thousand requests a second the client saturates
// a core and a benchmark measures the client; this one does only what a unary call needs: header blocks
// that index their fields in the server's dynamic table as grpc-go's and nghttp2's encoders do (so a
// server decodes a request's headers from its table, as it would for etcd's own clients), encoded once
// per path and table state (HpackIndexingEncoder), frames gathered and written
// once per event-loop turn, one HPACK decoder per connection for the server's blocks (grpc-go indexes its
// response headers, so every block is decoded in order), flow control both ways, deadlines swept by one
// timer per connection, and a reconnect on the next call after a connection dies.
//
// Messages are bytes here: the caller serializes requests and deserializes responses (kv.ts uses the
// proto-loader definitions). Errors look like grpc-js's ServiceError: `code` (gRPC status) and `details`.
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  H2WindowDefault as defaultWindowBytes,
  H2FrameHeaderBytes as frameHeaderBytes,
  H2FrameType as frameType,
  H2Code,
  H2Flag,
  H2Setting,
  type HeaderField,
  HpackDecoder,
  HpackIndexingEncoder,
  http2ClientPreface as preface,
  H2WindowMax as windowMax,
} from '@keelson/store';

/** gRPC status codes this client produces or reads (the numbers are the protocol's). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const statusNames = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** A failed call, shaped like grpc-js's ServiceError so that callers can key errors by code and details. */
export class GrpcCallError extends Error {
  override readonly name = 'GrpcCallError';
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${code} ${statusNames[code] ?? 'UNKNOWN'}: ${details}`);
  }
}

export interface H2ClientOptions {
  /** Our SETTINGS_INITIAL_WINDOW_SIZE: how much of one response the server may send before we credit it. */
  streamWindowBytes?: number;
  /** The connection receive window we open with a WINDOW_UPDATE right after the preface. */
  connWindowBytes?: number;
  /** A connection not ready (server SETTINGS received) within this long is dropped as UNAVAILABLE. */
  connectTimeoutMs?: number;
  /** How often the deadlines of a connection's calls are checked. */
  sweepIntervalMs?: number;
  /** The highest stream id a connection may use before it is replaced (tests lower it). */
  streamIdMax?: number;
}

/** The 5-byte gRPC message prefix is assembled here before it is copied into the output. */
const prefixScratch = Buffer.alloc(5);
/** The largest frame we accept: we never raise SETTINGS_MAX_FRAME_SIZE above the default. */
const recvFrameBytesMax = 16_384;
/** Header blocks spread over CONTINUATION frames are bounded so that a broken server cannot grow one. */
const headerBlockBytesMax = 1024 * 1024;
/** Calls waiting for a stream slot (MAX_CONCURRENT_STREAMS) or for the connection to become ready. */
const waitingCallsMax = 1_000_000;
/** Response messages are bounded: a server that sends more is answered with RESOURCE_EXHAUSTED. */
const responseBytesMax = 64 * 1024 * 1024;
const reconnectBackoffMinMs = 50;
const reconnectBackoffMaxMs = 1000;

/** One unary call, from the caller's promise to the server's trailers. */
interface Call {
  readonly path: string;
  readonly timeoutMs: number;
  readonly message: Buffer;
  readonly deadlineMs: number;
  readonly resolve: (message: Buffer) => void;
  readonly reject: (e: Error) => void;
  id: number;
  /** What of the DATA payload (5-byte prefix + message) is not sent yet, for flow control. */
  sendOffset: number;
  sendWindow: number;
  headersSeen: boolean;
  chunks: Buffer[];
  receivedBytes: number;
  /** Received DATA bytes not yet credited back to the server with a stream WINDOW_UPDATE. */
  uncreditedBytes: number;
}

/** A call's request headers; grpc-timeout changes with the deadline, so it is never indexed. */
function requestHeaders(path: string, authority: string, timeoutMs: number): HeaderField[] {
  const field = (name: string, value: string) => ({ name, value, neverIndexed: false });
  return [
    field(':method', 'POST'),
    field(':scheme', 'http'),
    field(':path', path),
    field(':authority', authority),
    field('content-type', 'application/grpc'),
    field('te', 'trailers'),
    field('grpc-timeout', grpcTimeout(timeoutMs)),
  ];
}
const volatileHeaders: ReadonlySet<string> = new Set(['grpc-timeout']);

/** The grpc-timeout header value: at most 8 digits and a unit. */
export function grpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  if (whole <= 99_999_999) return `${whole}m`;
  return `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}

/** grpc-message is percent-encoded UTF-8; a malformed one is shown as it came. */
function decodeGrpcMessage(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The gRPC status of an HTTP status that is not 200, as grpc-js maps them. */
function statusOfHttp(httpStatus: string): number {
  switch (httpStatus) {
    case '400':
      return GrpcStatus.INTERNAL;
    case '401':
      return GrpcStatus.UNAUTHENTICATED;
    case '403':
      return GrpcStatus.PERMISSION_DENIED;
    case '404':
      return GrpcStatus.UNIMPLEMENTED;
    case '429':
    case '502':
    case '503':
    case '504':
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The gRPC error of an RST_STREAM's HTTP/2 error code, as grpc-js maps them. */
function errorOfRst(code: number): GrpcCallError {
  switch (code) {
    case H2Code.refusedStream:
      return new GrpcCallError(GrpcStatus.UNAVAILABLE, 'Stream refused by server');
    case H2Code.cancel:
      return new GrpcCallError(GrpcStatus.CANCELLED, 'Call cancelled');
    case 0xb:
      return new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded');
    case 0xc:
      return new GrpcCallError(GrpcStatus.PERMISSION_DENIED, 'Protocol not secure enough');
    default:
      return new GrpcCallError(GrpcStatus.INTERNAL, `Received RST_STREAM with code ${code}`);
  }
}

type ConnState = 'connecting' | 'ready' | 'draining' | 'closed';

/** What a connection tells its client: it takes no more calls (retired), or it closed. */
export interface ConnEvents {
  retired(conn: H2Connection): void;
  closed(conn: H2Connection, wasReady: boolean): void;
}

const noEvents: ConnEvents = { retired: () => {}, closed: () => {} };

/**
 * One HTTP/2 connection carrying unary gRPC calls. It takes any duplex byte stream (a net.Socket, or a
 * test's replay); the preface and our SETTINGS go out at once, calls wait until the server's SETTINGS.
 */
export class H2Connection {
  state: ConnState = 'connecting';
  /** Why the connection closed (for the errors of calls that come too late). */
  closeReason = '';
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, Call>();
  /** Calls not started yet: before the server's SETTINGS, or beyond its MAX_CONCURRENT_STREAMS. FIFO. */
  private waiting: Call[] = [];
  private waitingHead = 0;
  /** Started calls whose DATA waits for send window, in order. */
  private blocked: Call[] = [];
  private nextStreamId = 1;
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private peerInitialWindow = defaultWindowBytes;
  private peerMaxFrame = 16_384;
  private connSendWindow = defaultWindowBytes;
  private connUncredited = 0;
  private readonly streamWindow: number;
  private readonly connWindow: number;
  private readonly streamIdMax: number;
  /** Encodes request headers into the server's dynamic table (blocks go out in the order encoded). */
  private readonly encoder = new HpackIndexingEncoder(undefined, volatileHeaders);
  /** The last block of each path, valid while the encoder's generation and the timeout are the same. */
  private readonly blocks = new Map<string, { timeoutMs: number; generation: number; block: Buffer }>();
  // Outgoing frames are gathered here and written once per event-loop turn.
  private out = Buffer.allocUnsafe(16 * 1024);
  private outLen = 0;
  private flushScheduled = false;
  // Incoming bytes not yet parsed (a partial frame).
  private pending: Buffer | undefined;
  // A header block spread over HEADERS and CONTINUATION frames.
  private continuationStream = 0;
  private continuationFlags = 0;
  private continuationParts: Buffer[] = [];
  private continuationBytes = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly connectTimer: NodeJS.Timeout | undefined;
  private readyWaiters: Array<(ready: boolean) => void> = [];
  private goawaySent = false;
  /** No new calls (stream ids running out, or a GOAWAY); calls already taken still run. */
  private retiring = false;

  constructor(
    private readonly socket: Duplex,
    private readonly authority: string,
    options: H2ClientOptions = {},
    private readonly events: ConnEvents = noEvents,
  ) {
    this.streamWindow = options.streamWindowBytes ?? 4 * 1024 * 1024;
    this.connWindow = options.connWindowBytes ?? 16 * 1024 * 1024;
    this.streamIdMax = options.streamIdMax ?? windowMax;
    if (!Number.isInteger(this.streamWindow) || this.streamWindow < 1 || this.streamWindow > windowMax)
      throw new Error(
        `h2client: streamWindowBytes must be an integer from 1 to 2^31-1, got ${this.streamWindow}`,
      );
    if (
      !Number.isInteger(this.connWindow) ||
      this.connWindow < defaultWindowBytes ||
      this.connWindow > windowMax
    )
      throw new Error(
        `h2client: connWindowBytes must be an integer from 65535 to 2^31-1, got ${this.connWindow}`,
      );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: Error) => this.close(GrpcStatus.UNAVAILABLE, e.message));
    socket.on('close', () => this.close(GrpcStatus.UNAVAILABLE, 'Connection closed'));
    socket.on('end', () => this.close(GrpcStatus.UNAVAILABLE, 'Connection ended by the server'));
    // The preface, SETTINGS (no push, our stream window), and the connection window opened wide.
    this.reserve(preface.length);
    preface.copy(this.out, this.outLen);
    this.outLen += preface.length;
    this.frameHeader(12, frameType.settings, 0, 0);
    this.u16(H2Setting.enablePush);
    this.u32(0);
    this.u16(H2Setting.initialWindowSize);
    this.u32(this.streamWindow);
    if (this.connWindow > defaultWindowBytes) this.windowUpdate(0, this.connWindow - defaultWindowBytes);
    this.scheduleFlush();
    const sweepMs = options.sweepIntervalMs ?? 100;
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
    this.sweepTimer.unref();
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.connectTimer = setTimeout(() => {
      if (this.state === 'connecting')
        this.close(
          GrpcStatus.UNAVAILABLE,
          `no HTTP/2 SETTINGS from the server within ${connectTimeoutMs} ms`,
        );
    }, connectTimeoutMs);
    this.connectTimer.unref();
  }

  /** True while new calls may go on this connection (open, and stream ids left for one more). */
  get acceptsCalls(): boolean {
    if (this.retiring || (this.state !== 'connecting' && this.state !== 'ready')) return false;
    return this.nextStreamId + 2 * (this.waiting.length - this.waitingHead) <= this.streamIdMax;
  }

  /** Takes no new calls; the connection closes once the calls it took are done. */
  retire(): void {
    if (this.retiring || this.state === 'closed') return;
    this.retiring = true;
    this.events.retired(this);
    this.closeIfIdle();
  }

  /** Calls started or waiting on this connection. */
  get outstanding(): number {
    return this.streams.size + this.waiting.length - this.waitingHead;
  }

  /** Resolves true once the server's SETTINGS came, false if the connection closed first. */
  whenReady(): Promise<boolean> {
    if (this.state !== 'connecting')
      return Promise.resolve(this.state === 'ready' || this.state === 'draining');
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** A unary call: resolves with the response message (without its 5-byte prefix). */
  call(path: string, message: Buffer, timeoutMs: number): Promise<Buffer> {
    if (!this.acceptsCalls) {
      const why = this.state === 'closed' ? this.closeReason : 'connection draining or out of stream ids';
      return Promise.reject(new GrpcCallError(GrpcStatus.UNAVAILABLE, why));
    }
    if (this.waiting.length - this.waitingHead >= waitingCallsMax)
      return Promise.reject(new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, 'too many calls waiting'));
    return new Promise<Buffer>((resolve, reject) => {
      const call: Call = {
        path,
        timeoutMs,
        message,
        deadlineMs: Date.now() + timeoutMs,
        resolve,
        reject,
        id: 0,
        sendOffset: 0,
        sendWindow: 0,
        headersSeen: false,
        chunks: [],
        receivedBytes: 0,
        uncreditedBytes: 0,
      };
      if (
        this.state === 'ready' &&
        this.streams.size < this.peerMaxStreams &&
        this.waitingHead === this.waiting.length
      )
        this.start(call);
      else this.waiting.push(call);
    });
  }

  /** Fails every call with `code` and closes the socket; idempotent. */
  close(code: number = GrpcStatus.UNAVAILABLE, reason = 'client closed the connection'): void {
    if (this.state === 'closed') return;
    const wasReady = this.state !== 'connecting';
    this.state = 'closed';
    this.closeReason = reason;
    clearInterval(this.sweepTimer);
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    const error = new GrpcCallError(code, reason);
    for (const call of this.streams.values()) call.reject(error);
    this.streams.clear();
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.waiting[i]?.reject(error);
    this.waiting = [];
    this.waitingHead = 0;
    this.blocked = [];
    for (const w of this.readyWaiters) w(false);
    this.readyWaiters = [];
    this.socket.destroy();
    this.events.closed(this, wasReady);
  }

  // ---- sending ----

  private start(call: Call): void {
    const id = this.nextStreamId;
    // acceptsCalls keeps calls off a connection without ids left for them.
    if (id > this.streamIdMax) throw new Error(`assertion failed: stream id ${id} above ${this.streamIdMax}`);
    this.nextStreamId += 2;
    call.id = id;
    call.sendWindow = this.peerInitialWindow;
    this.streams.set(id, call);
    // Encoded here, when the stream starts: HEADERS go out in stream order, and the dynamic table
    // indexes are valid only in the order the blocks were encoded.
    const block = this.headerBlock(call.path, call.timeoutMs);
    const first = Math.min(block.length, this.peerMaxFrame);
    this.frameHeader(first, frameType.headers, first === block.length ? H2Flag.endHeaders : 0, id);
    this.bytes(block, 0, first);
    // Bounded: each CONTINUATION carries at least one byte of the block.
    for (let at = first; at < block.length; ) {
      const n = Math.min(block.length - at, this.peerMaxFrame);
      this.frameHeader(n, frameType.continuation, at + n === block.length ? H2Flag.endHeaders : 0, id);
      this.bytes(block, at, n);
      at += n;
    }
    if (!this.sendData(call)) this.blocked.push(call);
    this.scheduleFlush();
  }

  private headerBlock(path: string, timeoutMs: number): Buffer {
    const cached = this.blocks.get(path);
    const generation = this.encoder.generation;
    if (cached !== undefined && cached.timeoutMs === timeoutMs && cached.generation === generation)
      return cached.block;
    const block = this.encoder.encode(requestHeaders(path, this.authority, timeoutMs));
    // A block that added entries differs from the next one; cache the state after it.
    if (this.encoder.generation === generation) this.blocks.set(path, { timeoutMs, generation, block });
    return block;
  }

  /** Sends what the windows allow of the call's DATA; true when all of it (with END_STREAM) went out. */
  private sendData(call: Call): boolean {
    const total = 5 + call.message.length;
    // Bounded: each frame sends at least one byte, or the loop returns.
    while (call.sendOffset < total) {
      const room = Math.min(this.connSendWindow, call.sendWindow, this.peerMaxFrame);
      const n = Math.min(room, total - call.sendOffset);
      // An empty final frame is never needed: the payload always has its 5-byte prefix.
      if (n <= 0) return false;
      const end = call.sendOffset + n === total;
      this.frameHeader(n, frameType.data, end ? H2Flag.endStream : 0, call.id);
      let from = call.sendOffset;
      let left = n;
      if (from < 5) {
        // The gRPC length prefix: uncompressed, then the message length.
        prefixScratch[0] = 0;
        prefixScratch.writeUInt32BE(call.message.length, 1);
        const k = Math.min(5 - from, left);
        this.bytes(prefixScratch, from, k);
        from += k;
        left -= k;
      }
      if (left > 0) this.bytes(call.message, from - 5, left);
      call.sendOffset += n;
      call.sendWindow -= n;
      this.connSendWindow -= n;
    }
    return true;
  }

  /** After the send windows grew: sends what blocked calls can, in order. */
  private unblock(): void {
    if (this.blocked.length === 0) return;
    const still: Call[] = [];
    for (const call of this.blocked) {
      if (!this.streams.has(call.id)) continue;
      if (!this.sendData(call)) still.push(call);
    }
    this.blocked = still;
    this.scheduleFlush();
  }

  /** Starts waiting calls while the server allows more streams. */
  private startWaiting(): void {
    // Bounded by the waiting queue's length.
    while (
      this.state === 'ready' &&
      this.waitingHead < this.waiting.length &&
      this.streams.size < this.peerMaxStreams
    ) {
      const call = this.waiting[this.waitingHead] as Call;
      this.waiting[this.waitingHead++] = undefined as unknown as Call;
      this.start(call);
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting = [];
      this.waitingHead = 0;
    }
  }

  private reserve(n: number): void {
    if (this.outLen + n <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.outLen + n));
    this.out.copy(bigger, 0, 0, this.outLen);
    this.out = bigger;
  }

  private frameHeader(length: number, type: number, flags: number, streamId: number): void {
    this.reserve(frameHeaderBytes + length);
    const o = this.out;
    let at = this.outLen;
    o[at++] = (length >>> 16) & 0xff;
    o[at++] = (length >>> 8) & 0xff;
    o[at++] = length & 0xff;
    o[at++] = type;
    o[at++] = flags;
    o.writeUInt32BE(streamId, at);
    this.outLen = at + 4;
  }

  private u16(v: number): void {
    this.out.writeUInt16BE(v, this.outLen);
    this.outLen += 2;
  }

  private u32(v: number): void {
    this.out.writeUInt32BE(v, this.outLen);
    this.outLen += 4;
  }

  private bytes(src: Buffer, from: number, n: number): void {
    src.copy(this.out, this.outLen, from, from + n);
    this.outLen += n;
  }

  private windowUpdate(streamId: number, increment: number): void {
    this.frameHeader(4, frameType.windowUpdate, 0, streamId);
    this.u32(increment);
    this.scheduleFlush();
  }

  private rstStream(streamId: number, code: number): void {
    this.frameHeader(4, frameType.rstStream, 0, streamId);
    this.u32(code);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outLen === 0 || this.state === 'closed') return;
    const chunk = this.out.subarray(0, this.outLen);
    // The socket keeps the written bytes, so the next frames go into a fresh buffer.
    this.out = Buffer.allocUnsafe(Math.max(16 * 1024, Math.min(this.out.length, 1024 * 1024)));
    this.outLen = 0;
    // Backpressure is not needed: what waits in the socket is bounded by the calls in flight (each caller
    // has one at a time) and their request sizes.
    this.socket.write(chunk);
  }

  // ---- receiving ----

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let at = 0;
    try {
      // Bounded: each iteration consumes one whole frame of the buffer, or stops.
      while (this.state !== 'closed' && buf.length - at >= frameHeaderBytes) {
        const length = (buf[at] ?? 0) * 65536 + (buf[at + 1] ?? 0) * 256 + (buf[at + 2] ?? 0);
        if (length > recvFrameBytesMax)
          throw new ProtocolError(
            H2Code.frameSizeError,
            `frame of ${length} bytes exceeds ${recvFrameBytesMax}`,
          );
        if (buf.length - at < frameHeaderBytes + length) break;
        const type = buf[at + 3] ?? 0;
        const flags = buf[at + 4] ?? 0;
        const streamId = buf.readUInt32BE(at + 5) & 0x7fffffff;
        const payload = buf.subarray(at + frameHeaderBytes, at + frameHeaderBytes + length);
        at += frameHeaderBytes + length;
        this.onFrame(type, flags, streamId, payload);
      }
    } catch (e) {
      const code = e instanceof ProtocolError ? e.h2Code : H2Code.compressionError;
      this.goaway(code);
      this.close(GrpcStatus.INTERNAL, `HTTP/2 protocol error from the server: ${(e as Error).message}`);
      return;
    }
    if (at < buf.length && this.state !== 'closed') this.pending = buf.subarray(at);
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continuationStream !== 0 && type !== frameType.continuation)
      throw new ProtocolError(H2Code.protocolError, `frame type ${type} inside a header block`);
    switch (type) {
      case frameType.data:
        this.onDataFrame(flags, streamId, payload);
        return;
      case frameType.headers: {
        let block = payload;
        let pad = 0;
        if (flags & H2Flag.padded) {
          pad = block[0] ?? 0;
          block = block.subarray(1);
        }
        if (flags & H2Flag.priority) block = block.subarray(5);
        if (pad > block.length)
          throw new ProtocolError(H2Code.protocolError, 'HEADERS padding exceeds the frame');
        block = block.subarray(0, block.length - pad);
        if (flags & H2Flag.endHeaders) {
          this.onHeaderBlock(streamId, flags, block);
        } else {
          this.continuationStream = streamId;
          this.continuationFlags = flags;
          this.continuationParts = [block];
          this.continuationBytes = block.length;
        }
        return;
      }
      case frameType.continuation: {
        if (streamId !== this.continuationStream || streamId === 0)
          throw new ProtocolError(H2Code.protocolError, 'CONTINUATION without its HEADERS');
        this.continuationParts.push(payload);
        this.continuationBytes += payload.length;
        if (this.continuationBytes > headerBlockBytesMax)
          throw new ProtocolError(H2Code.protocolError, `header block above ${headerBlockBytesMax} bytes`);
        if (flags & H2Flag.endHeaders) {
          const block = Buffer.concat(this.continuationParts);
          this.continuationStream = 0;
          this.continuationParts = [];
          this.onHeaderBlock(streamId, this.continuationFlags, block);
        }
        return;
      }
      case frameType.rstStream: {
        const call = this.streams.get(streamId);
        if (call === undefined) return;
        this.finish(call);
        call.reject(errorOfRst(payload.length >= 4 ? payload.readUInt32BE(0) : H2Code.internalError));
        return;
      }
      case frameType.settings:
        if (flags & H2Flag.ack) return;
        this.onSettings(payload);
        return;
      case frameType.pushPromise:
        throw new ProtocolError(H2Code.protocolError, 'PUSH_PROMISE although push is disabled');
      case frameType.ping:
        if (flags & H2Flag.ack || payload.length !== 8) return;
        this.frameHeader(8, frameType.ping, H2Flag.ack, 0);
        this.bytes(payload, 0, 8);
        this.scheduleFlush();
        return;
      case frameType.goaway:
        this.onGoaway(payload);
        return;
      case frameType.windowUpdate: {
        if (payload.length !== 4)
          throw new ProtocolError(H2Code.frameSizeError, 'WINDOW_UPDATE of a wrong size');
        const increment = payload.readUInt32BE(0) & 0x7fffffff;
        if (streamId === 0) {
          this.connSendWindow += increment;
          if (this.connSendWindow > windowMax)
            throw new ProtocolError(H2Code.flowControlError, 'connection send window above 2^31-1');
        } else {
          const call = this.streams.get(streamId);
          if (call === undefined) return;
          call.sendWindow += increment;
        }
        this.unblock();
        return;
      }
      default:
        // PRIORITY and unknown frame types are ignored, as RFC 9113 asks.
        return;
    }
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    // Padding counts against flow control like the data does.
    this.connUncredited += payload.length;
    if (this.connUncredited >= this.connWindow / 2) {
      this.windowUpdate(0, this.connUncredited);
      this.connUncredited = 0;
    }
    const call = this.streams.get(streamId);
    if (call === undefined) return;
    let data = payload;
    if (flags & H2Flag.padded) {
      const pad = data[0] ?? 0;
      if (pad >= data.length) throw new ProtocolError(H2Code.protocolError, 'DATA padding exceeds the frame');
      data = data.subarray(1, data.length - pad);
    }
    if (data.length > 0) {
      call.chunks.push(data);
      call.receivedBytes += data.length;
    }
    if (call.receivedBytes > responseBytesMax + 5) {
      this.finish(call);
      this.rstStream(streamId, H2Code.cancel);
      call.reject(
        new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, `response above ${responseBytesMax} bytes`),
      );
      return;
    }
    if (flags & H2Flag.endStream) {
      // A gRPC response always ends with trailers; a stream that ends on DATA has no status.
      this.finish(call);
      call.reject(new GrpcCallError(GrpcStatus.UNKNOWN, 'stream ended without a gRPC status'));
      return;
    }
    call.uncreditedBytes += payload.length;
    if (call.uncreditedBytes >= this.streamWindow / 2) {
      this.windowUpdate(streamId, call.uncreditedBytes);
      call.uncreditedBytes = 0;
    }
  }

  private onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    // Every block goes through the decoder, even of calls gone: the server's dynamic table depends on it.
    const fields = this.decoder.decode(block);
    const call = this.streams.get(streamId);
    if (call === undefined) return;
    let httpStatus: string | undefined;
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    for (const f of fields) {
      if (f.name === ':status') httpStatus = f.value;
      else if (f.name === 'grpc-status') grpcStatus = f.value;
      else if (f.name === 'grpc-message') grpcMessage = f.value;
    }
    if (!call.headersSeen) {
      call.headersSeen = true;
      if (httpStatus !== undefined && httpStatus !== '200' && grpcStatus === undefined) {
        this.finish(call);
        if ((flags & H2Flag.endStream) === 0) this.rstStream(streamId, H2Code.cancel);
        call.reject(new GrpcCallError(statusOfHttp(httpStatus), `Received HTTP status code ${httpStatus}`));
        return;
      }
    }
    // Response headers (not trailers) carry nothing more that a unary call needs.
    if ((flags & H2Flag.endStream) === 0) return;
    this.finish(call);
    const code = grpcStatus === undefined ? GrpcStatus.UNKNOWN : Number(grpcStatus);
    if (grpcStatus === undefined || !Number.isInteger(code)) {
      call.reject(
        new GrpcCallError(GrpcStatus.UNKNOWN, `no valid grpc-status in the trailers (${grpcStatus})`),
      );
      return;
    }
    if (code !== GrpcStatus.OK) {
      call.reject(new GrpcCallError(code, decodeGrpcMessage(grpcMessage)));
      return;
    }
    const body = call.chunks.length === 1 ? (call.chunks[0] as Buffer) : Buffer.concat(call.chunks);
    if (body.length < 5) {
      call.reject(new GrpcCallError(GrpcStatus.UNIMPLEMENTED, 'No message received'));
      return;
    }
    if (body[0] !== 0) {
      call.reject(
        new GrpcCallError(GrpcStatus.INTERNAL, 'compressed response, but no compression was asked for'),
      );
      return;
    }
    const length = body.readUInt32BE(1);
    if (body.length !== 5 + length) {
      const why = body.length < 5 + length ? 'response message truncated' : 'Too many responses received';
      call.reject(
        new GrpcCallError(body.length < 5 + length ? GrpcStatus.INTERNAL : GrpcStatus.UNIMPLEMENTED, why),
      );
      return;
    }
    call.resolve(body.subarray(5));
  }

  private onSettings(payload: Buffer): void {
    if (payload.length % 6 !== 0) throw new ProtocolError(H2Code.frameSizeError, 'SETTINGS of a wrong size');
    // Bounded by the payload (at most a frame).
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === H2Setting.maxConcurrentStreams) this.peerMaxStreams = value;
      else if (id === H2Setting.initialWindowSize) {
        if (value > windowMax)
          throw new ProtocolError(H2Code.flowControlError, 'INITIAL_WINDOW_SIZE above 2^31-1');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const call of this.streams.values()) call.sendWindow += delta;
      } else if (id === H2Setting.maxFrameSize) {
        if (value < 16_384 || value > 16_777_215)
          throw new ProtocolError(H2Code.protocolError, `MAX_FRAME_SIZE ${value} out of range`);
        this.peerMaxFrame = value;
      } else if (id === H2Setting.headerTableSize) this.encoder.setPeerTableBytes(value);
      // The others do not matter to a client.
    }
    this.frameHeader(0, frameType.settings, H2Flag.ack, 0);
    this.scheduleFlush();
    if (this.state === 'connecting') {
      this.state = 'ready';
      if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
      for (const w of this.readyWaiters) w(true);
      this.readyWaiters = [];
    }
    this.startWaiting();
    this.unblock();
    this.closeIfIdle();
  }

  private onGoaway(payload: Buffer): void {
    if (payload.length < 8) throw new ProtocolError(H2Code.frameSizeError, 'GOAWAY of a wrong size');
    const lastStreamId = payload.readUInt32BE(0) & 0x7fffffff;
    const errorCode = payload.readUInt32BE(4);
    const debug = payload.subarray(8).toString('latin1');
    const reason = `GOAWAY from the server (code ${errorCode}${debug === '' ? '' : `, ${debug}`})`;
    const error = new GrpcCallError(GrpcStatus.UNAVAILABLE, reason);
    // Calls the server will not process fail; they are not retried (a put might be sent twice otherwise).
    for (const [id, call] of this.streams) {
      if (id <= lastStreamId) continue;
      this.streams.delete(id);
      call.reject(error);
    }
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.waiting[i]?.reject(error);
    this.waiting = [];
    this.waitingHead = 0;
    this.closeReason = reason;
    this.state = 'draining';
    this.retire();
  }

  /** A retired connection closes when no call is left on it (after writing what it has). */
  private closeIfIdle(): void {
    if (!this.retiring || this.state === 'connecting' || this.state === 'closed') return;
    if (this.streams.size > 0 || this.waitingHead < this.waiting.length) return;
    setImmediate(() => {
      this.flush();
      this.close(GrpcStatus.UNAVAILABLE, this.closeReason || 'connection retired');
    });
  }

  private goaway(code: number): void {
    if (this.goawaySent || this.state === 'closed') return;
    this.goawaySent = true;
    this.frameHeader(8, frameType.goaway, 0, 0);
    this.u32(Math.max(0, this.nextStreamId - 2));
    this.u32(code);
    this.flush();
  }

  /** A call is over (answered, failed or cancelled): frees its stream slot. */
  private finish(call: Call): void {
    this.streams.delete(call.id);
    if (this.waitingHead < this.waiting.length) this.startWaiting();
    this.closeIfIdle();
  }

  /** Fails calls past their deadline (started ones are cancelled with RST_STREAM). */
  private sweep(): void {
    const now = Date.now();
    const late = new GrpcCallError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded');
    for (const call of this.streams.values()) {
      if (call.deadlineMs > now) continue;
      this.finish(call);
      this.rstStream(call.id, H2Code.cancel);
      call.reject(late);
    }
    if (this.waitingHead === this.waiting.length) return;
    const still: Call[] = [];
    for (let i = this.waitingHead; i < this.waiting.length; i++) {
      const call = this.waiting[i] as Call;
      if (call.deadlineMs <= now) call.reject(late);
      else still.push(call);
    }
    this.waiting = still;
    this.waitingHead = 0;
  }
}

class ProtocolError extends Error {
  constructor(
    readonly h2Code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A gRPC client of one address ('host:port') that keeps one HTTP/2 connection. After the connection dies,
 * the next call opens another one (after a backoff that doubles from 50 ms to 1 s while connecting fails);
 * calls meanwhile fail fast with UNAVAILABLE.
 */
export class H2Client {
  private conn: H2Connection | undefined;
  /** Connections still finishing their calls after a GOAWAY; closed with the client. */
  private readonly draining = new Set<H2Connection>();
  private retryAtMs = 0;
  private backoffMs = 0;
  private closed = false;
  private readonly host: string;
  private readonly port: number;

  constructor(
    readonly address: string,
    private readonly options: H2ClientOptions = {},
  ) {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
    const port = Number(m?.[2]);
    if (m === null || !(port > 0 && port < 65536))
      throw new Error(`h2client: address must be host:port, got "${address}"`);
    this.host = (m[1] as string).replace(/^\[|\]$/g, '');
    this.port = port;
  }

  /** Connects now (whatever the backoff) and resolves true when ready, false if not by the deadline. */
  async waitReady(deadlineMs: number): Promise<boolean> {
    // Bounded: each attempt ends (ready, failed, or timed out) and the loop stops at the deadline.
    while (!this.closed && Date.now() < deadlineMs) {
      const conn = this.conn?.acceptsCalls === true ? this.conn : this.open();
      let timer: NodeJS.Timeout | undefined;
      const ready = await Promise.race([
        conn.whenReady(),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), Math.max(0, deadlineMs - Date.now()));
        }),
      ]);
      clearTimeout(timer);
      if (ready) return true;
      await sleep(Math.min(this.backoffMs, Math.max(0, deadlineMs - Date.now())));
    }
    return false;
  }

  call(path: string, message: Buffer, timeoutMs: number): Promise<Buffer> {
    if (!path.startsWith('/'))
      return Promise.reject(new Error(`h2client: a gRPC path starts with "/", got "${path}"`));
    if (!(timeoutMs > 0 && Number.isFinite(timeoutMs)))
      return Promise.reject(new Error(`h2client: timeoutMs must be above 0 and finite, got ${timeoutMs}`));
    let conn = this.conn;
    // Out of stream ids: the connection finishes its calls while a new one takes the next.
    if (conn !== undefined && conn.state !== 'closed' && !conn.acceptsCalls) conn.retire();
    conn = this.conn;
    if (conn === undefined || !conn.acceptsCalls) {
      if (this.closed) return Promise.reject(new GrpcCallError(GrpcStatus.UNAVAILABLE, 'client closed'));
      if (Date.now() < this.retryAtMs)
        return Promise.reject(new GrpcCallError(GrpcStatus.UNAVAILABLE, `cannot reach ${this.address}`));
      conn = this.open();
    }
    return conn.call(path, message, timeoutMs);
  }

  close(): void {
    this.closed = true;
    this.conn?.close(GrpcStatus.CANCELLED, 'client closed');
    for (const c of this.draining) c.close(GrpcStatus.CANCELLED, 'client closed');
  }

  private open(): H2Connection {
    const socket = netConnect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    const conn = new H2Connection(socket, this.address, this.options, {
      retired: (c) => {
        this.draining.add(c);
        if (this.conn === c) this.conn = undefined;
      },
      closed: (c, wasReady) => {
        this.draining.delete(c);
        if (this.conn !== c) return;
        this.conn = undefined;
        // A connection that never got ready backs off longer each time; one that worked retries soon.
        this.backoffMs = wasReady
          ? 0
          : Math.min(reconnectBackoffMaxMs, Math.max(reconnectBackoffMinMs, this.backoffMs * 2));
        this.retryAtMs = Date.now() + this.backoffMs;
      },
    });
    this.conn = conn;
    return conn;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
