// The watch caches of one apiserver, one per resource storage prefix, created lazily on first use, with
// kube-apiserver's sizing flags: --watch-cache, --default-watch-cache-size, --watch-cache-sizes.
import type { ResourceInfo } from '@keelson/api';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ObjectStorage } from '../types.js';
import { Cacher, type CacherMetrics } from './cacher.js';
import { assert } from './errors.js';

export interface WatchCacheOptions {
  storage: ObjectStorage;
  etcdPrefix: string;
  /** Events kept per resource for watches to resume from (--default-watch-cache-size). */
  defaultWindowEvents: number;
  /** Per-resource window sizes ("pods" or "deployments.apps" → events); 0 disables that resource's cache. */
  windowEventsByResource?: Map<string, number>;
  /** Events one watcher may fall behind before it is closed. */
  watcherBufferEventsMax?: number;
  /** How long a read waits for the cache to start or catch up before it goes to the store. */
  waitMs?: number;
  logger?: Logger;
  metrics?: CacherMetrics;
}

export const defaultWatchCacheSize = 1_000;
const watcherBufferEventsMaxDefault = 1_000;
const waitMsDefault = 1_000;

export class WatchCache {
  private readonly cachers = new Map<string, Cacher>();
  private stopped = false;
  readonly waitMs: number;

  constructor(private readonly opts: WatchCacheOptions) {
    assert(opts.defaultWindowEvents >= 0, 'the default watch cache size must not be negative');
    this.waitMs = opts.waitMs ?? waitMsDefault;
  }

  /** The cache of a resource, started on first use; undefined when its size is 0 or caches are stopped. */
  cacherFor(info: ResourceInfo): Cacher | undefined {
    if (this.stopped) return undefined;
    const prefix = `${this.opts.etcdPrefix}/${info.storageResource}/`;
    const existing = this.cachers.get(prefix);
    if (existing !== undefined) return existing;
    const resource = info.group === '' ? info.plural : `${info.plural}.${info.group}`;
    const windowEvents = this.opts.windowEventsByResource?.get(resource) ?? this.opts.defaultWindowEvents;
    if (windowEvents === 0) return undefined;
    const cacher = new Cacher({
      storage: this.opts.storage,
      prefix,
      resource,
      windowEventsMax: windowEvents,
      watcherBufferEventsMax: this.opts.watcherBufferEventsMax ?? watcherBufferEventsMaxDefault,
      logger: this.opts.logger,
      metrics: this.opts.metrics,
    });
    this.cachers.set(prefix, cacher);
    cacher.start();
    return cacher;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.cachers.values()) c.stop();
    this.cachers.clear();
  }
}

/**
 * --watch-cache-sizes as kube-apiserver reads it: "resource[.group]#size" entries, comma-separated
 * (repeatable flags are joined by the caller).
 */
export function parseWatchCacheSizes(entries: string[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const entry of entries.flatMap((e) => e.split(',')).map((e) => e.trim())) {
    if (entry === '') continue;
    const [resource, size, ...rest] = entry.split('#');
    const n = Number(size);
    if (
      resource === undefined ||
      resource === '' ||
      rest.length > 0 ||
      !/^\d+$/.test(size ?? '') ||
      !Number.isSafeInteger(n)
    )
      throw new Error(`invalid value of watch cache size: ${entry} (want resource[.group]#size)`);
    sizes.set(resource.toLowerCase(), n);
  }
  return sizes;
}

/** kube-apiserver's watch cache metrics, in the apiserver's registry. */
export function watchCacheMetrics(registry: Registry): CacherMetrics {
  const dispatched = new Counter({
    name: 'apiserver_watch_cache_events_dispatched_total',
    help: 'Counter of events dispatched in watch cache broken by resource type.',
    labelNames: ['resource'],
    registers: [registry],
  });
  const received = new Counter({
    name: 'apiserver_watch_cache_events_received_total',
    help: 'Counter of events received in watch cache broken by resource type.',
    labelNames: ['resource'],
    registers: [registry],
  });
  const initializations = new Counter({
    name: 'apiserver_watch_cache_initializations_total',
    help: 'Counter of watch cache initializations broken by resource type.',
    labelNames: ['resource'],
    registers: [registry],
  });
  const objects = new Gauge({
    name: 'apiserver_watch_cache_objects',
    help: 'Number of objects held in the watch cache broken by resource type.',
    labelNames: ['resource'],
    registers: [registry],
  });
  const windowEvents = new Gauge({
    name: 'apiserver_watch_cache_window_events',
    help: 'Number of recent events held in the watch cache window broken by resource type.',
    labelNames: ['resource'],
    registers: [registry],
  });
  const lists = new Counter({
    name: 'apiserver_cache_list_total',
    help: 'Number of LIST requests served from watch cache',
    labelNames: ['resource_prefix'],
    registers: [registry],
  });
  return {
    listServed: (resource) => lists.labels(`/${resource}`).inc(),
    dispatched: (resource, n) => dispatched.labels(resource).inc(n),
    received: (resource, n) => received.labels(resource).inc(n),
    initialized: (resource) => initializations.labels(resource).inc(),
    size: (resource, n, w) => {
      objects.labels(resource).set(n);
      windowEvents.labels(resource).set(w);
    },
  };
}
