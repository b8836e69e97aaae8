// checkWatches: judges recorded watch streams by etcd's watch guarantees (ordered, unique, atomic,
// reliable, resumable, prev_kv, and events that match the write history). Pure: no I/O.

import { MAX_VIOLATIONS_DEFAULT, ViolationSink } from './common.js';
import { buildKnowledge } from './knowledge.js';
import { checkAtomic, checkOrdered, checkUnique } from './order.js';
import { checkPrevKv } from './prevkv.js';
import { checkReliable } from './reliable.js';
import { checkResumable } from './resumable.js';
import { replaySource, type Source, WatchLogError, watcherStream } from './stream.js';
import {
  type HistoryWrite,
  type ReplayLog,
  WATCH_PROPERTIES,
  type WatchCheckOptions,
  type WatchCheckResult,
  type WatchCompaction,
  type WatcherLog,
  type WatchPropertyName,
  type WatchPropertyVerdict,
} from './types.js';
import { checkMatchesHistory, indexWrites } from './writes.js';

function sinks(max: number): Record<WatchPropertyName, ViolationSink> {
  const out = {} as Record<WatchPropertyName, ViolationSink>;
  for (const name of WATCH_PROPERTIES) out[name] = new ViolationSink(name, max);
  return out;
}

function replaySources(
  replays: readonly ReplayLog[],
  watchers: ReadonlyMap<string, Source>,
  compactions: WatchCompaction[],
): Source[] {
  return replays.map((r) => {
    const w = watchers.get(r.watcher);
    if ((r.compactRevision ?? 0) > 0) {
      compactions.push({
        watcher: r.watcher,
        session: -1,
        startRevision: r.startRevision,
        compactRevision: r.compactRevision!,
      });
    }
    return replaySource(r, w ?? { key: '', rangeEnd: '' });
  });
}

/**
 * Checks watch streams against etcd's guarantees, using every watcher's and replay's events and the
 * acknowledged writes of `history` as the known truth. `history` is the write history (parseHistory's
 * operations fit; add the failed ones, which parseHistory drops, to have them named as such).
 */
export function checkWatches(
  watchers: readonly WatcherLog[],
  history: readonly HistoryWrite[],
  replays: readonly ReplayLog[],
  opts: WatchCheckOptions = {},
): WatchCheckResult {
  const names = new Set(watchers.map((w) => w.watcher));
  if (names.size !== watchers.length) throw new WatchLogError('checkWatches: watcher names must be unique');
  const s = sinks(opts.maxViolations ?? MAX_VIOLATIONS_DEFAULT);
  const streams = watchers.map(watcherStream);
  const compactions = streams.flatMap((st) => st.compactions);
  const byName = new Map(streams.map((st) => [st.source.name, st.source]));
  const replaySrcs = replaySources(replays, byName, compactions);
  const sources = [...streams.map((st) => st.source), ...replaySrcs];
  const knowledge = buildKnowledge(sources, history, s['matches-history']);
  const compactRevision = compactions.reduce(
    (m, c) => Math.max(m, c.compactRevision),
    opts.compactRevision ?? 0,
  );
  const ctx = { knowledge, sources, compactRevision };
  watchers.forEach((log, i) => {
    const st = streams[i]!;
    checkOrdered(log, st.source, knowledge, s.ordered);
    checkUnique(st.source, s.unique);
    checkAtomic(st.source, knowledge, s.atomic);
    for (const skip of st.skips) s.reliable.add(skip);
    checkReliable(st.source, knowledge, s.reliable);
    checkPrevKv(st.source, ctx, s['prev-kv']);
  });
  replays.forEach((r, i) => {
    const src = replaySrcs[i]!;
    checkResumable(r, src, byName.get(r.watcher), s.resumable);
    checkPrevKv(src, ctx, s['prev-kv']);
  });
  checkMatchesHistory(sources, indexWrites(history), s['matches-history']);
  const properties = {} as Record<WatchPropertyName, WatchPropertyVerdict>;
  for (const name of WATCH_PROPERTIES) properties[name] = s[name].verdict();
  const sessions = watchers.flatMap((w) => w.sessions);
  return {
    ok: WATCH_PROPERTIES.every((name) => properties[name].ok),
    properties,
    compactions,
    stats: {
      watchers: watchers.length,
      sessions: sessions.length,
      responses: sessions.reduce((n, x) => n + x.responses.length, 0),
      events: streams.reduce((n, st) => n + st.source.events.length, 0),
      replays: replays.length,
      revisionsKnown: knowledge.revisions.length,
    },
  };
}
