// Test backends (plain HTTP servers whose /readyz the test controls), requests through the load
// balancer, and polling. Everything listens on loopback with OS-chosen ports.
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { createLbLogger, type LbConfigInput, type LoadBalancer, startLoadBalancer } from '@keelson/lb';

export interface TestBackend {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  /** The status /readyz answers; the test changes it. */
  readyStatus: number;
  /** Requests served other than /readyz. */
  requests: number;
  /** Stops accepting and cuts every open connection (as a killed process would). */
  kill(): Promise<void>;
}

/**
 * GET /readyz: readyStatus. GET /hold: answers the backend's name at once and keeps the response
 * open until the client leaves. GET /stream?chunks=N&everyMs=M: N chunks, then the end. Anything
 * else: the backend's name.
 */
export async function startBackend(name: string): Promise<TestBackend> {
  const backend = { name, readyStatus: 200, requests: 0 } as TestBackend;
  const server = createServer((req, res) => route(backend, req, res));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(backend, {
    server,
    port: (server.address() as AddressInfo).port,
    kill: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  });
}

function route(b: TestBackend, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://backend');
  if (url.pathname === '/readyz') {
    res.writeHead(b.readyStatus, { 'content-type': 'text/plain' });
    res.end(b.readyStatus === 200 ? 'ok' : 'not ready');
    return;
  }
  b.requests++;
  if (url.pathname === '/hold') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write(b.name);
    return;
  }
  if (url.pathname === '/stream') {
    const chunks = Number(url.searchParams.get('chunks') ?? '5');
    const everyMs = Number(url.searchParams.get('everyMs') ?? '100');
    res.writeHead(200, { 'content-type': 'text/plain' });
    let sent = 0;
    const timer = setInterval(() => {
      sent++;
      res.write(`chunk ${sent}\n`);
      if (sent >= chunks) {
        clearInterval(timer);
        res.end('end\n');
      }
    }, everyMs);
    res.on('close', () => clearInterval(timer));
    return;
  }
  res.end(b.name);
}

/** GET `path` through host:port on a fresh connection; resolves with the status and body. */
export function get(
  address: string,
  path: string,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), Number(address.slice(i + 1))];
}

/** Polls `predicate` every 10 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<number> {
  const startedMs = performance.now();
  for (;;) {
    if (predicate()) return performance.now() - startedMs;
    if (performance.now() - startedMs > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A load balancer on 127.0.0.1:0 in front of `backends`, plain-HTTP checks, quiet logs. */
export function startTestLb(
  backends: readonly TestBackend[],
  config: Partial<LbConfigInput> = {},
  probe?: Parameters<typeof startLoadBalancer>[0]['probe'],
): Promise<LoadBalancer> {
  return startLoadBalancer({
    config: {
      listen: { host: '127.0.0.1', port: 0 },
      backends: backends.map((b) => ({ host: '127.0.0.1', port: b.port })),
      healthScheme: 'http',
      healthIntervalMs: 100,
      healthTimeoutMs: 500,
      admin: { host: '127.0.0.1', port: 0 },
      ...config,
    },
    logger: createLbLogger('error'),
    metrics: { defaultMetrics: false },
    probe,
  });
}

/** A port free on 127.0.0.1 right now (for programs that cannot take port 0, like haproxy). */
export async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
