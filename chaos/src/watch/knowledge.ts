// What is known about the store's changes: the union of every event any watcher or replay delivered
// and every acknowledged write of the history that carries its revision. Reliability and atomicity
// judge a watcher against this union, so one watcher's gap shows when another one (or a client's ack)
// saw the change. Two sources disagreeing about one (key, revision) is itself reported.

import { lastBelow, sameEvent, showEvent, type ViolationSink, valueText } from './common.js';
import type { Source } from './stream.js';
import type { HistoryWrite, WatchEventRec } from './types.js';

export interface KnownChange {
  readonly key: string;
  readonly revision: number;
  readonly type: 'PUT' | 'DELETE';
  readonly value: string | null;
  /** The whole event when some source delivered it; undefined when known only from an ack. */
  readonly event: WatchEventRec | undefined;
  /** Who saw it first: a watcher, a replay, or 'the history'. */
  readonly source: string;
}

export interface Knowledge {
  /** revision → key → change. */
  readonly byRevision: ReadonlyMap<number, ReadonlyMap<string, KnownChange>>;
  /** Revisions with a known change, ascending. */
  readonly revisions: readonly number[];
  /** key → revisions of its known changes, ascending. */
  readonly byKey: ReadonlyMap<string, readonly number[]>;
  /** For revisions with several events: keys in the order of the source that delivered the most of them. */
  readonly order: ReadonlyMap<number, readonly string[]>;
}

/** The change an acknowledged write of the history made, with its revision; undefined if not known. */
export function ackedChange(op: HistoryWrite): Omit<KnownChange, 'source' | 'event'> | undefined {
  if (op.outcome !== 'ok' || op.revision === undefined || op.key === undefined) return undefined;
  const base = { key: op.key, revision: op.revision };
  if (op.f === 'put') return { ...base, type: 'PUT', value: valueText(op.value) };
  if (op.f === 'txn' && (op.result as { succeeded?: unknown } | null)?.succeeded === true) {
    return { ...base, type: 'PUT', value: valueText((op.value as { new?: unknown } | null)?.new) };
  }
  // A delete's header revision is its own revision only when it removed the key.
  if (op.f === 'delete' && op.result === 1) return { ...base, type: 'DELETE', value: null };
  return undefined;
}

class Builder {
  readonly byRevision = new Map<number, Map<string, KnownChange>>();
  readonly order = new Map<number, string[]>();

  constructor(private readonly conflicts: ViolationSink) {}

  get(revision: number, key: string): KnownChange | undefined {
    return this.byRevision.get(revision)?.get(key);
  }

  put(change: KnownChange): void {
    let keys = this.byRevision.get(change.revision);
    if (keys === undefined) {
      keys = new Map();
      this.byRevision.set(change.revision, keys);
    }
    keys.set(change.key, change);
  }

  addSource(src: Source): void {
    const groups = new Map<number, string[]>();
    for (const { ev } of src.events) {
      const known = this.get(ev.modRevision, ev.key);
      if (known === undefined) {
        this.put({
          key: ev.key,
          revision: ev.modRevision,
          type: ev.type,
          value: ev.value,
          event: ev,
          source: src.name,
        });
      } else if (known.event !== undefined && !sameEvent(known.event, ev)) {
        this.conflicts.add({
          watcher: src.name,
          revision: ev.modRevision,
          key: ev.key,
          message: `${src.name} saw ${showEvent(ev)}, but ${known.source} saw ${showEvent(known.event)}`,
        });
      }
      const g = groups.get(ev.modRevision);
      if (g === undefined) groups.set(ev.modRevision, [ev.key]);
      else if (!g.includes(ev.key)) g.push(ev.key);
    }
    for (const [rev, keys] of groups) {
      if (keys.length > (this.order.get(rev)?.length ?? 1)) this.order.set(rev, keys);
    }
  }

  addHistory(history: readonly HistoryWrite[]): void {
    for (const op of history) {
      const c = ackedChange(op);
      // Events win: a disagreeing ack is reported by matches-history against the event.
      if (c !== undefined && this.get(c.revision, c.key) === undefined) {
        this.put({ ...c, event: undefined, source: 'the history' });
      }
    }
  }

  build(): Knowledge {
    const revisions = [...this.byRevision.keys()].sort((a, b) => a - b);
    const byKey = new Map<string, number[]>();
    for (const rev of revisions) {
      for (const key of this.byRevision.get(rev)!.keys()) {
        const list = byKey.get(key);
        if (list === undefined) byKey.set(key, [rev]);
        else list.push(rev);
      }
    }
    return { byRevision: this.byRevision, revisions, byKey, order: this.order };
  }
}

/** Builds the union; disagreements between sources go to `conflicts` (matches-history). */
export function buildKnowledge(
  sources: readonly Source[],
  history: readonly HistoryWrite[],
  conflicts: ViolationSink,
): Knowledge {
  const b = new Builder(conflicts);
  for (const src of sources) b.addSource(src);
  b.addHistory(history);
  return b.build();
}

export function knownAt(k: Knowledge, key: string, revision: number): KnownChange | undefined {
  return k.byRevision.get(revision)?.get(key);
}

/** The known change of `key` with the highest revision below `revision`. */
export function knownBefore(k: Knowledge, key: string, revision: number): KnownChange | undefined {
  const revs = k.byKey.get(key);
  if (revs === undefined) return undefined;
  const i = lastBelow(revs, revision);
  return i < 0 ? undefined : knownAt(k, key, revs[i]!);
}
