// The watch workload: a few watchers on the kv key range, each starting on a different member and
// moving to the next one when its stream fails, recorded in the shapes of src/watch/types.ts. After a
// session ends, the next starts at the last event's mod revision + 1. After the run, a replay per
// watcher (a fresh watch from the revision its first session started at) for the resumable check.
import { type EtcdClient, rangeEndOf, type WatchHandle, type WatchResult } from '@keelson/store';
import type { ReplayLog, WatchEventRec, WatcherLog, WatchResponseRec, WatchSession } from '../watch/types.js';
import { sleep } from './cluster.js';
import { rotatingClient } from './workload.js';

/** Responses kept per session and events per replay: a bound, far above what a run produces. */
const RESPONSES_PER_SESSION_MAX = 200_000;
const REPLAY_EVENTS_MAX = 1_000_000;

export function toEventRec(e: WatchResult['events'][number]): WatchEventRec {
  const isPut = e.type === 'PUT';
  return {
    type: e.type,
    key: e.kv.key.toString('utf8'),
    value: isPut ? e.kv.value.toString('utf8') : null,
    createRevision: e.kv.create_revision,
    modRevision: e.kv.mod_revision,
    version: e.kv.version,
    prevKv:
      e.prev_kv === null
        ? null
        : {
            value: e.prev_kv.value.toString('utf8'),
            createRevision: e.prev_kv.create_revision,
            modRevision: e.prev_kv.mod_revision,
            version: e.prev_kv.version,
          },
  };
}

export interface WatcherOptions {
  readonly name: string;
  readonly endpoints: readonly string[];
  readonly start: number;
  readonly prefix: string;
  /** The first session's start revision (the revision the run's writes start after, + 1). */
  readonly startRevision: number;
  readonly nowNs: () => number;
  readonly onError?: (text: string) => void;
}

/** One logical watcher across reconnects. */
export class Watcher {
  readonly log: WatcherLog;
  private nextRevision: number;
  private handle: WatchHandle | null = null;
  private session: WatchSession | null = null;
  private stopped = false;
  private attempt = 0;
  private readonly clients: EtcdClient[];
  private sessionEnded: (() => void) | null = null;
  /** The highest event revision seen on a key, for waiting on a sentinel. */
  private readonly seenKeys = new Set<string>();

  constructor(private readonly o: WatcherOptions) {
    const end = rangeEndOf(Buffer.from(o.prefix), { prefix: true }).toString('utf8');
    this.log = { watcher: o.name, key: o.prefix, rangeEnd: end, sessions: [] };
    this.nextRevision = o.startRevision;
    // One single-endpoint client per member, so the session records which member served it.
    this.clients = o.endpoints.map((ep) => rotatingClient([ep], 0));
  }

  /** Runs sessions until stop(); reconnects on failure with a short pause. */
  async run(): Promise<void> {
    for (let n = 0; !this.stopped && n < 100_000; n++) {
      const idx = (this.o.start + this.attempt) % this.o.endpoints.length;
      const ended = new Promise<void>((r) => {
        this.sessionEnded = r;
      });
      const ok = await this.open(idx);
      if (ok) await ended;
      this.sessionEnded = null;
      if (this.stopped) break;
      this.attempt++;
      await sleep(ok ? 100 : 300);
    }
  }

  private async open(idx: number): Promise<boolean> {
    const member = this.o.endpoints[idx] as string;
    const session: WatchSession = {
      member,
      startRevision: this.nextRevision,
      prevKv: true,
      responses: [],
      endReason: '',
    };
    try {
      const client = this.clients[idx] as EtcdClient;
      this.session = session;
      this.handle = await client.watch(
        this.o.prefix,
        {
          prefix: true,
          prevKv: true,
          startRevision: this.nextRevision,
          onError: (e) => this.end(session, `stream error: ${e.details}`),
        },
        (r) => this.onResponse(session, r),
      );
      this.log.sessions.push(session);
      return true;
    } catch (e) {
      this.session = null;
      this.o.onError?.(`watch ${this.o.name}: ${(e as Error).message}`);
      return false;
    }
  }

  private onResponse(s: WatchSession, r: WatchResult): void {
    if (s.responses.length >= RESPONSES_PER_SESSION_MAX) return;
    const rec: WatchResponseRec = {
      timeNs: this.o.nowNs(),
      headerRevision: r.header.revision,
      events: r.events.map(toEventRec),
      compactRevision: r.compact_revision,
      canceled: r.canceled,
    };
    s.responses.push(rec);
    for (const e of rec.events) {
      this.nextRevision = Math.max(this.nextRevision, e.modRevision + 1);
      this.seenKeys.add(e.key);
    }
    if (r.canceled) this.end(s, `canceled: ${r.cancel_reason || 'by the server'}`);
  }

  private end(s: WatchSession, reason: string): void {
    if (s.endReason !== '') return;
    s.endReason = reason;
    if (this.session === s) {
      this.handle = null;
      this.session = null;
    }
    this.sessionEnded?.();
  }

  /** Whether an event on `key` has been seen (the end-of-run sentinel). */
  saw(key: string): boolean {
    return this.seenKeys.has(key);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const s = this.session;
    this.handle?.cancel();
    if (s !== null) this.end(s, 'run over');
    this.sessionEnded?.();
    for (const c of this.clients) c.close();
  }
}

/** A fresh watch from `startRevision` on some member, collected until an event on `untilKey`; bounded. */
export async function replayWatch(
  watcher: string,
  endpoints: readonly string[],
  start: number,
  prefix: string,
  startRevision: number,
  untilKey: string,
  timeoutMs: number,
): Promise<ReplayLog> {
  const log: ReplayLog = { watcher, startRevision, events: [], prevKv: true, compactRevision: 0 };
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    log.events = [];
    const client = rotatingClient([endpoints[(start + attempt) % endpoints.length] as string], 0);
    let done = false;
    let failed = false;
    try {
      const h = await client.watch(
        prefix,
        { prefix: true, prevKv: true, startRevision, onError: () => (failed = true) },
        (r) => {
          if (r.compact_revision > 0) log.compactRevision = r.compact_revision;
          for (const e of r.events) {
            if (log.events.length < REPLAY_EVENTS_MAX) log.events.push(toEventRec(e));
            if (e.kv.key.toString('utf8') === untilKey) done = true;
          }
        },
      );
      while (!done && !failed && Date.now() < deadline) await sleep(50);
      h.cancel();
      if (done) return log;
    } catch {
      await sleep(300);
    } finally {
      client.close();
    }
  }
  throw new Error(`replay of ${watcher} from revision ${startRevision} did not reach ${untilKey} in time`);
}
