// What the checker needs from a model of a concurrent object, after Porcupine's Model: a sequential
// specification (init and step) plus the equality and hash the search's memo needs.

/** The fields of an operation the search itself uses; models add their own inputs and outputs. */
export interface TimedOp {
  /** Unique among the operations of one check (the search indexes bitsets by it after renumbering). */
  readonly id: number;
  readonly process: number;
  readonly callNs: number;
  /** Infinity when the outcome is unknown: the operation may take effect at any time after its call. */
  readonly returnNs: number;
}

/** One independently checkable part of a history (P-compositionality), such as one key's operations. */
export interface Partition<O> {
  readonly key: string;
  readonly ops: O[];
}

/**
 * A deterministic sequential specification. step returns the state after `op` or undefined when `op`
 * (with the output it observed) cannot happen in `state`. An operation whose outcome is unknown
 * (returnNs = Infinity) is stepped as "it happened here", with whatever effect it would have had;
 * "it never happened" is covered by the search, which never has to linearize such operations.
 */
export interface Model<S, O extends TimedOp> {
  readonly name: string;
  init(): S;
  step(state: S, op: O): S | undefined;
  equal(a: S, b: S): boolean;
  /** A hash consistent with equal; without it all states of one linearized set share a cache bucket. */
  hash?(state: S): number;
  /** Splits a history into parts that can be checked independently (for example by key). */
  partition?(ops: readonly O[]): Partition<O>[];
  /** True when op cannot change the state: an unknown-outcome read-only operation constrains nothing. */
  readOnly?(op: O): boolean;
  /**
   * Drops operations of one partition that cannot change the verdict, such as unknown-outcome writes
   * whose value no one observed (assuming they never happened loses no linearization). Each such
   * operation would otherwise double the configurations the search may have to visit.
   */
  prune?(ops: readonly O[]): O[];
  /** A message when op is not an operation of this model (wrong function, malformed value). */
  validate?(op: O): string | undefined;
  /** A short label for reports: "write 3", "read → 3", "cas 1→2". */
  describe?(op: O): string;
  describeState?(state: S): string;
}

/**
 * A sequential specification whose step may allow several next states (or several initial states).
 * powerSetModel turns it into a deterministic Model over sets of states, as Porcupine does.
 */
export interface NondeterministicModel<S, O extends TimedOp> {
  readonly name: string;
  init(): S[];
  step(state: S, op: O): S[];
  equal(a: S, b: S): boolean;
  hash?(state: S): number;
  partition?(ops: readonly O[]): Partition<O>[];
  readOnly?(op: O): boolean;
  prune?(ops: readonly O[]): O[];
  validate?(op: O): string | undefined;
  describe?(op: O): string;
  describeState?(state: S): string;
}

/** Bounds the power set: a state set larger than this is a model bug, not a property of the history. */
const POWER_SET_STATES_MAX = 4096;

function dedupe<S>(states: readonly S[], equal: (a: S, b: S) => boolean): S[] {
  const out: S[] = [];
  for (const s of states) if (!out.some((t) => equal(s, t))) out.push(s);
  if (out.length > POWER_SET_STATES_MAX) {
    throw new Error(`powerSetModel: more than ${POWER_SET_STATES_MAX} simultaneous states`);
  }
  return out;
}

/** The deterministic model over sets of states of a nondeterministic one (a step is rejected when no state survives). */
export function powerSetModel<S, O extends TimedOp>(m: NondeterministicModel<S, O>): Model<readonly S[], O> {
  const hashOne = m.hash?.bind(m);
  const contains = (set: readonly S[], s: S): boolean => set.some((t) => m.equal(s, t));
  const model: Model<readonly S[], O> = {
    name: m.name,
    init: () => dedupe(m.init(), m.equal),
    step: (states, op) => {
      const next = dedupe(
        states.flatMap((s) => m.step(s, op)),
        m.equal,
      );
      return next.length === 0 ? undefined : next;
    },
    // Sets are equal when each contains the other (order is an accident of the search).
    equal: (a, b) => a.length === b.length && a.every((s) => contains(b, s)),
    describeState: (states) => `{${states.map((s) => m.describeState?.(s) ?? String(s)).join(', ')}}`,
  };
  // An order-independent hash: the sum of the element hashes.
  if (hashOne !== undefined) model.hash = (states) => states.reduce((h, s) => (h + hashOne(s)) >>> 0, 0);
  if (m.partition !== undefined) model.partition = m.partition.bind(m);
  if (m.readOnly !== undefined) model.readOnly = m.readOnly.bind(m);
  if (m.prune !== undefined) model.prune = m.prune.bind(m);
  if (m.validate !== undefined) model.validate = m.validate.bind(m);
  if (m.describe !== undefined) model.describe = m.describe.bind(m);
  return model;
}
