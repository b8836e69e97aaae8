// Checkers of the apiserver suite. Pure functions over the records of a run:
//  (1) final state: every acknowledged create/update is present at the end with its last
//      acknowledged value, unless a later acknowledged delete or update replaced it;
//  (2) watches: each watcher's stream across reconnects is judged by the store suite's watch checker
//      (ordered, unique, reliable, matches-history) and every list (initial or after a 410) must show
//      the effect of every change known up to its resourceVersion;
//  (3) failures: no writer saw more than one failed attempt per fault (nemesis event), and none
//      outside a fault.
import type { HistoryEvent } from '../store/recorder.js';
import type { HistoryWrite } from '../watch/types.js';
import type { ApiNemesisEvent } from './nemesis.js';
import type { ListedObject, ListRec } from './watchers.js';

/** A history operation (invoke with its completion) with its times. */
export interface TimedKubeOp {
  readonly process: number;
  readonly f: 'create' | 'update' | 'delete';
  readonly key: string;
  /** The data value written (create/update); null for a delete. */
  readonly value: string | null;
  readonly outcome: 'ok' | 'info' | 'fail';
  /** ok only: whether the server applied it (2xx), not a 404/409. */
  readonly applied: boolean;
  readonly status: number | undefined;
  /** ok and applied create/update: the object's new resourceVersion. */
  readonly rv: number | undefined;
  readonly invokeNs: number;
  /** Infinity when never completed. */
  readonly completeNs: number;
}

export interface CheckViolation {
  readonly key?: string;
  readonly message: string;
}

export interface KubeCheckResult {
  readonly ok: boolean;
  /** What was judged, e.g. acknowledged writes or lists. */
  readonly checked: number;
  /** The first VIOLATIONS_MAX violations. */
  readonly violations: CheckViolation[];
  readonly omitted: number;
}

const VIOLATIONS_MAX = 50;

class Sink {
  readonly violations: CheckViolation[] = [];
  omitted = 0;
  add(v: CheckViolation): void {
    if (this.violations.length < VIOLATIONS_MAX) this.violations.push(v);
    else this.omitted++;
  }
  result(checked: number): KubeCheckResult {
    return {
      ok: this.violations.length === 0 && this.omitted === 0,
      checked,
      violations: this.violations,
      omitted: this.omitted,
    };
  }
}

/** Pairs the history's invokes with their completions (an invoke never completed is unknown). */
export function kubeOps(events: readonly HistoryEvent[]): TimedKubeOp[] {
  const open = new Map<number, HistoryEvent>();
  const out: TimedKubeOp[] = [];
  const push = (inv: HistoryEvent, done: HistoryEvent | undefined): void => {
    const f = inv.f as TimedKubeOp['f'];
    if (f !== 'create' && f !== 'update' && f !== 'delete') throw new Error(`assertion failed: op ${inv.f}`);
    const v = inv.value as string | { new?: string } | null | undefined;
    const value = f === 'delete' ? null : typeof v === 'string' ? v : (v?.new ?? null);
    const res =
      done?.type === 'ok' ? (done.value as { status?: number; applied?: boolean } | undefined) : undefined;
    out.push({
      process: inv.process,
      f,
      key: inv.key ?? '',
      value,
      outcome: done === undefined || done.type === 'invoke' ? 'info' : done.type,
      applied: res?.applied === true,
      status: res?.status,
      rv: done?.type === 'ok' && res?.applied === true ? done.revision : undefined,
      invokeNs: inv.time,
      completeNs: done?.time ?? Number.POSITIVE_INFINITY,
    });
  };
  for (const e of events) {
    if (e.type === 'invoke') {
      open.set(e.process, e);
      continue;
    }
    const inv = open.get(e.process);
    if (inv === undefined)
      throw new Error(`assertion failed: completion without invoke (process ${e.process})`);
    open.delete(e.process);
    push(inv, e);
  }
  for (const inv of open.values()) push(inv, undefined);
  return out;
}

/**
 * The operations as the store suite's watch checker reads a write history: a create is a put, an
 * update a txn (succeeded when applied), a rejected create a failed txn; a delete removed the key only
 * when applied. Acknowledged deletes carry no revision (the API returns the object as it was).
 */
export function toHistoryWrites(ops: readonly TimedKubeOp[]): HistoryWrite[] {
  return ops.map((op): HistoryWrite => {
    const base = { key: op.key, outcome: op.outcome };
    if (op.f === 'delete')
      return {
        ...base,
        f: 'delete',
        value: null,
        ...(op.outcome === 'ok' ? { result: op.applied ? 1 : 0 } : {}),
      };
    if (op.outcome === 'ok' && !op.applied)
      return { ...base, f: 'txn', value: { new: op.value }, result: { succeeded: false } };
    if (op.f === 'create')
      return { ...base, f: 'put', value: op.value, ...(op.rv === undefined ? {} : { revision: op.rv }) };
    return {
      ...base,
      f: 'txn',
      value: { new: op.value },
      ...(op.outcome === 'ok' ? { result: { succeeded: true } } : {}),
      ...(op.rv === undefined ? {} : { revision: op.rv }),
    };
  });
}

function byKey(ops: readonly TimedKubeOp[]): Map<string, TimedKubeOp[]> {
  const m = new Map<string, TimedKubeOp[]>();
  for (const op of ops) {
    const list = m.get(op.key);
    if (list === undefined) m.set(op.key, [op]);
    else list.push(op);
  }
  return m;
}

const ackedWrite = (op: TimedKubeOp): boolean =>
  op.f !== 'delete' && op.outcome === 'ok' && op.applied && op.rv !== undefined;
/** A delete that may have removed the object: applied, or of unknown outcome. */
const mayDelete = (op: TimedKubeOp): boolean =>
  op.f === 'delete' && (op.outcome === 'info' || (op.outcome === 'ok' && op.applied));

/** Checker (1): the final read (name → object) against the acknowledged writes of each key. */
export function checkFinalState(
  ops: readonly TimedKubeOp[],
  finalRead: ReadonlyMap<string, ListedObject>,
): KubeCheckResult {
  const sink = new Sink();
  let checked = 0;
  for (const [key, keyOps] of byKey(ops)) {
    const acked = keyOps.filter(ackedWrite);
    checked += acked.length;
    const last = acked.reduce<TimedKubeOp | undefined>(
      (m, op) => (m === undefined || (op.rv ?? 0) > (m.rv ?? 0) ? op : m),
      undefined,
    );
    const final = finalRead.get(key);
    if (final === undefined) {
      if (last !== undefined && !keyOps.some((d) => mayDelete(d) && d.completeNs > last.invokeNs)) {
        sink.add({
          key,
          message: `${key}: the acknowledged write of ${JSON.stringify(last.value)} (rv ${last.rv}) is lost: the object is gone and no delete could have removed it`,
        });
      }
      continue;
    }
    checkPresent(key, keyOps, final, last, sink);
  }
  for (const [key, obj] of finalRead) {
    if (!ops.some((op) => op.key === key))
      sink.add({ key, message: `${key}: present (${JSON.stringify(obj.value)}) but never written` });
  }
  return sink.result(checked);
}

function checkPresent(
  key: string,
  keyOps: readonly TimedKubeOp[],
  final: ListedObject,
  last: TimedKubeOp | undefined,
  sink: Sink,
): void {
  if (last !== undefined && final.rv < (last.rv ?? 0)) {
    sink.add({
      key,
      message: `${key}: the acknowledged write of ${JSON.stringify(last.value)} (rv ${last.rv}) is lost: the final read shows ${JSON.stringify(final.value)} at rv ${final.rv}`,
    });
    return;
  }
  const producer = writerOf(keyOps, final.value);
  if (
    producer === undefined ||
    producer.outcome === 'fail' ||
    (producer.outcome === 'ok' && !producer.applied)
  ) {
    sink.add({
      key,
      message: `${key}: the final value ${JSON.stringify(final.value)} comes from no write that may have happened`,
    });
    return;
  }
  if (producer.outcome === 'ok' && producer.rv !== final.rv) {
    sink.add({
      key,
      message: `${key}: ${JSON.stringify(final.value)} was acknowledged at rv ${producer.rv} but reads at rv ${final.rv}`,
    });
    return;
  }
  if (producer.outcome !== 'ok') return;
  // An acknowledged delete that began after the write finished removed it (or found it gone already).
  const later = keyOps.find(
    (d) => d.f === 'delete' && d.outcome === 'ok' && d.invokeNs > producer.completeNs,
  );
  if (later !== undefined) {
    sink.add({
      key,
      message: `${key}: ${JSON.stringify(final.value)} (rv ${final.rv}) is present, but an acknowledged delete (HTTP ${later.status}) began after it was written`,
    });
  }
}

/** The operation that wrote `value` (a retry reuses its value): the acknowledged attempt if any. */
function writerOf(keyOps: readonly TimedKubeOp[], value: string): TimedKubeOp | undefined {
  const writes = keyOps.filter((op) => op.f !== 'delete' && op.value === value);
  return writes.find(ackedWrite) ?? writes.find((op) => op.outcome === 'info') ?? writes[0];
}

interface Change {
  readonly type: 'PUT' | 'DELETE';
  readonly value: string | null;
}

/** key → revision → change, from every watcher's events and every acknowledged create/update. */
export function knownChanges(
  events: Iterable<{ key: string; type: 'PUT' | 'DELETE'; value: string | null; modRevision: number }>,
  ops: readonly TimedKubeOp[],
): Map<string, Map<number, Change>> {
  const m = new Map<string, Map<number, Change>>();
  const put = (key: string, rev: number, c: Change): void => {
    const revs = m.get(key) ?? new Map<number, Change>();
    if (!revs.has(rev)) revs.set(rev, c);
    m.set(key, revs);
  };
  for (const e of events) put(e.key, e.modRevision, { type: e.type, value: e.value });
  for (const op of ops) if (ackedWrite(op)) put(op.key, op.rv as number, { type: 'PUT', value: op.value });
  return m;
}

/** Checker (2b): every list shows, per key, at least the last change known up to its resourceVersion. */
export function checkLists(
  lists: readonly ListRec[],
  known: ReadonlyMap<string, ReadonlyMap<number, Change>>,
  ops: readonly TimedKubeOp[],
): KubeCheckResult {
  const sink = new Sink();
  const opsByKey = byKey(ops);
  for (const l of lists) {
    const items = new Map(l.items.map((it) => [it.name, it]));
    for (const it of l.items) checkListedItem(l, it, known.get(it.name), opsByKey.get(it.name) ?? [], sink);
    for (const [key, revs] of known) {
      const below = [...revs.keys()].filter((r) => r <= l.rv);
      if (below.length === 0) continue;
      const r = Math.max(...below);
      const c = revs.get(r) as Change;
      const it = items.get(key);
      const where = `${l.watcher}'s ${l.reason === 'initial' ? 'initial list' : 'relist after 410'} at rv ${l.rv}`;
      if (c.type === 'PUT' && it === undefined) {
        // A delete whose revision no watcher saw may have removed it after r.
        const deletes = (opsByKey.get(key) ?? []).filter(mayDelete).length;
        const seenDeletes = [...revs.values()].filter((x) => x.type === 'DELETE').length;
        if (deletes > seenDeletes) continue;
        sink.add({
          key,
          message: `${where} lacks ${key}, whose last known change up to it is a write of ${JSON.stringify(c.value)} at rv ${r}`,
        });
      } else if (it !== undefined && it.rv < r) {
        sink.add({
          key,
          message: `${where} shows ${key} at rv ${it.rv}, older than its known ${c.type} at rv ${r}`,
        });
      }
    }
  }
  return sink.result(lists.length);
}

function checkListedItem(
  l: ListRec,
  it: ListedObject,
  revs: ReadonlyMap<number, Change> | undefined,
  keyOps: readonly TimedKubeOp[],
  sink: Sink,
): void {
  const where = `${l.watcher}'s list at rv ${l.rv}`;
  if (it.rv > l.rv) {
    sink.add({ key: it.name, message: `${where} shows ${it.name} at rv ${it.rv}, above the list's own` });
    return;
  }
  const c = revs?.get(it.rv);
  if (c !== undefined) {
    if (c.type !== 'PUT' || c.value !== it.value)
      sink.add({
        key: it.name,
        message: `${where} shows ${it.name}=${JSON.stringify(it.value)} at rv ${it.rv}, but that revision was ${c.type} ${JSON.stringify(c.value)}`,
      });
    return;
  }
  const w = writerOf(keyOps, it.value);
  if (w === undefined || w.outcome === 'fail' || (w.outcome === 'ok' && !w.applied)) {
    sink.add({
      key: it.name,
      message: `${where} shows ${it.name}=${JSON.stringify(it.value)}, which no write that may have happened wrote`,
    });
  }
}

/** A writer's failed attempt, as checker (3) reads it. */
export interface FailureRec {
  readonly client: number;
  readonly timeNs: number;
  readonly what: string;
  readonly error: string;
}

export interface FailureCheck extends KubeCheckResult {
  /** Failed attempts per nemesis event index (all clients). */
  readonly perEvent: Record<string, number>;
  readonly maxPerClientPerEvent: number;
  readonly unattributed: number;
}

/**
 * Checker (3): each failed attempt is attributed to the fault in force (from its start until
 * `settleNs` after its heal); per (fault, client) at most one, and none outside every fault.
 */
export function checkFailures(
  failures: readonly FailureRec[],
  events: readonly ApiNemesisEvent[],
  endNs: number,
  settleNs: number,
): FailureCheck {
  const sink = new Sink();
  const counts = new Map<string, number>();
  const perEvent: Record<string, number> = {};
  let unattributed = 0;
  for (const f of failures) {
    // The latest fault whose window holds it: a settle time may reach into the next fault.
    const e = [...events]
      .reverse()
      .find((x) => f.timeNs >= x.startNs && f.timeNs <= (x.healedNs ?? endNs) + settleNs);
    if (e === undefined) {
      unattributed++;
      sink.add({
        message: `client ${f.client} failed at ${(f.timeNs / 1e9).toFixed(3)}s outside any fault: ${f.what}: ${f.error}`,
      });
      continue;
    }
    const id = `${e.index}/${f.client}`;
    const n = (counts.get(id) ?? 0) + 1;
    counts.set(id, n);
    perEvent[`${e.index} ${e.nemesis} ${e.target}`] =
      (perEvent[`${e.index} ${e.nemesis} ${e.target}`] ?? 0) + 1;
    if (n === 2)
      sink.add({
        message: `client ${f.client} saw more than one failed attempt during fault ${e.index} (${e.nemesis} ${e.target}); the second at ${(f.timeNs / 1e9).toFixed(3)}s: ${f.what}: ${f.error}`,
      });
  }
  return {
    ...sink.result(failures.length),
    perEvent,
    maxPerClientPerEvent: Math.max(0, ...counts.values()),
    unattributed,
  };
}
