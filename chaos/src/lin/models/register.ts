// A read/write register per key (partitioned by key), starting at null, and the same with
// compare-and-set. A read returns the value; a cas's value is [expected, new] and its ok means it
// swapped (a cas that found another value completes with fail, which drops it from the history).

import type { HistoryOp } from '../history.js';
import type { Model } from '../model.js';
import { canonical, checkFunction, hashValue, partitionByKey, sameValue, show } from './values.js';

/** The register's value; null is "never written". */
export type RegisterState = unknown;

function casArgs(op: HistoryOp): [unknown, unknown] {
  return op.value as [unknown, unknown];
}

function validateCas(op: HistoryOp): string | undefined {
  if (Array.isArray(op.value) && op.value.length === 2) return undefined;
  return `a cas's value must be [expected, new], got ${JSON.stringify(op.value)}`;
}

function stepRegister(state: RegisterState, op: HistoryOp): RegisterState | undefined {
  switch (op.f) {
    case 'write':
      return op.value;
    case 'read':
      return op.outcome === 'info' || sameValue(state, op.result) ? state : undefined;
    case 'cas': {
      const [expected, next] = casArgs(op);
      if (sameValue(state, expected)) return next;
      // An unknown-outcome cas that took effect here found another value and changed nothing.
      return op.outcome === 'info' ? state : undefined;
    }
    default:
      throw new Error(`register model: unexpected operation "${op.f}" (validate should have refused it)`);
  }
}

/** The value an unknown-outcome write or cas would leave, if it took effect and swapped. */
function written(op: HistoryOp): unknown {
  return op.f === 'cas' ? casArgs(op)[1] : op.value;
}

/**
 * Drops unknown-outcome writes and cas operations whose value no read returned and no cas expected.
 * Why this loses no linearization: after such an operation W, until the next write, a read would
 * have to return W's value and an ok cas would have to expect it, so none can come there; an
 * unknown-outcome cas there found another value and changed nothing, so it may be dropped too. The
 * next write overwrites W's value, so removing W (and those cas) leaves every later state as it was.
 */
function pruneUnobserved(ops: readonly HistoryOp[]): HistoryOp[] {
  const observed = new Set<string>();
  for (const op of ops) {
    if (op.f === 'read' && op.outcome === 'ok') observed.add(canonical(op.result));
    if (op.f === 'cas') observed.add(canonical(casArgs(op)[0]));
  }
  const seen = (v: unknown): boolean => observed.has(canonical(v));
  return ops.filter((op) => op.outcome === 'ok' || op.f === 'read' || seen(written(op)));
}

function describeRegisterOp(op: HistoryOp): string {
  const unknown = op.outcome === 'info' ? ' ?' : '';
  if (op.f === 'read') return `read → ${op.outcome === 'info' ? '?' : show(op.result)}`;
  if (op.f === 'cas') return `cas ${show(casArgs(op)[0])}→${show(casArgs(op)[1])}${unknown}`;
  return `write ${show(op.value)}${unknown}`;
}

function makeRegisterModel(name: string, fs: readonly string[]): Model<RegisterState, HistoryOp> {
  return {
    name,
    init: () => null,
    step: stepRegister,
    equal: sameValue,
    hash: hashValue,
    partition: partitionByKey,
    readOnly: (op) => op.f === 'read',
    prune: pruneUnobserved,
    validate: (op) => checkFunction(op, name, fs) ?? (op.f === 'cas' ? validateCas(op) : undefined),
    describe: describeRegisterOp,
    describeState: (s) => show(s),
  };
}

/** Registers (one per key) with read and write. */
export const registerModel: Model<RegisterState, HistoryOp> = makeRegisterModel('register', [
  'read',
  'write',
]);

/** Registers (one per key) with read, write and compare-and-set. */
export const casRegisterModel: Model<RegisterState, HistoryOp> = makeRegisterModel('cas-register', [
  'read',
  'write',
  'cas',
]);
