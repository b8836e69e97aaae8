// One client watch on a cache: a bounded queue between the cache's fan-out and the client's socket.
// The cache pushes synchronously and never waits; the queue drains as fast as the sink takes events.
// A watcher whose queue overflows is closed (its client re-watches from its last version), so a slow
// client costs at most its own buffer and never holds back the others.
import { assert, WatcherTooSlowError } from './errors.js';
import type { CacheEvent } from './window.js';

export interface BookmarkEvent {
  type: 'BOOKMARK';
  revision: number;
}

export type WatcherEvent = CacheEvent | BookmarkEvent;

export interface CacheWatchSink {
  /** Whether the consumer takes another event now (e.g. the socket's buffer is below its mark). */
  ready(): boolean;
  event(e: WatcherEvent): void;
  /** The watch ended: too slow, cache reset or stopped. Not called after the sink's own cancel(). */
  closed(err: Error | undefined): void;
}

export interface WatcherOptions {
  /** Events at or below this revision were already seen by the client. */
  fromRevision: number;
  /** Only keys under this prefix (a namespace's) reach the sink. */
  keyPrefix: string;
  bufferEventsMax: number;
  /** The initial state and the replay from the window, queued before any live event. */
  initial: CacheEvent[];
}

export class CacheWatcher {
  private queue: WatcherEvent[];
  private head = 0;
  private ended = false;
  /** The highest revision the cache has passed to this watcher (events or progress): bookmarks carry it. */
  private dispatchedRevision: number;
  /** Invariant: queue.length - head <= capacityEvents while the watcher is open. */
  private readonly capacityEvents: number;

  constructor(
    private readonly sink: CacheWatchSink,
    private readonly opts: WatcherOptions,
    private readonly onEnd: (w: CacheWatcher) => void,
  ) {
    assert(opts.bufferEventsMax > 0, 'a watcher buffers at least one event');
    this.queue = opts.initial.filter((e) => e.key.startsWith(opts.keyPrefix));
    // The initial state may be larger than the live buffer; it is bounded by the cache itself.
    this.capacityEvents = opts.bufferEventsMax + this.queue.length;
    const last = this.queue[this.queue.length - 1];
    this.dispatchedRevision = Math.max(
      opts.fromRevision,
      last?.type === 'BOOKMARK' ? 0 : (last?.revision ?? 0),
    );
  }

  get open(): boolean {
    return !this.ended;
  }

  get pendingEvents(): number {
    return this.queue.length - this.head;
  }

  push(events: readonly CacheEvent[]): void {
    if (this.ended) return;
    for (const e of events) {
      if (e.revision > this.dispatchedRevision) this.dispatchedRevision = e.revision;
      if (e.revision <= this.opts.fromRevision || !e.key.startsWith(this.opts.keyPrefix)) continue;
      this.queue.push(e);
    }
    if (this.pendingEvents > this.capacityEvents) {
      this.close(new WatcherTooSlowError(this.opts.bufferEventsMax));
      return;
    }
    this.drain();
  }

  /** The store has delivered everything up to `revision`: later bookmarks may say so. */
  progress(revision: number): void {
    if (revision > this.dispatchedRevision) this.dispatchedRevision = revision;
  }

  /** Queues a BOOKMARK behind the events already queued, so it never runs ahead of them. */
  bookmark(): void {
    if (this.ended) return;
    const tail = this.queue[this.queue.length - 1];
    if (this.pendingEvents > 0 && tail?.type === 'BOOKMARK') tail.revision = this.dispatchedRevision;
    else this.queue.push({ type: 'BOOKMARK', revision: this.dispatchedRevision });
    this.drain();
  }

  /** Hands queued events to the sink while it is ready; call again when it becomes ready. */
  drain(): void {
    while (!this.ended && this.head < this.queue.length && this.sink.ready()) {
      const e = this.queue[this.head] as WatcherEvent;
      this.head++;
      this.sink.event(e);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** The cache ends the watcher and tells the sink why. */
  close(err: Error | undefined): void {
    if (this.ended) return;
    this.end();
    this.sink.closed(err);
  }

  /** The client went away: stop without calling back. */
  cancel(): void {
    if (!this.ended) this.end();
  }

  private end(): void {
    this.ended = true;
    this.queue = [];
    this.head = 0;
    this.onEnd(this);
  }
}
