// The apiserver suite's watchers: list, then watch from the list's resourceVersion; when a stream
// ends or errors, watch again from the last resourceVersion seen; on 410 Gone, list again and watch
// from the new list. Each watcher's streams are recorded in the watch checker's shape (a WatcherLog:
// one session per stream, one response per event, keys = ConfigMap names, revisions =
// resourceVersions), so the store suite's watch checker judges them; its lists are recorded beside it
// (ListRec), for the relist checker. A 410 ends its session with a response whose compactRevision is
// the relist's resourceVersion + 1: the revisions up to the relist are then owed by the list, not the
// stream.
import type { WatchEventRec, WatcherLog, WatchSession } from '../watch/types.js';
import { KubeClient, type KubeTls, streamLines } from './client.js';
import { configMapPath, failedStatus } from './workload.js';

/** One object as a list returned it. */
export interface ListedObject {
  readonly name: string;
  readonly value: string;
  readonly rv: number;
}

export interface ListRec {
  readonly watcher: string;
  readonly timeNs: number;
  readonly rv: number;
  readonly reason: 'initial' | 'gone';
  readonly items: ListedObject[];
}

export interface WatcherOptions {
  readonly name: string;
  readonly port: number;
  readonly tls: KubeTls;
  readonly namespace: string;
  /** Names the watcher records; other objects of the namespace are ignored. */
  readonly keys: ReadonlySet<string>;
  readonly seed: number;
  readonly nowNs: () => number;
  readonly onError: (text: string) => void;
}

/** Sessions kept per watcher; a run of hours with a watch ending every few seconds stays below. */
const SESSIONS_MAX = 100_000;
const LIST_TIMEOUT_MS = 5000;
const HEADERS_TIMEOUT_MS = 5000;

type WatchLine = {
  type?: string;
  object?: { metadata?: { name?: string; resourceVersion?: string }; data?: { v?: unknown }; code?: number };
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class KubeWatcher {
  readonly log: WatcherLog;
  readonly lists: ListRec[] = [];
  /** Names whose events this watcher has seen (the run waits for the sentinel's). */
  private readonly seen = new Set<string>();
  private readonly stop = new AbortController();
  private n = 0;

  constructor(private readonly o: WatcherOptions) {
    this.log = { watcher: o.name, key: '', rangeEnd: '\0', sessions: [] };
  }

  saw(name: string): boolean {
    return this.seen.has(name);
  }

  halt(): void {
    this.stop.abort();
  }

  /** Lists until it works (or the watcher stops); returns the list's resourceVersion. */
  private async list(reason: ListRec['reason']): Promise<number | undefined> {
    for (let attempt = 0; !this.stop.signal.aborted; attempt++) {
      const c = new KubeClient(this.o.port, this.o.tls, LIST_TIMEOUT_MS);
      try {
        const r = await c.send('GET', configMapPath(this.o.namespace));
        if (failedStatus(r.status) || r.status !== 200) throw new Error(`list: HTTP ${r.status}`);
        const body = r.body as { metadata?: { resourceVersion?: string }; items?: WatchLine['object'][] };
        const rv = Number(body.metadata?.resourceVersion);
        if (!Number.isSafeInteger(rv) || rv <= 0)
          throw new Error(`list: bad resourceVersion ${body.metadata?.resourceVersion}`);
        const items: ListedObject[] = [];
        for (const it of body.items ?? []) {
          const name = it?.metadata?.name ?? '';
          if (!this.o.keys.has(name)) continue;
          items.push({ name, value: String(it?.data?.v ?? ''), rv: Number(it?.metadata?.resourceVersion) });
        }
        this.lists.push({ watcher: this.o.name, timeNs: this.o.nowNs(), rv, reason, items });
        return rv;
      } catch (e) {
        this.o.onError(`${this.o.name}: ${(e as Error).message}`);
        await sleep(Math.min(2000, 200 * (attempt + 1)));
      } finally {
        c.close();
      }
    }
    return undefined;
  }

  /** One watch stream from `from`; returns the last resourceVersion seen and whether it ended in 410. */
  private async watch(from: number): Promise<{ last: number; gone: boolean }> {
    // Streams end by themselves after 5–20 s, so that reconnects happen without a nemesis too.
    const timeoutS = 5 + ((this.o.seed + this.n++ * 7) % 16);
    const session: WatchSession = {
      member: 'lb',
      startRevision: from + 1,
      prevKv: false,
      responses: [],
      endReason: '',
    };
    if (this.log.sessions.length >= SESSIONS_MAX) throw new Error(`${this.o.name}: too many sessions`);
    this.log.sessions.push(session);
    let last = from;
    let gone = false;
    const onLine = (line: string): void => {
      let parsed: WatchLine;
      try {
        parsed = JSON.parse(line) as WatchLine;
      } catch {
        session.endReason = `unparsable line: ${line.slice(0, 100)}`;
        return;
      }
      if (parsed.type === 'ERROR') {
        if (parsed.object?.code === 410) gone = true;
        session.endReason = `ERROR ${parsed.object?.code ?? '?'}`;
        return;
      }
      const meta = parsed.object?.metadata;
      const rv = Number(meta?.resourceVersion);
      if (parsed.type === 'BOOKMARK' || !Number.isSafeInteger(rv)) return;
      const name = meta?.name ?? '';
      // Only recorded events move the resume point: the checker expects a resume at the last one + 1.
      if (!this.o.keys.has(name)) return;
      last = Math.max(last, rv);
      this.seen.add(name);
      const ev: WatchEventRec =
        parsed.type === 'DELETED'
          ? {
              type: 'DELETE',
              key: name,
              value: null,
              createRevision: 0,
              modRevision: rv,
              version: 0,
              prevKv: null,
            }
          : {
              type: 'PUT',
              key: name,
              value: String(parsed.object?.data?.v ?? ''),
              createRevision: 0,
              modRevision: rv,
              version: 0,
              prevKv: null,
            };
      session.responses.push({
        timeNs: this.o.nowNs(),
        headerRevision: 0,
        events: [ev],
        compactRevision: 0,
        canceled: false,
      });
    };
    const path = `${configMapPath(this.o.namespace)}?watch=1&resourceVersion=${from}&timeoutSeconds=${timeoutS}`;
    const end = await streamLines({
      port: this.o.port,
      tls: this.o.tls,
      path,
      onLine,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      signal: this.stop.signal,
    });
    if (end.status === 410) gone = true;
    if (session.endReason === '')
      session.endReason = end.status === 200 ? end.endReason : `HTTP ${end.status}: ${end.endReason}`;
    if (end.status !== 200 && end.status !== 410 && !this.stop.signal.aborted)
      this.o.onError(`${this.o.name}: watch ${session.endReason}`);
    return { last, gone };
  }

  async run(): Promise<void> {
    let from = await this.list('initial');
    // Bounded by the stop signal; the cap guards against a server that ends every stream at once.
    for (let i = 0; i < SESSIONS_MAX && from !== undefined && !this.stop.signal.aborted; i++) {
      const { last, gone } = await this.watch(from);
      if (this.stop.signal.aborted) break;
      if (!gone) {
        const progressed = last > from;
        from = last;
        // A stream that ended without an event (a dead apiserver, a refused connection) backs off.
        if (!progressed) await sleep(100 + ((this.o.seed + i) % 200));
        continue;
      }
      const session = this.log.sessions[this.log.sessions.length - 1] as WatchSession;
      const relisted = await this.list('gone');
      if (relisted === undefined) break;
      // The 410 is recorded as a compaction up to the relist: those revisions are the list's to show.
      session.responses.push({
        timeNs: this.o.nowNs(),
        headerRevision: 0,
        events: [],
        compactRevision: relisted + 1,
        canceled: true,
      });
      from = relisted;
    }
  }
}
