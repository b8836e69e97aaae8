// The watch cache of one resource prefix, as Kubernetes' cacher: one store watch feeds the current
// objects plus a window of recent events, and fans them out to every client watch. Lists at "0", at a
// not-older-than version, or after the cache caught up to a linearizably read revision are served
// from memory; everything else goes to the store.
import type { Logger } from 'pino';
import {
  CompactedError,
  type ObjectStorage,
  type StorageWatch,
  type StorageWatchEvent,
  type Stored,
} from '../types.js';
import { assert, CacheResetError, TooOldResourceVersionError } from './errors.js';
import { CacheWatcher, type CacheWatchSink } from './watcher.js';
import { type CacheEvent, EventWindow } from './window.js';

export interface CacherOptions {
  storage: ObjectStorage;
  /** The resource's key prefix ("/registry/pods/"); namespaces are sub-prefixes of it. */
  prefix: string;
  /** A label for logs and metrics ("pods", "deployments.apps"). */
  resource: string;
  windowEventsMax: number;
  watcherBufferEventsMax: number;
  logger?: Logger;
  metrics?: CacherMetrics;
  /** Pause before a store watch that failed is resumed; doubles up to retryDelayMsMax. */
  retryDelayMs?: number;
  retryDelayMsMax?: number;
}

export interface CacherMetrics {
  received(resource: string, events: number): void;
  dispatched(resource: string, events: number): void;
  size(resource: string, objects: number, windowEvents: number): void;
  initialized(resource: string): void;
  /** A LIST request was answered from this cache. */
  listServed?(resource: string): void;
}

export interface CacheSnapshot {
  items: Stored[];
  /** The store key of each item (keys[i] is items[i]'s). */
  keys: string[];
  revision: number;
}

type State = 'idle' | 'initializing' | 'ready' | 'stopped';

/** A list is read from the store in pages of this size while the cache initialises. */
const initPageItems = 1_000;
const initPagesMax = 100_000;
/** Waiters for a revision are bounded like any queue; beyond it a read goes to the store. */
const waitersMax = 10_000;

/** On-demand progress requests are coalesced: at most one per this many ms. */
const progressRequestGapMs = 5;

interface ProgressRequester {
  requestProgress?: () => void;
}

interface Waiter {
  revision: number;
  resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout;
}

export class Cacher {
  private state: State = 'idle';
  private objects = new Map<string, Stored>();
  /** Keys in store order, rebuilt lazily after a key is added or removed. */
  private sortedKeys: string[] | undefined;
  /** Invariant: every store event up to `revisionValue` under the prefix is applied to `objects`. */
  private revisionValue = 0;
  /** The highest revision a linearizable read has returned: no later read may show anything older. */
  private linearizedRevision = 0;
  private window: EventWindow;
  private readonly watchers = new Set<CacheWatcher>();
  private waiters: Waiter[] = [];
  private readyWaiters: (() => void)[] = [];
  private storeWatch: StorageWatch | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private progressRequestedMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: CacherOptions) {
    assert(opts.prefix.endsWith('/'), `cache prefix must end with "/": ${opts.prefix}`);
    assert(opts.watcherBufferEventsMax > 0, 'watchers buffer at least one event');
    this.window = new EventWindow(opts.windowEventsMax, 0);
    this.retryDelayMs = opts.retryDelayMs ?? 100;
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  get revision(): number {
    return this.revisionValue;
  }

  /** The oldest version a watch may start from. */
  get oldestRevision(): number {
    return this.window.startRevision;
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  get objectCount(): number {
    return this.objects.size;
  }

  /** Starts the store watch on first use (lazily): resources nobody reads cost nothing. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'initializing';
    void this.initialize();
  }

  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    this.storeWatch?.cancel();
    for (const w of [...this.watchers]) w.close(undefined);
    for (const w of this.waiters.splice(0)) this.settle(w, false);
    for (const r of this.readyWaiters.splice(0)) r();
  }

  /** Resolves true once the cache serves reads, false after `timeoutMs`. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    this.start();
    if (this.state === 'ready') return true;
    if (this.state === 'stopped' || this.readyWaiters.length >= waitersMax) return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.state === 'ready');
      });
    });
  }

  /** Resolves true once the cache has applied everything up to `revision`, false after `timeoutMs`. */
  async waitForRevision(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.state === 'ready' && this.revisionValue >= revision) return true;
    if (this.state === 'stopped' || this.waiters.length >= waitersMax) return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter: Waiter = { revision, resolve, timer };
      this.waiters.push(waiter);
      this.requestProgress();
    });
  }

  /**
   * Asks the store watch for a progress notification now, so that a consistent read of an idle prefix
   * need not wait for the periodic one. StorageWatch has no such member yet; a storage whose watches
   * offer requestProgress() (as etcd's watch streams do) gets asked, others fall back to the interval.
   */
  private requestProgress(): void {
    const now = performance.now();
    if (now - this.progressRequestedMs < progressRequestGapMs) return;
    this.progressRequestedMs = now;
    (this.storeWatch as ProgressRequester | undefined)?.requestProgress?.();
  }

  /**
   * Whether the cache may serve a read that must reflect `minRevision` and everything an earlier
   * linearizable read returned (k8s #59848: a cache must never go back behind what a client saw).
   */
  async readyFor(minRevision: number, timeoutMs: number): Promise<boolean> {
    if (!(await this.waitReady(timeoutMs))) return false;
    return this.waitForRevision(Math.max(minRevision, this.linearizedRevision), timeoutMs);
  }

  /** Records the revision a linearizable read (from the store or this cache) returned. */
  noteLinearizableRead(revision: number): void {
    if (revision > this.linearizedRevision) this.linearizedRevision = revision;
  }

  /** Counts a LIST request answered from the cache (apiserver_cache_list_total). */
  noteListServed(): void {
    this.opts.metrics?.listServed?.(this.opts.resource);
  }

  /** The current objects under `keyPrefix` (the resource's or a namespace's), in key order. */
  list(keyPrefix: string): CacheSnapshot {
    assert(this.state === 'ready', 'list from a cache that is not ready');
    assert(keyPrefix.startsWith(this.opts.prefix), `${keyPrefix} is outside ${this.opts.prefix}`);
    if (this.sortedKeys === undefined) this.sortedKeys = [...this.objects.keys()].sort();
    const items: Stored[] = [];
    const keys: string[] = [];
    for (const key of this.sortedKeys) {
      if (!key.startsWith(keyPrefix)) continue;
      items.push(this.objects.get(key) as Stored);
      keys.push(key);
    }
    return { items, keys, revision: this.revisionValue };
  }

  /**
   * A watch from `fromRevision` (replayed from the window, then live), or with `sendInitial` the
   * current objects as ADDED events followed by what comes after them. Throws
   * TooOldResourceVersionError when the window no longer reaches back to `fromRevision`.
   */
  watch(
    o: { keyPrefix: string; fromRevision: number; sendInitial: boolean; bufferEventsMax?: number },
    sink: CacheWatchSink,
  ): CacheWatcher {
    assert(this.state === 'ready', 'watch on a cache that is not ready');
    let initial: CacheEvent[];
    let from = o.fromRevision;
    if (o.sendInitial) {
      from = this.revisionValue;
      initial = this.list(o.keyPrefix).items.map((s) => ({
        type: 'ADDED' as const,
        key: keyFromStored(s, this.opts.prefix),
        obj: s.obj,
        revision: s.modRevision,
      }));
    } else {
      if (from < this.window.startRevision)
        throw new TooOldResourceVersionError(from, this.window.startRevision);
      initial = from >= this.revisionValue ? [] : this.window.since(from);
    }
    const watcher = new CacheWatcher(
      sink,
      {
        fromRevision: o.sendInitial ? 0 : from,
        keyPrefix: o.keyPrefix,
        bufferEventsMax: o.bufferEventsMax ?? this.opts.watcherBufferEventsMax,
        initial,
      },
      (w) => this.watchers.delete(w),
    );
    if (o.sendInitial) watcher.progress(from);
    this.watchers.add(watcher);
    watcher.drain();
    return watcher;
  }

  private async initialize(): Promise<void> {
    try {
      const snapshot = await this.listStore();
      if (this.state === 'stopped') return;
      this.objects = new Map(snapshot.items.map((s) => [keyFromStored(s, this.opts.prefix), s]));
      this.sortedKeys = undefined;
      this.revisionValue = Math.max(this.revisionValue, snapshot.revision);
      this.window = new EventWindow(this.opts.windowEventsMax, snapshot.revision);
      this.state = 'ready';
      this.retryDelayMs = this.opts.retryDelayMs ?? 100;
      this.opts.metrics?.initialized(this.opts.resource);
      this.reportSize();
      this.watchStore(snapshot.revision);
      for (const r of this.readyWaiters.splice(0)) r();
      this.wakeWaiters();
    } catch (err) {
      if (this.state === 'stopped') return;
      this.opts.logger?.warn(
        { err: (err as Error).message, resource: this.opts.resource },
        'watch cache list failed',
      );
      this.retryLater(() => void this.initialize());
    }
  }

  /** Every object under the prefix at one revision, page by page (continue tokens pin the snapshot). */
  private async listStore(): Promise<{ items: Stored[]; revision: number }> {
    const items: Stored[] = [];
    let token: string | undefined;
    let revision = 0;
    for (let page = 0; page < initPagesMax; page++) {
      const res = await this.opts.storage.list(this.opts.prefix, {
        limit: initPageItems,
        continueToken: token,
      });
      revision = res.revision;
      items.push(...res.items);
      token = res.continueToken;
      if (token === undefined) return { items, revision };
    }
    throw new Error(`assertion failed: listing ${this.opts.prefix} took more than ${initPagesMax} pages`);
  }

  private watchStore(fromRevision: number): void {
    const watch = this.opts.storage.watch(this.opts.prefix, fromRevision, {
      events: (events) => {
        if (this.storeWatch === watch) this.apply(events);
      },
      progress: (revision) => {
        if (this.storeWatch === watch) this.advance(revision);
      },
      closed: (err) => {
        if (this.storeWatch === watch) this.onStoreWatchClosed(err);
      },
    });
    this.storeWatch = watch;
  }

  /** Applies one batch of store events to the objects and the window, then fans it out. */
  private apply(events: StorageWatchEvent[]): void {
    if (this.state !== 'ready' || events.length === 0) return;
    const batch: CacheEvent[] = [];
    for (const e of events) {
      assert(
        e.revision > this.window.startRevision && e.revision >= this.revisionValue,
        `store event ${e.revision} behind the cache ${this.revisionValue}`,
      );
      const previous = this.objects.get(e.key);
      if (e.type === 'DELETED') {
        this.objects.delete(e.key);
        this.sortedKeys = undefined;
      } else {
        if (previous === undefined) this.sortedKeys = undefined;
        this.objects.set(e.key, { obj: e.obj, modRevision: e.revision });
      }
      const event: CacheEvent = { type: e.type, key: e.key, obj: e.obj, revision: e.revision };
      const prevObj = e.prevObj ?? previous?.obj;
      if (prevObj !== undefined) event.prevObj = prevObj;
      this.window.append(event);
      batch.push(event);
      this.revisionValue = e.revision;
    }
    this.opts.metrics?.received(this.opts.resource, batch.length);
    for (const w of [...this.watchers]) w.push(batch);
    this.opts.metrics?.dispatched(this.opts.resource, batch.length);
    this.reportSize();
    this.wakeWaiters();
  }

  /** A progress notification: nothing more under the prefix up to `revision`. */
  private advance(revision: number): void {
    if (this.state !== 'ready' || revision <= this.revisionValue) return;
    this.revisionValue = revision;
    for (const w of this.watchers) w.progress(revision);
    this.wakeWaiters();
  }

  private onStoreWatchClosed(err: Error | undefined): void {
    this.storeWatch = undefined;
    if (this.state === 'stopped') return;
    if (err instanceof CompactedError) {
      // The events between the cache's revision and now are gone: only a fresh list is exact.
      this.opts.logger?.warn({ resource: this.opts.resource }, 'watch cache compacted: re-listing');
      this.state = 'initializing';
      for (const w of [...this.watchers]) w.close(new CacheResetError(this.opts.prefix));
      this.retryLater(() => void this.initialize());
      return;
    }
    // The store went away or its leader changed: resume from the cache's revision; watchers stay.
    this.opts.logger?.warn(
      { err: err?.message, resource: this.opts.resource },
      'watch cache store watch ended',
    );
    this.retryLater(() => {
      if (this.state === 'ready') this.watchStore(this.revisionValue);
    });
  }

  private retryLater(f: () => void): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.state !== 'stopped') f();
    }, this.retryDelayMs);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.opts.retryDelayMsMax ?? 5_000);
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.revisionValue >= w.revision) this.settle(w, true);
      else still.push(w);
    }
    this.waiters = still;
  }

  private settle(w: Waiter, reached: boolean): void {
    clearTimeout(w.timer);
    w.resolve(reached);
  }

  private reportSize(): void {
    this.opts.metrics?.size(this.opts.resource, this.objects.size, this.window.size);
  }
}

function keyFromStored(s: Stored, prefix: string): string {
  const meta = s.obj.metadata ?? {};
  const ns = typeof meta.namespace === 'string' && meta.namespace !== '' ? `${meta.namespace}/` : '';
  return `${prefix}${ns}${String(meta.name ?? '')}`;
}
