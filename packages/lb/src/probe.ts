// One active health check: an HTTP(S) GET of the health path on a fresh connection, healthy only on
// status 200. HTTPS verifies the backend's certificate against the given CA bundle, or, without
// one, does not verify at all (as HAProxy's `check-ssl verify none`): the check asks "is this
// apiserver ready", not "is it who it claims to be" — clients verify the apiserver themselves,
// end to end, since TLS passes through the load balancer untouched.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HealthScheme, HostPort } from './config.js';

export interface CheckResult {
  readonly ok: boolean;
  /** The HTTP status, when the backend answered. */
  readonly code?: number;
  /** What went wrong, when it did not answer (refused, timed out, bad certificate...). */
  readonly error?: string;
  /** When the check completed (ISO 8601). */
  readonly at: string;
  readonly durationMs: number;
}

export interface ProbeOptions {
  readonly scheme: HealthScheme;
  readonly path: string;
  readonly timeoutMs: number;
  /** PEM CA bundle to verify HTTPS backends against; undefined: do not verify. */
  readonly caPem: string | undefined;
}

export type Probe = (target: HostPort) => Promise<CheckResult>;

export function httpProbe(opts: ProbeOptions): Probe {
  return (target) => probeOnce(target, opts);
}

function probeOnce(target: HostPort, opts: ProbeOptions): Promise<CheckResult> {
  const startedMs = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: { ok: boolean; code?: number; error?: string }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...r, at: new Date().toISOString(), durationMs: Math.round(performance.now() - startedMs) });
    };
    const common = {
      host: target.host,
      port: target.port,
      path: opts.path,
      method: 'GET',
      // A fresh connection each time, like HAProxy: a pooled one would hide a backend that no longer
      // accepts connections.
      agent: false as const,
      headers: { 'user-agent': 'keelson-lb-health-check', accept: '*/*' },
    };
    const onResponse = (res: IncomingMessage): void => {
      const code = res.statusCode ?? 0;
      // The body is read and dropped so the backend sees an orderly exchange; the timer bounds it.
      res.resume();
      res.once('end', () => finish({ ok: code === 200, code }));
      res.once('error', (err: Error) => finish({ ok: false, code, error: err.message }));
    };
    const req =
      opts.scheme === 'https'
        ? httpsRequest(
            { ...common, ca: opts.caPem, rejectUnauthorized: opts.caPem !== undefined },
            onResponse,
          )
        : httpRequest(common, onResponse);
    req.once('error', (err: Error) => finish({ ok: false, error: err.message }));
    const timer = setTimeout(
      () => finish({ ok: false, error: `no answer within ${opts.timeoutMs} ms` }),
      opts.timeoutMs,
    );
    req.end();
  });
}
