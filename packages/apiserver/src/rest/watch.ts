// watch: a chunked stream of {"type","object"} JSON lines. resourceVersion ""/"0" first sends the
// current state as ADDED events; a given version streams what came after it, or ends with a 410
// ERROR event when the store has compacted it. Selectors are applied to every event, turning an
// object that leaves the selection into DELETED and one that enters it into ADDED, as the cacher does.
import { type KubeObject, type ResourceInfo, StatusError } from '@keelson/api';
import { CompactedError, type StorageWatchEvent } from '../types.js';
import { intParam, type RestRequest } from './context.js';
import type { RestDeps } from './deps.js';
import { asServed, keyPrefix } from './objects.js';
import { filterOf, listObjects, parseRevision } from './read.js';
import { type Negotiated, negotiate } from './respond.js';
import { buildTable, parseIncludeObject, partialMetadata } from './table.js';

/** kube-apiserver's --min-request-timeout: watches without timeoutSeconds end after 30–60 min. */
const minRequestTimeoutSeconds = 1800;
/** Events buffered for a slow client before the watch is ended (the client re-lists). */
const bufferedBytesMax = 16 * 1024 * 1024;
const bookmarkIntervalMsDefault = 60_000;

interface Encoder {
  encode(type: string, obj: KubeObject): string;
}

function encoderFor(deps: RestDeps, info: ResourceInfo, out: Negotiated, q: URLSearchParams): Encoder {
  if (out.form === 'object') return { encode: (type, obj) => JSON.stringify({ type, object: obj }) };
  if (out.form === 'metadata')
    return {
      encode: (type, obj) =>
        JSON.stringify({ type, object: type === 'ERROR' ? obj : partialMetadata(obj, out.version) }),
    };
  const include = parseIncludeObject(q.get('includeObject'));
  let first = true;
  return {
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
  const timeoutSeconds = intParam(q, 'timeoutSeconds') ?? minRequestTimeoutSeconds * (1 + Math.random());
  const bookmarks = q.get('allowWatchBookmarks') === 'true';
  const encoder = encoderFor(deps, r.info, out, q);
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
  streamWatch(deps, r, { from, initial, matches, timeoutSeconds, bookmarks, encoder });
}

interface StreamOptions {
  from: number;
  initial: KubeObject[];
  matches: (obj: KubeObject) => boolean;
  timeoutSeconds: number;
  bookmarks: boolean;
  encoder: Encoder;
}

function streamWatch(deps: RestDeps, r: RestRequest, o: StreamOptions): void {
  const { res, info } = r;
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache, private',
  });
  res.flushHeaders();
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
      const status = new StatusError(
        410,
        'Expired',
        `too old resource version: ${o.from} (${err.compactRevision})`,
      ).toStatus();
      send('ERROR', status as unknown as KubeObject);
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
  e: StorageWatchEvent,
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
