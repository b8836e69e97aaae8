// Flattens a watcher's sessions (or a replay) into one stream of delivered events plus the revision
// windows it covered: a session covers revisions from its start up to the last event it delivered, and a
// reconnect that resumes at the last event's revision + 1 continues the same window.

import type {
  ReplayLog,
  WatchCompaction,
  WatchEventRec,
  WatcherLog,
  WatchSession,
  WatchViolation,
} from './types.js';

/** A recorded watch log that breaks the format (a bug in the recorder, not in the store). */
export class WatchLogError extends Error {
  readonly code = 'WATCH_LOG_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'WatchLogError';
  }
}

const isRevision = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Throws WatchLogError for an event the checker cannot judge. */
export function assertEvent(ev: WatchEventRec, where: string): void {
  const ok =
    (ev.type === 'PUT' || ev.type === 'DELETE') &&
    typeof ev.key === 'string' &&
    (ev.type === 'PUT' ? typeof ev.value === 'string' : ev.value === null) &&
    isRevision(ev.modRevision) &&
    ev.modRevision > 0 &&
    isRevision(ev.createRevision) &&
    isRevision(ev.version);
  if (!ok) throw new WatchLogError(`${where}: malformed event ${JSON.stringify(ev)}`);
}

export interface Delivered {
  readonly ev: WatchEventRec;
  /** Session and response indices in the watcher's log; -1 for a replay. */
  readonly session: number;
  readonly response: number;
  /** Whether the stream asked for prev_kv, which makes ev.prevKv a claim. */
  readonly prevKvAsked: boolean;
}

/** Inclusive revisions [from, to]. */
export interface Segment {
  readonly from: number;
  readonly to: number;
}

/** A watcher or a replay: what it delivered and which revisions it was bound to deliver. */
export interface Source {
  readonly name: string;
  readonly kind: 'watcher' | 'replay';
  readonly key: string;
  readonly rangeEnd: string;
  readonly events: Delivered[];
  /** Windows in which every change in range must have been delivered. */
  readonly segments: Segment[];
  /** Revisions a compaction made unobtainable: never gaps. */
  readonly excused: Segment[];
  /** The highest modRevision delivered; 0 when none. */
  readonly lastRevision: number;
}

export interface WatcherStream {
  readonly source: Source;
  readonly compactions: WatchCompaction[];
  /** Reconnects that skipped revisions (the workload broke the resume rule): reported as reliability. */
  readonly skips: WatchViolation[];
}

/**
 * The first revision a session could deliver: its start_revision, or with start 0 ("from now") the
 * revision after the created response's header (or the first event's, if the first response has events).
 */
export function effectiveStart(s: WatchSession): number | undefined {
  if (s.startRevision > 0) return s.startRevision;
  const first = s.responses[0];
  if (first === undefined) return undefined;
  const ev = first.events[0];
  return ev === undefined ? first.headerRevision + 1 : ev.modRevision;
}

interface Cursor {
  from: number;
  to: number;
}

function close(segments: Segment[], cur: Cursor | undefined): void {
  if (cur !== undefined && cur.to >= cur.from) segments.push({ from: cur.from, to: cur.to });
}

/** Flattens one watcher's log. */
export function watcherStream(log: WatcherLog): WatcherStream {
  const events: Delivered[] = [];
  const segments: Segment[] = [];
  const excused: Segment[] = [];
  const compactions: WatchCompaction[] = [];
  const skips: WatchViolation[] = [];
  let cur: Cursor | undefined;
  let last = 0;
  let compactedUpTo = 0;
  log.sessions.forEach((s, si) => {
    const start = effectiveStart(s);
    if (s.startRevision === 0 || cur === undefined) {
      // "From now" starts a new window: what happened while no session was open was never owed.
      close(segments, cur);
      cur = start === undefined ? undefined : { from: start, to: start - 1 };
    } else {
      const expected = cur.to + 1;
      if (s.startRevision > Math.max(expected, compactedUpTo)) {
        skips.push({
          watcher: log.watcher,
          revision: s.startRevision,
          message: `session ${si} resumed at revision ${s.startRevision}, but the watcher had delivered up to ${cur.to}: revisions ${expected}..${s.startRevision - 1} were never watched`,
        });
        close(segments, cur);
        cur = { from: s.startRevision, to: s.startRevision - 1 };
      }
    }
    s.responses.forEach((r, ri) => {
      if (r.compactRevision > 0) {
        const from = start ?? 0;
        compactions.push({
          watcher: log.watcher,
          session: si,
          startRevision: s.startRevision,
          compactRevision: r.compactRevision,
        });
        if (r.compactRevision > from) excused.push({ from, to: r.compactRevision - 1 });
        compactedUpTo = Math.max(compactedUpTo, r.compactRevision);
      }
      for (const ev of r.events) {
        assertEvent(ev, `watcher ${log.watcher} session ${si} response ${ri}`);
        events.push({ ev, session: si, response: ri, prevKvAsked: s.prevKv });
        last = Math.max(last, ev.modRevision);
        if (cur !== undefined) cur.to = Math.max(cur.to, ev.modRevision);
      }
    });
  });
  close(segments, cur);
  const source: Source = {
    name: log.watcher,
    kind: 'watcher',
    key: log.key,
    rangeEnd: log.rangeEnd,
    events,
    segments,
    excused,
    lastRevision: last,
  };
  return { source, compactions, skips };
}

export function replayName(r: ReplayLog): string {
  return `replay of ${r.watcher} from ${r.startRevision}`;
}

/** A replay as a source over its watcher's range; a compacted replay owes nothing. */
export function replaySource(r: ReplayLog, range: { key: string; rangeEnd: string }): Source {
  for (const ev of r.events) assertEvent(ev, replayName(r));
  const asked = r.prevKv ?? false;
  const events = r.events.map((ev): Delivered => ({ ev, session: -1, response: -1, prevKvAsked: asked }));
  let last = 0;
  for (const ev of r.events) last = Math.max(last, ev.modRevision);
  const compacted = (r.compactRevision ?? 0) > 0;
  const first = r.startRevision > 0 ? r.startRevision : (r.events[0]?.modRevision ?? 1);
  const segments = compacted || last < first ? [] : [{ from: first, to: last }];
  return {
    name: replayName(r),
    kind: 'replay',
    key: range.key,
    rangeEnd: range.rangeEnd,
    events,
    segments,
    excused: [],
    lastRevision: last,
  };
}

/** Whether revision `rev` lies in one of the segments. */
export function inSegments(segments: readonly Segment[], rev: number): boolean {
  return segments.some((s) => s.from <= rev && rev <= s.to);
}
