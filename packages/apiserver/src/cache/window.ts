// The sliding window of recent events a watch may resume from: a bounded FIFO ordered by revision.
import type { KubeObject } from '@keelson/api';
import { assert } from './errors.js';

export interface CacheEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  /** For DELETED: the last state, with the deletion revision as resourceVersion. */
  obj: KubeObject;
  /** For MODIFIED: the state before (selectors turn leaving the selection into DELETED). */
  prevObj?: KubeObject;
  revision: number;
}

/** Live entries are kept in `events[head..]`; the dead prefix is dropped in bulk to keep eviction O(1). */
const compactHeadMin = 1024;

export class EventWindow {
  private events: CacheEvent[] = [];
  private head = 0;
  /**
   * Invariant: every event with a revision above startRevision is in the window, so a watch from any
   * version >= startRevision can be replayed exactly.
   */
  private startRevisionValue: number;

  constructor(
    readonly capacityEvents: number,
    startRevision: number,
  ) {
    assert(capacityEvents > 0, 'a watch cache window holds at least one event');
    this.startRevisionValue = startRevision;
  }

  get startRevision(): number {
    return this.startRevisionValue;
  }

  get size(): number {
    return this.events.length - this.head;
  }

  reset(startRevision: number): void {
    this.events = [];
    this.head = 0;
    this.startRevisionValue = startRevision;
  }

  append(e: CacheEvent): void {
    const last = this.events[this.events.length - 1];
    assert(last === undefined || e.revision >= last.revision, 'window events must come in revision order');
    assert(e.revision > this.startRevisionValue, 'an event at or below the window start');
    this.events.push(e);
    // The newest revision is never evicted, so one txn's events may briefly exceed the capacity.
    while (this.size > this.capacityEvents && (this.events[this.head] as CacheEvent).revision < e.revision)
      this.evictRevision();
    if (this.head >= compactHeadMin && this.head * 2 >= this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  /** Events with a revision above `revision`, oldest first. */
  since(revision: number): CacheEvent[] {
    assert(revision >= this.startRevisionValue, 'replay from below the window start');
    let lo = this.head;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.events[mid] as CacheEvent).revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo);
  }

  /** Evicts the oldest revision whole: events of one txn are never split across the window's edge. */
  private evictRevision(): void {
    const first = this.events[this.head];
    assert(first !== undefined, 'evicting from an empty window');
    while (
      this.head < this.events.length &&
      (this.events[this.head] as CacheEvent).revision === first.revision
    )
      this.head++;
    this.startRevisionValue = first.revision;
  }
}
