import { describe, expect, it } from 'vitest';
import type { Event } from '../src/api/types.js';
import { deleteRangeRequest, op, putRequest, txnRequest, watchCreateRequest } from '../src/mvcc/requests.js';
import { Mvcc } from '../src/mvcc/store.js';
import { type Scheduler, type WatchDelivery, WatchHub, type WatchHubOptions } from '../src/mvcc/watch.js';

const ctx = { leaseExists: () => true };

class ManualScheduler implements Scheduler {
  private readonly timers = new Map<number, { fn: () => void; at: number }>();
  private seq = 0;
  nowMs = 0;
  setTimeout(fn: () => void, delayMs: number): unknown {
    this.timers.set(++this.seq, { fn, at: this.nowMs + delayMs });
    return this.seq;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (let i = 0; i < 10_000; i++) {
      let next: [number, { fn: () => void; at: number }] | undefined;
      for (const e of this.timers)
        if (e[1].at <= until && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.nowMs = next[1].at;
      next[1].fn();
    }
    this.nowMs = until;
  }
}

function setup(opts: WatchHubOptions = {}) {
  const m = new Mvcc(Buffer.from('m/'));
  const sched = new ManualScheduler();
  const hub = new WatchHub(m, { scheduler: sched, syncDelayMs: 0, ...opts });
  const apply = (out: { revision: number; events: Event[] }) => {
    hub.notify(out.events, out.revision);
    return out;
  };
  const put = (key: string, value = 'v') => apply(m.put(putRequest({ key, value }), ctx));
  const del = (key: string, range_end = '') => apply(m.deleteRange(deleteRangeRequest({ key, range_end })));
  return { m, hub, sched, apply, put, del };
}

function collector(accept: (n: number) => boolean = () => true) {
  const got: WatchDelivery[] = [];
  const sink = (d: WatchDelivery) => {
    got.push(d);
    return accept(got.length);
  };
  const events = () => got.flatMap((d) => d.events).map((e) => `${e.type}:${e.kv.key}@${e.kv.mod_revision}`);
  return { got, sink, events };
}

describe('WatchHub live events', () => {
  it("delivers a revision's matching events in one call, with prev_kv only when asked", () => {
    // Proves atomic per-revision delivery, key matching and prev_kv stripping.
    const { m, hub, apply, put } = setup();
    put('a/x', '0');
    const plain = collector();
    const withPrev = collector();
    hub.watch(watchCreateRequest({ key: 'a/', range_end: 'a0' }), plain.sink);
    hub.watch(watchCreateRequest({ key: 'a/', range_end: 'a0', prev_kv: true }), withPrev.sink);
    const txn = txnRequest({
      success: ['a/x', 'b', 'a/y'].map((key) => op.put(putRequest({ key, value: '1' }))),
    });
    apply(m.txn(txn, ctx));
    expect(plain.got.length).toBe(1);
    expect(plain.events()).toEqual(['PUT:a/x@3', 'PUT:a/y@3']);
    expect(plain.got[0]?.revision).toBe(3);
    expect(plain.got[0]?.events.every((e) => e.prev_kv === null)).toBe(true);
    expect(withPrev.got[0]?.events[0]?.prev_kv?.value.toString()).toBe('0');
    expect(withPrev.got[0]?.events[1]?.prev_kv).toBeNull();
  });

  it('applies NOPUT / NODELETE and sends nothing for a fully filtered revision', () => {
    // Proves watch filters.
    const { hub, put, del } = setup();
    const noPut = collector();
    const noDel = collector();
    hub.watch(watchCreateRequest({ key: 'k', filters: ['NOPUT'] }), noPut.sink);
    hub.watch(watchCreateRequest({ key: 'k', filters: ['NODELETE'] }), noDel.sink);
    put('k');
    del('k');
    expect(noPut.events()).toEqual(['DELETE:k@3']);
    expect(noDel.events()).toEqual(['PUT:k@2']);
    expect(noPut.got.length).toBe(1);
  });

  it('skips revisions below a future start_revision', () => {
    // Proves a start_revision beyond the current one is honoured.
    const { hub, put } = setup();
    const c = collector();
    hub.watch(watchCreateRequest({ key: 'k', start_revision: 4 }), c.sink);
    put('k');
    put('k');
    put('k');
    expect(c.events()).toEqual(['PUT:k@4']);
  });

  it('stops after cancel and catches a throwing sink', () => {
    // Proves cancel, count() and that a sink error cancels only that watcher.
    const errors: unknown[] = [];
    const { hub, put } = setup({ onSinkError: (e) => errors.push(e) });
    const ok = collector();
    const h = hub.watch(watchCreateRequest({ key: 'k' }), ok.sink);
    hub.watch(watchCreateRequest({ key: 'k' }), () => {
      throw new Error('boom');
    });
    expect(hub.count()).toBe(2);
    put('k');
    expect(hub.count()).toBe(1);
    expect(errors.length).toBe(1);
    h.cancel();
    put('k');
    expect(hub.count()).toBe(0);
    expect(ok.events()).toEqual(['PUT:k@2']);
  });
});

describe('WatchHub history', () => {
  it('replays from an old revision after watch() returns, then streams live without gaps or repeats', () => {
    // Proves unsynced catch-up from history joining the live stream.
    const { hub, sched, put, del } = setup({ catchUpEventsMax: 2 });
    put('k');
    put('j');
    put('k');
    del('k');
    const c = collector();
    hub.watch(watchCreateRequest({ key: 'j', range_end: 'l', start_revision: 2 }), c.sink);
    expect(c.got).toEqual([]);
    put('k'); // arrives while the watcher is still unsynced
    sched.advance(0);
    put('j');
    expect(c.events()).toEqual(['PUT:k@2', 'PUT:j@3', 'PUT:k@4', 'DELETE:k@5', 'PUT:k@6', 'PUT:j@7']);
    expect(c.got.every((d) => d.events.length <= 2)).toBe(true);
    expect(hub.unsyncedCount()).toBe(0);
  });

  it('cancels a watcher that starts at or below the compact revision, once', () => {
    // Proves the compaction cancel (etcd sends it after `created`).
    const { m, hub, sched, put } = setup();
    put('k');
    put('k');
    m.compact(2);
    const c = collector();
    hub.watch(watchCreateRequest({ key: 'k', start_revision: 2 }), c.sink);
    expect(c.got).toEqual([]);
    sched.advance(0);
    expect(c.got).toEqual([
      { events: [], revision: 3, compact_revision: 2, canceled: true, cancel_reason: '' },
    ]);
    expect(hub.count()).toBe(0);
    const ok = collector();
    hub.watch(watchCreateRequest({ key: 'k', start_revision: 3 }), ok.sink);
    sched.advance(0);
    expect(ok.events()).toEqual(['PUT:k@3']);
  });

  it('moves a watcher whose buffer overflows to unsynced and catches it up in bounded batches', () => {
    // Proves the bounded buffer, no event loss, no blocking of other watchers, and resume().
    const { hub, sched, put } = setup({ pendingEventsMax: 2, catchUpEventsMax: 3 });
    const slow = collector((n) => n !== 1); // full after its first delivery
    const fast = collector();
    const h = hub.watch(watchCreateRequest({ key: 'k' }), slow.sink);
    hub.watch(watchCreateRequest({ key: 'k' }), fast.sink);
    for (let i = 0; i < 10; i++) put('k');
    expect(fast.got.length).toBe(10);
    expect(slow.got.length).toBe(1);
    expect(hub.unsyncedCount()).toBe(1);
    sched.advance(0);
    expect(slow.got.length).toBe(1); // still blocked: nothing read until resume()
    h.resume();
    sched.advance(0);
    expect(slow.got.slice(1).every((d) => d.events.length <= 3)).toBe(true);
    expect(slow.events()).toEqual(fast.events());
    expect(hub.unsyncedCount()).toBe(0);
    put('k');
    expect(slow.events().at(-1)).toBe('PUT:k@12');
  });

  it('holds events for a blocked watcher within the bound and flushes them on resume', () => {
    // Proves pending delivery order when the buffer does not overflow.
    const { hub, put } = setup({ pendingEventsMax: 5 });
    const c = collector((n) => n !== 1);
    const h = hub.watch(watchCreateRequest({ key: 'k' }), c.sink);
    put('k');
    put('k');
    put('k');
    expect(c.got.length).toBe(1);
    h.resume();
    expect(c.events()).toEqual(['PUT:k@2', 'PUT:k@3', 'PUT:k@4']);
    expect(c.got.map((d) => d.revision)).toEqual([2, 3, 4]);
  });

  it('catches synced watchers up from a restored store', () => {
    // Proves setHistory after a snapshot install replays what the old store never notified.
    const { m, hub, sched, put } = setup();
    put('k');
    const c = collector();
    hub.watch(watchCreateRequest({ key: 'k' }), c.sink);
    const leader = Mvcc.fromDump(m.dump(), Buffer.from('m/'));
    leader.put(putRequest({ key: 'k', value: 'x' }), ctx);
    leader.put(putRequest({ key: 'k', value: 'y' }), ctx);
    hub.setHistory(Mvcc.fromDump(leader.dump(), Buffer.from('m/')));
    sched.advance(0);
    expect(c.events()).toEqual(['PUT:k@3', 'PUT:k@4']);
  });
  it('does not repeat or go back when history is ahead of notify', () => {
    // Proves the race where the member applied a write but has not called notify() yet.
    const { m, hub, sched } = setup();
    const out = m.put(putRequest({ key: 'k', value: 'v' }), ctx); // applied, not yet notified
    const c = collector();
    const h = hub.watch(watchCreateRequest({ key: 'k', start_revision: 1 }), c.sink);
    sched.advance(0);
    h.requestProgress();
    hub.notify(out.events, out.revision);
    expect(c.events()).toEqual(['PUT:k@2']);
    expect(c.got.map((d) => d.revision)).toEqual([2, 2]);
  });
});

describe('WatchHub progress', () => {
  it('answers requestProgress only for synced, idle watchers', () => {
    // Proves progress responses carry the current revision and are withheld while catching up.
    const { hub, sched, put } = setup();
    put('x');
    const synced = collector();
    const behind = collector();
    hub.watch(watchCreateRequest({ key: 'k' }), synced.sink).requestProgress();
    hub.watch(watchCreateRequest({ key: 'x', start_revision: 1 }), behind.sink).requestProgress();
    expect(synced.got).toEqual([
      { events: [], revision: 2, compact_revision: 0, canceled: false, cancel_reason: '' },
    ]);
    expect(behind.got).toEqual([]);
    sched.advance(0);
    expect(behind.events()).toEqual(['PUT:x@2']);
  });

  it('sends progress_notify every interval to watchers that had no events in it', () => {
    // Proves the periodic progress notification and its elision after events.
    const { hub, sched, put } = setup({ progressIntervalMs: 1000 });
    const idle = collector();
    const busy = collector();
    hub.watch(watchCreateRequest({ key: 'i', progress_notify: true }), idle.sink);
    const h = hub.watch(watchCreateRequest({ key: 'b', progress_notify: true }), busy.sink);
    put('b');
    sched.advance(1000);
    expect(idle.got.map((d) => [d.events.length, d.revision])).toEqual([[0, 2]]);
    expect(busy.got.length).toBe(1);
    sched.advance(1000);
    expect(idle.got.length).toBe(2);
    expect(busy.got.map((d) => d.events.length)).toEqual([1, 0]);
    h.cancel();
    hub.close();
    expect(sched.pending()).toBe(0);
  });
});
