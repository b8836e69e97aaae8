// Proves that clients sending a URL as HTTP/2 :authority (etcdctl endpoint status/health) are served, by
// unit tests of the HPACK and frame rewriter and by real etcdctl, node:http2 and etcd3 clients end to end.
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { Etcd3 } from 'etcd3';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StoreBackend } from '../src/api/backend.js';
import type * as T from '../src/api/types.js';
import { EtcdError } from '../src/errors.js';
import {
  AuthorityRewriter,
  emptySettingsFrame,
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
  huffmanDecode,
  repairAuthority,
  sniffFirstRequest,
} from '../src/grpc/authority.js';
import { listenClientUrls } from '../src/grpc/listen.js';
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
    socket.write(emptySettingsFrame);
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

  test('repairAuthority keeps host:port of URLs and drops what nghttp2 refuses', () => {
    // Proves the repairs etcdctl's passthrough targets need, including IPv6 and userinfo.
    expect(repairAuthority('http://127.0.0.1:41000')).toBe('127.0.0.1:41000');
    expect(repairAuthority('https://[::1]:2379/path?q')).toBe('[::1]:2379');
    expect(repairAuthority('http://user@host:1')).toBe('host:1');
    expect(repairAuthority('host name/x')).toBe('hostnamex');
    expect(repairAuthority('http:///')).toBe('');
  });
});

describe('the frame rewriter', () => {
  const badAuthority = 'http://127.0.0.1:41000';
  let clientBytes: Buffer;

  beforeAll(async () => {
    // Custom headers that nghttp2 indexes, repeated across streams, make later blocks refer to the client's
    // dynamic table; a 20 KiB value forces CONTINUATION frames once re-encoded without Huffman.
    const requests = Array.from({ length: 6 }, (_, i) => ({
      ':method': 'POST',
      ':path': `/svc/M${i % 2}`,
      ':authority': badAuthority,
      'content-type': 'application/grpc',
      'x-tag': `tag-${i % 3}`,
      ...(i === 4 ? { 'x-big': 'b'.repeat(20_000) } : {}),
    }));
    clientBytes = await captureClientBytes(requests);
  });

  test('node:http2 sends the bad authority, with dynamic-table references across streams', () => {
    // Proves the captured bytes exercise what we claim: 6 blocks, all with the URL authority, some indexed.
    const { blocks } = headerBlocksOf(clientBytes);
    expect(blocks).toHaveLength(6);
    for (const b of blocks) expect(b).toContainEqual(field(':authority', badAuthority));
    const sniff = sniffFirstRequest(clientBytes);
    expect(sniff).toMatchObject({ headersSeen: true, authorityValid: false });
    expect(sniff.settingsAckOffset).toBeGreaterThan(0);
  });

  test('every block is repaired, self-contained and framed within 16 KiB; the first ACK is dropped', () => {
    // Proves the rewritten stream decodes block by block with fresh decoders to the client's fields.
    const rewriter = new AuthorityRewriter({ dropFirstSettingsAck: true });
    const out = Buffer.concat(rewriter.push(clientBytes));
    const before = headerBlocksOf(clientBytes);
    const after = headerBlocksOf(out);
    expect(rewriter.repairedBlocks).toBe(6);
    expect(after.acks).toBe(before.acks - 1);
    expect(Math.max(...after.frameSizes)).toBeLessThanOrEqual(16_384);
    const fix = (fields: HeaderField[]): HeaderField[] =>
      fields.map((f) => (f.name === ':authority' ? { ...f, value: '127.0.0.1:41000' } : f));
    expect(after.blocks).toEqual(before.blocks.map(fix));
    expect(after.blocks[4]?.find((f) => f.name === 'x-big')?.value).toHaveLength(20_000);
  });

  test('output does not depend on how the input is split into chunks', () => {
    // Proves the streaming parser: any chunking yields the same bytes as one push.
    const whole = Buffer.concat(new AuthorityRewriter({ dropFirstSettingsAck: true }).push(clientBytes));
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: clientBytes.length - 1 }), { maxLength: 40 }),
        (cuts) => {
          const rewriter = new AuthorityRewriter({ dropFirstSettingsAck: true });
          const out: Buffer[] = [];
          let from = 0;
          for (const cut of [...cuts.sort((a, b) => a - b), clientBytes.length]) {
            out.push(...rewriter.push(clientBytes.subarray(from, cut)));
            from = cut;
          }
          expect(Buffer.concat(out).equals(whole)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('malformed input is refused', () => {
    // Proves garbage and oversized header blocks throw instead of being passed on or buffered forever.
    expect(() =>
      new AuthorityRewriter({ dropFirstSettingsAck: false }).push(Buffer.from('GET / HTTP/1.1')),
    ).toThrow(/preface/);
    const preface = clientBytes.subarray(0, 24);
    const hugeHeaders = Buffer.from([0x20, 0, 0, 1, 0, 0, 0, 0, 1]); // 2 MiB HEADERS, no END_HEADERS
    expect(() =>
      new AuthorityRewriter({ dropFirstSettingsAck: false }).push(Buffer.concat([preface, hugeHeaders])),
    ).toThrow(/too large/);
    const badIndex = Buffer.from([0, 0, 1, 1, 5, 0, 0, 0, 1, 0xfe]); // indexed field 126: no such entry
    expect(() => sniffFirstRequest(Buffer.concat([preface, badIndex]))).toThrow(/no table entry/);
  });
});

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
    // Proves health still answers; etcdctl 3.4.23 builds it on clientv3.New (host:port authority), so this
    // one passed before the fix too and guards the sniffing path rather than the rewrite.
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
});
