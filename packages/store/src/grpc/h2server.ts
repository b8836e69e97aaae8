// gRPC's HTTP/2 protocol served for the etcd services on our own HTTP/2 connection (./h2conn.ts). It
// replaced @grpc/grpc-js's server, whose per-call machinery (interceptor chains, metadata objects, stream
// wrappers) cost as much CPU as node:http2 itself, and then node:http2, whose per-stream objects cost ~49 µs
// of CPU per call (bench/results/profile-grpc-2026-11-30.md). The protocol is small
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
// - a request is HEADERS (POST, :path /package.Service/Method, content-type application/grpc*) followed by
//   DATA carrying length-prefixed messages (1 flag byte: compressed or not, 4 bytes big-endian length);
// - a response is HEADERS (:status 200), length-prefixed messages, then trailers with grpc-status and a
//   percent-encoded grpc-message; an error before any message goes out as one "trailers-only" HEADERS.
// Messages are encoded and decoded by the services' protobufjs functions (the same ones grpc-js used), and
// status codes and texts follow grpc-go (what etcd runs), since etcd's clients print them.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { GrpcCode } from '../errors.js';
import { H2ServerConnection, type H2Stream, headerBlock } from './h2conn.js';
import type { StatusError } from './status.js';

/** A unary method: the decoded request in, the response out; a rejection becomes a status. */
export type UnaryHandler = (request: never) => Promise<unknown>;
/** A streaming method (client, server or bidi): gets the call and drives it. */
export type StreamHandler = (call: ServerStreamCall) => void;
export type MethodHandler = UnaryHandler | StreamHandler;

export interface GrpcH2ServerOptions {
  /** A received message longer than this fails the call with RESOURCE_EXHAUSTED, as grpc-go's MaxRecvMsgSize. */
  maxReceiveMessageBytes: number;
  logger: Logger;
  /** Maps what a unary handler threw to the status sent. */
  errorToStatus: (e: unknown, method: string) => StatusError;
  /** Idle time before the server pings a connection (etcd: 2 hours), and how long it waits for the ack. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
}

interface Method {
  readonly name: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly deserialize: (bytes: Buffer) => unknown;
  readonly serialize: (value: unknown) => Buffer;
  readonly handler: MethodHandler;
}

const messageHeaderBytes = 5;
const keepaliveTimeMsDefault = 2 * 60 * 60 * 1000;
const keepaliveTimeoutMsDefault = 20 * 1000;
/** grpc-timeout's value: at most 8 digits and a unit (PROTOCOL-HTTP2.md). */
const timeoutRe = /^(\d{1,8})([HMSmun])$/;
const timeoutUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const responseHeaders = headerBlock([
  [':status', '200'],
  ['content-type', 'application/grpc'],
  ['grpc-accept-encoding', 'identity'],
]);
const okTrailers = headerBlock([['grpc-status', '0']]);

function statusTrailers(status: StatusError): Buffer {
  return headerBlock([
    ['grpc-status', String(status.code)],
    ['grpc-message', encodeGrpcMessage(status.details)],
  ]);
}

/** A response that is only trailers: an error before any message. */
function trailersOnly(status: StatusError): Buffer {
  return headerBlock([
    [':status', '200'],
    ['content-type', 'application/grpc'],
    ['grpc-status', String(status.code)],
    ['grpc-message', encodeGrpcMessage(status.details)],
  ]);
}

/** Percent-encodes grpc-message as the protocol asks: bytes outside 0x20..0x7E, and '%'. */
export function encodeGrpcMessage(text: string): string {
  // The common case (ASCII without '%') needs no work.
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${hex2(byte)}`;
  }
  return out;
}

function hex2(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

/** Parses grpc-timeout into milliseconds: undefined when absent, 'malformed' when not `<1-8 digits><unit>` (the call then fails, as in grpc-go). */
export function parseGrpcTimeoutMs(value: string | string[] | undefined): number | undefined | 'malformed' {
  if (value === undefined) return undefined;
  const m = timeoutRe.exec(Array.isArray(value) ? (value[0] ?? '') : value);
  if (m === null) return 'malformed';
  return Number(m[1]) * (timeoutUnitMs[m[2] as string] as number);
}

/** Frames one message: flag 0 (not compressed), its length, the bytes. */
function frameMessage(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(messageHeaderBytes + body.length);
  frame[0] = 0;
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, messageHeaderBytes);
  return frame;
}

export class MessageFramingError extends Error {
  override readonly name = 'MessageFramingError';
  constructor(
    readonly code: GrpcCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Cuts a stream of DATA chunks into messages. Holds at most one partial message, which is bounded by
 * maxBytes (checked from the length prefix, before the bytes arrive).
 */
export class MessageReader {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** True while a message has started but not completed. */
  get partial(): boolean {
    return this.bufferedBytes > 0;
  }

  /** Adds a chunk; returns the messages it completed. Throws MessageFramingError on a bad prefix. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    const out: Buffer[] = [];
    // Bounded: every iteration consumes at least the 5-byte prefix of a buffered message.
    while (this.bufferedBytes >= messageHeaderBytes) {
      const head = this.peekHeader();
      const flag = head[0] as number;
      const length = head.readUInt32BE(1);
      if (flag !== 0) {
        throw new MessageFramingError(
          GrpcCode.Internal,
          flag === 1
            ? 'grpc: compressed flag set with identity or empty encoding'
            : `grpc: received unexpected payload format ${flag}`,
        );
      }
      if (length > this.maxBytes) {
        throw new MessageFramingError(
          GrpcCode.ResourceExhausted,
          `grpc: received message larger than max (${length} vs. ${this.maxBytes})`,
        );
      }
      if (this.bufferedBytes < messageHeaderBytes + length) break;
      const all = this.take(messageHeaderBytes + length);
      out.push(all.subarray(messageHeaderBytes));
    }
    return out;
  }

  private peekHeader(): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= messageHeaderBytes) return first;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(bytes: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length === bytes) {
      this.chunks.shift();
      this.bufferedBytes -= bytes;
      return first;
    }
    if (first.length > bytes) {
      this.chunks[0] = first.subarray(bytes);
      this.bufferedBytes -= bytes;
      return first.subarray(0, bytes);
    }
    const joined = Buffer.concat(this.chunks);
    const out = joined.subarray(0, bytes);
    const rest = joined.subarray(bytes);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bufferedBytes -= bytes;
    return out;
  }
}

/**
 * One streaming call, with the part of grpc-js's ServerDuplexStream the etcd handlers use.
 * Events: 'data' (a request message), 'end' (the client half-closed), 'cancelled' (the client or the
 * connection went away before the call finished), 'error' (emitted by a handler with a StatusError: the
 * call ends with that status), 'drain', 'finish', 'close'.
 */
export class ServerStreamCall extends EventEmitter {
  /** The request of a server-streaming call (its one message), undefined for client/bidi streams. */
  request: unknown;
  cancelled = false;
  private ended = false;

  constructor(
    private readonly stream: H2Stream,
    private readonly method: Method,
  ) {
    super();
    this.on('error', (status: StatusError) => this.endWithStatus(status));
  }

  get writableEnded(): boolean {
    return this.ended;
  }

  get destroyed(): boolean {
    return this.stream.closed;
  }

  /** Sends one response message; false means the stream's buffer is full (wait for 'drain'). */
  write(message: unknown, callback?: (err?: Error | null) => void): boolean {
    if (this.ended || this.stream.closed) {
      if (callback) queueMicrotask(() => callback());
      return false;
    }
    this.stream.respond(responseHeaders);
    return this.stream.write(
      frameMessage(this.method.serialize(message)),
      callback === undefined ? undefined : () => callback(),
    );
  }

  /** Ends the call with status OK. */
  end(): void {
    this.endWithStatus(null);
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  /** The server gives up on the call (deadline, undecodable request): 'cancelled' for the handler, then the status. */
  abort(status: StatusError): void {
    if (this.ended) return;
    this.cancelled = true;
    this.emit('cancelled');
    this.endWithStatus(status);
  }

  /** Ends the call with a status (OK when null); a second end is ignored. */
  endWithStatus(status: StatusError | null): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stream.closed) return;
    if (!this.stream.hasResponded && status !== null) {
      this.stream.respondOnly(trailersOnly(status));
      return;
    }
    this.stream.respond(responseHeaders);
    this.stream.end(status === null ? okTrailers : statusTrailers(status));
  }

  /** From the stream: it is gone; a call not ended by us was cancelled by the client. */
  streamClosed(): void {
    if (!this.ended) {
      this.cancelled = true;
      this.emit('cancelled');
    }
    this.emit('close');
  }
}

const noop = (): void => {};

export class GrpcH2Server {
  private readonly methods = new Map<string, Method>();
  private readonly serviceNames = new Set<string>();
  private readonly connections = new Set<H2ServerConnection>();
  private readonly logger: Logger;
  private readonly keepaliveTimeMs: number;
  private readonly keepaliveTimeoutMs: number;

  constructor(private readonly opts: GrpcH2ServerOptions) {
    if (!(Number.isInteger(opts.maxReceiveMessageBytes) && opts.maxReceiveMessageBytes > 0)) {
      throw new Error(
        `maxReceiveMessageBytes must be a positive integer, got ${opts.maxReceiveMessageBytes}`,
      );
    }
    this.logger = opts.logger;
    this.keepaliveTimeMs = opts.keepaliveTimeMs ?? keepaliveTimeMsDefault;
    this.keepaliveTimeoutMs = opts.keepaliveTimeoutMs ?? keepaliveTimeoutMsDefault;
  }

  /** Registers a service's methods; handlers are keyed by the method's name in the service definition. */
  addService(service: grpc.ServiceDefinition, handlers: Record<string, MethodHandler>): void {
    for (const [name, def] of Object.entries(service)) {
      const handler = handlers[name];
      if (handler === undefined) throw new Error(`no handler for ${def.path}`);
      this.methods.set(def.path, {
        name,
        requestStream: def.requestStream,
        responseStream: def.responseStream,
        deserialize: def.requestDeserialize as (bytes: Buffer) => unknown,
        serialize: def.responseSerialize as (value: unknown) => Buffer,
        handler,
      });
      this.serviceNames.add(def.path.split('/')[1] as string);
    }
  }

  /**
   * Serves an accepted connection (a net.Socket, or any Duplex carrying HTTP/2 from its preface on);
   * `peeked` holds bytes already read from it, preface first.
   */
  injectConnection(socket: Duplex, peeked?: Buffer): void {
    const connection: H2ServerConnection = new H2ServerConnection(socket, {
      onStream: (stream) => this.onStream(stream),
      onClose: () => this.connections.delete(connection),
      onError: (err) => this.logger.debug({ err }, 'HTTP/2 connection error'),
      keepaliveTimeMs: this.keepaliveTimeMs,
      keepaliveTimeoutMs: this.keepaliveTimeoutMs,
    });
    this.connections.add(connection);
    if (peeked !== undefined && peeked.length > 0) connection.feed(peeked);
  }

  /** Ends every connection at once (GOAWAY, then the socket closes). */
  close(): void {
    for (const connection of [...this.connections]) connection.close();
    this.connections.clear();
  }

  private onStream(stream: H2Stream): void {
    const headers = stream.headers;
    const path = headers[':path'] ?? '';
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      const status = headers[':method'] !== 'POST' ? '405' : '415';
      ignoreRequest(stream);
      stream.respondOnly(headerBlock([[':status', status]]));
      return;
    }
    const method = this.methods.get(path);
    if (method === undefined) {
      ignoreRequest(stream);
      stream.respondOnly(trailersOnly({ code: GrpcCode.Unimplemented, details: this.unknownMethod(path) }));
      return;
    }
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      ignoreRequest(stream);
      stream.respondOnly(
        trailersOnly({
          code: GrpcCode.Unimplemented,
          details: `grpc: Decompressor is not installed for grpc-encoding "${encoding}"`,
        }),
      );
      return;
    }
    const timeoutMs = parseGrpcTimeoutMs(headers['grpc-timeout']);
    if (timeoutMs === 'malformed') {
      ignoreRequest(stream);
      stream.respondOnly(
        trailersOnly({
          code: GrpcCode.Internal,
          details: `transport: malformed grpc-timeout: ${String(headers['grpc-timeout'])}`,
        }),
      );
      return;
    }
    if (method.requestStream || method.responseStream) this.serveStream(stream, method, timeoutMs);
    else this.serveUnary(stream, method, timeoutMs);
  }

  private unknownMethod(path: string): string {
    const [, service = '', name = ''] = path.split('/');
    return this.serviceNames.has(service)
      ? `unknown method ${name} for service ${service}`
      : `unknown service ${service}`;
  }

  private serveUnary(stream: H2Stream, method: Method, timeoutMs: number | undefined): void {
    const maxBytes = this.opts.maxReceiveMessageBytes;
    let reader: MessageReader | null = null;
    let request: Buffer | null = null;
    let done = false;
    let timer: NodeJS.Timeout | null = null;
    /** Answers once: a framed response (OK) or a status; later answers (a handler past its deadline) are dropped. */
    const finish = (answer: Buffer | StatusError): void => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      if (Buffer.isBuffer(answer)) stream.respondAndEnd(responseHeaders, answer, okTrailers);
      else stream.respondOnly(trailersOnly(answer));
    };
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () => finish({ code: GrpcCode.DeadlineExceeded, details: 'context deadline exceeded' }),
        timeoutMs,
      );
    }
    const onData = (chunk: Buffer): void => {
      if (done) return;
      // The common case: the whole request in one DATA frame, read without a MessageReader.
      if (reader === null && request === null && isOneMessage(chunk, maxBytes)) {
        request = chunk.subarray(messageHeaderBytes);
        return;
      }
      reader ??= new MessageReader(maxBytes);
      try {
        for (const message of reader.push(chunk)) {
          if (request !== null) {
            finish({ code: GrpcCode.Internal, details: 'grpc: too many messages in a unary request' });
            return;
          }
          request = message;
        }
      } catch (e) {
        if (e instanceof MessageFramingError) finish({ code: e.code, details: e.message });
        else throw e;
      }
    };
    const onEnd = (): void => {
      if (done) return;
      if (request === null || reader?.partial) {
        finish({ code: GrpcCode.Internal, details: 'grpc: request message is missing or cut short' });
        return;
      }
      let decoded: unknown;
      try {
        decoded = method.deserialize(request);
      } catch (e) {
        finish({
          code: GrpcCode.Internal,
          details: `grpc: error unmarshalling request: ${(e as Error).message}`,
        });
        return;
      }
      this.runUnary(method, decoded, finish);
    };
    const onClose = (): void => {
      done = true;
      if (timer !== null) clearTimeout(timer);
    };
    stream.sink = { onData, onEnd, onClose, onDrain: noop, onFinish: noop };
  }

  /** Runs the handler; its result goes out framed, what it throws or rejects with as a status. */
  private runUnary(method: Method, request: unknown, finish: (answer: Buffer | StatusError) => void): void {
    const toStatus = (e: unknown): StatusError => this.opts.errorToStatus(e, method.name);
    let response: Promise<unknown>;
    try {
      response = (method.handler as (req: unknown) => Promise<unknown>)(request);
    } catch (e) {
      finish(toStatus(e));
      return;
    }
    response.then(
      (value) => {
        let frame: Buffer;
        try {
          frame = frameMessage(method.serialize(value));
        } catch (e) {
          finish(toStatus(e));
          return;
        }
        finish(frame);
      },
      (e: unknown) => finish(toStatus(e)),
    );
  }

  private serveStream(stream: H2Stream, method: Method, timeoutMs: number | undefined): void {
    const call = new ServerStreamCall(stream, method);
    const reader = new MessageReader(this.opts.maxReceiveMessageBytes);
    let timer: NodeJS.Timeout | null = null;
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () => call.abort({ code: GrpcCode.DeadlineExceeded, details: 'context deadline exceeded' }),
        timeoutMs,
      );
    }
    let started = false;
    let failed = false;
    const start = (): void => {
      if (started) return;
      started = true;
      (method.handler as StreamHandler)(call);
    };
    const onData = (chunk: Buffer): void => {
      if (failed) return;
      let messages: Buffer[];
      try {
        messages = reader.push(chunk);
      } catch (e) {
        if (!(e instanceof MessageFramingError)) throw e;
        failed = true;
        call.abort({ code: e.code, details: e.message });
        return;
      }
      for (const message of messages) {
        let decoded: unknown;
        try {
          decoded = method.deserialize(message);
        } catch (e) {
          failed = true;
          call.abort({
            code: GrpcCode.Internal,
            details: `grpc: error unmarshalling request: ${(e as Error).message}`,
          });
          return;
        }
        if (method.requestStream) call.emit('data', decoded);
        else if (!started) {
          call.request = decoded;
          start();
        }
      }
    };
    const onEnd = (): void => {
      if (failed) return;
      if (!started) {
        call.endWithStatus({ code: GrpcCode.Internal, details: 'grpc: request message is missing' });
        return;
      }
      if (method.requestStream) call.emit('end');
    };
    stream.sink = {
      onData,
      onEnd,
      onClose: () => {
        if (timer !== null) clearTimeout(timer);
        call.streamClosed();
      },
      onDrain: () => call.emit('drain'),
      onFinish: () => call.emit('finish'),
    };
    // A bidi or client stream starts at once; a server stream once its one request has arrived.
    if (method.requestStream) start();
  }
}

/** A request answered before it was read: what else the client sends on it is dropped. */
function ignoreRequest(stream: H2Stream): void {
  stream.sink = { onData: noop, onEnd: noop, onClose: noop, onDrain: noop, onFinish: noop };
}

/** Whether a DATA payload is exactly one uncompressed message within the size limit. */
function isOneMessage(chunk: Buffer, maxBytes: number): boolean {
  if (chunk.length < messageHeaderBytes || chunk[0] !== 0) return false;
  const length = chunk.readUInt32BE(1);
  return length <= maxBytes && chunk.length === messageHeaderBytes + length;
}
