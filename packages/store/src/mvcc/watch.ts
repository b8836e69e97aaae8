// The watchers of one member, after etcd's watchable_store: "synced" watchers get each applied
// revision's events from notify(); a watcher that starts in the past, or whose buffer overflowed,
// is "unsynced" and is caught up from the store's history in bounded batches, then rejoins the
// synced set. Nothing blocks the apply loop or other watchers, and no event is dropped.
import type { Event, FilterType, WatchCreateRequest } from '../api/types.js';
import { EMPTY_BUFFER, type KeySpan, spanContains, toIndexKey, toSpan } from './bytes.js';

/** What the hub reads history from (the member's Mvcc). */
export interface WatchHistory {
  readonly revision: number;
  readonly compactRevision: number;
  eventsSince(startRev: number, key: Buffer, rangeEnd: Buffer, maxEvents: number): Event[];
}

/** One response for a watcher; the gRPC layer adds header, watch_id and created. */
export interface WatchDelivery {
  readonly events: Event[];
  readonly revision: number;
  readonly compact_revision: number;
  readonly canceled: boolean;
  readonly cancel_reason: string;
}

/**
 * Receives a watcher's responses. Returning false means "accepted, but my outbound buffer is
 * full": the hub holds further responses (bounded) until the handle's resume() is called.
 * Events and key-values are shared between watchers: treat them as read-only.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: sinks that never push back are plain void functions.
export type WatchSink = (r: WatchDelivery) => boolean | void;

export interface WatchHandle {
  readonly id: number;
  cancel(): void;
  /** Sends an empty response at the current revision, if the watcher is synced and idle. */
  requestProgress(): void;
  /** The sink's buffer drained: deliver what is held and continue catching up. */
  resume(): void;
}

export interface Scheduler {
  setTimeout(fn: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface WatchHubOptions {
  /** Period of progress notifications for progress_notify watchers (etcd: 10 minutes). */
  readonly progressIntervalMs?: number;
  /** Events a blocked watcher may hold before it is moved to the unsynced set. */
  readonly pendingEventsMax?: number;
  /** Events read from history per catch-up batch (a revision is never split). */
  readonly catchUpEventsMax?: number;
  /** Unsynced watchers served per sync round (etcd's maxWatchersPerSync). */
  readonly watchersPerSyncMax?: number;
  /** Events delivered per sync round, across watchers. */
  readonly syncRoundEventsMax?: number;
  /** Delay before a sync round. */
  readonly syncDelayMs?: number;
  readonly scheduler?: Scheduler;
  /** Told about a sink that threw (its watcher is canceled). */
  readonly onSinkError?: (err: unknown) => void;
}

const defaultScheduler: Scheduler = {
  setTimeout(fn, delayMs) {
    const t = setTimeout(fn, delayMs);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

interface Watcher {
  readonly id: number;
  readonly key: Buffer;
  readonly rangeEnd: Buffer;
  readonly span: KeySpan;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly sink: WatchSink;
  /** The lowest revision not yet delivered or held. Events below it are never sent again. */
  nextRev: number;
  synced: boolean;
  /** The sink said its buffer is full. */
  blocked: boolean;
  /** Responses held while blocked. Invariant: pendingEvents <= pendingEventsMax. */
  pending: WatchDelivery[];
  pendingEvents: number;
  sentEventsSinceTick: boolean;
  canceled: boolean;
}

function filterFlags(filters: readonly FilterType[]): { noPut: boolean; noDelete: boolean } {
  return { noPut: filters.includes('NOPUT'), noDelete: filters.includes('NODELETE') };
}

function delivery(events: Event[], revision: number): WatchDelivery {
  return { events, revision, compact_revision: 0, canceled: false, cancel_reason: '' };
}

export class WatchHub {
  private history: WatchHistory;
  private readonly progressIntervalMs: number;
  private readonly pendingEventsMax: number;
  private readonly catchUpEventsMax: number;
  private readonly watchersPerSyncMax: number;
  private readonly syncRoundEventsMax: number;
  private readonly syncDelayMs: number;
  private readonly scheduler: Scheduler;
  private readonly onSinkError: (err: unknown) => void;

  private readonly watchers = new Map<number, Watcher>();
  /** Synced single-key watchers by key, and synced range watchers. */
  private readonly keyWatchers = new Map<string, Set<Watcher>>();
  private readonly rangeWatchers = new Set<Watcher>();
  /** Unsynced watchers; served round-robin (a served watcher moves to the back). */
  private readonly unsynced = new Set<Watcher>();
  private progressWatchers = 0;
  private nextId = 1;
  /** The revision of the last notify (or of the history when there was none). */
  private lastRevision: number;
  private syncTimer: unknown = null;
  private progressTimer: unknown = null;

  constructor(history: WatchHistory, options: WatchHubOptions = {}) {
    this.history = history;
    this.lastRevision = history.revision;
    this.progressIntervalMs = options.progressIntervalMs ?? 600_000;
    this.pendingEventsMax = options.pendingEventsMax ?? 1024;
    this.catchUpEventsMax = options.catchUpEventsMax ?? 1000;
    this.watchersPerSyncMax = options.watchersPerSyncMax ?? 512;
    this.syncRoundEventsMax = options.syncRoundEventsMax ?? 10_000;
    this.syncDelayMs = options.syncDelayMs ?? 10;
    this.scheduler = options.scheduler ?? defaultScheduler;
    this.onSinkError = options.onSinkError ?? (() => {});
    if (this.pendingEventsMax < 1 || this.catchUpEventsMax < 1 || this.watchersPerSyncMax < 1) {
      throw new Error('assertion: watch hub bounds must be positive');
    }
  }

  /** Watchers alive (for metrics). */
  count(): number {
    return this.watchers.size;
  }

  /** Whether any watcher takes events from notify() (the others read history). */
  hasSyncedWatchers(): boolean {
    return this.keyWatchers.size > 0 || this.rangeWatchers.size > 0;
  }

  /** Watchers being caught up from history (etcd's slow watchers). */
  unsyncedCount(): number {
    return this.unsynced.size;
  }

  /**
   * Starts a watcher. start_revision 0 (or a future one) streams from the next revision; an older
   * one replays history first. Nothing is delivered before this returns, so the caller can send
   * `created` first; a start at or below the compact revision gets one canceled response.
   */
  watch(req: WatchCreateRequest, sink: WatchSink): WatchHandle {
    const { noPut, noDelete } = filterFlags(req.filters);
    const key = Buffer.from(req.key);
    const rangeEnd = req.range_end.length === 0 ? EMPTY_BUFFER : Buffer.from(req.range_end);
    const w: Watcher = {
      id: this.nextId++,
      key,
      rangeEnd,
      span: toSpan(key, rangeEnd),
      noPut,
      noDelete,
      prevKv: req.prev_kv,
      progressNotify: req.progress_notify,
      sink,
      nextRev: 0,
      synced: false,
      blocked: false,
      pending: [],
      pendingEvents: 0,
      sentEventsSinceTick: false,
      canceled: false,
    };
    this.watchers.set(w.id, w);
    const current = this.history.revision;
    const start = req.start_revision;
    if (start <= 0 || start > current) {
      w.nextRev = Math.max(current + 1, start);
      this.addSynced(w);
    } else {
      w.nextRev = start;
      this.unsynced.add(w);
      this.scheduleSync();
    }
    if (w.progressNotify) {
      this.progressWatchers++;
      this.armProgressTimer();
    }
    return {
      id: w.id,
      cancel: () => this.remove(w),
      requestProgress: () => this.progress(w),
      resume: () => this.resume(w),
    };
  }

  /** Called by the member after each applied write, with that write's events (all at `revision`). */
  notify(events: readonly Event[], revision: number): void {
    if (revision < this.lastRevision)
      throw new Error(`assertion: notify went back from ${this.lastRevision} to ${revision}`);
    this.lastRevision = revision;
    if (events.length === 0 || !this.hasSyncedWatchers()) return;
    for (const [w, evs] of this.matchSynced(events)) {
      if (w.canceled || !w.synced || revision < w.nextRev) continue;
      w.nextRev = revision + 1;
      this.offer(w, delivery(this.shape(w, evs), revision));
    }
  }

  /**
   * Switches to a restored store (after a snapshot): every synced watcher is caught up from the
   * new history, or canceled if it was compacted past what the watcher has seen.
   */
  setHistory(history: WatchHistory): void {
    this.history = history;
    for (const w of [...this.watchers.values()]) {
      if (w.synced) this.desync(w, w.pending[0]?.revision ?? Math.max(w.nextRev, this.lastRevision + 1));
    }
    this.lastRevision = Math.max(this.lastRevision, history.revision);
  }

  /** Runs sync rounds now until no unsynced watcher can make progress (at most maxRounds). */
  syncNow(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds && this.hasRunnableUnsynced(); i++) this.syncRound();
  }

  /** Stops timers and forgets every watcher without telling their sinks. */
  close(): void {
    for (const w of [...this.watchers.values()]) this.remove(w);
    if (this.syncTimer !== null) this.scheduler.clearTimeout(this.syncTimer);
    this.syncTimer = null;
  }

  // ---------------------------------------------------------------- delivery

  private matchSynced(events: readonly Event[]): Map<Watcher, Event[]> {
    const out = new Map<Watcher, Event[]>();
    const add = (w: Watcher, ev: Event) => {
      const list = out.get(w);
      if (list === undefined) out.set(w, [ev]);
      else list.push(ev);
    };
    for (const ev of events) {
      const ik = toIndexKey(ev.kv.key);
      for (const w of this.keyWatchers.get(ik) ?? []) add(w, ev);
      for (const w of this.rangeWatchers) if (spanContains(w.span, ik)) add(w, ev);
    }
    return out;
  }

  /** Applies the watcher's filters; strips prev_kv unless it asked (events stay shared). */
  private shape(w: Watcher, events: readonly Event[]): Event[] {
    const out: Event[] = [];
    for (const ev of events) {
      if ((ev.type === 'PUT' && w.noPut) || (ev.type === 'DELETE' && w.noDelete)) continue;
      out.push(w.prevKv || ev.prev_kv === null ? ev : { type: ev.type, kv: ev.kv, prev_kv: null });
    }
    return out;
  }

  /** Sends to a synced watcher, or holds while it is blocked; overflowing holds desyncs it. */
  private offer(w: Watcher, r: WatchDelivery): void {
    if (r.events.length === 0) return;
    if (!w.blocked && w.pending.length === 0) {
      this.send(w, r);
      return;
    }
    if (w.pendingEvents + r.events.length > this.pendingEventsMax) {
      this.desync(w, w.pending[0]?.revision ?? r.revision);
      return;
    }
    w.pending.push(r);
    w.pendingEvents += r.events.length;
  }

  private send(w: Watcher, r: WatchDelivery): void {
    if (w.canceled) return;
    try {
      const accepted = w.sink(r);
      if (r.events.length > 0) w.sentEventsSinceTick = true;
      if (accepted === false) w.blocked = true;
    } catch (e) {
      this.remove(w);
      this.onSinkError(e);
    }
  }

  private resume(w: Watcher): void {
    if (w.canceled) return;
    w.blocked = false;
    // Bounded by the held responses: each iteration removes one.
    while (w.pending.length > 0 && !w.blocked && !w.canceled) {
      const r = w.pending.shift() as WatchDelivery;
      w.pendingEvents -= r.events.length;
      this.send(w, r);
    }
    if (!w.synced && !w.blocked && !w.canceled) this.scheduleSync();
  }

  private progress(w: Watcher): void {
    // etcd answers progress only for synced watchers; one with held events is not idle.
    if (w.canceled || !w.synced || w.blocked || w.pending.length > 0) return;
    // A watcher caught up from history may have seen a revision the member has not notified yet;
    // never report less than what it was sent, nor more than the store holds.
    const seen = Math.min(w.nextRev - 1, this.history.revision);
    this.send(w, delivery([], Math.max(this.lastRevision, seen)));
  }

  // ---------------------------------------------------------------- synced / unsynced

  private addSynced(w: Watcher): void {
    w.synced = true;
    if (w.span.end !== null) {
      this.rangeWatchers.add(w);
      return;
    }
    let set = this.keyWatchers.get(w.span.key);
    if (set === undefined) {
      set = new Set();
      this.keyWatchers.set(w.span.key, set);
    }
    set.add(w);
  }

  private removeSynced(w: Watcher): void {
    w.synced = false;
    if (w.span.end !== null) {
      this.rangeWatchers.delete(w);
      return;
    }
    const set = this.keyWatchers.get(w.span.key);
    set?.delete(w);
    if (set?.size === 0) this.keyWatchers.delete(w.span.key);
  }

  /** Drops what the watcher holds; it will be re-read from history starting at fromRev. */
  private desync(w: Watcher, fromRev: number): void {
    this.removeSynced(w);
    w.pending = [];
    w.pendingEvents = 0;
    w.nextRev = fromRev;
    this.unsynced.add(w);
    this.scheduleSync();
  }

  private hasRunnableUnsynced(): boolean {
    for (const w of this.unsynced) if (!w.blocked) return true;
    return false;
  }

  private scheduleSync(): void {
    if (this.syncTimer !== null) return;
    this.syncTimer = this.scheduler.setTimeout(() => {
      this.syncTimer = null;
      this.syncRound();
      if (this.hasRunnableUnsynced()) this.scheduleSync();
    }, this.syncDelayMs);
  }

  private syncRound(): void {
    let served = 0;
    let events = 0;
    for (const w of [...this.unsynced]) {
      if (served >= this.watchersPerSyncMax || events >= this.syncRoundEventsMax) break;
      if (w.blocked || w.canceled) continue;
      served++;
      events += this.catchUp(w);
      if (this.unsynced.delete(w)) this.unsynced.add(w);
    }
  }

  /** Delivers one batch from history; returns the number of events read. */
  private catchUp(w: Watcher): number {
    const h = this.history;
    if (w.nextRev <= h.compactRevision) {
      this.remove(w);
      this.sendFinal(w, {
        events: [],
        revision: h.revision,
        compact_revision: h.compactRevision,
        canceled: true,
        cancel_reason: '',
      });
      return 0;
    }
    const evs = h.eventsSince(w.nextRev, w.key, w.rangeEnd, this.catchUpEventsMax);
    const last = evs[evs.length - 1];
    if (last === undefined) {
      this.unsynced.delete(w);
      w.nextRev = Math.max(w.nextRev, h.revision + 1);
      this.addSynced(w);
      return 0;
    }
    w.nextRev = last.kv.mod_revision + 1;
    const shaped = this.shape(w, evs);
    if (shaped.length > 0) this.send(w, delivery(shaped, h.revision));
    return evs.length;
  }

  /** The last response of a watcher already removed (the compaction cancel). */
  private sendFinal(w: Watcher, r: WatchDelivery): void {
    try {
      w.sink(r);
    } catch (e) {
      this.onSinkError(e);
    }
  }

  private remove(w: Watcher): void {
    if (w.canceled) return;
    w.canceled = true;
    this.watchers.delete(w.id);
    if (w.synced) this.removeSynced(w);
    this.unsynced.delete(w);
    w.pending = [];
    w.pendingEvents = 0;
    if (w.progressNotify) {
      this.progressWatchers--;
      if (this.progressWatchers === 0 && this.progressTimer !== null) {
        this.scheduler.clearTimeout(this.progressTimer);
        this.progressTimer = null;
      }
    }
  }

  // ---------------------------------------------------------------- progress notifications

  private armProgressTimer(): void {
    if (this.progressTimer !== null || this.progressWatchers === 0) return;
    this.progressTimer = this.scheduler.setTimeout(() => this.progressTick(), this.progressIntervalMs);
  }

  // Like etcd's sendLoop ticker: a watcher that got events since the last tick skips one.
  private progressTick(): void {
    this.progressTimer = null;
    for (const w of [...this.watchers.values()]) {
      if (!w.progressNotify || w.canceled) continue;
      if (!w.sentEventsSinceTick) this.progress(w);
      w.sentEventsSinceTick = false;
    }
    this.armProgressTimer();
  }
}
