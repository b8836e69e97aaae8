// Proves WatchStream's bounds and bookkeeping without a network: a slow client gets its watches canceled
// instead of unbounded buffering, and a progress request is answered once, at the slowest watch's revision.
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import type { StoreBackend, WatchSink } from '../src/api/backend.js';
import type * as T from '../src/api/types.js';
import { type WatchCall, WatchStream } from '../src/grpc/watch.js';

interface FakeWatch {
  sink: WatchSink;
  canceled: boolean;
  progressRequests: number;
}

function fixture(sendBufferBytesMax: number) {
  const watches: FakeWatch[] = [];
  const backend = {
    header: (): T.ResponseHeader => ({ cluster_id: 1, member_id: 2, revision: 10, raft_term: 1 }),
    watch: (_req: T.WatchCreateRequest, sink: WatchSink) => {
      const w: FakeWatch = { sink, canceled: false, progressRequests: 0 };
      watches.push(w);
      return {
        cancel: () => {
          w.canceled = true;
        },
        requestProgress: () => {
          w.progressRequests++;
        },
      };
    },
  } as unknown as StoreBackend;
  const written: T.WatchResponse[] = [];
  // A client that never reads: write callbacks are never called, so the send buffer only grows.
  const call = {
    writableEnded: false,
    destroyed: false,
    write: (resp: T.WatchResponse) => {
      written.push(resp);
      return false;
    },
  } as unknown as WatchCall;
  const stream = new WatchStream(call, { backend, logger: pino({ level: 'silent' }), sendBufferBytesMax });
  return { stream, watches, written };
}

const createRequest = (key: string): T.WatchCreateRequest => ({
  key: Buffer.from(key),
  range_end: Buffer.alloc(0),
  start_revision: 0,
  progress_notify: false,
  filters: [],
  prev_kv: false,
  watch_id: 0,
  fragment: false,
});

function putEvent(key: string, valueBytes: number, revision: number): T.Event {
  const kv: T.KeyValue = {
    key: Buffer.from(key),
    value: Buffer.alloc(valueBytes),
    create_revision: revision,
    mod_revision: revision,
    version: 1,
    lease: 0,
  };
  return { type: 'PUT', kv, prev_kv: null };
}

describe('WatchStream', () => {
  test('a client that stops reading gets its watches canceled with a reason', () => {
    // Proves the send buffer bound: no event beyond it is buffered, every watch is canceled and told why.
    const { stream, watches, written } = fixture(64 * 1024);
    stream.onRequest({ create_request: createRequest('a') });
    stream.onRequest({ create_request: createRequest('b') });
    for (let revision = 11; revision < 30; revision++) {
      watches[0]?.sink({
        events: [putEvent('a', 8 * 1024, revision)],
        revision,
        compact_revision: 0,
        canceled: false,
        cancel_reason: '',
      });
    }
    expect(watches.every((w) => w.canceled)).toBe(true);
    expect(stream.watchCount).toBe(0);
    const canceled = written.filter((r) => r.canceled);
    expect(canceled.map((r) => r.watch_id).sort()).toEqual([0, 1]);
    expect(canceled[0]?.cancel_reason).toMatch(/send buffer exceeded 65536 bytes/);
    const eventBytes = written.reduce((n, r) => n + r.events.reduce((m, e) => m + e.kv.value.length, 0), 0);
    expect(eventBytes).toBeLessThanOrEqual(64 * 1024);
  });

  test('a progress request is answered once with the smallest revision the watches reported', () => {
    // Proves the stream-wide progress response (watch_id -1) never claims a revision a watch has not reached.
    const { stream, watches, written } = fixture(1024 * 1024);
    stream.onRequest({ create_request: createRequest('a') });
    stream.onRequest({ create_request: createRequest('b') });
    stream.onRequest({ progress_request: {} });
    stream.onRequest({ progress_request: {} });
    expect(watches.map((w) => w.progressRequests)).toEqual([1, 1]);
    const empty = { events: [], compact_revision: 0, canceled: false, cancel_reason: '' };
    watches[0]?.sink({ ...empty, revision: 12 });
    expect(written.filter((r) => r.watch_id === -1)).toEqual([]);
    watches[1]?.sink({ ...empty, revision: 11 });
    const progress = written.filter((r) => r.watch_id === -1);
    expect(progress.map((r) => r.header.revision)).toEqual([11]);
    // Later progress notifications of single watches go out as they are.
    watches[0]?.sink({ ...empty, revision: 13 });
    expect(written.at(-1)).toMatchObject({ watch_id: 0, header: { revision: 13 } });
  });

  test('closing the stream cancels every watch and drops late deliveries', () => {
    // Proves stream end cleans up backend watches and nothing is written afterwards.
    const { stream, watches, written } = fixture(1024 * 1024);
    stream.onRequest({ create_request: createRequest('a') });
    stream.close();
    const before = written.length;
    watches[0]?.sink({
      events: [putEvent('a', 1, 11)],
      revision: 11,
      compact_revision: 0,
      canceled: false,
      cancel_reason: '',
    });
    expect(watches[0]?.canceled).toBe(true);
    expect(written.length).toBe(before);
  });
});
