// The apiserver's watch cache: per-resource caches fed by one store watch each.
export { Cacher, type CacherMetrics, type CacherOptions, type CacheSnapshot } from './cacher.js';
export { CacheResetError, TooOldResourceVersionError, WatcherTooSlowError } from './errors.js';
export {
  defaultWatchCacheSize,
  parseWatchCacheSizes,
  WatchCache,
  type WatchCacheOptions,
  watchCacheMetrics,
} from './watch-cache.js';
export { type BookmarkEvent, CacheWatcher, type CacheWatchSink, type WatcherEvent } from './watcher.js';
export { type CacheEvent, EventWindow } from './window.js';
