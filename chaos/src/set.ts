// The set workload's checker: every acknowledged add is in the final read, nothing is in it twice, and
// nothing is in it that no one tried to add (or whose every add failed). An add of unknown outcome may
// or may not be there.

import { valueText } from './watch/common.js';

/**
 * One add of the set workload as recorded in the history: `{f: 'add', key: <set name>, value: <element>}`
 * with outcome ok, fail or info. parseHistory's HistoryOp fits (it drops failed ops; pass them too to
 * have a present element whose adds all failed reported as such rather than as never attempted).
 */
export interface SetAdd {
  readonly f: string;
  readonly key?: string | undefined;
  /** The element; a string, or JSON compared by its text. */
  readonly value: unknown;
  readonly outcome: 'ok' | 'info' | 'fail';
}

export interface SetCheckOptions {
  /** Only the adds to this set (op.key); default: every add. */
  set?: string;
}

export interface SetCheckResult {
  ok: boolean;
  /** Acknowledged adds missing from the final read. */
  lost: string[];
  /** Elements the final read holds more than once. */
  duplicated: string[];
  /** Elements in the final read no add ever attempted. */
  unexpected: string[];
  /** Elements in the final read whose every add failed (definitely did not happen). */
  failedPresent: string[];
  /** Distinct elements acknowledged / of unknown outcome only / failed only. */
  acknowledged: number;
  unknown: number;
  failed: number;
  /** Unknown-outcome elements that did make it into the final read. */
  unknownPresent: number;
}

type Outcome = 'ok' | 'info' | 'fail';
const RANK: Record<Outcome, number> = { fail: 0, info: 1, ok: 2 };

/** Each element's strongest outcome: acknowledged beats unknown beats failed. */
function outcomes(adds: readonly SetAdd[], set: string | undefined): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  for (const op of adds) {
    if (op.f !== 'add' || (set !== undefined && op.key !== set)) continue;
    const e = valueText(op.value);
    const had = out.get(e);
    if (had === undefined || RANK[op.outcome] > RANK[had]) out.set(e, op.outcome);
  }
  return out;
}

export function checkSet(
  adds: readonly SetAdd[],
  finalRead: readonly string[],
  opts: SetCheckOptions = {},
): SetCheckResult {
  const tried = outcomes(adds, opts.set);
  const counts = new Map<string, number>();
  for (const e of finalRead) counts.set(e, (counts.get(e) ?? 0) + 1);
  const r: SetCheckResult = {
    ok: true,
    lost: [],
    duplicated: [],
    unexpected: [],
    failedPresent: [],
    acknowledged: 0,
    unknown: 0,
    failed: 0,
    unknownPresent: 0,
  };
  for (const [e, outcome] of tried) {
    const present = counts.has(e);
    if (outcome === 'ok') {
      r.acknowledged++;
      if (!present) r.lost.push(e);
    } else if (outcome === 'info') {
      r.unknown++;
      if (present) r.unknownPresent++;
    } else {
      r.failed++;
      if (present) r.failedPresent.push(e);
    }
  }
  for (const [e, n] of counts) {
    if (n > 1) r.duplicated.push(e);
    if (!tried.has(e)) r.unexpected.push(e);
  }
  r.ok = r.lost.length + r.duplicated.length + r.unexpected.length + r.failedPresent.length === 0;
  return r;
}
