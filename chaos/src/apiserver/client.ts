// A small Kubernetes REST client for the apiserver chaos suite: JSON requests over HTTPS with the
// cluster's admin client certificate, through the LB. Each client has its own agent with one
// keep-alive socket, so that a client sticks to one apiserver until that connection breaks — the
// situation in which a real client sees a failure — and a broken socket is never reused.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

export interface KubeTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export function readTls(paths: { caCert: string; adminCert: string; adminKey: string }): KubeTls {
  return {
    caPem: readFileSync(paths.caCert, 'utf8'),
    certPem: readFileSync(paths.adminCert, 'utf8'),
    keyPem: readFileSync(paths.adminKey, 'utf8'),
  };
}

export interface KubeReply {
  readonly status: number;
  readonly body: unknown;
}

/** A request that got no HTTP answer. `sent` false: it certainly never reached a server. */
export class KubeRequestError extends Error {
  readonly code = 'KUBE_REQUEST_FAILED';

  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
    this.name = 'KubeRequestError';
  }
}

/** Bytes of a response body beyond which the client gives up (a list of a few hundred ConfigMaps is far below). */
const BODY_BYTES_MAX = 64 * 1024 * 1024;

export class KubeClient {
  private readonly agent: Agent;

  constructor(
    readonly port: number,
    private readonly tls: KubeTls,
    private readonly timeoutMs: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  }

  /** One attempt: resolves with any HTTP answer, rejects with KubeRequestError without one. */
  send(method: string, path: string, body?: unknown): Promise<KubeReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      let sent = false;
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          ca: this.tls.caPem,
          cert: this.tls.certPem,
          key: this.tls.keyPem,
          headers: {
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > BODY_BYTES_MAX) req.destroy(new Error('response body too large'));
            else chunks.push(c);
          });
          res.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? null : JSON.parse(text);
            } catch {
              // Not JSON (e.g. a proxy's plain-text error): kept as text.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', (e) => fail(e));
        },
      );
      const fail = (e: Error): void => {
        clearTimeout(timer);
        // A failed socket must not be handed to the next request.
        req.destroy();
        const code = (e as { code?: string }).code ?? '';
        reject(
          new KubeRequestError(`${method} ${path}: ${code || e.message}`, sent || code !== 'ECONNREFUSED'),
        );
      };
      const timer = setTimeout(
        () =>
          req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: 'TIMEOUT' })),
        this.timeoutMs,
      );
      req.on('error', fail);
      req.on('socket', () => {
        sent = true;
      });
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Options of a streaming GET (a watch): each JSON line is handed to onLine. */
export interface StreamOptions {
  readonly port: number;
  readonly tls: KubeTls;
  readonly path: string;
  readonly onLine: (line: string) => void;
  /** Rejects when no response headers come within this. */
  readonly headersTimeoutMs: number;
  readonly signal: AbortSignal;
}

/**
 * A streaming GET on its own connection (watches must not share the writers' sockets). Resolves with
 * the HTTP status and why the stream ended; a non-200 status resolves with the body as the reason.
 */
export function streamLines(o: StreamOptions): Promise<{ status: number; endReason: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (status: number, endReason: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      req.destroy();
      resolve({ status, endReason });
    };
    const req = request(
      {
        host: '127.0.0.1',
        port: o.port,
        method: 'GET',
        path: o.path,
        agent: false,
        ca: o.tls.caPem,
        cert: o.tls.certPem,
        key: o.tls.keyPem,
        headers: { accept: 'application/json' },
      },
      (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (status !== 200) return;
          // Bounded: each complete line is consumed at once; a partial one waits for its end.
          for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line !== '') o.onLine(line);
          }
        });
        res.on('end', () => finish(status, status === 200 ? 'stream ended' : buf.slice(0, 300)));
        res.on('error', (e) => finish(status, `stream error: ${e.message}`));
        res.on('close', () => finish(status, 'stream closed'));
      },
    );
    const timer = setTimeout(
      () => finish(0, `no response headers within ${o.headersTimeoutMs} ms`),
      o.headersTimeoutMs,
    );
    const onAbort = (): void => finish(0, 'stopped');
    o.signal.addEventListener('abort', onAbort);
    if (o.signal.aborted) onAbort();
    req.on('error', (e) => finish(0, `request error: ${(e as { code?: string }).code ?? e.message}`));
    req.end();
  });
}
