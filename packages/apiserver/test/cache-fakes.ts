// An in-memory ObjectStorage whose watch deliveries a test controls: events can be held back (a
// lagging cache), progress notifications sent on demand, and watches closed as compacted.
import type { KubeObject } from '@keelson/api';
import {
  CompactedError,
  KeyExistsError,
  type ListOptions,
  type ListResult,
  ModRevisionMismatchError,
  type ObjectStorage,
  type StorageWatch,
  type StorageWatchEvent,
  type StorageWatchSink,
  type Stored,
} from '@keelson/apiserver';

interface FakeWatch {
  prefix: string;
  sink: StorageWatchSink;
  delivered: number;
  cancelled: boolean;
}

export class FakeStorage implements ObjectStorage {
  revision = 1;
  readonly objects = new Map<string, Stored>();
  readonly history: StorageWatchEvent[] = [];
  readonly watches: FakeWatch[] = [];
  /** While true, events stay in history and reach watches only on flush(). */
  hold = false;
  listCalls = 0;

  async get(key: string): Promise<Stored | undefined> {
    return this.objects.get(key);
  }

  async list(prefix: string, opts: ListOptions): Promise<ListResult> {
    this.listCalls++;
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    let start = 0;
    if (opts.continueToken !== undefined) start = Number(opts.continueToken);
    const end = opts.limit === 0 ? keys.length : Math.min(keys.length, start + opts.limit);
    const items = keys.slice(start, end).map((k) => this.objects.get(k) as Stored);
    const result: ListResult = { items, revision: this.revision };
    if (end < keys.length) result.continueToken = String(end);
    return result;
  }

  async create(key: string, obj: KubeObject): Promise<Stored> {
    if (this.objects.has(key)) throw new KeyExistsError(key);
    return this.write('ADDED', key, obj);
  }

  async update(key: string, obj: KubeObject, expected: number): Promise<Stored> {
    const cur = this.objects.get(key);
    if (cur === undefined || cur.modRevision !== expected) throw new ModRevisionMismatchError(key, cur);
    return this.write('MODIFIED', key, obj, cur.obj);
  }

  async delete(key: string, expected: number): Promise<Stored> {
    const cur = this.objects.get(key);
    if (cur === undefined || cur.modRevision !== expected) throw new ModRevisionMismatchError(key, cur);
    return this.write('DELETED', key, cur.obj);
  }

  watch(prefix: string, fromRevision: number, sink: StorageWatchSink): StorageWatch {
    const w: FakeWatch = { prefix, sink, delivered: 0, cancelled: false };
    w.delivered = this.history.findIndex((e) => e.revision > fromRevision);
    if (w.delivered < 0) w.delivered = this.history.length;
    this.watches.push(w);
    queueMicrotask(() => this.deliver(w));
    return {
      cancel: () => {
        w.cancelled = true;
      },
    };
  }

  async currentRevision(): Promise<number> {
    return this.revision;
  }

  compactRevision(): number {
    return 0;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  close(): void {}

  /** Delivers every held event. */
  flush(): void {
    for (const w of this.watches) this.deliver(w);
  }

  /** A progress notification at the current revision to every open watch. */
  progress(): void {
    if (this.hold) return;
    this.flush();
    for (const w of this.watches) if (!w.cancelled) w.sink.progress(this.revision);
  }

  /** Ends every open watch as the store does after a compaction. */
  compactWatches(): void {
    for (const w of this.watches.splice(0)) {
      if (!w.cancelled) w.sink.closed(new CompactedError(0, this.revision));
    }
  }

  /** Ends every open watch with a transport error (the cache resumes). */
  breakWatches(): void {
    for (const w of this.watches.splice(0)) {
      if (!w.cancelled) w.sink.closed(new Error('store connection lost'));
    }
  }

  /** Bumps the store revision without touching the watched prefix (writes to another resource). */
  bumpRevision(): void {
    this.revision++;
  }

  private write(type: StorageWatchEvent['type'], key: string, obj: KubeObject, prev?: KubeObject): Stored {
    this.revision++;
    const rv = this.revision;
    const stored: Stored = {
      obj: { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } },
      modRevision: rv,
    };
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, stored);
    const event: StorageWatchEvent = { type, key, obj: stored.obj, revision: rv };
    if (prev !== undefined && type === 'MODIFIED') event.prevObj = prev;
    this.history.push(event);
    if (!this.hold) this.flush();
    return stored;
  }

  private deliver(w: FakeWatch): void {
    if (w.cancelled || this.hold) return;
    const events = this.history.slice(w.delivered).filter((e) => e.key.startsWith(w.prefix));
    w.delivered = this.history.length;
    if (events.length > 0) w.sink.events(events);
  }
}

export function pod(name: string, namespace = 'default', labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels }, spec: {} };
}

export const podKey = (name: string, namespace = 'default'): string => `/registry/pods/${namespace}/${name}`;
