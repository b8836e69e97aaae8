// The server side of an HTTP/2 connection (RFC 9113), written for gRPC on a raw socket instead of node:http2.
// node:http2 costs ~49 µs of CPU per unary call even when the answer is a fixed frame: an Http2Stream (a
// Duplex) per call, header objects converted between C++ and JavaScript, nghttp2's callbacks, one write per
// response. A gRPC server needs a small part of HTTP/2, and here a call costs a few frame headers read and
// written, one HPACK decode of mostly indexed fields, and a share of one socket write per event-loop turn
// (bench/results/profile-grpc-2026-11-30.md).
//
// What is here: the connection preface; SETTINGS (ours: a 1 MiB stream window and a 16 MiB connection
// window; theirs: initial window, frame size, header table size, all acknowledged); HEADERS + CONTINUATION
// decoded by ./hpack.ts; DATA with flow control in both directions (windows are credited as the
// application consumes, so a paused stream stops its sender); RST_STREAM; PING (answered, and sent for
// keepalive); WINDOW_UPDATE; GOAWAY; PRIORITY and unknown frames ignored. Server push, prioritisation and
// TLS are not. Errors follow the RFC: a stream error resets the stream, a connection error sends GOAWAY and
// closes the connection; neither throws out of the socket's 'data' handler.
//
// Like grpc-go (and unlike nghttp2), :authority is not validated: etcd 3.4's etcdctl sends a URL there.
import type { Duplex } from 'node:stream';
import { dynamicTableBytesDefault, encodeHeaderBlock, type HeaderField, HpackDecoder } from './hpack.js';

export const http2ClientPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** RFC 9113 4.1 and 6: the frame header's size, the frame types, flags and SETTINGS ids. */
export const frameHeaderBytes = 9;
export const frameType = {
  data: 0,
  headers: 1,
  priority: 2,
  rstStream: 3,
  settings: 4,
  pushPromise: 5,
  ping: 6,
  goaway: 7,
  windowUpdate: 8,
  continuation: 9,
} as const;
export const flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 } as const;
export const setting = {
  headerTableSize: 1,
  enablePush: 2,
  maxConcurrentStreams: 3,
  initialWindowSize: 4,
  maxFrameSize: 5,
  maxHeaderListSize: 6,
} as const;

/** RFC 9113 section 7 error codes. */
export const H2Code = {
  noError: 0,
  protocolError: 1,
  internalError: 2,
  flowControlError: 3,
  streamClosed: 5,
  frameSizeError: 6,
  refusedStream: 7,
  cancel: 8,
  compressionError: 9,
} as const;

export const windowDefault = 65_535;
export const windowMax = 2 ** 31 - 1;
/** Frames we accept: SETTINGS_MAX_FRAME_SIZE's default, which we do not raise. */
const receiveFramePayloadBytesMax = 16_384;
/** What we grant each stream, and the connection as a whole (the bound on unconsumed bytes it holds). */
export const streamReceiveWindow = 1024 * 1024;
export const connectionReceiveWindow = 16 * 1024 * 1024;
/** Streams open at once on one connection; more are refused (REFUSED_STREAM, which clients retry). */
export const maxConcurrentStreams = 10_000;
/** A header block (HEADERS + CONTINUATION fragments) larger than this closes the connection. */
export const headerBlockBytesMax = 1024 * 1024;
/** A stream's write() answers false (wait for its drain) once this much is queued on it. */
const streamQueueHighWaterBytes = 256 * 1024;
/** Data is not moved into the socket while it holds this much unsent (the client is not reading). */
const socketHighWaterBytes = 1024 * 1024;
/** Writes above this size go out as a writev of their parts rather than one copied buffer. */
const concatBytesMax = 64 * 1024;

export class Http2ConnectionError extends Error {
  override readonly name = 'Http2ConnectionError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A request's headers: names lower-case; a repeated name's values joined with ", ". */
export type RequestHeaders = Record<string, string>;

/** What a stream tells its application; set by the connection's onStream callback. */
export interface StreamSink {
  /** A DATA payload (not while the stream is paused). */
  onData(chunk: Buffer): void;
  /** The client half-closed (END_STREAM). */
  onEnd(): void;
  /** The stream is gone: both sides ended, a reset either way, or the connection closed. */
  onClose(): void;
  /** A write() that answered false may now be followed by more. */
  onDrain(): void;
  /** Everything queued, trailers included, went to the socket. */
  onFinish(): void;
}

interface QueuedData {
  bytes: Buffer;
  done: (() => void) | undefined;
}

function frameHead(length: number, type: number, flags: number, streamId: number): Buffer {
  const head = Buffer.allocUnsafe(frameHeaderBytes);
  head[0] = (length >>> 16) & 0xff;
  head[1] = (length >>> 8) & 0xff;
  head[2] = length & 0xff;
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return head;
}

/** One request stream: its headers in, its response out. Created by the connection. */
export class H2Stream {
  sink: StreamSink | null = null;
  /** The client sent END_STREAM. */
  receiveEnded = false;
  /** We sent END_STREAM (or queued the trailers that carry it). */
  sendEnded = false;
  closed = false;
  /** Flow control: what we may still send, and what the client may still send before we credit more. */
  sendWindow: number;
  receiveWindow = streamReceiveWindow;
  private receiveUncredited = 0;
  private paused = false;
  private pausedChunks: Buffer[] = [];
  private pausedEnd = false;
  private queue: QueuedData[] = [];
  private queuedBytes = 0;
  private trailers: Buffer | null = null;
  private needDrain = false;
  private headersSent = false;

  constructor(
    readonly id: number,
    readonly headers: RequestHeaders,
    private readonly conn: H2ServerConnection,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  /** Sends the response headers (a header block from ./hpack.ts) unless already sent. */
  respond(block: Buffer): void {
    if (this.headersSent || this.sendEnded || this.closed) return;
    this.headersSent = true;
    this.conn.sendHeaderBlock(this.id, block, false);
  }

  get hasResponded(): boolean {
    return this.headersSent;
  }

  /** Queues DATA; `done` runs once it has gone to the socket (or the stream died). False: wait for drain. */
  write(bytes: Buffer, done?: () => void): boolean {
    if (this.sendEnded || this.closed) {
      if (done) queueMicrotask(done);
      return false;
    }
    this.queue.push({ bytes, done });
    this.queuedBytes += bytes.length;
    this.pump();
    const ok = this.queuedBytes < streamQueueHighWaterBytes && !this.conn.socketBlocked;
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** Ends the response with a trailers block (END_STREAM) once the queued data is out. */
  end(trailersBlock: Buffer): void {
    if (this.sendEnded || this.closed) return;
    this.sendEnded = true;
    this.trailers = trailersBlock;
    this.pump();
  }

  /** A whole response in one go when the window allows: headers, one message, trailers. */
  respondAndEnd(headersBlock: Buffer, message: Buffer, trailersBlock: Buffer): void {
    if (this.headersSent || this.sendEnded || this.closed) return;
    this.respond(headersBlock);
    this.write(message);
    this.end(trailersBlock);
  }

  /** Answers with one header block and END_STREAM: gRPC's trailers-only response, or an HTTP error. */
  respondOnly(block: Buffer): void {
    if (this.headersSent || this.sendEnded || this.closed) return;
    this.headersSent = true;
    this.sendEnded = true;
    this.conn.sendHeaderBlock(this.id, block, true);
    this.sentEnd();
  }

  /** Resets the stream (RST_STREAM with the code) and closes it. */
  reset(code: number): void {
    if (this.closed) return;
    this.conn.sendRstStream(this.id, code);
    this.close();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // Bounded: the chunks held are at most the stream's receive window.
    const chunks = this.pausedChunks;
    this.pausedChunks = [];
    for (const chunk of chunks) {
      if (this.closed || this.paused) {
        this.pausedChunks.push(chunk);
        continue;
      }
      this.deliver(chunk);
    }
    if (this.pausedEnd && !this.paused && !this.closed) {
      this.pausedEnd = false;
      this.sink?.onEnd();
    }
  }

  /** From the connection: a DATA payload for this stream (flow control already checked). */
  received(chunk: Buffer, endStream: boolean): void {
    if (chunk.length > 0) {
      if (this.paused) this.pausedChunks.push(chunk);
      else this.deliver(chunk);
    }
    if (endStream) this.receivedEnd();
  }

  receivedEnd(): void {
    this.receiveEnded = true;
    if (this.paused) this.pausedEnd = true;
    else this.sink?.onEnd();
  }

  private deliver(chunk: Buffer): void {
    this.receiveUncredited += chunk.length;
    if (this.receiveUncredited >= streamReceiveWindow / 2 && !this.receiveEnded) {
      this.conn.sendWindowUpdate(this.id, this.receiveUncredited);
      this.receiveWindow += this.receiveUncredited;
      this.receiveUncredited = 0;
    }
    this.sink?.onData(chunk);
  }

  /** Moves queued data into the connection as far as the windows allow, then the trailers. */
  pump(): void {
    // Bounded: each iteration sends at least one byte of the queue or ends it.
    while (this.queue.length > 0 && !this.closed) {
      const allowed = Math.min(this.sendWindow, this.conn.sendWindow, this.conn.peerFramePayloadBytesMax);
      if (allowed <= 0 || this.conn.socketBlocked) break;
      const head = this.queue[0] as QueuedData;
      const part = head.bytes.length <= allowed ? head.bytes : head.bytes.subarray(0, allowed);
      this.sendWindow -= part.length;
      this.conn.sendData(this.id, part, false);
      this.queuedBytes -= part.length;
      if (part.length === head.bytes.length) {
        this.queue.shift();
        head.done?.();
      } else head.bytes = head.bytes.subarray(part.length);
    }
    if (this.queue.length === 0 && this.trailers !== null && !this.closed) {
      const trailers = this.trailers;
      this.trailers = null;
      this.conn.sendHeaderBlock(this.id, trailers, true);
      this.sentEnd();
      return;
    }
    if (this.needDrain && this.queuedBytes < streamQueueHighWaterBytes && !this.conn.socketBlocked) {
      this.needDrain = false;
      this.sink?.onDrain();
    }
  }

  private sentEnd(): void {
    this.sink?.onFinish();
    if (this.closed) return;
    // The answer is complete: a client still sending is told to stop (grpc-go does the same).
    if (!this.receiveEnded) this.reset(H2Code.noError);
    else this.close();
  }

  /** Drops the stream: pending writes are called back, the application hears onClose once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.streamClosed(this);
    const queue = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.trailers = null;
    for (const q of queue) q.done?.();
    this.sink?.onClose();
  }
}

export interface H2ConnectionOptions {
  /** A new stream's headers are complete; the callback sets stream.sink (synchronously). */
  onStream(stream: H2Stream): void;
  /** The connection is gone (after every stream's onClose). */
  onClose(): void;
  /** A protocol error the connection died of, for logs. */
  onError(err: Error): void;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

/** One client connection. Reads the socket from the preface on; `peeked` holds bytes already read from it. */
export class H2ServerConnection {
  /** Flow control: what we may still send on the connection as a whole. */
  sendWindow = windowDefault;
  peerFramePayloadBytesMax = 16_384;
  private peerInitialWindow = windowDefault;
  private receiveWindow = windowDefault;
  private receiveUncredited = 0;
  private readonly streams = new Map<number, H2Stream>();
  private lastStreamId = 0;
  private readonly decoder = new HpackDecoder();
  /** An HPACK table size update we owe the client at the start of our next header block. */
  private tableSizeUpdate: Buffer | null = null;
  private prefaceBytesLeft = http2ClientPreface.length;
  private pending: Buffer | null = null;
  private openBlock: {
    streamId: number;
    endStream: boolean;
    fragments: Buffer[];
    bytes: number;
  } | null = null;
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private closed = false;
  private goawaySent = false;
  private lastActivity = Date.now();
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private pingDeadline: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Duplex,
    private readonly opts: H2ConnectionOptions,
  ) {
    // Our preface: SETTINGS, then a connection window larger than the protocol's 64 KiB.
    const settings = Buffer.alloc(18);
    settings.writeUInt16BE(setting.maxConcurrentStreams, 0);
    settings.writeUInt32BE(maxConcurrentStreams, 2);
    settings.writeUInt16BE(setting.initialWindowSize, 6);
    settings.writeUInt32BE(streamReceiveWindow, 8);
    settings.writeUInt16BE(setting.maxHeaderListSize, 12);
    settings.writeUInt32BE(headerBlockBytesMax, 14);
    this.push(frameHead(settings.length, frameType.settings, 0, 0), settings);
    this.sendWindowUpdate(0, connectionReceiveWindow - windowDefault);
    this.receiveWindow = connectionReceiveWindow;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', () => {
      this.destroy();
      socket.destroy();
    });
    socket.on('end', () => this.destroy());
    socket.on('close', () => this.destroy());
    const interval = Math.min(opts.keepaliveTimeMs, 60_000);
    this.keepaliveTimer = setInterval(() => this.keepalive(), interval);
    this.keepaliveTimer.unref();
  }

  get socketBlocked(): boolean {
    return this.socket.writableLength >= socketHighWaterBytes;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Feeds bytes read before the connection took over the socket (the classifier's peek). */
  feed(chunk: Buffer): void {
    this.onData(chunk);
  }

  /** Sends GOAWAY and closes the connection; every open stream is closed. */
  close(): void {
    if (this.closed) return;
    this.sendGoaway(H2Code.noError, '');
    this.flush();
    this.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastActivity = Date.now();
    try {
      this.consume(chunk);
    } catch (e) {
      if (e instanceof Http2ConnectionError) this.fail(e);
      else {
        this.fail(new Http2ConnectionError(H2Code.internalError, (e as Error).message));
        this.opts.onError(e as Error);
      }
    }
    this.scheduleFlush();
  }

  private consume(chunk: Buffer): void {
    let bytes = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let pos = 0;
    if (this.prefaceBytesLeft > 0) {
      const done = http2ClientPreface.length - this.prefaceBytesLeft;
      const part = bytes.subarray(0, this.prefaceBytesLeft);
      if (!part.equals(http2ClientPreface.subarray(done, done + part.length)))
        throw new Http2ConnectionError(H2Code.protocolError, 'not the HTTP/2 client preface');
      this.prefaceBytesLeft -= part.length;
      pos = part.length;
    }
    // Bounded: each iteration consumes one whole frame of the chunk.
    while (bytes.length - pos >= frameHeaderBytes && !this.closed) {
      const length =
        (bytes[pos] as number) * 65536 + (bytes[pos + 1] as number) * 256 + (bytes[pos + 2] as number);
      if (length > receiveFramePayloadBytesMax)
        throw new Http2ConnectionError(H2Code.frameSizeError, `frame of ${length} bytes`);
      if (bytes.length - pos < frameHeaderBytes + length) break;
      const type = bytes[pos + 3] as number;
      const flags = bytes[pos + 4] as number;
      const streamId = bytes.readUInt32BE(pos + 5) & 0x7fffffff;
      const payload = bytes.subarray(pos + frameHeaderBytes, pos + frameHeaderBytes + length);
      pos += frameHeaderBytes + length;
      this.frame(type, flags, streamId, payload);
    }
    if (pos < bytes.length) {
      bytes = bytes.subarray(pos);
      // A DATA payload is referenced by the application, so a kept remainder is copied off the chunk.
      this.pending = Buffer.from(bytes);
    }
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.openBlock !== null && type !== frameType.continuation)
      throw new Http2ConnectionError(H2Code.protocolError, 'header block interrupted by another frame');
    switch (type) {
      case frameType.data:
        this.onDataFrame(flags, streamId, payload);
        return;
      case frameType.headers:
        this.onHeadersFrame(flags, streamId, payload);
        return;
      case frameType.continuation:
        this.onContinuation(flags, streamId, payload);
        return;
      case frameType.priority:
        if (streamId === 0) throw new Http2ConnectionError(H2Code.protocolError, 'PRIORITY on stream 0');
        if (payload.length !== 5) this.streamError(streamId, H2Code.frameSizeError);
        return;
      case frameType.rstStream:
        if (streamId === 0) throw new Http2ConnectionError(H2Code.protocolError, 'RST_STREAM on stream 0');
        if (payload.length !== 4)
          throw new Http2ConnectionError(H2Code.frameSizeError, 'RST_STREAM of the wrong size');
        if (streamId > this.lastStreamId)
          throw new Http2ConnectionError(H2Code.protocolError, 'RST_STREAM on an idle stream');
        this.streams.get(streamId)?.close();
        return;
      case frameType.settings:
        this.onSettings(flags, streamId, payload);
        return;
      case frameType.pushPromise:
        throw new Http2ConnectionError(H2Code.protocolError, 'PUSH_PROMISE from a client');
      case frameType.ping:
        this.onPing(flags, streamId, payload);
        return;
      case frameType.goaway:
        if (streamId !== 0) throw new Http2ConnectionError(H2Code.protocolError, 'GOAWAY on a stream');
        return;
      case frameType.windowUpdate:
        this.onWindowUpdate(streamId, payload);
        return;
      default:
        // RFC 9113 4.1: frames of unknown types are ignored.
        return;
    }
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new Http2ConnectionError(H2Code.protocolError, 'DATA on stream 0');
    if (streamId > this.lastStreamId)
      throw new Http2ConnectionError(H2Code.protocolError, 'DATA on an idle stream');
    // The whole frame, padding included, counts against the windows.
    this.receiveWindow -= payload.length;
    if (this.receiveWindow < 0)
      throw new Http2ConnectionError(H2Code.flowControlError, 'connection window exceeded');
    this.creditConnection(payload.length);
    const data = flags & flag.padded ? unpad(payload) : payload;
    const stream = this.streams.get(streamId);
    if (stream === undefined) return; // a stream we closed or reset: dropped, as the RFC allows
    if (stream.receiveEnded) {
      this.streamError(streamId, H2Code.streamClosed);
      return;
    }
    stream.receiveWindow -= payload.length;
    if (stream.receiveWindow < 0) {
      this.streamError(streamId, H2Code.flowControlError);
      return;
    }
    stream.received(data, (flags & flag.endStream) !== 0);
  }

  /** Connection-level credit is given as bytes arrive; the stream windows hold back a paused stream. */
  private creditConnection(bytes: number): void {
    this.receiveUncredited += bytes;
    if (this.receiveUncredited >= connectionReceiveWindow / 2) {
      this.sendWindowUpdate(0, this.receiveUncredited);
      this.receiveWindow += this.receiveUncredited;
      this.receiveUncredited = 0;
    }
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0)
      throw new Http2ConnectionError(H2Code.protocolError, `HEADERS on stream ${streamId}`);
    let start = 0;
    let end = payload.length;
    if (flags & flag.padded) {
      const padBytes = payload[0] ?? 0;
      start = 1;
      end -= padBytes;
    }
    if (flags & flag.priority) start += 5;
    if (end < start)
      throw new Http2ConnectionError(H2Code.protocolError, 'HEADERS padding longer than the frame');
    const fragment = payload.subarray(start, end);
    this.openBlock = {
      streamId,
      endStream: (flags & flag.endStream) !== 0,
      fragments: [fragment],
      bytes: fragment.length,
    };
    if (flags & flag.endHeaders) this.closeBlock();
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const block = this.openBlock;
    if (block === null || block.streamId !== streamId)
      throw new Http2ConnectionError(H2Code.protocolError, 'CONTINUATION without its HEADERS');
    block.fragments.push(Buffer.from(payload));
    block.bytes += payload.length;
    if (block.bytes > headerBlockBytesMax)
      throw new Http2ConnectionError(H2Code.protocolError, 'header block too large');
    if (flags & flag.endHeaders) this.closeBlock();
  }

  private closeBlock(): void {
    const block = this.openBlock as NonNullable<typeof this.openBlock>;
    this.openBlock = null;
    let fields: HeaderField[];
    try {
      // Every block is decoded, even a refused stream's, to keep the dynamic table in step with the client.
      fields = this.decoder.decode(
        block.fragments.length === 1 ? (block.fragments[0] as Buffer) : Buffer.concat(block.fragments),
      );
    } catch (e) {
      throw new Http2ConnectionError(H2Code.compressionError, (e as Error).message);
    }
    const streamId = block.streamId;
    const existing = this.streams.get(streamId);
    if (streamId <= this.lastStreamId) {
      // Trailers of a request (gRPC clients send none, but HTTP/2 allows them): they must end the stream.
      if (existing === undefined) return;
      if (existing.receiveEnded) {
        this.streamError(streamId, H2Code.streamClosed);
        return;
      }
      if (!block.endStream) {
        this.streamError(streamId, H2Code.protocolError);
        return;
      }
      existing.receivedEnd();
      return;
    }
    this.lastStreamId = streamId;
    if (this.goawaySent) return;
    if (this.streams.size >= maxConcurrentStreams) {
      this.sendRstStream(streamId, H2Code.refusedStream);
      return;
    }
    const headers: RequestHeaders = {};
    for (const f of fields) {
      const prev = headers[f.name];
      headers[f.name] = prev === undefined ? f.value : `${prev}, ${f.value}`;
    }
    if (headers[':method'] === undefined || headers[':path'] === undefined) {
      this.sendRstStream(streamId, H2Code.protocolError);
      return;
    }
    const stream = new H2Stream(streamId, headers, this, this.peerInitialWindow);
    this.streams.set(streamId, stream);
    this.opts.onStream(stream);
    if (block.endStream && !stream.closed) stream.receivedEnd();
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new Http2ConnectionError(H2Code.protocolError, 'SETTINGS on a stream');
    if (flags & flag.ack) {
      if (payload.length !== 0)
        throw new Http2ConnectionError(H2Code.frameSizeError, 'SETTINGS ACK with a payload');
      return;
    }
    if (payload.length % 6 !== 0)
      throw new Http2ConnectionError(H2Code.frameSizeError, 'SETTINGS of the wrong size');
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === setting.headerTableSize) {
        // We never add to the client's table, so ours is empty; a smaller limit still has to be
        // acknowledged by a size update at the start of our next header block (RFC 7541 4.2).
        if (value < dynamicTableBytesDefault) this.tableSizeUpdate = encodeTableSizeUpdate(value);
      } else if (id === setting.enablePush) {
        if (value > 1) throw new Http2ConnectionError(H2Code.protocolError, 'ENABLE_PUSH not 0 or 1');
      } else if (id === setting.initialWindowSize) {
        if (value > windowMax)
          throw new Http2ConnectionError(H2Code.flowControlError, 'INITIAL_WINDOW_SIZE too large');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > windowMax)
            throw new Http2ConnectionError(H2Code.flowControlError, 'stream window too large');
        }
      } else if (id === setting.maxFrameSize) {
        if (value < 16_384 || value > 16_777_215)
          throw new Http2ConnectionError(H2Code.protocolError, 'MAX_FRAME_SIZE out of range');
        this.peerFramePayloadBytesMax = value;
      }
    }
    this.push(frameHead(0, frameType.settings, flag.ack, 0));
    this.pumpAll();
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new Http2ConnectionError(H2Code.protocolError, 'PING on a stream');
    if (payload.length !== 8) throw new Http2ConnectionError(H2Code.frameSizeError, 'PING of the wrong size');
    if (flags & flag.ack) {
      if (this.pingDeadline !== null) {
        clearTimeout(this.pingDeadline);
        this.pingDeadline = null;
      }
      return;
    }
    this.push(frameHead(8, frameType.ping, flag.ack, 0), Buffer.from(payload));
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4)
      throw new Http2ConnectionError(H2Code.frameSizeError, 'WINDOW_UPDATE of the wrong size');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0)
        throw new Http2ConnectionError(H2Code.protocolError, 'WINDOW_UPDATE of 0 on the connection');
      this.sendWindow += increment;
      if (this.sendWindow > windowMax)
        throw new Http2ConnectionError(H2Code.flowControlError, 'connection window too large');
      this.pumpAll();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (increment === 0) {
      this.streamError(streamId, H2Code.protocolError);
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > windowMax) {
      this.streamError(streamId, H2Code.flowControlError);
      return;
    }
    stream.pump();
  }

  private streamError(streamId: number, code: number): void {
    const stream = this.streams.get(streamId);
    if (stream) stream.reset(code);
    else this.sendRstStream(streamId, code);
  }

  /** Gives every stream a chance to send after a window opened or the socket drained. */
  private pumpAll(): void {
    for (const stream of this.streams.values()) {
      if (this.sendWindow <= 0 || this.socketBlocked) break;
      stream.pump();
    }
  }

  private onSocketDrain(): void {
    this.pumpAll();
    this.scheduleFlush();
  }

  // ------------------------------------------------------------------------------------------------------
  // Sending. Frames are gathered and written once per event-loop turn.

  sendHeaderBlock(streamId: number, block: Buffer, endStream: boolean): void {
    let payload = block;
    if (this.tableSizeUpdate !== null) {
      payload = Buffer.concat([this.tableSizeUpdate, block]);
      this.tableSizeUpdate = null;
    }
    const max = this.peerFramePayloadBytesMax;
    if (payload.length <= max) {
      this.push(
        frameHead(
          payload.length,
          frameType.headers,
          flag.endHeaders | (endStream ? flag.endStream : 0),
          streamId,
        ),
        payload,
      );
      return;
    }
    // Bounded: each iteration sends up to `max` bytes of the block.
    for (let at = 0; at < payload.length; at += max) {
      const part = payload.subarray(at, at + max);
      const last = at + max >= payload.length;
      const type = at === 0 ? frameType.headers : frameType.continuation;
      const flags = (last ? flag.endHeaders : 0) | (at === 0 && endStream ? flag.endStream : 0);
      this.push(frameHead(part.length, type, flags, streamId), part);
    }
  }

  sendData(streamId: number, data: Buffer, endStream: boolean): void {
    this.sendWindow -= data.length;
    this.push(frameHead(data.length, frameType.data, endStream ? flag.endStream : 0, streamId), data);
  }

  sendRstStream(streamId: number, code: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(code, 0);
    this.push(frameHead(4, frameType.rstStream, 0, streamId), payload);
  }

  sendWindowUpdate(streamId: number, increment: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(increment, 0);
    this.push(frameHead(4, frameType.windowUpdate, 0, streamId), payload);
  }

  streamClosed(stream: H2Stream): void {
    this.streams.delete(stream.id);
  }

  private sendGoaway(code: number, debug: string): void {
    if (this.goawaySent) return;
    this.goawaySent = true;
    const text = Buffer.from(debug, 'utf8');
    const payload = Buffer.allocUnsafe(8 + text.length);
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    text.copy(payload, 8);
    this.push(frameHead(payload.length, frameType.goaway, 0, 0), payload);
  }

  private push(head: Buffer, payload?: Buffer): void {
    if (this.closed) return;
    this.out.push(head);
    this.outBytes += head.length;
    if (payload !== undefined && payload.length > 0) {
      this.out.push(payload);
      this.outBytes += payload.length;
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.out.length === 0) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.out.length === 0 || this.closed) return;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (bytes <= concatBytesMax) this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out, bytes));
    else {
      this.socket.cork();
      for (const b of out) this.socket.write(b);
      this.socket.uncork();
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Ending

  /** A connection error: GOAWAY with its code, then the connection closes. */
  private fail(err: Http2ConnectionError): void {
    this.opts.onError(err);
    this.sendGoaway(err.code, err.message);
    this.flush();
    this.destroy();
  }

  /** Closes every stream and the socket: at once when it failed, after our last frames otherwise. */
  private destroy(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    if (this.pingDeadline !== null) clearTimeout(this.pingDeadline);
    this.out = [];
    this.outBytes = 0;
    // Bounded: each close removes its stream.
    for (const stream of [...this.streams.values()]) stream.close();
    this.socket.end();
    if (!this.socket.destroyed) setTimeout(() => this.socket.destroy(), 1000).unref();
    this.opts.onClose();
  }

  /** Like grpc-go's keepalive: ping a connection idle for keepaliveTimeMs, drop it without an ack. */
  private keepalive(): void {
    if (this.closed || this.pingDeadline !== null) return;
    if (Date.now() - this.lastActivity < this.opts.keepaliveTimeMs) return;
    this.pingDeadline = setTimeout(() => this.destroy(), this.opts.keepaliveTimeoutMs);
    this.pingDeadline.unref();
    this.push(frameHead(8, frameType.ping, 0, 0), Buffer.alloc(8));
    this.flush();
  }
}

function unpad(payload: Buffer): Buffer {
  const padBytes = payload[0] ?? 0;
  if (padBytes >= payload.length)
    throw new Http2ConnectionError(H2Code.protocolError, 'DATA padding longer than the frame');
  return payload.subarray(1, payload.length - padBytes);
}

function encodeTableSizeUpdate(size: number): Buffer {
  // RFC 7541 6.3: 001xxxxx with a 5-bit prefix integer.
  if (size < 31) return Buffer.from([0x20 | size]);
  const out = [0x20 | 31];
  let rest = size - 31;
  // Bounded: a 32-bit value takes at most 5 continuation bytes.
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** Header blocks for responses, encoded once. */
export function headerBlock(fields: Array<[string, string]>): Buffer {
  return encodeHeaderBlock(fields.map(([name, value]) => ({ name, value, neverIndexed: false })));
}
