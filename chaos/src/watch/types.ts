// The recorded watch format (a contract with the watch workload in src/store) and the checker's result
// types. The recorded shapes mirror etcd's WatchResponse so that a recorder copies fields as they come.

/** A key-value as etcd's mvccpb.KeyValue carries it (prev_kv). */
export interface WatchKv {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface WatchEventRec {
  type: 'PUT' | 'DELETE';
  key: string;
  /** PUT: the value; DELETE: null. */
  value: string | null;
  /** As etcd sends them (DELETE: modRevision = the delete's revision, the others 0). */
  createRevision: number;
  modRevision: number;
  version: number;
  /** Only when the session asked for prev_kv. */
  prevKv: WatchKv | null;
}

export interface WatchResponseRec {
  /** Receive time, ns since the run started. */
  timeNs: number;
  headerRevision: number;
  events: WatchEventRec[];
  /** Non-zero when the server said the start revision was compacted. */
  compactRevision: number;
  canceled: boolean;
}

/** One watch stream, from create to its end. */
export interface WatchSession {
  /** Which member served it. */
  member: string;
  /** The create request's start_revision (0: from the revision after the created response's header). */
  startRevision: number;
  prevKv: boolean;
  responses: WatchResponseRec[];
  /** 'run over' | 'stream error: ...' | 'canceled' ... */
  endReason: string;
}

/**
 * A logical watcher on [key, rangeEnd) across reconnects: after a session ends, the next one starts at
 * the last event's modRevision + 1 (or the same startRevision if no event was seen). rangeEnd follows
 * etcd: '' watches the single key, '\0' every key from `key` on.
 */
export interface WatcherLog {
  watcher: string;
  key: string;
  rangeEnd: string;
  sessions: WatchSession[];
}

/** A re-watch done after the run, from `startRevision`, to compare with what the watcher saw (resumable). */
export interface ReplayLog {
  watcher: string;
  startRevision: number;
  events: WatchEventRec[];
  /** Optional: the replay asked for prev_kv, so its events' prevKv are claims the checker judges. */
  prevKv?: boolean;
  /** Optional: non-zero when the server answered the replay with "compacted" (it is then not compared). */
  compactRevision?: number;
}

/**
 * A write of the recorded history as the watch checker reads it: parseHistory's HistoryOp fits, and so
 * does an operation whose outcome is 'fail' (parseHistory drops those; pass them to have events for
 * failed writes reported as such rather than as events matching no write).
 */
export interface HistoryWrite {
  readonly f: string;
  readonly key: string | undefined;
  /** put: the value; txn: {expect, new}; delete: ignored. */
  readonly value: unknown;
  /** ok: put ignored; delete the deleted count (or null); txn {succeeded}. Undefined when unknown. */
  readonly result?: unknown;
  readonly outcome: 'ok' | 'info' | 'fail';
  /** ok only: the response header revision. */
  readonly revision?: number | undefined;
}

export const WATCH_PROPERTIES = [
  'ordered',
  'unique',
  'atomic',
  'reliable',
  'resumable',
  'prev-kv',
  'matches-history',
] as const;

export type WatchPropertyName = (typeof WATCH_PROPERTIES)[number];

export interface WatchViolation {
  watcher?: string;
  revision?: number;
  key?: string;
  message: string;
}

export interface WatchPropertyVerdict {
  name: WatchPropertyName;
  ok: boolean;
  /** The first `maxViolations` (default 50) violations found. */
  violations: WatchViolation[];
  /** Violations found beyond those kept. */
  omitted: number;
}

/** A session the server ended because its start revision was compacted: legitimate, not a gap. */
export interface WatchCompaction {
  watcher: string;
  /** Index of the session in the watcher's log. */
  session: number;
  startRevision: number;
  compactRevision: number;
}

export interface WatchCheckOptions {
  /** Violations kept per property (the rest are counted). Default 50. */
  maxViolations?: number;
  /**
   * The highest revision compacted during the run, if the workload or a nemesis compacted: a missing
   * prev_kv for an event at or below it is then allowed (etcd cannot read revision - 1).
   * Compactions the watchers were told about are taken into account anyway.
   */
  compactRevision?: number;
}

export interface WatchCheckResult {
  ok: boolean;
  properties: Record<WatchPropertyName, WatchPropertyVerdict>;
  compactions: WatchCompaction[];
  stats: {
    watchers: number;
    sessions: number;
    responses: number;
    events: number;
    replays: number;
    /** Distinct revisions known to have changed some key (from events and acknowledged writes). */
    revisionsKnown: number;
  };
}
