// The load balancer in-process against real local HTTP backends: balancing, health checks,
// failover, limits, half-close and the admin port.
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { LoadBalancer } from '@keelson/lb';
import { afterEach, describe, expect, it } from 'vitest';
import { get, sleep, splitAddress, startBackend, startTestLb, type TestBackend, waitFor } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backends(n: number): Promise<TestBackend[]> {
  const list = await Promise.all(Array.from({ length: n }, (_, i) => startBackend(`b${i + 1}`)));
  for (const b of list) cleanups.push(() => b.kill());
  return list;
}

async function lbFor(...args: Parameters<typeof startTestLb>): Promise<LoadBalancer> {
  const lb = await startTestLb(...args);
  cleanups.push(async () => {
    await lb.close(0);
  });
  return lb;
}

/** Opens GET /hold through the load balancer; resolves with the backend's name and the socket. */
function hold(address: string): Promise<{ name: string; socket: Socket }> {
  const [host, port] = splitAddress(address);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    cleanups.push(() => {
      socket.destroy();
    });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      data += d;
      const body = data.split('\r\n\r\n')[1];
      // Chunked encoding: the first chunk is "<hex size>\r\n<name>\r\n".
      const m = body === undefined ? null : /^[0-9a-f]+\r\n(\S+)\r\n/.exec(body);
      if (m !== null) resolve({ name: m[1] as string, socket });
    });
    socket.on('error', reject);
    socket.write('GET /hold HTTP/1.1\r\nHost: lb\r\n\r\n');
  });
}

const okProbe = async () => ({ ok: true, code: 200, at: new Date().toISOString(), durationMs: 0 });

describe('balancing', () => {
  it('round-robin spreads connections evenly', async () => {
    // Proves round-robin sends consecutive connections to each backend in turn.
    const bs = await backends(3);
    const lb = await lbFor(bs);
    const names: string[] = [];
    for (let i = 0; i < 9; i++) names.push((await get(lb.listenAddress, '/who')).body);
    expect(new Set(names.slice(0, 3))).toEqual(new Set(['b1', 'b2', 'b3']));
    expect(names.slice(3, 6)).toEqual(names.slice(0, 3));
    expect(names.slice(6, 9)).toEqual(names.slice(0, 3));
    expect(bs.map((b) => b.requests)).toEqual([3, 3, 3]);
  });

  it('least-connections prefers the idle backend', async () => {
    // Proves least-connections sends new connections to the idle backend while the other holds one.
    const bs = await backends(2);
    const lb = await lbFor(bs, { balance: 'leastconn' });
    const held = await hold(lb.listenAddress);
    const idle = held.name === 'b1' ? 'b2' : 'b1';
    for (let i = 0; i < 4; i++) {
      expect((await get(lb.listenAddress, '/who')).body).toBe(idle);
      await waitFor('the short connection to be counted closed', () => lb.activeConnections() === 1);
    }
    const statuses = lb.backends();
    expect(statuses.find((s) => s.name === (held.name === 'b1' ? 'api1' : 'api2'))?.activeConnections).toBe(
      1,
    );
  });
});

describe('health checks', () => {
  it('takes a failing backend out of rotation within a second and back after rise', async () => {
    // Proves a backend whose /readyz turns 500 leaves the rotation within fall × interval + timeout,
    // gets no new connections while down, and comes back after rise good checks.
    const bs = await backends(2);
    const [b1, b2] = bs as [TestBackend, TestBackend];
    const [intervalMs, fall, rise, timeoutMs] = [500, 2, 2, 300];
    const lb = await lbFor(bs, { healthIntervalMs: intervalMs, fall, rise, healthTimeoutMs: timeoutMs });
    await waitFor('first checks', () => lb.backends().every((s) => s.lastCheck !== null));
    b1.readyStatus = 500;
    // Scheduling slack on a shared 2-core machine.
    const slackMs = 300;
    const downMs = await waitFor('api1 down', () => lb.backends()[0]?.healthy === false, 5_000);
    expect(downMs).toBeLessThanOrEqual(fall * intervalMs + timeoutMs + slackMs);
    expect(lb.backends()[0]?.lastCheck).toMatchObject({ ok: false, code: 500 });
    const before = b1.requests;
    for (let i = 0; i < 6; i++) expect((await get(lb.listenAddress, '/who')).body).toBe('b2');
    expect(b1.requests).toBe(before);
    b1.readyStatus = 200;
    const upMs = await waitFor('api1 up', () => lb.backends()[0]?.healthy === true, 5_000);
    console.info(
      `readyz 500: out of rotation after ${Math.round(downMs)} ms, back after ${Math.round(upMs)} ms`,
    );
    expect(upMs).toBeLessThanOrEqual(rise * intervalMs + timeoutMs + slackMs);
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add((await get(lb.listenAddress, '/who')).body);
    expect(names).toEqual(new Set(['b1', 'b2']));
    expect(b2.readyStatus).toBe(200);
  });

  it('skips a killed backend with at most one failed client attempt', async () => {
    // Proves a killed backend is skipped: while it is being detected a client fails at most once
    // (here the retry on the next backend hides the refused connects), and never after it is down.
    const bs = await backends(2);
    const lb = await lbFor(bs, { healthIntervalMs: 500, fall: 2, healthTimeoutMs: 300 });
    await waitFor('first checks', () => lb.backends().every((s) => s.lastCheck !== null));
    let failures = 0;
    let requests = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        requests++;
        try {
          await get(lb.listenAddress, '/who', 2_000);
        } catch {
          failures++;
        }
        await sleep(10);
      }
    })();
    await sleep(100);
    await (bs[0] as TestBackend).kill();
    await waitFor('api1 down', () => lb.backends()[0]?.healthy === false, 5_000);
    const failuresAtDown = failures;
    const afterDown: string[] = [];
    for (let i = 0; i < 20; i++) afterDown.push((await get(lb.listenAddress, '/who')).body);
    stop = true;
    await loop;
    console.info(`killed backend: ${failures} failed client attempts of ${requests} during detection`);
    expect(failuresAtDown).toBeLessThanOrEqual(1);
    expect(failures).toBe(failuresAtDown);
    expect(new Set(afterDown)).toEqual(new Set(['b2']));
  });

  it('retries a refused connection on the next backend', async () => {
    // Proves a backend that refuses connections while still in rotation costs the client nothing:
    // the connection is retried on the next backend and counted as a connect failure.
    const bs = await backends(1);
    const dead = await startBackend('dead');
    await dead.kill();
    const lb = await lbFor([dead, ...bs], {}, okProbe);
    for (let i = 0; i < 4; i++) expect((await get(lb.listenAddress, '/who')).body).toBe('b1');
    const metrics = await lb.metrics.registry.getSingleMetricAsString(
      'keelson_lb_backend_connect_failures_total',
    );
    expect(metrics).toMatch(/backend="127\.0\.0\.1:\d+"} [1-9]/);
  });

  it('takes a backend that refuses a client connection out at once, before its checks notice', async () => {
    // Proves the layer-4 observation (HAProxy's observe layer4 on-error mark-down): with checks that
    // still pass and far apart, one refused client connection marks the backend down, so round-robin
    // sends no later connection to it (without it, every other connection would hit it first).
    const bs = await backends(1);
    const dead = await startBackend('dead');
    await dead.kill();
    const lb = await lbFor([dead, ...bs], { healthIntervalMs: 60_000 }, okProbe);
    await waitFor('first checks', () => lb.backends().every((s) => s.lastCheck !== null));
    expect(lb.backends()[0]?.healthy).toBe(true);
    for (let i = 0; i < 6; i++) expect((await get(lb.listenAddress, '/who')).body).toBe('b1');
    expect(lb.backends()[0]?.healthy).toBe(false);
    const metrics = await lb.metrics.registry.getSingleMetricAsString(
      'keelson_lb_backend_connect_failures_total',
    );
    expect(metrics).toMatch(/backend="127\.0\.0\.1:\d+"} 1$/m);
  });

  it('closes client connections when no backend is healthy', async () => {
    // Proves that with every backend down, a client connection is closed at once, not left hanging.
    const bs = await backends(1);
    (bs[0] as TestBackend).readyStatus = 503;
    const lb = await lbFor(bs);
    await waitFor('api1 down', () => lb.backends()[0]?.healthy === false);
    await expect(get(lb.listenAddress, '/who', 2_000)).rejects.toThrow(/ECONNRESET|socket hang up/);
  });
});

describe('connections', () => {
  it('refuses connections over the maximum', async () => {
    // Proves connections beyond --max-connections are refused, and accepted again once one closes.
    const bs = await backends(2);
    const lb = await lbFor(bs, { maxConnections: 2 });
    const h1 = await hold(lb.listenAddress);
    await hold(lb.listenAddress);
    await expect(get(lb.listenAddress, '/who', 2_000)).rejects.toThrow(/ECONNRESET|socket hang up/);
    const refused = await lb.metrics.registry.getSingleMetricAsString('keelson_lb_connections_refused_total');
    expect(refused).toContain('reason="max_connections"} 1');
    h1.socket.destroy();
    await waitFor('a slot to free', () => lb.activeConnections() === 1);
    expect((await get(lb.listenAddress, '/who')).status).toBe(200);
  });

  it('passes half-close and large transfers through', async () => {
    // Proves half-close passes through: the client ends its side, the backend still answers after
    // that, and 4 MiB each way arrive intact (piping with backpressure).
    const echo = await startEchoBackend();
    cleanups.push(() => new Promise<void>((resolve) => echo.server.close(() => resolve())));
    const lb = await lbFor([{ port: echo.port } as TestBackend], {}, okProbe);
    const [host, port] = splitAddress(lb.listenAddress);
    const payload = randomBytes(4 * 1024 * 1024);
    const socket = connect({ host, port, allowHalfOpen: true });
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
    socket.end(payload);
    await ended;
    socket.destroy();
    const all = Buffer.concat(received);
    expect(all.subarray(0, 4).toString()).toBe('bye:');
    expect(sha(all.subarray(4))).toBe(sha(payload));
  });

  it('closes idle connections', async () => {
    // Proves a connection with no traffic either way for the idle timeout is closed.
    const bs = await backends(1);
    const lb = await lbFor(bs, { idleTimeoutMs: 300 });
    const held = await hold(lb.listenAddress);
    const startedMs = performance.now();
    await new Promise<void>((resolve) => held.socket.once('close', () => resolve()));
    const idleMs = performance.now() - startedMs;
    expect(idleMs).toBeGreaterThanOrEqual(250);
    expect(idleMs).toBeLessThan(2_000);
    await waitFor('the connection to be released', () => lb.activeConnections() === 0);
  });

  it('serves /healthz, /backends and /metrics', async () => {
    // Proves the admin port serves /healthz, /backends as the fixed JSON shape, and the metrics.
    const bs = await backends(2);
    const lb = await lbFor(bs);
    await waitFor('first checks', () => lb.backends().every((s) => s.lastCheck !== null));
    await get(lb.listenAddress, '/who');
    const admin = lb.adminAddress as string;
    expect(await get(admin, '/healthz')).toEqual({ status: 200, body: 'ok' });
    const list = JSON.parse((await get(admin, '/backends')).body) as Record<string, unknown>[];
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({
      address: `127.0.0.1:${bs[0]?.port}`,
      healthy: true,
      activeConnections: expect.any(Number),
      totalConnections: 1,
      lastCheck: { ok: true, code: 200, at: expect.any(String) },
    });
    const metrics = (await get(admin, '/metrics')).body;
    for (const name of [
      'keelson_lb_connections_total',
      'keelson_lb_connections_active',
      'keelson_lb_health_checks_total',
      'keelson_lb_backend_up',
    ])
      expect(metrics).toContain(name);
    expect(metrics).toMatch(/keelson_lb_backend_up\{backend="127\.0\.0\.1:\d+"} 1/);
  });

  it('drains on close', async () => {
    // Proves close() drains: the listener stops accepting at once, an open stream runs to its end,
    // and a connection still open at the drain timeout is cut.
    const bs = await backends(1);
    const lb = await startTestLb(bs);
    cleanups.push(async () => {
      await lb.close(0);
    });
    const streamed = get(lb.listenAddress, '/stream?chunks=5&everyMs=100');
    const forever = hold(lb.listenAddress);
    await forever;
    await waitFor('both connections', () => lb.activeConnections() === 2);
    const closing = lb.close(1_500);
    await sleep(50);
    await expect(get(lb.listenAddress, '/who', 1_000)).rejects.toThrow(/ECONNREFUSED/);
    expect((await streamed).body).toContain('end');
    const result = await closing;
    expect(result).toMatchObject({ drainedConnections: 1, cutConnections: 1 });
    expect(result.durationMs).toBeGreaterThanOrEqual(1_400);
  });
});

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A raw TCP backend that, once the client half-closes, answers "bye:" and everything it got. */
async function startEchoBackend(): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => s.end(Buffer.concat([Buffer.from('bye:'), ...got])));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}
