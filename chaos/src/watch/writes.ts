// matches-history: every event is the effect of a write in the history that may have happened, at the
// revision the write was acknowledged with; a value written once never shows at two revisions. (That an
// acknowledged write inside a watcher's window was delivered is "reliable".)

import { showEvent, type ViolationSink, valueText } from './common.js';
import type { Source } from './stream.js';
import type { HistoryWrite, WatchEventRec } from './types.js';

/** The history's writes indexed for matching events. */
export interface WriteIndex {
  /** key → value text → the puts and txns that wrote it. */
  readonly puts: Map<string, Map<string, HistoryWrite[]>>;
  /** key → its deletes. */
  readonly deletes: Map<string, HistoryWrite[]>;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

export function indexWrites(history: readonly HistoryWrite[]): WriteIndex {
  const puts = new Map<string, Map<string, HistoryWrite[]>>();
  const deletes = new Map<string, HistoryWrite[]>();
  for (const op of history) {
    if (op.key === undefined) continue;
    if (op.f === 'delete') push(deletes, op.key, op);
    if (op.f !== 'put' && op.f !== 'txn') continue;
    const v = op.f === 'put' ? op.value : (op.value as { new?: unknown } | null)?.new;
    let byValue = puts.get(op.key);
    if (byValue === undefined) {
      byValue = new Map();
      puts.set(op.key, byValue);
    }
    push(byValue, valueText(v), op);
  }
  return { puts, deletes };
}

/** Whether the write may have taken effect: ok (a txn only if it succeeded) or unknown. */
function mayHaveHappened(op: HistoryWrite): boolean {
  if (op.outcome === 'fail') return false;
  if (op.outcome === 'info') return true;
  if (op.f === 'txn') return (op.result as { succeeded?: unknown } | null)?.succeeded === true;
  // A delete that reports 0 deleted keys removed nothing; null means the count was not recorded.
  if (op.f === 'delete') return op.result !== 0;
  return true;
}

/** Whether the write's known revision (if any) is `rev`. */
const atRevision = (op: HistoryWrite, rev: number): boolean =>
  op.outcome !== 'ok' || op.revision === undefined || op.revision === rev;

/** What is wrong with the event against the history, or undefined. */
function unmatched(ev: WatchEventRec, idx: WriteIndex): string | undefined {
  const cands = ev.type === 'PUT' ? idx.puts.get(ev.key)?.get(ev.value ?? '') : idx.deletes.get(ev.key);
  const what =
    ev.type === 'PUT'
      ? `a write of value ${JSON.stringify(ev.value)} to key ${JSON.stringify(ev.key)}`
      : `a delete of key ${JSON.stringify(ev.key)}`;
  if (cands === undefined || cands.length === 0) return `${showEvent(ev)}: the history has no ${what}`;
  const live = cands.filter(mayHaveHappened);
  if (live.length === 0) return `${showEvent(ev)}: every ${what} in the history failed or changed nothing`;
  if (live.some((op) => atRevision(op, ev.modRevision))) return undefined;
  const revs = live.map((op) => op.revision).join(', ');
  return `${showEvent(ev)}: ${what} was acknowledged at revision ${revs}, not ${ev.modRevision}`;
}

/**
 * Checks each distinct event once (naming the first source that delivered it), then values that show
 * at more revisions than the history wrote them.
 */
export function checkMatchesHistory(sources: readonly Source[], idx: WriteIndex, sink: ViolationSink): void {
  const checked = new Set<string>();
  const revisionsOf = new Map<string, Set<number>>();
  for (const src of sources) {
    for (const { ev } of src.events) {
      const id = `${ev.modRevision}\u0000${ev.key}\u0000${ev.type}\u0000${ev.value}`;
      if (checked.has(id)) continue;
      checked.add(id);
      const why = unmatched(ev, idx);
      if (why !== undefined)
        sink.add({ watcher: src.name, revision: ev.modRevision, key: ev.key, message: why });
      if (ev.type !== 'PUT') continue;
      const kv = JSON.stringify([ev.key, ev.value]);
      const revs = revisionsOf.get(kv) ?? new Set<number>();
      revs.add(ev.modRevision);
      revisionsOf.set(kv, revs);
    }
  }
  for (const [kv, revs] of revisionsOf) {
    const [key, value] = JSON.parse(kv) as [string, string];
    const writes = (idx.puts.get(key)?.get(value) ?? []).filter(mayHaveHappened).length;
    if (revs.size <= writes || writes === 0) continue;
    const list = [...revs].sort((a, b) => a - b);
    sink.add({
      revision: list[1],
      key,
      message: `value ${JSON.stringify(value)} of key ${JSON.stringify(key)} shows at revisions ${list.join(', ')}, but the history wrote it ${writes} time(s)`,
    });
  }
}
