// The two streams besides Watch: Lease.LeaseKeepAlive (bidi) and Maintenance.Snapshot (server stream).
import type { Logger } from 'pino';
import type { StoreBackend } from '../api/backend.js';
import type * as T from '../api/types.js';
import { isEtcdError } from '../errors.js';
import type { ServerStreamCall } from './h2server.js';
import { toStatusError } from './status.js';

interface KeepAliveResponse {
  header: T.ResponseHeader;
  ID: number;
  TTL: number;
}

/** Keep-alive requests of one stream being renewed; beyond this the stream stops reading (backpressure). */
const keepAlivePendingMax = 64;

/**
 * Renews leases in the order the client asked, one at a time like etcd. A lease that does not exist is
 * answered with TTL 0 (etcd's behaviour, which clients read as "expired"); other errors end the stream.
 */
export function handleLeaseKeepAlive(backend: StoreBackend, logger: Logger, call: ServerStreamCall): void {
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  let done = false;
  const finish = (): void => {
    done = true;
  };
  call.on('cancelled', finish);
  call.on('error', finish);
  call.on('data', (req: { ID: number }) => {
    pending++;
    if (pending >= keepAlivePendingMax) call.pause();
    chain = chain
      .then(() => renew(backend, req.ID))
      .then(
        (resp) => {
          if (!done) call.write(resp);
        },
        (e: unknown) => {
          if (done) return;
          done = true;
          call.emit('error', toStatusError(e, 'LeaseKeepAlive', logger));
        },
      )
      .finally(() => {
        pending--;
        if (pending < keepAlivePendingMax && !done) call.resume();
      });
  });
  call.on('end', () => {
    void chain.then(() => {
      if (done) return;
      done = true;
      call.end();
    });
  });
}

async function renew(backend: StoreBackend, id: number): Promise<KeepAliveResponse> {
  try {
    const resp = await backend.leaseKeepAlive({ ID: id });
    return { header: resp.header, ID: resp.ID, TTL: resp.TTL };
  } catch (e) {
    if (isEtcdError(e, 'LeaseNotFound')) return { header: backend.header(), ID: id, TTL: 0 };
    throw e;
  }
}

interface SnapshotResponse {
  header: T.ResponseHeader;
  remaining_bytes: number;
  blob: Buffer;
}

/**
 * Streams backend.snapshot() as etcd's SnapshotResponse chunks. remaining_bytes counts the bytes still to
 * come after a chunk: exact when the iterable carries a `sizeBytes` number, otherwise the length of the
 * next chunk (one chunk is read ahead), so that 0 marks the last chunk either way.
 */
export async function handleSnapshot(
  backend: StoreBackend,
  logger: Logger,
  call: ServerStreamCall,
): Promise<void> {
  try {
    const iterable = backend.snapshot();
    const sizeBytes = (iterable as { sizeBytes?: unknown }).sizeBytes;
    let sentBytes = 0;
    let held: Buffer | null = null;
    for await (const chunk of iterable) {
      if (call.cancelled) return;
      if (held !== null) {
        sentBytes += held.length;
        await writeChunk(call, backend, held, remainingBytes(sizeBytes, sentBytes, chunk.length));
      }
      held = chunk;
    }
    if (held !== null && !call.cancelled) await writeChunk(call, backend, held, 0);
    call.end();
  } catch (e) {
    if (!call.cancelled) call.emit('error', toStatusError(e, 'Snapshot', logger));
  }
}

function remainingBytes(sizeBytes: unknown, sentBytes: number, nextChunkBytes: number): number {
  if (typeof sizeBytes === 'number') return Math.max(sizeBytes - sentBytes, nextChunkBytes);
  return nextChunkBytes;
}

async function writeChunk(
  call: ServerStreamCall,
  backend: StoreBackend,
  blob: Buffer,
  remaining: number,
): Promise<void> {
  const response: SnapshotResponse = { header: backend.header(), remaining_bytes: remaining, blob };
  const ok = call.write(response);
  if (!ok) await writableOrGone(call);
}

/** Resolves once the stream drains, or once it can never drain (canceled, failed, closed). */
function writableOrGone(call: ServerStreamCall): Promise<void> {
  return new Promise((resolve) => {
    const events = ['drain', 'cancelled', 'close', 'error', 'finish'] as const;
    const done = (): void => {
      for (const event of events) call.off(event, done);
      resolve();
    };
    for (const event of events) call.on(event, done);
  });
}
