// Checks a whole history: validates it against the model, splits it into independent partitions
// (P-compositionality: a history is linearizable iff each partition is), searches each one within a
// shared time budget, and explains any failure with the longest partial linearization found.

import { HistoryError } from './history.js';
import type { Model, Partition, TimedOp } from './model.js';
import { searchLinearization } from './search.js';

export type Verdict = 'linearizable' | 'not linearizable' | 'unknown';

/** Why a non-linearizable partition failed: what the report draws. */
export interface Failure<O extends TimedOp> {
  readonly key: string;
  readonly model: string;
  /** The partition's operations (those the search considered). */
  readonly ops: readonly O[];
  /** A label per operation of `ops`, same order ("write 3", "read → 1"). */
  readonly labels: readonly string[];
  /** The longest partial linearization found, as indexes into `ops`, in linearization order. */
  readonly linearization: readonly number[];
  /** The model state before the first and after each step of the partial linearization. */
  readonly states: readonly string[];
  /** Index into `ops` of the operation whose return the partial linearization could not get past. */
  readonly stuck: number | undefined;
}

export interface PartitionResult {
  readonly key: string;
  readonly verdict: Verdict;
  readonly ops: number;
  readonly elapsedMs: number;
  /** Why the verdict is unknown: the time budget ran out, or the memo reached its size limit. */
  readonly unknownReason?: 'timeout' | 'memory';
}

export interface CheckResult<O extends TimedOp> {
  /** Not linearizable if any partition is not; otherwise unknown if any is unknown. */
  readonly verdict: Verdict;
  readonly model: string;
  readonly partitions: readonly PartitionResult[];
  readonly failures: readonly Failure<O>[];
  /** Unknown-outcome read-only operations, dropped because they constrain nothing. */
  readonly droppedReads: number;
  /** Unknown-outcome writes the model showed cannot matter (see Model.prune), left out of the search. */
  readonly pruned: number;
  readonly elapsedMs: number;
}

export interface CheckOptions {
  /** The time budget for the whole check (default 60 s); running out makes the verdict unknown. */
  readonly timeoutMs?: number;
  /** Memory the memo of one partition may use before the verdict becomes unknown (default 512 MiB). */
  readonly memoBytesMax?: number;
  /** Called before each partition is searched, for progress. */
  readonly onPartition?: (index: number, count: number, key: string) => void;
}

export const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MEMO_BYTES_MAX = 512 * 1024 * 1024;

function validate<O extends TimedOp>(model: Model<unknown, O>, ops: readonly O[]): void {
  for (const op of ops) {
    const line = (op as { line?: unknown }).line;
    const where = typeof line === 'number' ? line : 0;
    if (!(op.returnNs >= op.callNs))
      throw new HistoryError(`operation ${op.id} returns before its call`, where);
    const problem = model.validate?.(op);
    if (problem !== undefined) throw new HistoryError(problem, where);
  }
}

function explain<S, O extends TimedOp>(
  model: Model<S, O>,
  part: Partition<O>,
  linearization: readonly number[],
  stuck: number | undefined,
): Failure<O> {
  const showState = (s: S): string => model.describeState?.(s) ?? JSON.stringify(s) ?? String(s);
  let state = model.init();
  const states = [showState(state)];
  for (const i of linearization) {
    const next = model.step(state, part.ops[i]!);
    if (next === undefined) throw new Error('explain: the partial linearization does not replay');
    state = next;
    states.push(showState(state));
  }
  return {
    key: part.key,
    model: model.name,
    ops: part.ops,
    labels: part.ops.map((o) => model.describe?.(o) ?? `op ${o.id}`),
    linearization,
    states,
    stuck,
  };
}

function combine(partitions: readonly PartitionResult[]): Verdict {
  if (partitions.some((p) => p.verdict === 'not linearizable')) return 'not linearizable';
  if (partitions.some((p) => p.verdict === 'unknown')) return 'unknown';
  return 'linearizable';
}

/**
 * Checks ops (a whole history) against model. Throws HistoryError when an operation is not one of
 * the model's. Every partition is searched, as far as the budget allows, so that all failing keys
 * are reported.
 */
export function checkHistory<S, O extends TimedOp>(
  model: Model<S, O>,
  ops: readonly O[],
  options: CheckOptions = {},
): CheckResult<O> {
  const startMs = performance.now();
  const deadlineMs = startMs + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const memoBytesMax = options.memoBytesMax ?? DEFAULT_MEMO_BYTES_MAX;
  validate(model as Model<unknown, O>, ops);
  const kept = ops.filter((o) => !(Number.isFinite(o.returnNs) === false && model.readOnly?.(o) === true));
  const parts = model.partition?.(kept) ?? [{ key: '', ops: [...kept] }];
  const pruned = parts.map((whole) => ({ key: whole.key, ops: model.prune?.(whole.ops) ?? whole.ops }));
  const results: (PartitionResult | undefined)[] = new Array(parts.length).fill(undefined);
  const failures: Failure<O>[] = [];
  const search = (index: number, deadlineMs: number): void => {
    const part = pruned[index]!;
    options.onPartition?.(index, parts.length, part.key);
    const t0 = performance.now();
    const r = searchLinearization(model, part.ops, { deadlineMs, memoBytesMax });
    const base = { key: part.key, ops: part.ops.length, elapsedMs: performance.now() - t0 };
    if (r.outcome === 'linearizable' || r.outcome === 'not linearizable') {
      results[index] = { ...base, verdict: r.outcome };
      if (r.outcome === 'not linearizable') failures.push(explain(model, part, r.longest, r.stuck));
    } else {
      results[index] = {
        ...base,
        verdict: 'unknown',
        unknownReason: r.outcome === 'timeout' ? 'timeout' : 'memory',
      };
    }
  };
  // First pass: each partition gets an even share of the time left, so that one hard key cannot
  // starve the easy ones. Second pass: the ones that ran out start over with all the time left.
  parts.forEach((_, index) => {
    const shareMs = (deadlineMs - performance.now()) / (parts.length - index);
    search(index, performance.now() + Math.max(0, shareMs));
  });
  const retry = results.flatMap((r, index) => (r?.unknownReason === 'timeout' ? [index] : []));
  retry.forEach((index, k) => {
    if (performance.now() >= deadlineMs) return;
    search(index, performance.now() + (deadlineMs - performance.now()) / (retry.length - k));
  });
  const partitions = results.map((r) => {
    if (r === undefined) throw new Error('checkHistory: a partition was not searched');
    return r;
  });
  failures.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    verdict: combine(partitions),
    model: model.name,
    partitions,
    failures,
    droppedReads: ops.length - kept.length,
    pruned: parts.reduce((n, p, i) => n + p.ops.length - pruned[i]!.ops.length, 0),
    elapsedMs: performance.now() - startMs,
  };
}
