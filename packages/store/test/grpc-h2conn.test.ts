// Proves our HTTP/2 server connection (h2conn.ts) and HPACK (hpack.ts): unit tests of the decoder, the frame
// parser under any chunking, protocol errors and flow control, and real etcdctl (which sends a URL as
// :authority), node:http2 and etcd3 clients end to end.
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { Etcd3 } from 'etcd3';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StoreBackend } from '../src/api/backend.js';
import type * as T from '../src/api/types.js';
import { EtcdError } from '../src/errors.js';
import { H2ServerConnection, type H2Stream } from '../src/grpc/h2conn.js';
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
  HpackIndexingEncoder,
  huffmanDecode,
} from '../src/grpc/hpack.js';
import { listenClientUrls } from '../src/grpc/listen.js';
import { loadClientServices } from '../src/grpc/proto.js';
import { createEtcdGrpcServer, maxRequestBytesDefault } from '../src/grpc/server.js';

const notUsed = (): never => {
  throw new Error('not used by these tests');
};

/** Just enough of a member for put/get, status and member list; everything else is unused here. */
class MiniBackend implements StoreBackend {
  revision = 1;
  clientUrls: string[] = [];
  readonly kvs = new Map<string, T.KeyValue>();
  header(): T.ResponseHeader {
    return { cluster_id: 11, member_id: 22, revision: this.revision, raft_term: 3 };
  }
  async range(req: T.RangeRequest): Promise<T.RangeResponse> {
    const kv = this.kvs.get(req.key.toString('latin1'));
    return { header: this.header(), kvs: kv ? [kv] : [], more: false, count: kv ? 1 : 0 };
  }
  async put(req: T.PutRequest): Promise<T.PutResponse> {
    this.revision++;
    const prev = this.kvs.get(req.key.toString('latin1'));
    const kv: T.KeyValue = {
      key: req.key,
      value: req.value,
      create_revision: prev?.create_revision ?? this.revision,
      mod_revision: this.revision,
      version: (prev?.version ?? 0) + 1,
      lease: req.lease,
    };
    this.kvs.set(req.key.toString('latin1'), kv);
    return { header: this.header(), prev_kv: null };
  }
  async memberList() {
    const member = { ID: 22, name: 'mini', peerURLs: ['http://127.0.0.1:1'], clientURLs: this.clientUrls };
    return { header: this.header(), members: [{ ...member, isLearner: false }] };
  }
  async status(): Promise<T.StatusResponse> {
    return {
      header: this.header(),
      version: '3.4.23',
      dbSize: 100,
      leader: 22,
      raftIndex: 9,
      raftTerm: 3,
      raftAppliedIndex: 9,
      errors: [],
      dbSizeInUse: 50,
      isLearner: false,
    };
  }
  deleteRange = notUsed;
  txn = notUsed;
  compact = notUsed;
  watch = notUsed;
  leaseGrant = notUsed;
  leaseRevoke = notUsed;
  async leaseKeepAlive(): Promise<never> {
    throw new EtcdError('LeaseNotFound');
  }
  leaseTimeToLive = notUsed;
  leaseLeases = notUsed;
  memberAdd = notUsed;
  memberRemove = notUsed;
  memberUpdate = notUsed;
  memberPromote = notUsed;
  alarm = notUsed;
  defragment = notUsed;
  hash = notUsed;
  hashKV = notUsed;
  snapshot = notUsed;
  moveLeader = notUsed;
}

function etcdctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, ETCDCTL_API: '3' };
    execFile('etcdctl', args, { env, timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const field = (name: string, value: string, neverIndexed = false): HeaderField => ({
  name,
  value,
  neverIndexed,
});

/** Records what a node:http2 client sends (after our empty SETTINGS) when it opens `requests` streams. */
async function captureClientBytes(requests: Array<Record<string, string>>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // an empty SETTINGS
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
    for (const headers of requests) session.request(headers, { endStream: true }).on('error', () => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    return Buffer.concat(chunks);
  } finally {
    session.destroy();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Splits client bytes (preface first) into frames and decodes each header block with one tracking decoder. */
function headerBlocksOf(bytes: Buffer): { blocks: HeaderField[][]; frameSizes: number[]; acks: number } {
  const decoder = new HpackDecoder();
  const blocks: HeaderField[][] = [];
  const frameSizes: number[] = [];
  let acks = 0;
  let fragments: Buffer[] = [];
  for (let pos = 24; pos < bytes.length; ) {
    const length = bytes.readUIntBE(pos, 3);
    const [type, flags] = [bytes[pos + 3] ?? 0, bytes[pos + 4] ?? 0];
    const payload = bytes.subarray(pos + 9, pos + 9 + length);
    frameSizes.push(length);
    if (type === 4 && flags & 1) acks++;
    if (type === 1 || type === 9) {
      expect(flags & 0x8).toBe(0); // nghttp2 never pads, so the fragment starts after optional priority
      fragments.push(type === 1 && flags & 0x20 ? payload.subarray(5) : payload);
      if (flags & 0x4) {
        blocks.push(decoder.decode(Buffer.concat(fragments)));
        fragments = [];
      }
    }
    pos += 9 + length;
  }
  return { blocks, frameSizes, acks };
}

describe('HPACK', () => {
  test('Huffman decoding matches RFC 7541 C.4.1 and rejects bad padding', () => {
    // Proves the canonical table built from code lengths decodes the RFC's examples.
    expect(huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex'))).toBe('www.example.com');
    expect(huffmanDecode(Buffer.from('a8eb10649cbf', 'hex'))).toBe('no-cache');
    expect(huffmanDecode(Buffer.from('25a849e95ba97d7f', 'hex'))).toBe('custom-key');
    expect(() => huffmanDecode(Buffer.from('f1e3c2e5f23a6ba0ab90f400', 'hex'))).toThrow(/padding/);
    expect(() => huffmanDecode(Buffer.from('ffffffff', 'hex'))).toThrow(/EOS|Huffman/);
  });

  test('the decoder follows the dynamic table across requests (RFC 7541 C.4)', () => {
    // Proves indexed references to earlier requests' entries resolve, as in the RFC's three-request example.
    const d = new HpackDecoder();
    expect(d.decode(Buffer.from('828684418cf1e3c2e5f23a6ba0ab90f4ff', 'hex'))).toEqual([
      field(':method', 'GET'),
      field(':scheme', 'http'),
      field(':path', '/'),
      field(':authority', 'www.example.com'),
    ]);
    expect(d.decode(Buffer.from('828684be5886a8eb10649cbf', 'hex')).slice(3)).toEqual([
      field(':authority', 'www.example.com'),
      field('cache-control', 'no-cache'),
    ]);
    expect(d.decode(Buffer.from('828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf', 'hex')).slice(3)).toEqual(
      [field(':authority', 'www.example.com'), field('custom-key', 'custom-value')],
    );
  });

  test('the encoder round-trips through a fresh decoder without touching its dynamic table', () => {
    // Proves re-encoded blocks are self-contained: any block decodes alone, in any order.
    const fields = [
      field(':method', 'POST'),
      field(':authority', '127.0.0.1:2379'),
      field('x-long', 'v'.repeat(300)),
      field('authorization', 'secret', true),
      field('grpc-timeout', '4999m'),
    ];
    const block = encodeHeaderBlock(fields);
    expect(new HpackDecoder().decode(block)).toEqual(fields);
    expect(new HpackDecoder().decode(Buffer.concat([block, block]))).toEqual([...fields, ...fields]);
  });

  test("the indexing encoder writes RFC 7541 C.3's three requests byte for byte", () => {
    // Proves literals with incremental indexing and dynamic-table indexes match the RFC's own example.
    const e = new HpackIndexingEncoder();
    const hex = (fields: HeaderField[]) => e.encode(fields).toString('hex');
    const base = [field(':method', 'GET'), field(':scheme', 'http'), field(':path', '/')];
    expect(hex([...base, field(':authority', 'www.example.com')])).toBe(
      '828684410f7777772e6578616d706c652e636f6d',
    );
    expect(hex([...base, field(':authority', 'www.example.com'), field('cache-control', 'no-cache')])).toBe(
      '828684be58086e6f2d6361636865',
    );
    expect(
      hex([
        field(':method', 'GET'),
        field(':scheme', 'https'),
        field(':path', '/index.html'),
        field(':authority', 'www.example.com'),
        field('custom-key', 'custom-value'),
      ]),
    ).toBe('828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565');
  });

  test('the indexing encoder round-trips through one decoder, whatever the fields and table sizes', () => {
    // Proves indexes stay in step with the decoder's table: repeats, volatile names, never-indexed
    // fields, a full table and a table the decoder shrinks midway all decode to the fields encoded.
    const names = ['content-type', ':path', 'te', 'grpc-timeout', 'x-a', 'authorization'];
    const arbField = fc.record({
      name: fc.constantFrom(...names),
      value: fc.oneof(
        fc.constantFrom('a', 'application/grpc', '/etcdserverpb.KV/Put'),
        fc.string({ maxLength: 300 }),
      ),
      neverIndexed: fc.boolean(),
    });
    const arbStep = fc.oneof(
      { weight: 9, arbitrary: fc.array(arbField, { maxLength: 8 }).map((fields) => ({ fields })) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 8192 }).map((shrinkTo) => ({ shrinkTo })) },
    );
    fc.assert(
      fc.property(fc.array(arbStep, { maxLength: 40 }), (steps) => {
        const e = new HpackIndexingEncoder(4096, new Set(['grpc-timeout']));
        const d = new HpackDecoder();
        for (const step of steps) {
          if ('shrinkTo' in step) {
            e.setPeerTableBytes(step.shrinkTo);
            continue;
          }
          const before = e.generation;
          const block = e.encode(step.fields);
          expect(d.decode(block)).toEqual(step.fields);
          // A block that added nothing encodes the same again (what callers cache on).
          if (e.generation === before) expect(e.encode(step.fields)).toEqual(block);
          if (e.generation === before) d.decode(block);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('the indexing encoder sends a repeated request as indexes only', () => {
    // Proves the second identical request costs a byte per field (what the decoder does not parse again).
    const e = new HpackIndexingEncoder(4096, new Set(['grpc-timeout']));
    const d = new HpackDecoder();
    const fields = [
      field(':method', 'POST'),
      field(':scheme', 'http'),
      field(':path', '/etcdserverpb.KV/Put'),
      field(':authority', '127.0.0.1:2379'),
      field('content-type', 'application/grpc'),
      field('te', 'trailers'),
    ];
    expect(d.decode(e.encode(fields))).toEqual(fields);
    const again = e.encode([...fields, field('grpc-timeout', '4999m')]);
    expect(d.decode(again)).toEqual([...fields, field('grpc-timeout', '4999m')]);
    // One byte per indexed field, then grpc-timeout as a literal without indexing (its name is not in
    // the static table): the type byte, the name and the value with their length bytes.
    expect(again.length).toBe(fields.length + 1 + (1 + 'grpc-timeout'.length) + (1 + '4999m'.length));
  });
});

/** A socket stand-in: what the connection writes is collected; bytes go in through connection.feed. */
class FakeSocket extends Duplex {
  readonly written: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.written.push(chunk);
    done();
  }
}

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function framesOf(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  for (let pos = 0; pos + 9 <= bytes.length; ) {
    const length = bytes.readUIntBE(pos, 3);
    frames.push({
      type: bytes[pos + 3] ?? 0,
      flags: bytes[pos + 4] ?? 0,
      streamId: bytes.readUInt32BE(pos + 5) & 0x7fffffff,
      payload: bytes.subarray(pos + 9, pos + 9 + length),
    });
    pos += 9 + length;
  }
  return frames;
}

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** A connection over a FakeSocket that records the streams it opens and what they receive. */
function testConnection(onStream?: (stream: H2Stream) => void) {
  const socket = new FakeSocket();
  const streams: Array<{ id: number; headers: Record<string, string>; data: Buffer[]; ended: boolean }> = [];
  const errors: Error[] = [];
  let closed = false;
  const connection = new H2ServerConnection(socket, {
    onStream: (stream) => {
      const record = { id: stream.id, headers: stream.headers, data: [] as Buffer[], ended: false };
      streams.push(record);
      stream.sink = {
        onData: (c) => record.data.push(c),
        onEnd: () => {
          record.ended = true;
        },
        onClose: () => {},
        onDrain: () => {},
        onFinish: () => {},
      };
      onStream?.(stream);
    },
    onClose: () => {
      closed = true;
    },
    onError: (e) => errors.push(e),
    keepaliveTimeMs: 3_600_000,
    keepaliveTimeoutMs: 20_000,
  });
  const sent = async (): Promise<Frame[]> => {
    await new Promise((resolve) => setImmediate(resolve));
    return framesOf(Buffer.concat(socket.written));
  };
  return { connection, socket, streams, errors, sent, isClosed: () => closed };
}

const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

describe('the HTTP/2 server connection', () => {
  let clientBytes: Buffer;
  const requests = Array.from({ length: 6 }, (_, i) => ({
    ':method': 'POST',
    ':path': `/svc/M${i % 2}`,
    ':authority': 'http://127.0.0.1:41000',
    'content-type': 'application/grpc',
    'x-tag': `tag-${i % 3}`,
    ...(i === 4 ? { 'x-big': 'b'.repeat(40_000) } : {}),
  }));

  beforeAll(async () => {
    // Custom headers that nghttp2 indexes, repeated across streams, make later blocks refer to the client's
    // dynamic table; a 40 KB value (30 KB once Huffman-coded) takes CONTINUATION frames.
    clientBytes = await captureClientBytes(requests);
  });

  test("a real client's streams, with dynamic-table references and CONTINUATION, decode in any chunking", async () => {
    // Proves the frame parser and HPACK decoder: however TCP splits node:http2's bytes, the same six
    // streams open with the headers the client sent (the URL :authority accepted as grpc-go does).
    const { blocks } = headerBlocksOf(clientBytes);
    expect(blocks.some((b) => b.some((f) => f.name === 'x-big'))).toBe(true);
    expect(framesOf(clientBytes.subarray(24)).some((f) => f.type === 9)).toBe(true);
    const expected = requests.map((r) => Object.fromEntries(Object.entries(r)));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: clientBytes.length - 1 }), { maxLength: 40 }),
        async (cuts) => {
          const t = testConnection();
          let from = 0;
          for (const cut of [...cuts.sort((a, b) => a - b), clientBytes.length]) {
            t.connection.feed(clientBytes.subarray(from, cut));
            from = cut;
          }
          expect(t.errors).toEqual([]);
          expect(t.streams.map((s) => s.id)).toEqual([1, 3, 5, 7, 9, 11]);
          expect(t.streams.map((s) => ({ ...s.headers, ':scheme': undefined }))).toEqual(
            expected.map((h) => expect.objectContaining(h)),
          );
          expect(t.streams.every((s) => s.ended)).toBe(true);
          const sent = await t.sent();
          expect(sent[0]).toMatchObject({ type: 4, flags: 0 }); // our SETTINGS first
          t.connection.close();
        },
      ),
      { numRuns: 100 },
    );
  });

  test('protocol errors end the connection with GOAWAY and the right code', async () => {
    // Proves bad input is answered as RFC 9113 asks (never thrown out of the socket handler), one case each.
    const settings = frame(4, 0, 0);
    const cases: Array<[string, Buffer, number]> = [
      ['not the preface', Buffer.from('GET / HTTP/1.1\r\n\r\n'), 1],
      ['frame larger than 16 KiB', Buffer.concat([preface, Buffer.from([0, 0x40, 1, 0, 0, 0, 0, 0, 1])]), 6],
      ['header block over 1 MiB', Buffer.concat([preface, ...hugeHeaderBlock()]), 1],
      ['bad HPACK index', Buffer.concat([preface, settings, frame(1, 5, 1, Buffer.from([0xfe]))]), 9],
      ['DATA on an idle stream', Buffer.concat([preface, settings, frame(0, 0, 7, Buffer.from('x'))]), 1],
      [
        'HEADERS on an even stream',
        Buffer.concat([preface, settings, frame(1, 5, 2, Buffer.from([0x83]))]),
        1,
      ],
      ['PING of 7 bytes', Buffer.concat([preface, settings, frame(6, 0, 0, Buffer.alloc(7))]), 6],
      [
        'connection window overflow',
        Buffer.concat([preface, settings, frame(8, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff]))]),
        3,
      ],
      ['CONTINUATION alone', Buffer.concat([preface, settings, frame(9, 4, 1, Buffer.from([0x83]))]), 1],
    ];
    for (const [name, bytes, code] of cases) {
      const t = testConnection();
      t.connection.feed(bytes);
      const goaway = (await t.sent()).find((f) => f.type === 7);
      expect({ name, code: goaway?.payload.readUInt32BE(4), closed: t.isClosed() }).toEqual({
        name,
        code,
        closed: true,
      });
    }
  });

  test('PING is answered, SETTINGS acknowledged, and a reset stream is closed', async () => {
    // Proves the connection-level frames a client relies on.
    let closedStream = false;
    const t = testConnection((s) => {
      const sink = s.sink;
      if (sink) sink.onClose = () => (closedStream = true);
    });
    const ping = Buffer.from('12345678');
    const open = frame(1, 4, 1, encodeHeaderBlock([field(':method', 'POST'), field(':path', '/a')]));
    t.connection.feed(Buffer.concat([preface, frame(4, 0, 0), frame(6, 0, 0, ping), open]));
    t.connection.feed(frame(3, 0, 1, Buffer.from([0, 0, 0, 8])));
    const sent = await t.sent();
    expect(sent.find((f) => f.type === 6)).toMatchObject({ flags: 1, payload: ping });
    expect(sent.filter((f) => f.type === 4 && f.flags === 1)).toHaveLength(1);
    expect(closedStream).toBe(true);
    expect(t.connection.openStreams).toBe(0);
  });

  test('a paused stream gets no window credit until it resumes', async () => {
    // Proves inbound flow control follows the application: a paused reader stops its sender.
    let stream: H2Stream | null = null;
    const t = testConnection((s) => {
      stream = s;
      s.pause();
    });
    const open = frame(1, 4, 1, encodeHeaderBlock([field(':method', 'POST'), field(':path', '/a')]));
    const data = Array.from({ length: 40 }, () => frame(0, 0, 1, Buffer.alloc(16_384)));
    t.connection.feed(Buffer.concat([preface, frame(4, 0, 0), open, ...data]));
    const credits = (frames: Frame[]) => frames.filter((f) => f.type === 8 && f.streamId === 1).length;
    expect(credits(await t.sent())).toBe(0);
    expect(t.streams[0]?.data).toHaveLength(0);
    (stream as H2Stream | null)?.resume();
    expect(t.streams[0]?.data).toHaveLength(40);
    expect(credits(await t.sent())).toBeGreaterThan(0);
  });
});

function hugeHeaderBlock(): Buffer[] {
  // HEADERS without END_HEADERS, then CONTINUATIONs until the block passes 1 MiB.
  const part = Buffer.alloc(16_000, 0x40);
  const frames = [frame(1, 0, 1, part)];
  for (let i = 0; i < 70; i++) frames.push(frame(9, 0, 1, part));
  return frames;
}

describe('clients against createEtcdGrpcServer + listenClientUrls', () => {
  const backend = new MiniBackend();
  let close: () => Promise<void>;
  let port = 0;

  beforeAll(async () => {
    const logger = pino({ level: 'silent' });
    const server = createEtcdGrpcServer(backend, { maxRequestBytes: maxRequestBytesDefault, logger });
    const listeners = await listenClientUrls(
      [new URL('http://127.0.0.1:0')],
      server,
      (_req, res) => res.end('{"health":"true"}'),
      logger,
    );
    close = listeners.close;
    port = listeners.ports[0] ?? 0;
    backend.clientUrls = [`http://127.0.0.1:${port}`];
  });

  afterAll(async () => {
    await close?.();
  });

  test('etcdctl endpoint status with an http:// endpoint', async () => {
    // Proves the URL-shaped :authority of clientv3's Client.Dial no longer ends in RST_STREAM.
    const res = await etcdctl([
      '--endpoints',
      `http://127.0.0.1:${port}`,
      'endpoint',
      'status',
      '-w',
      'json',
    ]);
    expect(res.stderr).toBe('');
    const [status] = JSON.parse(res.stdout) as Array<{ Endpoint: string; Status: { version: string } }>;
    expect(status).toMatchObject({ Endpoint: `http://127.0.0.1:${port}`, Status: { version: '3.4.23' } });
  });

  test('etcdctl endpoint health with an http:// endpoint', async () => {
    // Proves health answers; etcdctl 3.4.23 builds it on clientv3.New (host:port authority).
    const res = await etcdctl(['--endpoints', `http://127.0.0.1:${port}`, 'endpoint', 'health']);
    expect(res.code).toBe(0);
    expect(res.stdout + res.stderr).toMatch(new RegExp(`http://127.0.0.1:${port} is healthy`));
  });

  test('etcdctl endpoint status --cluster uses the members client URLs', async () => {
    // Proves the --cluster path, which dials every member's advertised http:// client URL.
    const res = await etcdctl([
      '--endpoints',
      `127.0.0.1:${port}`,
      'endpoint',
      'status',
      '--cluster',
      '-w',
      'json',
    ]);
    expect(res.stderr).toBe('');
    expect(JSON.parse(res.stdout)).toHaveLength(1);
  });

  test('etcdctl put/get with a plain host:port endpoint still work', async () => {
    // Proves the fast path (valid :authority, raw socket) serves clientv3's balancer connections.
    expect((await etcdctl(['--endpoints', `127.0.0.1:${port}`, 'put', 'k', 'v1'])).stdout).toBe('OK\n');
    expect((await etcdctl(['--endpoints', `http://127.0.0.1:${port}`, 'get', 'k'])).stdout).toBe('k\nv1\n');
  });

  test('the etcd3 npm client still works', async () => {
    // Proves grpc-js clients (which wait for the server SETTINGS we now send first) are served.
    const etcd3 = new Etcd3({ hosts: `http://127.0.0.1:${port}` });
    try {
      await etcd3.put('npm').value('x');
      expect(await etcd3.get('npm').string()).toBe('x');
    } finally {
      etcd3.close();
    }
  });

  test('a node:http2 client with a URL authority makes many calls on one connection', async () => {
    // Proves dynamic-table references across requests survive the rewrite end to end (grpc-status 0 each).
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      for (let i = 0; i < 8; i++) {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/etcdserverpb.Maintenance/Status',
          ':authority': `http://127.0.0.1:${port}`,
          'content-type': 'application/grpc',
          te: 'trailers',
          'x-call': `call-${i % 3}`,
        });
        const trailers = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          stream.on('trailers', resolve);
          stream.on('error', reject);
          stream.on('close', () => reject(new Error(`stream closed with code ${stream.rstCode}`)));
        });
        stream.resume();
        stream.end(Buffer.alloc(5)); // an empty StatusRequest: uncompressed, length 0
        expect((await trailers)['grpc-status']).toBe('0');
      }
    } finally {
      session.destroy();
    }
  });

  test('a response larger than the client window arrives whole as the client credits it', async () => {
    // Proves outbound flow control: with a 1,000-byte stream window and the connection's 64 KiB, a 300 KB
    // value goes out in window-sized DATA frames, resumed by each WINDOW_UPDATE.
    const value = Buffer.alloc(300_000, 7);
    backend.kvs.set('big', {
      key: Buffer.from('big'),
      value,
      create_revision: 2,
      mod_revision: 2,
      version: 1,
      lease: 0,
    });
    const services = loadClientServices();
    const serialize = services.KV.service.Range?.requestSerialize as (v: unknown) => Buffer;
    const deserialize = services.KV.service.Range?.responseDeserialize as (b: Buffer) => {
      kvs: Array<{ value: Buffer }>;
    };
    const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 1000 } });
    try {
      const body = serialize({ key: Buffer.from('big') });
      const framed = Buffer.alloc(5 + body.length);
      framed.writeUInt32BE(body.length, 1);
      body.copy(framed, 5);
      const stream = session.request({
        ':method': 'POST',
        ':path': '/etcdserverpb.KV/Range',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        stream.on('trailers', resolve);
        stream.on('error', reject);
      });
      stream.end(framed);
      expect((await trailers)['grpc-status']).toBe('0');
      const all = Buffer.concat(chunks);
      expect(all.readUInt32BE(1)).toBe(all.length - 5);
      expect(deserialize(all.subarray(5)).kvs[0]?.value.equals(value)).toBe(true);
      expect(chunks.length).toBeGreaterThan(100);
    } finally {
      session.destroy();
    }
  });
});
