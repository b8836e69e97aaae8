// ObjectStorage over any etcd v3 endpoint (Keelson's store or etcd 3.4), in the shapes kube-apiserver
// uses: every write is one txn guarded by a mod_revision compare whose failure branch reads the key, so
// a conflict answers with the current state in the same round trip. Objects are stored as JSON without
// metadata.resourceVersion; reads fill it in from the key's mod_revision.
import type { KubeObject } from '@keelson/api';
import { cmp, type EtcdClient, EtcdClientError, type KeyValue, op, type WatchResult } from '@keelson/store';
import type { Logger } from 'pino';
import {
  CompactedError,
  ExtrasConflictError,
  KeyExistsError,
  type ListOptions,
  type ListResult,
  ModRevisionMismatchError,
  type ObjectStorage,
  type StorageWatch,
  type StorageWatchEvent,
  type StorageWatchSink,
  type Stored,
  type TxnExtras,
} from '../types.js';
import { decodeContinue, encodeContinue } from './continue.js';

export interface EtcdObjectStorageOptions {
  client: EtcdClient;
  logger?: Logger;
  /** How often an open watch asks the store for a progress notification (bookmarks ride on it). */
  progressIntervalMs?: number;
  /** How long ping() waits for the store. */
  pingTimeoutMs?: number;
}

/** etcd caps a txn at 128 operations; an object write plus its extras must fit. */
const txnOpsMax = 128;
/** A list page is bounded even when the client asks for everything, so one list cannot exhaust memory. */
const pageItemsMax = 10_000;
const progressIntervalMsDefault = 5_000;
const pingTimeoutMsDefault = 2_000;
const grpcOutOfRange = 11;

export class EtcdObjectStorage implements ObjectStorage {
  private readonly client: EtcdClient;
  private readonly logger: Logger | undefined;
  private readonly progressIntervalMs: number;
  private readonly pingTimeoutMs: number;
  /** The highest compact revision the store has told us about (0: none seen). */
  private compactedRevision = 0;
  /** Open watches, cancelled on close so that no stream outlives the storage. */
  private readonly watches = new Set<StorageWatch>();

  constructor(opts: EtcdObjectStorageOptions) {
    this.client = opts.client;
    this.logger = opts.logger;
    this.progressIntervalMs = opts.progressIntervalMs ?? progressIntervalMsDefault;
    this.pingTimeoutMs = opts.pingTimeoutMs ?? pingTimeoutMsDefault;
  }

  async get(key: string): Promise<Stored | undefined> {
    const res = await this.client.get(key);
    const kv = res.kvs[0];
    return kv === undefined ? undefined : decodeStored(kv);
  }

  async list(prefix: string, opts: ListOptions): Promise<ListResult> {
    assert(prefix.endsWith('/'), `list prefix must end with "/": ${prefix}`);
    assert(opts.limit >= 0, 'list limit must not be negative');
    let start = prefix;
    let revision = opts.revision ?? 0;
    if (opts.continueToken !== undefined) {
      const token = decodeContinue(opts.continueToken);
      start = prefix + token.start;
      revision = token.rv;
    }
    const limit = opts.limit === 0 ? pageItemsMax : Math.min(opts.limit, pageItemsMax);
    const res = await this.readRange(start, prefixEnd(prefix), revision, limit);
    const items = res.kvs.map(decodeStored);
    const readAt = revision === 0 ? res.header.revision : revision;
    const result: ListResult = { items, revision: readAt };
    const last = res.kvs[res.kvs.length - 1];
    if (res.more && last !== undefined) {
      // The next page starts just after the last key returned ("\0" is the smallest suffix).
      const next = `${last.key.toString('utf8').slice(prefix.length)}\u0000`;
      result.continueToken = encodeContinue({ rv: readAt, start: next });
      result.remainingItemCount = Math.max(0, res.count - res.kvs.length);
    }
    return result;
  }

  async create(key: string, obj: KubeObject, extras?: TxnExtras): Promise<Stored> {
    const res = await this.client.txn({
      compare: [cmp.modRevision(key, '=', 0), ...extraCompares(extras)],
      success: [op.put(key, encode(obj)), ...extraPuts(extras)],
      failure: [op.get(key)],
    });
    if (!res.succeeded) {
      if (currentOf(res.responses[0]) !== undefined) throw new KeyExistsError(key);
      throw new ExtrasConflictError();
    }
    return { obj: withResourceVersion(obj, res.header.revision), modRevision: res.header.revision };
  }

  async update(
    key: string,
    obj: KubeObject,
    expectedModRevision: number,
    extras?: TxnExtras,
  ): Promise<Stored> {
    assert(expectedModRevision > 0, 'an update needs the mod revision it expects');
    const res = await this.client.txn({
      compare: [cmp.modRevision(key, '=', expectedModRevision), ...extraCompares(extras)],
      success: [op.put(key, encode(obj)), ...extraPuts(extras)],
      failure: [op.get(key)],
    });
    if (!res.succeeded) this.throwWriteFailure(key, expectedModRevision, res.responses[0]);
    return { obj: withResourceVersion(obj, res.header.revision), modRevision: res.header.revision };
  }

  async delete(key: string, expectedModRevision: number, extras?: TxnExtras): Promise<Stored> {
    assert(expectedModRevision > 0, 'a delete needs the mod revision it expects');
    const res = await this.client.txn({
      compare: [cmp.modRevision(key, '=', expectedModRevision), ...extraCompares(extras)],
      success: [op.delete(key, { prevKv: true }), ...extraPuts(extras)],
      failure: [op.get(key)],
    });
    if (!res.succeeded) this.throwWriteFailure(key, expectedModRevision, res.responses[0]);
    const prev = res.responses[0]?.response_delete_range?.prev_kvs[0];
    assert(prev !== undefined, `a successful guarded delete of ${key} returned no previous value`);
    const obj = decodeObject(prev.value);
    return { obj: withResourceVersion(obj, res.header.revision), modRevision: res.header.revision };
  }

  watch(prefix: string, fromRevision: number, sink: StorageWatchSink): StorageWatch {
    assert(fromRevision >= 0, 'watch revision must not be negative');
    const watches = this.watches;
    const tracked: StorageWatchSink = {
      events: (e) => sink.events(e),
      progress: (r) => sink.progress(r),
      closed: (err) => {
        watches.delete(watch);
        sink.closed(err);
      },
    };
    const watch = new EtcdPrefixWatch(
      this,
      this.client,
      prefix,
      fromRevision,
      tracked,
      this.progressIntervalMs,
    );
    watches.add(watch);
    return watch;
  }

  async currentRevision(): Promise<number> {
    // A linearizable read of one key returns the store's current revision in its header.
    const res = await this.client.get('/', { countOnly: true });
    return res.header.revision;
  }

  compactRevision(): number {
    return this.compactedRevision;
  }

  /** Remembers a compact revision the store reported (watches and reads tell us). */
  noteCompacted(revision: number): void {
    if (revision > this.compactedRevision) this.compactedRevision = revision;
  }

  /** For watches that must report something odd the store did. */
  logWarning(message: string): void {
    this.logger?.warn(message);
  }

  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.pingTimeoutMs);
    });
    try {
      return await Promise.race([this.currentRevision().then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    for (const w of [...this.watches]) w.cancel();
    this.client.close();
  }

  private async readRange(start: string, end: Buffer, revision: number, limit: number) {
    try {
      return await this.client.get(start, { rangeEnd: end, revision, limit });
    } catch (err) {
      if (err instanceof EtcdClientError && err.code === grpcOutOfRange && /compacted/.test(err.details)) {
        throw new CompactedError(revision, Math.max(this.compactedRevision, revision + 1));
      }
      throw err;
    }
  }

  private throwWriteFailure(key: string, expected: number, failure: unknown): never {
    const current = currentOf(failure as { response_range?: { kvs: KeyValue[] } } | undefined);
    if (current?.modRevision === expected) throw new ExtrasConflictError();
    throw new ModRevisionMismatchError(key, current);
  }
}

/** One storage watch: an etcd watch on the prefix with prev_kv, plus periodic progress requests. */
class EtcdPrefixWatch implements StorageWatch {
  private handle: { cancel(): void; requestProgress(): void } | undefined;
  private cancelled = false;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly storage: EtcdObjectStorage,
    client: EtcdClient,
    private readonly prefix: string,
    private readonly fromRevision: number,
    private readonly sink: StorageWatchSink,
    progressIntervalMs: number,
  ) {
    client
      .watch(
        prefix,
        {
          prefix: true,
          startRevision: fromRevision + 1,
          prevKv: true,
          progressNotify: true,
          onError: (err) => this.end(err),
        },
        (r) => this.onResponse(r),
      )
      .then(
        (handle) => {
          this.handle = handle;
          if (this.cancelled) handle.cancel();
          else this.timer = setInterval(() => handle.requestProgress(), progressIntervalMs);
        },
        (err: unknown) => this.end(this.toWatchError(err)),
      );
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.handle?.cancel();
    this.end(undefined);
  }

  /** Asks the store for a progress notification now (the watch cache's linearizable reads wait on one). */
  requestProgress(): void {
    if (!this.cancelled && !this.ended) this.handle?.requestProgress();
  }

  private onResponse(r: WatchResult): void {
    if (this.ended) return;
    if (r.canceled) {
      if (r.compact_revision > 0) {
        this.storage.noteCompacted(r.compact_revision);
        this.end(new CompactedError(this.fromRevision, r.compact_revision));
      } else this.end(new Error(`the store cancelled the watch: ${r.cancel_reason || 'no reason given'}`));
      return;
    }
    if (r.created) return;
    if (r.events.length === 0) {
      this.sink.progress(r.header.revision);
      return;
    }
    const events: StorageWatchEvent[] = [];
    for (const e of r.events) {
      const event = toStorageEvent(e);
      if (event !== undefined) events.push(event);
      else this.logWarn(e.kv.key.toString('utf8'));
    }
    this.sink.events(events);
  }

  private toWatchError(err: unknown): Error {
    const message = err instanceof Error ? err.message : String(err);
    if (/compacted/.test(message)) {
      return new CompactedError(
        this.fromRevision,
        Math.max(this.storage.compactRevision(), this.fromRevision + 1),
      );
    }
    return err instanceof Error ? err : new Error(message);
  }

  private end(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    if (err !== undefined) this.handle?.cancel();
    this.sink.closed(err);
  }

  private logWarn(key: string): void {
    this.storage.logWarning(`watch on ${this.prefix}: DELETE of ${key} came without its previous value`);
  }
}

function toStorageEvent(e: WatchResult['events'][number]): StorageWatchEvent | undefined {
  const key = e.kv.key.toString('utf8');
  const revision = e.kv.mod_revision;
  if (e.type === 'DELETE') {
    if (e.prev_kv === null) return undefined;
    return {
      type: 'DELETED',
      key,
      obj: withResourceVersion(decodeObject(e.prev_kv.value), revision),
      revision,
    };
  }
  const obj = withResourceVersion(decodeObject(e.kv.value), revision);
  if (e.kv.create_revision === e.kv.mod_revision) return { type: 'ADDED', key, obj, revision };
  const event: StorageWatchEvent = { type: 'MODIFIED', key, obj, revision };
  if (e.prev_kv !== null)
    event.prevObj = withResourceVersion(decodeObject(e.prev_kv.value), e.prev_kv.mod_revision);
  return event;
}

function extraCompares(extras: TxnExtras | undefined) {
  if (extras === undefined) return [];
  assert(extras.compares.length + extras.puts.length < txnOpsMax, 'txn extras exceed etcd’s 128 operations');
  return extras.compares.map((c) => cmp.modRevision(c.key, '=', c.modRevision));
}

function extraPuts(extras: TxnExtras | undefined) {
  return extras === undefined ? [] : extras.puts.map((p) => op.put(p.key, p.value));
}

function currentOf(response: { response_range?: { kvs: KeyValue[] } } | undefined): Stored | undefined {
  const kv = response?.response_range?.kvs[0];
  return kv === undefined ? undefined : decodeStored(kv);
}

function decodeStored(kv: KeyValue): Stored {
  return { obj: withResourceVersion(decodeObject(kv.value), kv.mod_revision), modRevision: kv.mod_revision };
}

function decodeObject(value: Buffer): KubeObject {
  const parsed: unknown = JSON.parse(value.toString('utf8'));
  assert(
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed),
    'stored value is no object',
  );
  return parsed as KubeObject;
}

/** Objects are stored without a resourceVersion: the key's mod_revision is the truth. */
function encode(obj: KubeObject): string {
  const metadata = { ...(obj.metadata ?? {}) };
  delete metadata.resourceVersion;
  return JSON.stringify({ ...obj, metadata });
}

function withResourceVersion(obj: KubeObject, revision: number): KubeObject {
  return { ...obj, metadata: { ...(obj.metadata ?? {}), resourceVersion: String(revision) } };
}

function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  assert(end.length > 0, 'empty prefix');
  // Prefixes end with "/" (0x2f), so incrementing the last byte never carries.
  end[end.length - 1] = (end[end.length - 1] as number) + 1;
  return end;
}

function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
