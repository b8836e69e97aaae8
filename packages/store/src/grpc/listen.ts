// Serves gRPC and plain HTTP (/health, /metrics, /version) on the same client port, as etcd does with
// cmux: each accepted connection's first bytes decide. gRPC clients open with the HTTP/2 client preface
// ("PRI * HTTP/2.0"); anything else is HTTP/1.x and goes to a node:http server. Only http:// for now.
// HTTP/2 connections go to the gRPC server with the bytes already read.
import http from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';
import type { GrpcH2Server } from './h2server.js';

const http2Preface = Buffer.from('PRI * HTTP/2.0', 'latin1');
/** A connection that sends nothing for this long is closed, so idle sockets cannot pile up unclassified. */
const classifyTimeoutMs = 10_000;

export interface ClientListeners {
  /** The bound ports, one per URL, in order (the real port when a URL asked for port 0). */
  ports: number[];
  /** Stops accepting, destroys open connections (gRPC and HTTP) and shuts the gRPC server down. */
  close(): Promise<void>;
}

export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export async function listenClientUrls(
  urls: URL[],
  grpcServer: GrpcH2Server,
  httpHandler: HttpHandler,
  logger?: Logger,
): Promise<ClientListeners> {
  for (const url of urls) {
    if (url.protocol !== 'http:')
      throw new Error(`client URL ${url.href}: only http:// is supported (no TLS yet)`);
  }
  const httpServer = http.createServer(httpHandler);
  const sockets = new Set<net.Socket>();
  const listeners: net.Server[] = [];
  const route = (socket: net.Socket, peeked: Buffer, isGrpc: boolean): void => {
    if (isGrpc) grpcServer.injectConnection(socket, peeked);
    else {
      socket.pause();
      socket.unshift(peeked);
      httpServer.emit('connection', socket);
      // node:http reads from the socket's handle directly; resuming replays the bytes peeked and unshifted.
      socket.resume();
    }
  };
  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    classifyConnection(socket, route, logger);
  };
  try {
    for (const url of urls) listeners.push(await listen(url, onConnection));
  } catch (e) {
    await Promise.all(listeners.map(closeServer));
    throw e;
  }
  const ports = listeners.map((l) => (l.address() as net.AddressInfo).port);
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const closed = Promise.all(listeners.map(closeServer));
      for (const socket of sockets) socket.destroy();
      httpServer.close();
      await closed;
      grpcServer.close();
    })();
    return closing;
  };
  return { ports, close };
}

/** Reads until the first bytes tell HTTP/2 from HTTP/1 and routes the socket with the bytes read. */
function classifyConnection(
  socket: net.Socket,
  route: (socket: net.Socket, peeked: Buffer, isGrpc: boolean) => void,
  logger: Logger | undefined,
): void {
  let peeked = Buffer.alloc(0);
  const timer = setTimeout(() => {
    logger?.debug({ remote: socket.remoteAddress }, 'closing a connection that sent no request');
    socket.destroy();
  }, classifyTimeoutMs);
  const cleanup = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', cleanup);
  };
  const onError = (): void => {
    cleanup();
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    peeked = Buffer.concat([peeked, chunk]);
    const prefixLength = Math.min(peeked.length, http2Preface.length);
    const mayBeHttp2 = peeked.subarray(0, prefixLength).equals(http2Preface.subarray(0, prefixLength));
    // Bounded: a decision is made at the latest once the preface's length has arrived.
    if (mayBeHttp2 && peeked.length < http2Preface.length) return;
    cleanup();
    route(socket, peeked, mayBeHttp2);
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', cleanup);
}

function listen(url: URL, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 80 : Number(url.port);
  // gRPC answers are small writes: without noDelay, Nagle and delayed ACKs add ~40 ms per call.
  const server = net.createServer({ noDelay: true }, onConnection);
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`cannot listen on client URL ${url.href}: ${e.message}`)));
    server.listen({ host, port }, () => resolve(server));
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
