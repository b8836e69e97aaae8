// The recorded-history format (one JSON object per line) and its parser, which pairs each invoke with
// the completion of the same process into one operation.

import type { TimedOp } from './model.js';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

/** One operation of a history: an invoke paired with its ok or info completion (fail ones are dropped). */
export interface HistoryOp extends TimedOp {
  readonly f: string;
  /** The key the operation touches; undefined for a single register. */
  readonly key: string | undefined;
  /** The invoke line's value: the operation's input (null when absent). */
  readonly value: unknown;
  /** The completion line's value: the operation's output; undefined when the outcome is unknown. */
  readonly result: unknown;
  readonly outcome: 'ok' | 'info';
  /** The completion line's "revision" (kv model; see README), if any. */
  readonly revision: number | undefined;
  /** The completion line's "version" (kv get), if any. */
  readonly version: number | undefined;
  /** The invoke's 1-based line number. */
  readonly line: number;
}

export interface ParsedHistory {
  readonly ops: HistoryOp[];
  /** Operations dropped because they failed (definitely did not happen). */
  readonly failed: number;
  /** Invokes that never completed: kept as unknown-outcome operations. */
  readonly unfinished: number;
}

/** A malformed history: a stable code and the 1-based line it is about (0 when not about a line). */
export class HistoryError extends Error {
  readonly code = 'HISTORY_INVALID';

  constructor(
    message: string,
    readonly line: number,
  ) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = 'HistoryError';
  }
}

const EVENT_TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);

interface Event {
  readonly process: number;
  readonly type: EventType;
  readonly f: string;
  readonly key: string | undefined;
  readonly value: unknown;
  readonly timeNs: number;
  readonly revision: number | undefined;
  readonly version: number | undefined;
  readonly line: number;
}

function optionalInteger(o: Record<string, unknown>, field: string, line: number): number | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new HistoryError(`"${field}" must be a non-negative integer, got ${JSON.stringify(v)}`, line);
  }
  return v;
}

function parseEvent(text: string, line: number): Event {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new HistoryError(`not valid JSON (${(e as Error).message})`, line);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new HistoryError('not a JSON object', line);
  const r = o as Record<string, unknown>;
  const { process, type, f, key, time } = r;
  if (typeof process !== 'number' || !Number.isSafeInteger(process)) {
    throw new HistoryError(`"process" must be an integer, got ${JSON.stringify(process)}`, line);
  }
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) {
    throw new HistoryError(`"type" must be invoke, ok, fail or info, got ${JSON.stringify(type)}`, line);
  }
  if (typeof f !== 'string' || f === '') throw new HistoryError(`"f" must be a non-empty string`, line);
  if (key !== undefined && key !== null && typeof key !== 'string') {
    throw new HistoryError(`"key" must be a string, got ${JSON.stringify(key)}`, line);
  }
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) {
    throw new HistoryError(
      `"time" must be a non-negative integer of nanoseconds below 2^53 (record time since the start of the run), got ${JSON.stringify(time)}`,
      line,
    );
  }
  return {
    process,
    type: type as EventType,
    f,
    key: typeof key === 'string' ? key : undefined,
    value: r.value === undefined ? null : r.value,
    timeNs: time,
    revision: optionalInteger(r, 'revision', line),
    version: optionalInteger(r, 'version', line),
    line,
  };
}

function complete(invoke: Event, done: Event, id: number): HistoryOp {
  if (done.f !== invoke.f) {
    throw new HistoryError(
      `completes a "${invoke.f}" (line ${invoke.line}) but says f = "${done.f}"`,
      done.line,
    );
  }
  if (done.key !== undefined && done.key !== invoke.key) {
    throw new HistoryError(
      `completes key ${JSON.stringify(invoke.key)} (line ${invoke.line}) but names another`,
      done.line,
    );
  }
  if (done.timeNs < invoke.timeNs) {
    throw new HistoryError(
      `completes at ${done.timeNs} ns, before its invoke at ${invoke.timeNs} ns (line ${invoke.line})`,
      done.line,
    );
  }
  const info = done.type === 'info';
  return {
    id,
    process: invoke.process,
    f: invoke.f,
    key: invoke.key,
    value: invoke.value,
    result: info ? undefined : done.value,
    outcome: info ? 'info' : 'ok',
    callNs: invoke.timeNs,
    returnNs: info ? Number.POSITIVE_INFINITY : done.timeNs,
    revision: done.revision,
    version: done.version,
    line: invoke.line,
  };
}

function unfinishedOp(invoke: Event, id: number): HistoryOp {
  return {
    id,
    process: invoke.process,
    f: invoke.f,
    key: invoke.key,
    value: invoke.value,
    result: undefined,
    outcome: 'info',
    callNs: invoke.timeNs,
    returnNs: Number.POSITIVE_INFINITY,
    revision: undefined,
    version: undefined,
    line: invoke.line,
  };
}

/**
 * Parses a JSONL history. Blank lines and lines starting with '#' are skipped. Each ok, fail or info
 * line completes the pending invoke of its process; an invoke that never completes counts as info.
 * Throws HistoryError naming the line for anything malformed.
 */
export function parseHistory(text: string): ParsedHistory {
  const pending = new Map<number, Event>();
  const paired: { op: HistoryOp; order: number }[] = [];
  let failed = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const ev = parseEvent(raw, i + 1);
    const open = pending.get(ev.process);
    if (ev.type === 'invoke') {
      if (open !== undefined) {
        throw new HistoryError(
          `process ${ev.process} invokes while its invoke on line ${open.line} is pending`,
          ev.line,
        );
      }
      pending.set(ev.process, ev);
      continue;
    }
    if (open === undefined)
      throw new HistoryError(`"${ev.type}" for process ${ev.process}, which has no pending invoke`, ev.line);
    pending.delete(ev.process);
    if (ev.type === 'fail') failed++;
    else paired.push({ op: complete(open, ev, 0), order: open.line });
  }
  for (const open of pending.values()) paired.push({ op: unfinishedOp(open, 0), order: open.line });
  // Operations are numbered in invoke order, so ids (and reports) follow the file.
  paired.sort((a, b) => a.order - b.order);
  const ops = paired.map(({ op }, id) => ({ ...op, id }));
  return { ops, failed, unfinished: pending.size };
}

/**
 * Serialises operations back to JSONL, ordered by time, for tools and tests. At equal times a
 * completion goes before an invoke, so that a process may invoke at the instant its previous
 * operation returned; an unknown outcome is written as an info line right after its invoke.
 */
export function formatHistory(ops: readonly HistoryOp[]): string {
  const lines: { t: number; order: number; text: string }[] = [];
  for (const op of ops) {
    const base = { process: op.process, f: op.f, ...(op.key === undefined ? {} : { key: op.key }) };
    const invoke = { ...base, type: 'invoke', value: op.value, time: op.callNs };
    lines.push({ t: op.callNs, order: 1, text: JSON.stringify(invoke) });
    if (op.outcome === 'info') {
      lines.push({
        t: op.callNs,
        order: 2,
        text: JSON.stringify({ ...base, type: 'info', time: op.callNs }),
      });
      continue;
    }
    const done = {
      ...base,
      type: 'ok',
      value: op.result,
      time: op.returnNs,
      ...(op.revision === undefined ? {} : { revision: op.revision }),
      ...(op.version === undefined ? {} : { version: op.version }),
    };
    lines.push({ t: op.returnNs, order: op.returnNs === op.callNs ? 2 : 0, text: JSON.stringify(done) });
  }
  lines.sort((a, b) => a.t - b.t || a.order - b.order);
  return `${lines.map((l) => l.text).join('\n')}\n`;
}
