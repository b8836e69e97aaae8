// The admin HTTP port: GET /healthz (liveness), GET /backends (JSON), GET /metrics (Prometheus).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { LbMetrics } from './metrics.js';
import type { BackendStatus } from './pool.js';

export interface AdminSource {
  backends(): BackendStatus[];
  readonly metrics: LbMetrics;
  /** True once close() began: /healthz then answers 503 so that a supervisor sees the drain. */
  draining(): boolean;
}

export function createAdminServer(source: AdminSource, logger: Logger): Server {
  return createServer((req, res) => {
    handle(source, req, res).catch((err: unknown) => {
      logger.error({ err: (err as Error).message, path: req.url }, 'admin request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
}

async function handle(source: AdminSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://admin').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain', 'method not allowed\n');
    return;
  }
  switch (path) {
    case '/healthz':
      if (source.draining()) send(res, 503, 'text/plain', 'draining');
      else send(res, 200, 'text/plain', 'ok');
      return;
    case '/backends':
      send(res, 200, 'application/json', `${JSON.stringify(source.backends(), null, 2)}\n`);
      return;
    case '/metrics': {
      const registry = source.metrics.registry;
      send(res, 200, registry.contentType, await registry.metrics());
      return;
    }
    default:
      send(res, 404, 'text/plain', 'not found: try /healthz, /backends or /metrics\n');
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
