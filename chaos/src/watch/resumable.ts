// resumable: re-watching from a revision after the run gives the same events the watcher saw from that
// revision on, up to the watcher's last revision.

import { sameEvent, showEvent, type ViolationSink } from './common.js';
import { type Delivered, inSegments, type Source } from './stream.js';
import type { ReplayLog, WatchEventRec } from './types.js';

/** The watcher's events in [from, to] without repeats (unique reports those) and compacted revisions. */
function watcherWindow(src: Source, from: number, to: number): WatchEventRec[] {
  const seen = new Set<string>();
  const out: WatchEventRec[] = [];
  for (const { ev } of src.events) {
    if (ev.modRevision < from || ev.modRevision > to || inSegments(src.excused, ev.modRevision)) continue;
    const id = `${ev.modRevision}\u0000${ev.key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(ev);
  }
  return out;
}

export function checkResumable(
  replay: ReplayLog,
  replaySrc: Source,
  watcher: Source | undefined,
  sink: ViolationSink,
): void {
  const name = replaySrc.name;
  if (watcher === undefined) {
    sink.add({ watcher: replay.watcher, message: `${name}: no watcher of that name was recorded` });
    return;
  }
  if ((replay.compactRevision ?? 0) > 0) return;
  const from = replay.startRevision > 0 ? replay.startRevision : (replay.events[0]?.modRevision ?? 1);
  const to = watcher.lastRevision;
  if (from > to) return;
  const saw = watcherWindow(watcher, from, to);
  const again = replaySrc.events
    .map((d: Delivered) => d.ev)
    .filter((ev) => ev.modRevision <= to && !inSegments(watcher.excused, ev.modRevision));
  const n = Math.max(saw.length, again.length);
  for (let i = 0; i < n; i++) {
    const a = saw[i];
    const b = again[i];
    if (a !== undefined && b !== undefined && sameEvent(a, b)) continue;
    const show = (ev: WatchEventRec | undefined): string => (ev === undefined ? 'nothing' : showEvent(ev));
    sink.add({
      watcher: replay.watcher,
      revision: (a ?? b)?.modRevision,
      key: (a ?? b)?.key,
      message: `${name}: event ${i} of revisions ${from}..${to} differs: the watcher saw ${show(a)}, the replay ${show(b)} (${saw.length} vs ${again.length} events)`,
    });
    return;
  }
}
