// An in-memory ObjectStorage for the auth tests: a revision counter, a map of keys, and watches that
// deliver events asynchronously (as a real store does). Only what the auth modules use is faithful.
import type { KubeObject } from '@keelson/api';
import {
  KeyExistsError,
  KeyNotFoundError,
  type ListOptions,
  type ListResult,
  ModRevisionMismatchError,
  type ObjectStorage,
  type StorageWatch,
  type StorageWatchEvent,
  type StorageWatchSink,
  type Stored,
} from '@keelson/apiserver';

interface Watcher {
  prefix: string;
  sink: StorageWatchSink;
  live: boolean;
}

export class MemoryStorage implements ObjectStorage {
  revision = 1;
  readonly data = new Map<string, Stored>();
  private readonly watchers = new Set<Watcher>();
  gets = 0;

  async get(key: string): Promise<Stored | undefined> {
    this.gets++;
    const s = this.data.get(key);
    return s === undefined ? undefined : structuredClone(s);
  }

  async list(prefix: string, _opts: ListOptions): Promise<ListResult> {
    const items = [...this.data.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, s]) => structuredClone(s));
    return { items, revision: this.revision };
  }

  async create(key: string, obj: KubeObject): Promise<Stored> {
    if (this.data.has(key)) throw new KeyExistsError(key);
    return this.write('ADDED', key, obj);
  }

  async update(key: string, obj: KubeObject, expectedModRevision: number): Promise<Stored> {
    const cur = this.data.get(key);
    if (cur === undefined) throw new KeyNotFoundError(key);
    if (cur.modRevision !== expectedModRevision) throw new ModRevisionMismatchError(key, cur);
    return this.write('MODIFIED', key, obj);
  }

  async delete(key: string, expectedModRevision: number): Promise<Stored> {
    const cur = this.data.get(key);
    if (cur === undefined) throw new KeyNotFoundError(key);
    if (expectedModRevision !== 0 && cur.modRevision !== expectedModRevision) {
      throw new ModRevisionMismatchError(key, cur);
    }
    this.revision++;
    this.data.delete(key);
    this.emit({ type: 'DELETED', key, obj: cur.obj, revision: this.revision });
    return { obj: cur.obj, modRevision: this.revision };
  }

  /** Unconditional put, for test setup. */
  async put(key: string, obj: KubeObject): Promise<Stored> {
    return this.write(this.data.has(key) ? 'MODIFIED' : 'ADDED', key, obj);
  }

  /** Several puts in one revision, delivered as one batch of events (an etcd txn). */
  async putTxn(entries: [string, KubeObject][]): Promise<void> {
    this.revision++;
    const events: StorageWatchEvent[] = [];
    for (const [key, obj] of entries) {
      const type = this.data.has(key) ? 'MODIFIED' : 'ADDED';
      this.data.set(key, { obj: structuredClone(obj), modRevision: this.revision });
      events.push({ type, key, obj: structuredClone(obj), revision: this.revision });
    }
    for (const w of this.watchers) {
      const mine = events.filter((e) => e.key.startsWith(w.prefix));
      if (mine.length > 0) queueMicrotask(() => w.live && w.sink.events(mine));
    }
  }

  async remove(key: string): Promise<void> {
    const cur = this.data.get(key);
    if (cur !== undefined) await this.delete(key, cur.modRevision);
  }

  watch(prefix: string, _fromRevision: number, sink: StorageWatchSink): StorageWatch {
    const w: Watcher = { prefix, sink, live: true };
    this.watchers.add(w);
    return {
      cancel: () => {
        if (!w.live) return;
        w.live = false;
        this.watchers.delete(w);
        sink.closed(undefined);
      },
    };
  }

  /** Ends every watch as a store going away would. */
  closeWatches(err: Error): void {
    for (const w of [...this.watchers]) {
      w.live = false;
      this.watchers.delete(w);
      w.sink.closed(err);
    }
  }

  watchCount(): number {
    return this.watchers.size;
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

  private write(type: 'ADDED' | 'MODIFIED', key: string, obj: KubeObject): Stored {
    this.revision++;
    const stored = { obj: structuredClone(obj), modRevision: this.revision };
    this.data.set(key, stored);
    this.emit({ type, key, obj: structuredClone(obj), revision: this.revision });
    return structuredClone(stored);
  }

  private emit(ev: StorageWatchEvent): void {
    for (const w of this.watchers) {
      if (!ev.key.startsWith(w.prefix)) continue;
      queueMicrotask(() => {
        if (w.live) w.sink.events([ev]);
      });
    }
  }
}
