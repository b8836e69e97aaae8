// Why a cache watch ended or could not start. Callers branch on `code`, never on the message.

/** The asked-for version is older than the cache's window of recent events (a 410 for the client). */
export class TooOldResourceVersionError extends Error {
  readonly code = 'TooOldResourceVersion';
  constructor(
    readonly revision: number,
    /** The oldest version a watch may still start from. */
    readonly oldestRevision: number,
  ) {
    super(`too old resource version: ${revision} (${oldestRevision})`);
    this.name = 'TooOldResourceVersionError';
  }
}

/** The watcher fell more than its buffer behind; it is closed so that it never holds the others back. */
export class WatcherTooSlowError extends Error {
  readonly code = 'WatcherTooSlow';
  constructor(readonly bufferEventsMax: number) {
    super(`watcher fell more than ${bufferEventsMax} events behind and was closed`);
    this.name = 'WatcherTooSlowError';
  }
}

/** The cache re-listed the store (its watch was compacted) and ended every watcher; they re-watch. */
export class CacheResetError extends Error {
  readonly code = 'CacheReset';
  constructor(readonly prefix: string) {
    super(`the watch cache of ${prefix} was re-initialised`);
    this.name = 'CacheResetError';
  }
}

export function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
