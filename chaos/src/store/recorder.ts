// Records a history in the format of chaos/README.md ("The history format") while clients run, and
// classifies client errors into "certainly did not happen" (fail) and "unknown outcome" (info).
import { EtcdClientError } from '@keelson/store';

export type Completion = 'ok' | 'fail' | 'info';

export interface HistoryEvent {
  process: number;
  type: 'invoke' | Completion;
  f: string;
  key?: string;
  value?: unknown;
  /** ns since the run started. */
  time: number;
  revision?: number;
  version?: number;
}

/** A run's operation counts, for progress lines and the summary. */
export interface OpCounts {
  ok: number;
  fail: number;
  info: number;
}

/** Recorded events beyond which the recorder refuses more (a run of hours at full rate stays below). */
const EVENTS_MAX = 20_000_000;

export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  readonly counts: OpCounts = { ok: 0, fail: 0, info: 0 };
  private readonly pending = new Map<number, { f: string; key: string | undefined }>();

  constructor(private readonly startMs: number) {}

  /** ns since the run started; performance.now() is monotonic (wall clock steps would reorder events). */
  nowNs(): number {
    return Math.round((performance.now() - this.startMs) * 1e6);
  }

  invoke(process: number, f: string, key: string | undefined, value: unknown): void {
    if (this.pending.has(process))
      throw new Error(`assertion failed: process ${process} has an operation pending`);
    if (this.events.length >= EVENTS_MAX) throw new Error(`history is full (${EVENTS_MAX} events)`);
    this.pending.set(process, { f, key });
    const e: HistoryEvent = { process, type: 'invoke', f, time: this.nowNs() };
    if (key !== undefined) e.key = key;
    if (value !== undefined) e.value = value;
    this.events.push(e);
  }

  complete(
    process: number,
    type: Completion,
    value?: unknown,
    extra: { revision?: number; version?: number } = {},
  ): void {
    const p = this.pending.get(process);
    if (p === undefined) throw new Error(`assertion failed: process ${process} has nothing pending`);
    this.pending.delete(process);
    const e: HistoryEvent = { process, type, f: p.f, time: this.nowNs() };
    if (p.key !== undefined) e.key = p.key;
    if (value !== undefined) e.value = value;
    if (extra.revision !== undefined) e.revision = extra.revision;
    if (extra.version !== undefined) e.version = extra.version;
    this.events.push(e);
    this.counts[type]++;
  }

  toJsonl(): string {
    return this.events.map((e) => JSON.stringify(e)).join('\n') + (this.events.length > 0 ? '\n' : '');
  }
}

/**
 * A failed write certainly did not take effect only when the request never left: the client could not
 * connect (EtcdClient's own message). Anything else — a deadline, a dropped connection, a leader change —
 * may have been applied, so it is an unknown outcome.
 */
export function definitelyNotApplied(e: unknown): boolean {
  return e instanceof EtcdClientError && e.details.startsWith('cannot connect to');
}

export function errorText(e: unknown): string {
  if (e instanceof EtcdClientError) return `${e.method}: ${e.details} (code ${e.code})`;
  return e instanceof Error ? e.message : String(e);
}

/** An invoke paired with its completion (failed ones kept, unlike parseHistory). */
export interface PairedOp {
  readonly f: string;
  readonly key: string | undefined;
  readonly value: unknown;
  readonly result: unknown;
  readonly outcome: Completion;
  readonly revision: number | undefined;
}

/** Pairs each invoke with the next completion of its process; an invoke never completed is 'info'. */
export function pairEvents(events: readonly HistoryEvent[]): PairedOp[] {
  const open = new Map<number, HistoryEvent>();
  const out: PairedOp[] = [];
  const push = (inv: HistoryEvent, done: HistoryEvent | undefined): void => {
    out.push({
      f: inv.f,
      key: inv.key,
      value: inv.value ?? null,
      result: done?.type === 'ok' ? (done.value ?? null) : undefined,
      outcome: done?.type === 'invoke' || done === undefined ? 'info' : done.type,
      revision: done?.type === 'ok' ? done.revision : undefined,
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
