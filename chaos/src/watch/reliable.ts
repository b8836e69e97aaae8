// reliable: between a watcher's start revision and the last event it delivered, every revision that
// changed a key in its range (as any other source or an acknowledged write shows) was delivered.
// Revisions a compaction made unobtainable are excused: the compaction is reported on its own.

import { inRange, lastBelow, type ViolationSink } from './common.js';
import type { Knowledge } from './knowledge.js';
import { inSegments, type Source } from './stream.js';

export function checkReliable(src: Source, k: Knowledge, sink: ViolationSink): void {
  const delivered = new Set(src.events.map((d) => d.ev.modRevision));
  for (const seg of src.segments) {
    // Known revisions are sorted: start at the first one inside the segment.
    for (let i = lastBelow(k.revisions, seg.from) + 1; i < k.revisions.length; i++) {
      const rev = k.revisions[i]!;
      if (rev > seg.to) break;
      if (delivered.has(rev) || inSegments(src.excused, rev)) continue;
      const missed = [...k.byRevision.get(rev)!.values()].filter((c) =>
        inRange(c.key, src.key, src.rangeEnd),
      );
      const first = missed[0];
      if (first === undefined) continue;
      const keys = missed.map((c) => JSON.stringify(c.key)).join(', ');
      sink.add({
        watcher: src.name,
        revision: rev,
        key: first.key,
        message: `revision ${rev} changed ${keys} (${first.type}, seen by ${first.source}) but was never delivered, although the watcher covered revisions ${seg.from}..${seg.to}`,
      });
    }
  }
}
