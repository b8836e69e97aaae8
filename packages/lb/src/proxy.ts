// One client connection forwarded to one backend: TCP passthrough (TLS ends at the backend), both
// directions piped with backpressure, half-close passed on. A backend that fails to accept is
// replaced by the next eligible one, a bounded number of times, before the client is closed; no
// byte of the client's has been forwarded by then (the client socket is paused until a backend
// accepts), so trying another backend is safe.
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { assert } from './errors.js';
import type { Backend } from './pool.js';

/** TCP keepalive on both sockets, so that a peer that vanished is noticed without traffic. */
const KEEPALIVE_INITIAL_DELAY_MS = 30_000;

export interface ProxyDeps {
  pick(exclude: ReadonlySet<Backend>): Backend | undefined;
  attached(b: Backend): void;
  detached(b: Backend): void;
  connectFailed(b: Backend, err: Error): void;
  /** No backend could be reached: the client is closed. */
  gaveUp(reason: 'no_backend'): void;
  /** Both sockets are closed; the connection is done. */
  done(conn: ProxiedConnection): void;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connectAttemptsMax: number;
  readonly logger: Logger;
}

export class ProxiedConnection {
  /** The backend socket once connected. Invariant: upstream !== undefined iff backend !== undefined. */
  upstream: Socket | undefined;
  backend: Backend | undefined;
  /** A backend socket still connecting, destroyed if the client leaves first. */
  private pending: Socket | undefined;
  private clientClosed = false;
  private upstreamClosed = false;
  private finished = false;

  constructor(
    readonly client: Socket,
    private readonly deps: ProxyDeps,
  ) {}

  /** Starts connecting to a backend; the client socket must be paused (pauseOnConnect). */
  start(): void {
    const client = this.client;
    client.setNoDelay(true);
    client.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
    client.on('error', (err: Error) => {
      this.deps.logger.debug({ err: err.message, backend: this.backend?.name }, 'client socket error');
    });
    client.once('close', (hadError: boolean) => {
      this.clientClosed = true;
      this.pending?.destroy();
      // An orderly close means both directions already ended; an error means the other side must go.
      if (hadError) this.upstream?.destroy();
      else this.upstream?.end();
      this.maybeDone();
    });
    this.tryNext(new Set(), 0);
  }

  /** Cuts both sockets (the end of a drain). */
  destroy(): void {
    this.pending?.destroy();
    this.upstream?.destroy();
    this.client.destroy();
  }

  private tryNext(tried: Set<Backend>, attempt: number): void {
    if (this.clientClosed) return;
    const backend = attempt < this.deps.connectAttemptsMax ? this.deps.pick(tried) : undefined;
    if (backend === undefined) {
      this.deps.logger.warn(
        { tried: [...tried].map((b) => b.name), attempts: attempt },
        'no backend reachable: closing the client connection',
      );
      this.deps.gaveUp('no_backend');
      this.client.resetAndDestroy();
      return;
    }
    assert(!tried.has(backend), 'a connection never tries a backend twice');
    tried.add(backend);
    const socket = connect({ host: backend.target.host, port: backend.target.port, allowHalfOpen: true });
    this.pending = socket;
    socket.setTimeout(this.deps.connectTimeoutMs, () =>
      socket.destroy(new Error(`connect timed out after ${this.deps.connectTimeoutMs} ms`)),
    );
    const onError = (err: Error): void => {
      socket.destroy();
      this.pending = undefined;
      this.deps.connectFailed(backend, err);
      this.tryNext(tried, attempt + 1);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      socket.setTimeout(0);
      this.pending = undefined;
      this.attach(socket, backend);
    });
  }

  private attach(upstream: Socket, backend: Backend): void {
    if (this.clientClosed) {
      upstream.destroy();
      return;
    }
    this.upstream = upstream;
    this.backend = backend;
    this.deps.attached(backend);
    const client = this.client;
    upstream.setNoDelay(true);
    upstream.setKeepAlive(true, KEEPALIVE_INITIAL_DELAY_MS);
    upstream.on('error', (err: Error) => {
      this.deps.logger.debug({ err: err.message, backend: backend.name }, 'backend socket error');
    });
    upstream.once('close', (hadError: boolean) => {
      this.upstreamClosed = true;
      if (hadError) client.destroy();
      else client.end();
      this.maybeDone();
    });
    if (this.deps.idleTimeoutMs > 0) {
      // The client socket's timer is reset by reads and writes, so it sees traffic either way.
      client.setTimeout(this.deps.idleTimeoutMs, () => {
        this.deps.logger.debug({ backend: backend.name }, 'idle timeout: closing the connection');
        this.destroy();
      });
    }
    // pipe() pauses the source while the destination's buffer is full (backpressure) and ends the
    // destination when the source ends (half-close: the other direction goes on).
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private maybeDone(): void {
    if (this.finished || !this.clientClosed) return;
    if (this.upstream !== undefined && !this.upstreamClosed) return;
    this.finished = true;
    if (this.backend !== undefined) this.deps.detached(this.backend);
    this.deps.done(this);
  }
}
