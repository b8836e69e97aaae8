// Health probes of each component, as `up` waits for them and `status` reports them: a store member's
// /health (which needs a leader and a quorum read) and etcd_server_is_leader, an apiserver's /readyz
// over HTTPS with the cluster CA, and the LB's admin /healthz and /backends.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ComponentPlan } from './components.js';
import type { ClusterLayout } from './layout.js';

export interface Probe {
  readonly healthy: boolean;
  /** Why not, or a short note (e.g. "2/2 backends healthy"). */
  readonly detail: string;
}

export interface LbBackend {
  readonly address: string;
  readonly healthy: boolean;
  readonly activeConnections?: number;
  readonly totalConnections?: number;
}

const PROBE_TIMEOUT_MS = 1500;

type Reply = { status: number; body: string };

/**
 * One GET without connection reuse (agent: false): a pooled keep-alive socket would keep a short
 * command such as `keelson cluster status` alive after it is done.
 */
function get(scheme: 'http' | 'https', port: number, path: string, caPem?: string): Promise<Reply> {
  const send = scheme === 'https' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path, method: 'GET', agent: false, timeout: PROBE_TIMEOUT_MS };
    const req = send(scheme === 'https' ? { ...options, ca: caPem } : options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function failure(err: unknown): Probe {
  const e = err as { cause?: { code?: string }; code?: string; message?: string };
  return { healthy: false, detail: e.cause?.code ?? e.code ?? e.message ?? String(err) };
}

export async function storeHealth(clientPort: number): Promise<Probe> {
  try {
    const { status, body } = await get('http', clientPort, '/health');
    const health = (JSON.parse(body) as { health?: unknown }).health;
    if (status === 200 && health === 'true') return { healthy: true, detail: '' };
    return { healthy: false, detail: `/health ${status} ${body.trim()}` };
  } catch (err) {
    return failure(err);
  }
}

/** etcd_server_is_leader from the member's /metrics: true, false, or null when it does not answer. */
export async function storeIsLeader(clientPort: number): Promise<boolean | null> {
  try {
    const { status, body } = await get('http', clientPort, '/metrics');
    if (status !== 200) return null;
    const line = body.split('\n').find((l) => l.startsWith('etcd_server_is_leader '));
    return line === undefined ? null : Number(line.split(' ')[1]) === 1;
  } catch {
    return null;
  }
}

export async function apiserverReady(securePort: number, caPem: string): Promise<Probe> {
  try {
    const { status, body } = await get('https', securePort, '/readyz', caPem);
    if (status === 200) return { healthy: true, detail: '' };
    return { healthy: false, detail: `/readyz ${status} ${body.trim().split('\n')[0] ?? ''}` };
  } catch (err) {
    return failure(err);
  }
}

/** The LB's backends from its admin port, or null when it does not answer. */
export async function lbBackends(adminPort: number): Promise<LbBackend[] | null> {
  try {
    const { status, body } = await get('http', adminPort, '/backends');
    if (status !== 200) return null;
    const parsed = JSON.parse(body) as unknown;
    return Array.isArray(parsed) ? (parsed as LbBackend[]) : null;
  } catch {
    return null;
  }
}

/** Healthy when /healthz says ok and every backend is healthy (what `up` waits for). */
export async function lbHealth(adminPort: number): Promise<Probe> {
  try {
    const { status } = await get('http', adminPort, '/healthz');
    if (status !== 200) return { healthy: false, detail: `/healthz ${status}` };
  } catch (err) {
    return failure(err);
  }
  const backends = await lbBackends(adminPort);
  if (backends === null) return { healthy: false, detail: '/backends does not answer' };
  const up = backends.filter((b) => b.healthy).length;
  return { healthy: up === backends.length && up > 0, detail: `${up}/${backends.length} backends healthy` };
}

/** The probe of one component. */
export function probeComponent(plan: ComponentPlan, layout: ClusterLayout, caPem: string): Promise<Probe> {
  const port = plan.ports[0] ?? 0;
  if (plan.kind === 'store') return storeHealth(port);
  if (plan.kind === 'apiserver') return apiserverReady(port, caPem);
  return lbHealth(layout.lb.adminPort);
}
