// ordered, unique and atomic: properties of one watcher's stream across its reconnects, the last one
// also against what other sources saw of the same revision.

import { inRange, type ViolationSink } from './common.js';
import type { Knowledge } from './knowledge.js';
import type { Delivered, Source } from './stream.js';
import type { WatcherLog } from './types.js';

const where = (d: Delivered): string => `session ${d.session} response ${d.response}`;

/** Groups a stream's events by revision, in delivery order of each revision's first event. */
function byRevision(events: readonly Delivered[]): Map<number, Delivered[]> {
  const groups = new Map<number, Delivered[]>();
  for (const d of events) {
    const g = groups.get(d.ev.modRevision);
    if (g === undefined) groups.set(d.ev.modRevision, [d]);
    else g.push(d);
  }
  return groups;
}

/** Events within one revision must come in the order the write made them (as the fullest source saw). */
function checkOrderInRevision(
  src: Source,
  rev: number,
  group: readonly Delivered[],
  k: Knowledge,
  sink: ViolationSink,
): void {
  const order = k.order.get(rev);
  if (order === undefined || group.length < 2) return;
  let prev = -1;
  for (const d of group) {
    const at = order.indexOf(d.ev.key);
    if (at < 0) continue;
    if (at < prev) {
      sink.add({
        watcher: src.name,
        revision: rev,
        key: d.ev.key,
        message: `the events of revision ${rev} came in the order ${group.map((g) => JSON.stringify(g.ev.key)).join(', ')}, but were written in the order ${order.map((key) => JSON.stringify(key)).join(', ')}`,
      });
      return;
    }
    prev = at;
  }
}

/** ordered: modRevision never decreases across the watcher's whole stream, nor precedes the start. */
export function checkOrdered(log: WatcherLog, src: Source, k: Knowledge, sink: ViolationSink): void {
  let prev: Delivered | undefined;
  for (const d of src.events) {
    if (prev !== undefined && d.ev.modRevision < prev.ev.modRevision) {
      sink.add({
        watcher: src.name,
        revision: d.ev.modRevision,
        key: d.ev.key,
        message: `revision ${d.ev.modRevision} (${where(d)}) was delivered after revision ${prev.ev.modRevision} (${where(prev)})`,
      });
    }
    const start = log.sessions[d.session]?.startRevision ?? 0;
    if (d.ev.modRevision < start) {
      sink.add({
        watcher: src.name,
        revision: d.ev.modRevision,
        key: d.ev.key,
        message: `revision ${d.ev.modRevision} was delivered by ${where(d)}, whose start revision is ${start}`,
      });
    }
    prev = d;
  }
  log.sessions.forEach((s, si) => {
    s.responses.forEach((r, ri) => {
      const top = r.events.reduce((m, e) => Math.max(m, e.modRevision), 0);
      if (r.headerRevision > 0 && r.headerRevision < top) {
        sink.add({
          watcher: src.name,
          revision: top,
          message: `session ${si} response ${ri} has header revision ${r.headerRevision}, below its event at revision ${top}`,
        });
      }
    });
  });
  for (const [rev, group] of byRevision(src.events)) checkOrderInRevision(src, rev, group, k, sink);
}

/** unique: no (key, modRevision) is delivered twice, across reconnects. */
export function checkUnique(src: Source, sink: ViolationSink): void {
  const seen = new Map<string, Delivered>();
  for (const d of src.events) {
    const id = `${d.ev.modRevision}\u0000${d.ev.key}`;
    const first = seen.get(id);
    if (first === undefined) {
      seen.set(id, d);
      continue;
    }
    sink.add({
      watcher: src.name,
      revision: d.ev.modRevision,
      key: d.ev.key,
      message: `the event of key ${JSON.stringify(d.ev.key)} at revision ${d.ev.modRevision} was delivered twice: ${where(first)} and ${where(d)}`,
    });
  }
}

/** atomic: a revision's events come in one response, and all of those in range that anyone saw. */
export function checkAtomic(src: Source, k: Knowledge, sink: ViolationSink): void {
  for (const [rev, group] of byRevision(src.events)) {
    // A repeated event is unique's to report; the revision's first delivery of each key decides.
    const firsts = group.filter((d, i) => group.findIndex((e) => e.ev.key === d.ev.key) === i);
    const responses = new Set(firsts.map(where));
    if (responses.size > 1) {
      sink.add({
        watcher: src.name,
        revision: rev,
        message: `revision ${rev} was split across ${[...responses].join(', ')}`,
      });
    }
    const got = new Set(group.map((d) => d.ev.key));
    for (const [key, change] of k.byRevision.get(rev) ?? []) {
      if (got.has(key) || !inRange(key, src.key, src.rangeEnd)) continue;
      sink.add({
        watcher: src.name,
        revision: rev,
        key,
        message: `revision ${rev} was delivered without its change of key ${JSON.stringify(key)} (a ${change.type}, seen by ${change.source})`,
      });
    }
  }
}
