// Proves Keelson's own gRPC-over-HTTP/2 server (src/grpc/h2server.ts) follows the protocol where clients can
// see it: message framing split anywhere, grpc-go's status codes and texts for unknown methods, unsupported
// compression, oversized and malformed messages and deadlines, trailers-only errors, a client that resets a
// call mid-flight, and percent-encoded grpc-message; raw node:http2 requests against a real listener.
import http2 from 'node:http2';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { StoreBackend } from '../src/api/backend.js';
import type * as T from '../src/api/types.js';
import { EtcdClient } from '../src/client.js';
import { EtcdError } from '../src/errors.js';
import {
  encodeGrpcMessage,
  MessageFramingError,
  MessageReader,
  parseGrpcTimeoutMs,
} from '../src/grpc/h2server.js';
import { listenClientUrls } from '../src/grpc/listen.js';
import { loadClientServices } from '../src/grpc/proto.js';
import { createEtcdGrpcServer } from '../src/grpc/server.js';

function frame(body: Buffer, flag = 0): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = flag;
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

describe('MessageReader', () => {
  test('yields the same messages however the bytes are split (property)', () => {
    // Proves framing survives any DATA chunking, including splits inside the 5-byte prefix.
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 20 }),
        (messages, cuts) => {
          const bytes = Buffer.concat(messages.map((m) => frame(Buffer.from(m))));
          const reader = new MessageReader(1024);
          const got: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length] as number;
            got.push(...reader.push(bytes.subarray(at, at + n)));
            at += n;
          }
          expect(got.map((b) => [...b])).toEqual(messages.map((m) => [...m]));
          expect(reader.partial).toBe(false);
        },
      ),
      { seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) },
    );
  });

  test('refuses a length over the limit before its bytes arrive, and a compressed flag', () => {
    // Proves a huge length prefix fails at once (nothing buffered) with grpc-go's text.
    const big = Buffer.alloc(5);
    big.writeUInt32BE(2000, 1);
    expect(() => new MessageReader(1000).push(big)).toThrow(
      new MessageFramingError(8, 'grpc: received message larger than max (2000 vs. 1000)'),
    );
    expect(() => new MessageReader(1000).push(frame(Buffer.from('x'), 1))).toThrow(/compressed flag set/);
  });
});

describe('grpc-timeout and grpc-message', () => {
  test('parses every unit and refuses malformed values', () => {
    // Proves deadlines are read as the protocol defines them.
    expect(parseGrpcTimeoutMs('5S')).toBe(5000);
    expect(parseGrpcTimeoutMs('2M')).toBe(120_000);
    expect(parseGrpcTimeoutMs('1H')).toBe(3_600_000);
    expect(parseGrpcTimeoutMs('250m')).toBe(250);
    expect(parseGrpcTimeoutMs('1000u')).toBe(1);
    expect(parseGrpcTimeoutMs('1000000n')).toBe(1);
    expect(parseGrpcTimeoutMs(undefined)).toBeUndefined();
    expect(parseGrpcTimeoutMs('123456789S')).toBe('malformed');
    expect(parseGrpcTimeoutMs('5s')).toBe('malformed');
  });

  test('percent-encodes non-ASCII and % only', () => {
    // Proves status texts survive the header encoding grpc clients decode.
    expect(encodeGrpcMessage('etcdserver: key is not provided')).toBe('etcdserver: key is not provided');
    expect(encodeGrpcMessage('100% é\n')).toBe('100%25 %C3%A9%0A');
  });
});

/** A backend whose Put answers at once, hangs for key "hang", and fails for key "bad". */
function backend(): StoreBackend {
  const header = (): T.ResponseHeader => ({ cluster_id: 1, member_id: 2, revision: 3, raft_term: 4 });
  const impl: Partial<StoreBackend> = {
    header,
    put: (req) => {
      const key = Buffer.from(req.key).toString();
      if (key === 'hang') return new Promise(() => {});
      if (key === 'bad') return Promise.reject(new EtcdError('LeaseNotFound'));
      return Promise.resolve({ header: header(), prev_kv: null });
    },
  };
  return new Proxy(impl as StoreBackend, {
    get: (target, name) =>
      (target as unknown as Record<string | symbol, unknown>)[name] ??
      (() => Promise.reject(new Error(`not in this fake: ${String(name)}`))),
  });
}

interface RawAnswer {
  status: number | undefined;
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
  body: Buffer;
}

describe('the server over raw HTTP/2', () => {
  let close: () => Promise<void>;
  let url: string;
  let endpoint: string;
  const putSerialize = loadClientServices().KV.service.Put?.requestSerialize as (v: unknown) => Buffer;

  beforeAll(async () => {
    const logger = pino({ level: 'silent' });
    const server = createEtcdGrpcServer(backend(), { maxRequestBytes: 1024, logger });
    const listeners = await listenClientUrls([new URL('http://127.0.0.1:0')], server, (_req, res) => {
      res.end();
    });
    close = listeners.close;
    endpoint = `127.0.0.1:${listeners.ports[0]}`;
    url = `http://${endpoint}`;
  });

  afterAll(async () => {
    await close?.();
  });

  function call(path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(url);
      session.on('error', reject);
      const req = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      });
      const answer: RawAnswer = {
        status: undefined,
        grpcStatus: undefined,
        grpcMessage: undefined,
        body: Buffer.alloc(0),
      };
      const take = (h: http2.IncomingHttpHeaders): void => {
        if (h['grpc-status'] !== undefined) answer.grpcStatus = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) answer.grpcMessage = String(h['grpc-message']);
      };
      req.on('response', (h) => {
        answer.status = Number(h[':status']);
        take(h);
      });
      req.on('trailers', take);
      req.on('data', (c: Buffer) => {
        answer.body = Buffer.concat([answer.body, c]);
      });
      req.on('close', () => {
        session.close();
        resolve(answer);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const put = (key: string, value = 'v'): Buffer =>
    frame(putSerialize({ key: Buffer.from(key), value: Buffer.from(value) }));

  test('a unary call answers one message and grpc-status 0 in trailers', async () => {
    // Proves the happy path's wire shape: 200, one framed PutResponse, status 0.
    const a = await call('/etcdserverpb.KV/Put', put('k'));
    expect(a.status).toBe(200);
    expect(a.grpcStatus).toBe('0');
    expect(a.body.readUInt32BE(1)).toBe(a.body.length - 5);
  });

  test("unknown methods and services get grpc-go's UNIMPLEMENTED texts", async () => {
    // Proves clients probing for methods see what etcd (grpc-go) answers.
    const m = await call('/etcdserverpb.KV/Nope', put('k'));
    expect([m.grpcStatus, m.grpcMessage]).toEqual(['12', 'unknown method Nope for service etcdserverpb.KV']);
    const s = await call('/etcdserverpb.Nope/Put', put('k'));
    expect([s.grpcStatus, s.grpcMessage]).toEqual(['12', 'unknown service etcdserverpb.Nope']);
  });

  test('bad requests fail with a status and the server keeps serving', async () => {
    // Proves the bad-input table: each gets its code, none takes the process down.
    const gzip = await call('/etcdserverpb.KV/Put', put('k'), { 'grpc-encoding': 'gzip' });
    expect(gzip.grpcStatus).toBe('12');
    const big = await call('/etcdserverpb.KV/Put', put('k', 'x'.repeat(600 * 1024)));
    expect(big.grpcStatus).toBe('8');
    expect(big.grpcMessage).toMatch(/received message larger than max/);
    const garbage = await call('/etcdserverpb.KV/Put', frame(Buffer.from([0xff, 0xff, 0xff])));
    expect(garbage.grpcStatus).toBe('13');
    const none = await call('/etcdserverpb.KV/Put', Buffer.alloc(0));
    expect(none.grpcStatus).toBe('13');
    const two = await call('/etcdserverpb.KV/Put', Buffer.concat([put('a'), put('b')]));
    expect(two.grpcStatus).toBe('13');
    const cut = await call('/etcdserverpb.KV/Put', put('k').subarray(0, 8));
    expect(cut.grpcStatus).toBe('13');
    const wrongType = await call('/etcdserverpb.KV/Put', put('k'), { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);
    const etcdError = await call('/etcdserverpb.KV/Put', put('bad'));
    expect([etcdError.grpcStatus, etcdError.grpcMessage]).toEqual([
      '5',
      'etcdserver: requested lease not found',
    ]);
    const fine = await call('/etcdserverpb.KV/Put', put('k'));
    expect(fine.grpcStatus).toBe('0');
  });

  test('a call past its grpc-timeout gets DEADLINE_EXCEEDED', async () => {
    // Proves deadlines are enforced server-side even when the backend never answers.
    const a = await call('/etcdserverpb.KV/Put', put('hang'), { 'grpc-timeout': '100m' });
    expect([a.grpcStatus, a.grpcMessage]).toEqual(['4', 'context deadline exceeded']);
  });

  test('a client that resets calls mid-flight leaves the server serving', async () => {
    // Proves RST_STREAM on pending calls (answered later into a closed stream) is harmless.
    const session = http2.connect(url);
    session.on('error', () => {});
    for (let i = 0; i < 20; i++) {
      const req = session.request({
        ':method': 'POST',
        ':path': '/etcdserverpb.KV/Put',
        'content-type': 'application/grpc',
      });
      req.on('error', () => {});
      req.end(put(i % 2 === 0 ? 'hang' : 'k'));
      req.close(http2.constants.NGHTTP2_CANCEL);
    }
    session.close();
    const client = new EtcdClient({ endpoints: [endpoint] });
    try {
      const r = await client.put('after', 'reset');
      expect(Number(r.header.revision)).toBe(3);
    } finally {
      client.close();
    }
  });
});
