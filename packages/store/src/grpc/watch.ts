// One Watch bidi stream: etcd's serverWatchStream (api/v3rpc/watch.go + mvcc/watcher.go) on top of
// StoreBackend.watch. A stream multiplexes many watches, each with a watch id that is either chosen by
// the client or assigned here (etcd's AutoWatchID rules). Responses for one watch go out in order, the
// `created` response first; everything is bounded: watches per stream and bytes waiting to be sent.

import type { Logger } from 'pino';
import type { StoreBackend, WatchHandle, WatchSinkResponse } from '../api/backend.js';
import type * as T from '../api/types.js';
import { EtcdError } from '../errors.js';
import type { ServerStreamCall } from './h2server.js';

export interface WatchRequest {
  request_union?: 'create_request' | 'cancel_request' | 'progress_request';
  create_request?: T.WatchCreateRequest;
  cancel_request?: { watch_id: number };
  progress_request?: Record<string, never>;
}

export type WatchCall = ServerStreamCall;

/** etcd's AutoWatchID: a create request with watch_id 0 asks the server to choose. */
const autoWatchId = 0;
/** The watch id of responses that belong to no single watch (failed creates, stream-wide progress). */
const invalidWatchId = -1;
/** etcd has no limit; one is needed so that a client cannot grow a stream's map without bound. */
export const watchesPerStreamMax = 100_000;

// etcd's messages (mvcc/watcher.go), which clients show to users as the cancel reason.
const errEmptyWatcherRange = 'mvcc: watcher range is empty';
const errWatcherDuplicateId = 'mvcc: duplicate watch ID provided on the WatchStream';

interface WatchEntry {
  readonly id: number;
  handle: WatchHandle | null;
  /** Responses the backend delivered before the `created` response was sent (during backend.watch). */
  early: T.WatchResponse[] | null;
}

export interface WatchStreamOptions {
  backend: StoreBackend;
  logger: Logger;
  /** Bytes written to the call but not yet flushed; beyond this the stream's watches are canceled. */
  sendBufferBytesMax: number;
}

export class WatchStream {
  private readonly watches = new Map<number, WatchEntry>();
  private nextWatchId = 0;
  private sendBufferBytes = 0;
  private closed = false;
  /** While a progress request is outstanding: watch id → the revision it reported (null: not yet). */
  private progressWaiting: Map<number, number | null> | null = null;

  constructor(
    private readonly call: WatchCall,
    private readonly opts: WatchStreamOptions,
  ) {}

  get watchCount(): number {
    return this.watches.size;
  }

  onRequest(req: WatchRequest): void {
    if (this.closed) return;
    if (req.create_request) this.create(req.create_request);
    else if (req.cancel_request) this.cancel(req.cancel_request.watch_id);
    else if (req.progress_request) this.requestProgress();
    // Like etcd, an empty or unknown request is ignored rather than ending the whole stream.
  }

  /** Cancels every watch of the stream; called when the stream ends or fails. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.watches.values()) entry.handle?.cancel();
    this.watches.clear();
    this.progressWaiting = null;
  }

  private create(creq: T.WatchCreateRequest): void {
    // etcd watches from the smallest key when none is given.
    const key = creq.key.length === 0 ? Buffer.from([0]) : creq.key;
    const failure = this.createFailure(key, creq.range_end, creq.watch_id);
    if (failure !== null) {
      this.sendCreateFailed(invalidWatchId, failure); // etcd answers every failed create with id -1
      return;
    }
    const id = creq.watch_id === autoWatchId ? this.assignWatchId() : creq.watch_id;
    const entry: WatchEntry = { id, handle: null, early: [] };
    this.watches.set(id, entry);
    try {
      entry.handle = this.opts.backend.watch({ ...creq, key, watch_id: id }, (r) => this.onSink(entry, r));
    } catch (e) {
      this.watches.delete(id);
      this.sendCreateFailed(invalidWatchId, this.reasonOf(e));
      return;
    }
    const early = entry.early ?? [];
    entry.early = null;
    this.send(this.response(id, this.opts.backend.header(), { created: true }));
    for (const resp of early) this.send(resp);
  }

  private createFailure(key: Buffer, rangeEnd: Buffer, watchId: number): string | null {
    const fromKey = rangeEnd.length === 1 && rangeEnd[0] === 0;
    if (rangeEnd.length !== 0 && !fromKey && Buffer.compare(key, rangeEnd) >= 0) return errEmptyWatcherRange;
    if (watchId !== autoWatchId && this.watches.has(watchId)) return errWatcherDuplicateId;
    if (this.watches.size >= watchesPerStreamMax) {
      return `keelson: too many watches on one stream (${watchesPerStreamMax}); use more streams`;
    }
    return null;
  }

  /** etcd's rule: the next id counting up from the last assigned one that no watch of the stream uses. */
  private assignWatchId(): number {
    // Terminates: the map holds fewer than watchesPerStreamMax ids (checked by createFailure). Id 0 is a
    // valid assigned id (it means "assign one" only in a request), as in etcd.
    while (this.watches.has(this.nextWatchId)) this.nextWatchId++;
    const id = this.nextWatchId;
    this.nextWatchId++;
    return id;
  }

  private sendCreateFailed(watchId: number, reason: string): void {
    const header = this.opts.backend.header();
    this.send(this.response(watchId, header, { created: true, canceled: true, cancel_reason: reason }));
  }

  private reasonOf(e: unknown): string {
    if (e instanceof EtcdError) return e.etcdMessage;
    this.opts.logger.error({ err: e }, 'backend.watch failed unexpectedly (a Keelson bug)');
    return e instanceof Error ? e.message : String(e);
  }

  private cancel(watchId: number): void {
    const entry = this.watches.get(watchId);
    if (entry === undefined) return; // etcd answers nothing for an unknown watch id
    this.watches.delete(watchId);
    entry.handle?.cancel();
    this.send(this.response(watchId, this.opts.backend.header(), { canceled: true }));
    this.progressForget(watchId);
  }

  private onSink(entry: WatchEntry, r: WatchSinkResponse): void {
    if (this.closed || this.watches.get(entry.id) !== entry) return; // canceled: drop late deliveries
    const isProgress = r.events.length === 0 && !r.canceled && r.compact_revision === 0;
    if (isProgress && this.progressAbsorb(entry.id, r.revision)) return;
    const header = { ...this.opts.backend.header(), revision: r.revision };
    const resp = this.response(entry.id, header, {
      canceled: r.canceled,
      compact_revision: r.compact_revision,
      cancel_reason: r.cancel_reason,
      events: r.events,
    });
    if (r.canceled) {
      this.watches.delete(entry.id);
      this.progressForget(entry.id);
    }
    if (entry.early !== null) entry.early.push(resp);
    else this.send(resp);
  }

  /**
   * etcd 3.4 answers a progress request with one response for the whole stream (watch_id -1). It is
   * only safe to claim revision R once every watch of the stream has sent its events up to R, so each
   * watch is asked for its progress and the answer carries the smallest revision reported.
   */
  private requestProgress(): void {
    if (this.progressWaiting !== null) return; // one answer serves the requests made while it is pending
    if (this.watches.size === 0) {
      this.send(this.response(invalidWatchId, this.opts.backend.header(), {}));
      return;
    }
    const waiting = new Map<number, number | null>();
    for (const id of this.watches.keys()) waiting.set(id, null);
    this.progressWaiting = waiting;
    for (const entry of [...this.watches.values()]) entry.handle?.requestProgress();
  }

  /** Records a watch's progress revision if a stream-wide progress answer waits for it. */
  private progressAbsorb(watchId: number, revision: number): boolean {
    const waiting = this.progressWaiting;
    if (waiting === null || waiting.get(watchId) !== null) return false;
    waiting.set(watchId, revision);
    this.progressMaybeAnswer();
    return true;
  }

  private progressForget(watchId: number): void {
    if (this.progressWaiting?.delete(watchId)) this.progressMaybeAnswer();
  }

  private progressMaybeAnswer(): void {
    const waiting = this.progressWaiting;
    if (waiting === null) return;
    let revisionMin = Number.POSITIVE_INFINITY;
    for (const revision of waiting.values()) {
      if (revision === null) return;
      revisionMin = Math.min(revisionMin, revision);
    }
    this.progressWaiting = null;
    const header = this.opts.backend.header();
    if (Number.isFinite(revisionMin)) header.revision = revisionMin;
    this.send(this.response(invalidWatchId, header, {}));
  }

  private response(
    watchId: number,
    header: T.ResponseHeader,
    fields: Partial<T.WatchResponse>,
  ): T.WatchResponse {
    return {
      header,
      watch_id: watchId,
      created: false,
      canceled: false,
      compact_revision: 0,
      cancel_reason: '',
      fragment: false,
      events: [],
      ...fields,
    };
  }

  private send(resp: T.WatchResponse): void {
    if (this.closed || this.call.writableEnded || this.call.destroyed) return;
    const sizeBytes = estimateResponseBytes(resp);
    if (this.sendBufferBytes + sizeBytes > this.opts.sendBufferBytesMax && resp.events.length > 0) {
      this.overflow();
      return;
    }
    this.sendBufferBytes += sizeBytes;
    this.call.write(resp, () => {
      this.sendBufferBytes -= sizeBytes;
    });
  }

  /**
   * The client reads slower than its watches produce events. Rather than buffering without bound, every
   * watch of the stream is canceled with a reason; the client can re-create them from its last revision.
   */
  private overflow(): void {
    const reason =
      `keelson: watch stream send buffer exceeded ${this.opts.sendBufferBytesMax} bytes ` +
      '(the client reads too slowly); re-create the watch from the last revision received';
    this.opts.logger.warn(
      { watches: this.watches.size, sendBufferBytes: this.sendBufferBytes },
      'canceling the watches of a slow watch stream',
    );
    const entries = [...this.watches.values()];
    this.watches.clear();
    this.progressWaiting = null;
    const header = this.opts.backend.header();
    for (const entry of entries) {
      entry.handle?.cancel();
      // Cancel responses carry no events and are few (one per watch), so they bypass the bound.
      this.send(this.response(entry.id, header, { canceled: true, cancel_reason: reason }));
    }
  }
}

/** An upper estimate of a response's encoded size, cheap enough to compute for every response. */
export function estimateResponseBytes(resp: T.WatchResponse): number {
  let sizeBytes = 64 + resp.cancel_reason.length;
  for (const e of resp.events) {
    sizeBytes += 64 + e.kv.key.length + e.kv.value.length;
    if (e.prev_kv) sizeBytes += 48 + e.prev_kv.key.length + e.prev_kv.value.length;
  }
  return sizeBytes;
}
