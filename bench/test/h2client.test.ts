// Proves bench/src/h2client.ts speaks unary gRPC to real servers (a Keelson store member and etcd 3.4, a
// grpc-go server): round trips, etcd's errors with code and text, many concurrent calls, values beyond the
// default flow-control windows, deadlines, MAX_CONCURRENT_STREAMS, stream-id exhaustion, a server killed
// and restarted, and that the frame reader does not depend on how the server's bytes are chunked.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import type { MethodDefinition } from '@grpc/grpc-js';
import { encodeHeaderBlock, type RunningMember, startMember } from '@keelson/store';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { soloMemberConfig } from '../../test/util/member.js';
import { freePorts } from '../../test/util/ports.js';
import { GrpcCallError, H2Client, type H2ClientOptions, H2Connection } from '../src/h2client.js';
import { kvServiceDefinition, runKv } from '../src/kv.js';

const root = mkdtempSync(join(tmpdir(), 'keelson-h2client-'));
// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf messages, read field by field
type Wire = any;
const kv = kvServiceDefinition() as Record<string, MethodDefinition<Wire, Wire>>;

function method(name: string): MethodDefinition<Wire, Wire> {
  const m = kv[name];
  if (m === undefined) throw new Error(`no method ${name}`);
  return m;
}

async function unary(client: H2Client, name: string, req: Wire, timeoutMs = 10_000): Promise<Wire> {
  const m = method(name);
  return m.responseDeserialize(await client.call(m.path, m.requestSerialize(req), timeoutMs));
}

async function failure(p: Promise<unknown>): Promise<GrpcCallError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GrpcCallError);
    return e as GrpcCallError;
  }
  throw new Error(`expected the call to fail (${JSON.stringify(await p.catch(() => 0))})`);
}

// ---- servers: a Keelson member in process, etcd as a child process ----

let member: RunningMember | undefined;
let keelsonAddress = '';
let etcd: ChildProcess | undefined;
let etcdAddress = '';
let etcdArgs: string[] = [];

function startEtcd(): ChildProcess {
  const p = spawn('etcd', etcdArgs, { stdio: 'ignore' });
  etcd = p;
  return p;
}

/** Until a put succeeds (the server elected itself), bounded by `ms`. */
async function untilServing(address: string, ms: number): Promise<void> {
  const client = new H2Client(address);
  const deadline = Date.now() + ms;
  try {
    // Bounded by the deadline.
    for (;;) {
      try {
        await unary(client, 'Put', { key: Buffer.from('ready'), value: Buffer.from('1') }, 1000);
        return;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`${address} not serving within ${ms} ms: ${e}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  // One call, so that the four ports differ (separate calls may return the same port twice).
  const [clientPort, peerPort, cp, pp] = (await freePorts(4)) as [number, number, number, number];
  member = await startMember(
    soloMemberConfig('h2', join(root, 'keelson'), clientPort, peerPort),
    pino({ level: 'silent' }),
  );
  keelsonAddress = `127.0.0.1:${clientPort}`;
  etcdAddress = `127.0.0.1:${cp}`;
  etcdArgs = [
    '--data-dir',
    join(root, 'etcd'),
    '--listen-client-urls',
    `http://${etcdAddress}`,
    '--advertise-client-urls',
    `http://${etcdAddress}`,
    '--listen-peer-urls',
    `http://127.0.0.1:${pp}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${pp}`,
    '--initial-cluster',
    `default=http://127.0.0.1:${pp}`,
  ];
  startEtcd();
  await Promise.all([untilServing(keelsonAddress, 15_000), untilServing(etcdAddress, 15_000)]);
}, 40_000);

afterAll(async () => {
  etcd?.kill('SIGKILL');
  await member?.stop().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const targets: Array<[string, () => string]> = [
  ['keelson', () => keelsonAddress],
  ['etcd 3.4', () => etcdAddress],
];

describe.each(targets)('h2client against %s', (_name, address) => {
  const withClient = async (
    fn: (c: H2Client) => Promise<void>,
    options?: H2ClientOptions,
    to = address(),
  ): Promise<void> => {
    const c = new H2Client(to, options);
    try {
      await fn(c);
    } finally {
      c.close();
    }
  };

  // Proves put, get and a compare-and-swap txn round-trip with the proto-loader encodings.
  it('round-trips put, get and txn-cas', () =>
    withClient(async (c) => {
      const key = Buffer.from(`rt-${Date.now()}`);
      const put = await unary(c, 'Put', { key, value: Buffer.from('v1') });
      expect(Number(put.header.revision)).toBeGreaterThan(0);
      const got = await unary(c, 'Range', { key });
      expect(got.kvs).toHaveLength(1);
      expect(got.kvs[0].value.toString()).toBe('v1');
      const mod = got.kvs[0].mod_revision;
      const cas = (rev: number) =>
        unary(c, 'Txn', {
          compare: [{ key, result: 'EQUAL', target: 'MOD', mod_revision: rev }],
          success: [{ request_put: { key, value: Buffer.from('v2') } }],
        });
      expect((await cas(mod)).succeeded).toBe(true);
      // The same compare again fails: the swap changed the mod revision.
      expect((await cas(mod)).succeeded === true).toBe(false);
      expect((await unary(c, 'Range', { key })).kvs[0].value.toString()).toBe('v2');
    }));

  // Proves a server error arrives with its gRPC code and the server's (percent-decoded) text.
  it('rejects with code and details on a server error', () =>
    withClient(async (c) => {
      const e = await failure(
        unary(c, 'Put', { key: Buffer.from('k'), value: Buffer.from('v'), lease: '12345' }),
      );
      expect(e.code).toBe(5);
      expect(e.details).toBe('etcdserver: requested lease not found');
      // The connection stays usable after an error.
      await unary(c, 'Range', { key: Buffer.from('k') });
    }));

  // Proves 500 calls in flight on one connection all get their own answers.
  it(
    'answers 500 concurrent calls on one connection',
    () =>
      withClient(async (c) => {
        const results = await Promise.all(
          Array.from({ length: 500 }, (_, i) =>
            unary(c, 'Put', { key: Buffer.from(`conc-${i}`), value: Buffer.from(`v${i}`) }),
          ),
        );
        const revisions = new Set(results.map((r) => r.header.revision));
        expect(revisions.size).toBe(500);
        const back = await unary(c, 'Range', { key: Buffer.from('conc-'), range_end: Buffer.from('conc.') });
        expect(back.kvs).toHaveLength(500);
      }),
    20_000,
  );

  // Proves a 300 KiB value round-trips although it is larger than the default 64 KiB windows both ways:
  // the client waits for the server's WINDOW_UPDATEs and credits the server's DATA with its own.
  it(
    'round-trips a value beyond the flow-control windows',
    () =>
      withClient(
        async (c) => {
          const value = Buffer.alloc(300 * 1024, 7);
          for (let i = 0; i < 3; i++) value[i * 1000] = i;
          for (let i = 0; i < 4; i++) {
            const key = Buffer.from(`big-${i}`);
            await unary(c, 'Put', { key, value });
            const got = await unary(c, 'Range', { key });
            expect(Buffer.compare(got.kvs[0].value, value)).toBe(0);
          }
        },
        { streamWindowBytes: 65_535, connWindowBytes: 65_535 },
      ),
    20_000,
  );

  // Proves a connection out of stream ids is replaced and its calls are not lost.
  it('replaces a connection whose stream ids run out', async () => {
    const proxy = await startProxy(address());
    try {
      await withClient(
        async (c) => {
          for (let i = 0; i < 6; i++) await unary(c, 'Range', { key: Buffer.from('k') });
          await Promise.all(Array.from({ length: 5 }, () => unary(c, 'Range', { key: Buffer.from('k') })));
        },
        { streamIdMax: 5 },
        proxy.address,
      );
      // Ids 1, 3 and 5 serve three calls per connection: 11 calls need four connections.
      expect(proxy.connections).toBe(4);
    } finally {
      proxy.close();
    }
  });
});

describe('h2client against etcd 3.4 killed and restarted', () => {
  // Proves calls outstanding when the server dies fail UNAVAILABLE, calls meanwhile fail fast, and a call
  // after the restart reconnects.
  it('fails outstanding calls with 14 and reconnects after a restart', async () => {
    const c = new H2Client(etcdAddress);
    try {
      await unary(c, 'Range', { key: Buffer.from('k') });
      const proc = etcd as ChildProcess;
      expect(proc.exitCode).toBeNull();
      // Stopped first, so that the calls are surely outstanding when it dies.
      proc.kill('SIGSTOP');
      const outstanding = Array.from({ length: 20 }, (_, i) =>
        failure(unary(c, 'Put', { key: Buffer.from(`dead-${i}`), value: Buffer.from('x') })),
      );
      await new Promise((r) => setTimeout(r, 200));
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      for (const e of await Promise.all(outstanding)) expect(e.code).toBe(14);
      const t0 = performance.now();
      const down = await failure(unary(c, 'Range', { key: Buffer.from('k') }));
      expect(down.code).toBe(14);
      expect(performance.now() - t0).toBeLessThan(1000);
      startEtcd();
      const deadline = Date.now() + 15_000;
      // Bounded by the deadline.
      for (;;) {
        try {
          await unary(c, 'Range', { key: Buffer.from('k') }, 1000);
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    } finally {
      c.close();
    }
  }, 30_000);
});

// ---- a fake HTTP/2 server for what real servers do not do on demand ----

interface FakeServer {
  address: string;
  /** Frames the client sent, as [type, flags, streamId, payload]. */
  frames: Array<[number, number, number, Buffer]>;
  maxOpen: number;
  close(): void;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

/** Sends SETTINGS (with MAX_CONCURRENT_STREAMS), then echoes each request after `delayMs`, or never. */
async function startFakeServer(maxStreams: number, delayMs: number | 'never'): Promise<FakeServer> {
  const frames: FakeServer['frames'] = [];
  const sockets = new Set<Socket>();
  const fake = { frames, maxOpen: 0 };
  const server: Server = createServer((s) => {
    sockets.add(s);
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(0x3, 0);
    settings.writeUInt32BE(maxStreams, 2);
    s.write(frame(0x4, 0, 0, settings));
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    let open = 0;
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!prefaceSeen) {
        if (buf.length < 24) return;
        prefaceSeen = true;
        buf = buf.subarray(24);
      }
      // Bounded: each iteration consumes a frame.
      while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
        const len = buf.readUIntBE(0, 3);
        const [type, flags, id] = [buf[3] ?? 0, buf[4] ?? 0, buf.readUInt32BE(5)];
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        frames.push([type, flags, id, payload]);
        if (type === 0x1) fake.maxOpen = Math.max(fake.maxOpen, ++open);
        if (type === 0x3) open--;
        if (type === 0x0 && flags & 0x1 && delayMs !== 'never') {
          setTimeout(() => {
            open--;
            const head = encodeHeaderBlock([{ name: ':status', value: '200', neverIndexed: false }]);
            const trailers = encodeHeaderBlock([{ name: 'grpc-status', value: '0', neverIndexed: false }]);
            s.write(
              Buffer.concat([
                frame(0x1, 0x4, id, head),
                frame(0x0, 0, id, payload),
                frame(0x1, 0x5, id, trailers),
              ]),
            );
          }, delayMs);
        }
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    frames,
    get maxOpen() {
      return fake.maxOpen;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('h2client against a fake server', () => {
  // Proves calls beyond the server's MAX_CONCURRENT_STREAMS wait for a slot, and all are answered.
  it('queues calls beyond MAX_CONCURRENT_STREAMS', async () => {
    const fake = await startFakeServer(2, 5);
    const c = new H2Client(fake.address);
    try {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => c.call('/x/Echo', Buffer.from(`m${i}`), 5000)),
      );
      expect(answers.map((a) => a.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
      expect(fake.maxOpen).toBe(2);
    } finally {
      c.close();
      fake.close();
    }
  });

  // Proves a call past its deadline fails DEADLINE_EXCEEDED and is cancelled with RST_STREAM(CANCEL).
  it('fails late calls with DEADLINE_EXCEEDED and cancels their streams', async () => {
    const fake = await startFakeServer(100, 'never');
    const c = new H2Client(fake.address, { sweepIntervalMs: 20 });
    try {
      const t0 = performance.now();
      const e = await failure(c.call('/x/Echo', Buffer.from('m'), 150));
      expect(e.code).toBe(4);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
      await new Promise((r) => setTimeout(r, 50));
      const rst = fake.frames.find(([type]) => type === 0x3);
      expect(rst?.[2]).toBe(1);
      expect(rst?.[3].readUInt32BE(0)).toBe(0x8);
    } finally {
      c.close();
      fake.close();
    }
  });
});

// ---- a recording proxy, and the replay property ----

interface Proxy {
  address: string;
  connections: number;
  /** Server-to-client bytes of every connection, in order. */
  received: Buffer[][];
  close(): void;
}

async function startProxy(target: string): Promise<Proxy> {
  const [host, port] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  const proxy = { connections: 0, received: [] as Buffer[][] };
  const server = createServer((client) => {
    proxy.connections++;
    const chunks: Buffer[] = [];
    proxy.received.push(chunks);
    const upstream = tcpConnect(Number(port), host);
    sockets.add(client).add(upstream);
    upstream.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      client.write(d);
    });
    client.on('data', (d: Buffer) => upstream.write(d));
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('close', () => b.destroy());
      a.on('error', () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    get connections() {
      return proxy.connections;
    },
    received: proxy.received,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

type Outcome = { ok: string } | { code: number; details: string };

async function outcome(p: Promise<Buffer>): Promise<Outcome> {
  try {
    return { ok: (await p).toString('hex') };
  } catch (e) {
    const g = e as GrpcCallError;
    return { code: g.code, details: g.details };
  }
}

describe('h2client frame reader', () => {
  // Proves the responses read from a recorded etcd byte stream are the same for any chunking of it.
  it('gives the same responses for any chunking of the server bytes', async () => {
    const proxy = await startProxy(etcdAddress);
    const c = new H2Client(proxy.address);
    const put = method('Put');
    const range = method('Range');
    const calls: Array<[string, Buffer]> = [
      [put.path, put.requestSerialize({ key: Buffer.from('rec'), value: Buffer.alloc(40_000, 3) })],
      [range.path, range.requestSerialize({ key: Buffer.from('rec') })],
      [put.path, put.requestSerialize({ key: Buffer.from('rec'), value: Buffer.from('x'), lease: '999' })],
      [range.path, range.requestSerialize({ key: Buffer.from('none') })],
    ];
    const expected: Outcome[] = [];
    try {
      // One at a time, so that the replay's stream ids (1, 3, 5, ...) match the recording's.
      for (const [path, req] of calls) expected.push(await outcome(c.call(path, req, 10_000)));
    } finally {
      c.close();
      proxy.close();
    }
    expect(proxy.received).toHaveLength(1);
    expect(expected.filter((o) => 'code' in o)).toEqual([
      { code: 5, details: 'etcdserver: requested lease not found' },
    ]);
    const bytes = Buffer.concat(proxy.received[0] ?? []);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 20_000 }), { maxLength: 200 }), async (cuts) => {
        const socket = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
        const conn = new H2Connection(socket, proxy.address);
        const results = Promise.all(calls.map(([path, req]) => outcome(conn.call(path, req, 10_000))));
        let at = 0;
        for (const n of cuts) {
          if (at >= bytes.length) break;
          socket.push(bytes.subarray(at, at + n));
          at += n;
        }
        if (at < bytes.length) socket.push(bytes.subarray(at));
        expect(await results).toEqual(expected);
        conn.close();
      }),
      { numRuns: 60 },
    );
  }, 30_000);
});

describe('runKv over both clients', () => {
  for (const client of ['h2', 'grpc-js'] as const) {
    // Proves runKv's txn-cas completes every request without errors over either client, against etcd.
    it(`runs txn-cas over ${client} against etcd`, async () => {
      const r = await runKv({
        endpoints: [etcdAddress],
        clients: 8,
        conns: 2,
        total: 100,
        op: 'txn-cas',
        keySpace: 20,
        keySize: 8,
        valSize: 16,
        client,
      });
      expect(r).toMatchObject({ ops: 100, errors: {} });
    }, 20_000);
  }
});
