// watch: a chunked stream of {"type","object"} JSON lines. resourceVersion ""/"0" first sends the
// current state as ADDED events; a given version streams what came after it, or ends with a 410
// ERROR event when the store has compacted it (a version older than the watch cache's window is
// served by the store).
// Selectors are applied to every event, turning an object that leaves the selection into DELETED and
// one that enters it into ADDED, as the cacher does. With the watch cache (the default) every watch of
// a resource fans out from the cache's one store watch; without it, or while the cache is not ready,
// each watch opens its own store watch.
import { type KubeObject, type ResourceInfo, StatusError } from '@keelson/api';
import type { Cacher } from '../cache/cacher.js';
import { TooOldResourceVersionError } from '../cache/errors.js';
import type { CacheWatcher, CacheWatchSink, WatcherEvent } from '../cache/watcher.js';
import { CompactedError, type StorageWatchEvent } from '../types.js';
import { intParam, type RestRequest } from './context.js';
import type { RestDeps } from './deps.js';
import { asServed, keyPrefix } from './objects.js';
import { filterOf, listObjects, parseRevision } from './read.js';
import { type Negotiated, negotiate } from './respond.js';
import { buildTable, parseIncludeObject, partialMetadata } from './table.js';

/**
 * kube-apiserver's default --min-request-timeout, for deps without watchTimeoutSeconds: watches without
 * timeoutSeconds end after 30–60 min.
 */
const minRequestTimeoutSecondsDefault = 1800;
/** Events buffered for a slow client before the watch is ended (the client re-lists). */
const bufferedBytesMax = 16 * 1024 * 1024;
/** A cache watcher is handed more events only while its socket holds less than this. */
const socketBufferBytesMax = 1024 * 1024;
const bookmarkIntervalMsDefault = 60_000;

interface Encoder {
  encode(type: string, obj: KubeObject): string;
  /** Whether the line depends only on (type, object, served version): then watchers share it. */
  shareable: boolean;
}

/**
 * Encoded lines of cached objects, shared by every watcher that sends the same object in the same
 * version: with a thousand watchers an event is serialised once, not a thousand times. Keyed weakly
 * by the cache's object, so lines go when the cache drops the object.
 */
const sharedLines = new WeakMap<KubeObject, Map<string, string>>();

function encodeShared(encoder: Encoder, info: ResourceInfo, type: string, raw: KubeObject): string {
  if (!encoder.shareable) return encoder.encode(type, asServed(raw, info));
  const key = `${type} ${info.group}/${info.version}/${info.plural}`;
  let lines = sharedLines.get(raw);
  if (lines === undefined) {
    lines = new Map();
    sharedLines.set(raw, lines);
  }
  let line = lines.get(key);
  if (line === undefined) {
    line = encoder.encode(type, asServed(raw, info));
    lines.set(key, line);
  }
  return line;
}

function encoderFor(deps: RestDeps, info: ResourceInfo, out: Negotiated, q: URLSearchParams): Encoder {
  if (out.form === 'object')
    return { shareable: true, encode: (type, obj) => JSON.stringify({ type, object: obj }) };
  if (out.form === 'metadata')
    return {
      shareable: false,
      encode: (type, obj) =>
        JSON.stringify({ type, object: type === 'ERROR' ? obj : partialMetadata(obj, out.version) }),
    };
  const include = parseIncludeObject(q.get('includeObject'));
  let first = true;
  return {
    shareable: false,
    encode: (type, obj) => {
      if (type === 'ERROR' || type === 'BOOKMARK') return JSON.stringify({ type, object: obj });
      const table = buildTable(deps.tables, info, [obj], {
        version: out.version,
        include,
        noHeaders: !first,
        listMeta: { resourceVersion: obj.metadata?.resourceVersion ?? '' },
      });
      first = false;
      return JSON.stringify({ type, object: table });
    },
  };
}

export async function handleWatch(deps: RestDeps, r: RestRequest): Promise<void> {
  const q = r.url.searchParams;
  const out = negotiate(r.req.headers.accept);
  const rv = q.get('resourceVersion') ?? '';
  const filter = filterOf(deps, r);
  const nameFilter = r.path.name;
  const matches = (obj: KubeObject): boolean =>
    (nameFilter === '' || obj.metadata?.name === nameFilter) && filter.matches(obj);
  // As kube: timeoutSeconds=0 is no timeout given, not a watch that ends at once.
  const timeoutGiven = intParam(q, 'timeoutSeconds') ?? 0;
  const timeoutSeconds = timeoutGiven > 0 ? timeoutGiven : defaultWatchTimeoutSeconds(deps);
  const bookmarks = q.get('allowWatchBookmarks') === 'true';
  const encoder = encoderFor(deps, r.info, out, q);
  const common = { matches, timeoutSeconds, bookmarks, encoder };
  if (await watchFromCache(deps, r, rv, common)) return;
  let initial: KubeObject[] = [];
  let from: number;
  if (rv === '' || rv === '0') {
    const listed = await listObjects(
      deps,
      r.info,
      r.path.namespace,
      { revision: 0, limit: 0, continueToken: undefined, minRevision: 0 },
      { active: true, matches: (o) => matches(o) },
    );
    initial = listed.items.map((s) => s.obj);
    from = listed.revision;
  } else from = parseRevision(rv);
  streamWatch(deps, r, { from, initial, ...common });
}

/** As kube's watch handler: a client that names no timeout gets one in [min, 2 × min) of --min-request-timeout. */
function defaultWatchTimeoutSeconds(deps: RestDeps): number {
  const seconds = deps.watchTimeoutSeconds?.() ?? minRequestTimeoutSecondsDefault * (1 + Math.random());
  if (!(seconds > 0)) throw new Error(`assertion failed: watch timeout must be > 0 s, got ${seconds}`);
  return seconds;
}

interface CommonOptions {
  matches: (obj: KubeObject) => boolean;
  timeoutSeconds: number;
  bookmarks: boolean;
  encoder: Encoder;
}

interface StreamOptions extends CommonOptions {
  from: number;
  initial: KubeObject[];
}

/**
 * Serves the watch from the cache when it is ready; false when the store must serve it. "" waits for
 * the cache to reach the store's current revision (read linearizably), "0" for what earlier
 * linearizable reads returned; a given version needs only a ready cache.
 */
async function watchFromCache(
  deps: RestDeps,
  r: RestRequest,
  rv: string,
  o: CommonOptions,
): Promise<boolean> {
  const cacher = deps.watchCache?.cacherFor(r.info);
  if (cacher === undefined) return false;
  const from = rv === '' || rv === '0' ? 0 : parseRevision(rv);
  const waitMs = deps.watchCache?.waitMs ?? 0;
  let ready: boolean;
  if (rv === '') {
    const current = await deps.storage.currentRevision();
    cacher.noteLinearizableRead(current);
    ready = await cacher.readyFor(current, waitMs);
  } else if (rv === '0') ready = await cacher.readyFor(0, waitMs);
  else ready = await cacher.waitReady(waitMs);
  if (!ready) return false;
  // Older than the window (the cache started later, or evicted it): the store still has that history
  // unless it compacted it, so let the store replay it (or answer 410) rather than send every such
  // watcher back to relist. Kubernetes' cacher answers 410 here; a client loses nothing either way,
  // but a relist of a big resource is what the watch cache exists to avoid.
  if (from > 0 && from < cacher.oldestRevision) return false;
  if (from > 0 && (await compactedInStore(deps, r, cacher, from))) return false;
  // The cache may have been reset while this request waited: then the store serves it.
  if (!cacher.ready) return false;
  streamFromCache(deps, r, cacher, { ...o, from, sendInitial: rv === '' || rv === '0' });
  return true;
}

/**
 * Whether the store has compacted `from` although the window may still hold it. Such a watch goes to
 * the store, which answers 410, so that the cache never serves versions the store has forgotten and
 * --watch-cache=false answers the same. One small read per watch that resumes from a version.
 */
async function compactedInStore(
  deps: RestDeps,
  r: RestRequest,
  cacher: Cacher,
  from: number,
): Promise<boolean> {
  if (from >= cacher.revision || from < cacher.oldestRevision) return false;
  try {
    await deps.storage.list(keyPrefix(deps.etcdPrefix, r.info, r.path.namespace), {
      limit: 1,
      revision: from,
    });
    return false;
  } catch (err) {
    return err instanceof CompactedError;
  }
}

function writeStreamHead(r: RestRequest): void {
  r.res.writeHead(200, {
    'Content-Type': 'application/json',
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache, private',
  });
  r.res.flushHeaders();
}

function expired(from: number, oldest: number): KubeObject {
  const status = new StatusError(410, 'Expired', `too old resource version: ${from} (${oldest})`).toStatus();
  return status as unknown as KubeObject;
}

function streamFromCache(
  deps: RestDeps,
  r: RestRequest,
  cacher: Cacher,
  o: CommonOptions & { from: number; sendInitial: boolean },
): void {
  const { res, info } = r;
  let ended = false;
  let watcher: CacheWatcher | undefined;
  const write = (line: string): void => {
    if (!ended) res.write(`${line}\n`);
  };
  const sink: CacheWatchSink = {
    ready: () => !ended && res.writableLength < socketBufferBytesMax,
    event: (e: WatcherEvent) => {
      if (e.type === 'BOOKMARK') write(o.encoder.encode('BOOKMARK', bookmarkObject(info, e.revision)));
      else {
        const mapped = mapEvent(e, o.matches);
        if (mapped !== undefined) write(encodeShared(o.encoder, info, mapped.type, mapped.obj));
      }
    },
    closed: () => finish(),
  };
  writeStreamHead(r);
  try {
    watcher = cacher.watch(
      {
        keyPrefix: keyPrefix(deps.etcdPrefix, info, r.path.namespace),
        fromRevision: o.from,
        sendInitial: o.sendInitial,
      },
      sink,
    );
  } catch (err) {
    if (!(err instanceof TooOldResourceVersionError)) throw err;
    write(o.encoder.encode('ERROR', expired(err.revision, err.oldestRevision)));
    ended = true;
    res.end();
    return;
  }
  deps.watchers?.(info, 1);
  const w = watcher;
  res.on('drain', () => w.drain());
  const bookmarkTimer = o.bookmarks
    ? setInterval(() => w.bookmark(), deps.bookmarkIntervalMs ?? bookmarkIntervalMsDefault)
    : undefined;
  const timeout = setTimeout(() => finish(), o.timeoutSeconds * 1000);
  // As below: a last bookmark shortly before the timeout lets the client resume without a relist.
  const lastBookmark =
    o.bookmarks && o.timeoutSeconds > 1
      ? setTimeout(() => w.bookmark(), (o.timeoutSeconds - 1) * 1000)
      : undefined;
  function finish(): void {
    if (ended) return;
    ended = true;
    clearTimeout(timeout);
    clearTimeout(lastBookmark);
    clearInterval(bookmarkTimer);
    w.cancel();
    deps.watchers?.(info, -1);
    res.end();
  }
  r.req.on('close', finish);
  res.on('close', finish);
}

function streamWatch(deps: RestDeps, r: RestRequest, o: StreamOptions): void {
  const { res, info } = r;
  writeStreamHead(r);
  let lastRevision = o.from;
  let ended = false;
  const send = (type: string, obj: KubeObject): void => {
    if (ended) return;
    res.write(`${o.encoder.encode(type, obj)}\n`);
    if (res.writableLength > bufferedBytesMax) finish(new Error('watch client too slow'));
  };
  for (const obj of o.initial) send('ADDED', asServed(obj, info));
  deps.watchers?.(info, 1);
  const prefix = keyPrefix(deps.etcdPrefix, info, r.path.namespace);
  const watch = deps.storage.watch(prefix, o.from, {
    events: (events) => {
      for (const e of events) {
        const mapped = mapEvent(e, o.matches);
        if (mapped !== undefined) send(mapped.type, asServed(mapped.obj, info));
        lastRevision = Math.max(lastRevision, e.revision);
      }
    },
    progress: (revision) => {
      if (revision > lastRevision) lastRevision = revision;
    },
    closed: (err) => finish(err),
  });
  const bookmarkTimer = o.bookmarks
    ? setInterval(
        () => send('BOOKMARK', bookmarkObject(info, lastRevision)),
        deps.bookmarkIntervalMs ?? bookmarkIntervalMsDefault,
      )
    : undefined;
  const timeout = setTimeout(() => finish(undefined), o.timeoutSeconds * 1000);
  // Like the cacher, a watch that allows bookmarks gets one shortly before it times out, so that the
  // client can resume from the freshest version without relisting.
  const lastBookmark =
    o.bookmarks && o.timeoutSeconds > 1
      ? setTimeout(() => send('BOOKMARK', bookmarkObject(info, lastRevision)), (o.timeoutSeconds - 1) * 1000)
      : undefined;
  function finish(err: Error | undefined): void {
    if (ended) return;
    if (err instanceof CompactedError) {
      send('ERROR', expired(o.from, err.compactRevision));
    } else if (err !== undefined && !r.req.destroyed) {
      deps.logger.warn({ err: err.message, resource: info.plural }, 'watch ended by the store');
    }
    ended = true;
    clearTimeout(timeout);
    clearTimeout(lastBookmark);
    clearInterval(bookmarkTimer);
    watch.cancel();
    deps.watchers?.(info, -1);
    res.end();
  }
  r.req.on('close', () => finish(undefined));
  res.on('close', () => finish(undefined));
}

function bookmarkObject(info: ResourceInfo, revision: number): KubeObject {
  return {
    kind: info.kind,
    apiVersion: asServed({}, info).apiVersion,
    metadata: { resourceVersion: String(revision) },
  };
}

/** Selection-aware event mapping: leaving the selection is a deletion, entering it an addition. */
function mapEvent(
  e: Pick<StorageWatchEvent, 'type' | 'obj' | 'prevObj'>,
  matches: (obj: KubeObject) => boolean,
): { type: string; obj: KubeObject } | undefined {
  const now = matches(e.obj);
  if (e.type !== 'MODIFIED' || e.prevObj === undefined) return now ? { type: e.type, obj: e.obj } : undefined;
  const before = matches(e.prevObj);
  if (now && before) return { type: 'MODIFIED', obj: e.obj };
  if (now) return { type: 'ADDED', obj: e.obj };
  if (before) return { type: 'DELETED', obj: e.obj };
  return undefined;
}
