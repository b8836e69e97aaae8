// prev-kv: an event's prev_kv is the key's previous version: the PUT before it in revision order, or
// none when the key did not exist. It is judged only where the previous version is known; a missing
// prev_kv is allowed where a compaction made the previous version unreadable (etcd then omits it).

import { inRange, sameKv, showKv, type ViolationSink } from './common.js';
import { type Knowledge, knownAt, knownBefore } from './knowledge.js';
import type { Delivered, Source } from './stream.js';
import type { WatchEventRec } from './types.js';

export interface PrevKvContext {
  readonly knowledge: Knowledge;
  readonly sources: readonly Source[];
  /** Revisions up to this were compacted during the run (0: none known). */
  readonly compactRevision: number;
}

/** Whether some source was bound to deliver every change of `key` in [from, to] (none compacted). */
function covered(ctx: PrevKvContext, key: string, from: number, to: number): boolean {
  return ctx.sources.some(
    (s) =>
      inRange(key, s.key, s.rangeEnd) &&
      s.segments.some((seg) => seg.from <= from && to <= seg.to) &&
      !s.excused.some((ex) => ex.from <= to && from <= ex.to),
  );
}

/** What is wrong with an event's missing prev_kv, or undefined. */
function missingPrevKv(ev: WatchEventRec, ctx: PrevKvContext): string | undefined {
  // etcd reads the previous version at revision - 1 and leaves prev_kv out if that was compacted.
  if (ev.modRevision - 1 < ctx.compactRevision) return undefined;
  if (ev.type === 'DELETE') return 'a DELETE came without prev_kv, but a deleted key existed';
  if (ev.version > 1) return `a PUT of version ${ev.version} came without prev_kv, but the key existed`;
  const before = knownBefore(ctx.knowledge, ev.key, ev.modRevision);
  if (before?.type !== 'PUT' || !covered(ctx, ev.key, before.revision, ev.modRevision)) return undefined;
  return `prev_kv is none, but the key was put at revision ${before.revision} (seen by ${before.source}) and not deleted since (or a delete was missed)`;
}

/** What is wrong with an event's prev_kv, or undefined. */
function wrongPrevKv(ev: WatchEventRec, ctx: PrevKvContext): string | undefined {
  const kv = ev.prevKv;
  if (kv === null) return missingPrevKv(ev, ctx);
  const shown = `prev_kv ${showKv(kv)}`;
  if (kv.modRevision >= ev.modRevision) return `${shown} is not older than the event`;
  if (ev.type === 'PUT' && ev.version === 1)
    return `${shown} is present, but the PUT created the key (version 1)`;
  if (ev.type === 'PUT' && (ev.version !== kv.version + 1 || ev.createRevision !== kv.createRevision)) {
    return `${shown} does not precede the PUT's create revision ${ev.createRevision}, version ${ev.version}`;
  }
  const at = knownAt(ctx.knowledge, ev.key, kv.modRevision);
  if (at?.type === 'DELETE') return `${shown} names revision ${kv.modRevision}, which deleted the key`;
  if (at !== undefined) {
    const full = at.event;
    const mismatch =
      full === undefined
        ? at.value !== kv.value
        : !sameKv(kv, {
            ...kv,
            value: full.value ?? '',
            createRevision: full.createRevision,
            version: full.version,
          });
    if (mismatch)
      return `${shown} differs from the version written at revision ${kv.modRevision} (value ${JSON.stringify(at.value)}${full === undefined ? '' : `, create ${full.createRevision}, version ${full.version}`}, seen by ${at.source})`;
  }
  const later = knownBefore(ctx.knowledge, ev.key, ev.modRevision);
  if (later !== undefined && later.revision > kv.modRevision) {
    return `${shown} is stale: the key was changed at revision ${later.revision} (${later.type}, seen by ${later.source})`;
  }
  return undefined;
}

export function checkPrevKv(src: Source, ctx: PrevKvContext, sink: ViolationSink): void {
  for (const d of src.events as readonly Delivered[]) {
    if (!d.prevKvAsked) continue;
    const why = wrongPrevKv(d.ev, ctx);
    if (why !== undefined)
      sink.add({ watcher: src.name, revision: d.ev.modRevision, key: d.ev.key, message: why });
  }
}
