// A ScheduleSpec is everything that determines one simulation run: given the same spec, the
// simulator makes the same choices and produces the same trace. Rates are integers (per mille, or
// per step) so that a spec prints exactly as a short "seed string" and parses back unchanged.
import { SeededRand } from '@keelson/raft';

export const SPEC_VERSION = 1;

/** Partition shapes the fault scheduler may choose from (a bit mask in the spec). */
export enum PartitionKind {
  /** Two groups that cannot talk to each other in either direction. */
  Symmetric = 1,
  /** Two groups where only one direction is cut. */
  Asymmetric = 2,
  /** The current leader is cut off from everyone. */
  IsolateLeader = 4,
  /** A majority and a minority group; the leader may land on either side. */
  MajorityMinority = 8,
  /** Two groups that cannot talk to each other but both reach one bridge node. */
  Bridge = 16,
}
export const ALL_PARTITION_KINDS = 31;
export const PARTITION_KIND_LIST: readonly PartitionKind[] = [
  PartitionKind.Symmetric,
  PartitionKind.Asymmetric,
  PartitionKind.IsolateLeader,
  PartitionKind.MajorityMinority,
  PartitionKind.Bridge,
];

/** Where in the handling of a Ready a crash may strike (a bit mask in the spec). */
export enum CrashPoint {
  /** Between Readies: the node loses only its unstable (never persisted) state. */
  Idle = 1,
  /** After ready() but before anything of it is written. */
  BeforePersist = 2,
  /** After the Ready is durable but before its messages leave. */
  AfterPersist = 4,
  /** After the messages left but before anything is applied or advance() is called. */
  AfterSend = 8,
}
export const ALL_CRASH_POINTS = 15;
export const CRASH_POINT_LIST: readonly CrashPoint[] = [
  CrashPoint.Idle,
  CrashPoint.BeforePersist,
  CrashPoint.AfterPersist,
  CrashPoint.AfterSend,
];

export interface ScheduleSpec {
  readonly version: number;
  /** Seeds every random choice of the run (uint32). */
  readonly seed: number;
  /** Initial cluster size, 1..7. */
  readonly nodes: number;
  /** Steps of the fault phase; a liveness phase follows. One step is one tick of every live node. */
  readonly steps: number;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  /** Chance, per mille, that the network drops a message. */
  readonly dropPermille: number;
  /** Chance, per mille, that the network delivers a message twice. */
  readonly dupPermille: number;
  /** Messages arrive 0..maxDelaySteps steps after they are sent (so they also reorder). */
  readonly maxDelaySteps: number;
  /** Chance, per mille per step, that a partition starts while none is active. */
  readonly partitionPermille: number;
  /** Which PartitionKinds may occur (bit mask). */
  readonly partitionKinds: number;
  /** Chance, per mille per step, of a crash. */
  readonly crashPermille: number;
  /** Which CrashPoints may occur (bit mask). */
  readonly crashPoints: number;
  /** Chance, per mille per step, that a running node is paused (it neither ticks nor receives). */
  readonly pausePermille: number;
  /** Chance, per mille per step, that the leader proposes a membership change. */
  readonly confChangePermille: number;
  /** Chance, per mille per step, of a leadership transfer request. */
  readonly transferPermille: number;
  /** A node snapshots and compacts once it applied this many entries past its snapshot; 0 = never. */
  readonly compactEvery: number;
  /** Client proposals per step, in thousandths (1500 = 1.5 proposals per step on average). */
  readonly proposalPermille: number;
  /** ReadIndex reads per step, in thousandths. */
  readonly readPermille: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
}

export const MAX_NODES = 7;
/** Bounds accepted by validateSpec; the fast-check arbitrary and specFromSeed stay inside them. */
export const LIMITS = {
  nodes: [1, MAX_NODES],
  steps: [1, 10_000_000],
  electionTick: [2, 100],
  heartbeatTick: [1, 99],
  dropPermille: [0, 1000],
  dupPermille: [0, 1000],
  maxDelaySteps: [0, 50],
  partitionPermille: [0, 1000],
  partitionKinds: [0, ALL_PARTITION_KINDS],
  crashPermille: [0, 1000],
  crashPoints: [0, ALL_CRASH_POINTS],
  pausePermille: [0, 1000],
  confChangePermille: [0, 1000],
  transferPermille: [0, 1000],
  compactEvery: [0, 1_000_000],
  proposalPermille: [0, 10_000],
  readPermille: [0, 10_000],
} as const satisfies Record<string, readonly [number, number]>;

type NumericField = keyof typeof LIMITS;

/** Seed-string tags, in print order. Every field has one; `s` (seed) is printed in hex. */
const TAGS: readonly (readonly [string, NumericField | 'seed' | 'flags'])[] = [
  ['s', 'seed'],
  ['n', 'nodes'],
  ['t', 'steps'],
  ['e', 'electionTick'],
  ['h', 'heartbeatTick'],
  ['d', 'dropPermille'],
  ['u', 'dupPermille'],
  ['y', 'maxDelaySteps'],
  ['p', 'partitionPermille'],
  ['k', 'partitionKinds'],
  ['c', 'crashPermille'],
  ['x', 'crashPoints'],
  ['z', 'pausePermille'],
  ['m', 'confChangePermille'],
  ['l', 'transferPermille'],
  ['a', 'compactEvery'],
  ['r', 'proposalPermille'],
  ['q', 'readPermille'],
  ['f', 'flags'],
];

export class SpecError extends Error {
  readonly code = 'InvalidSpec';
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** Throws SpecError naming the first field that is out of range. */
export function validateSpec(spec: ScheduleSpec): ScheduleSpec {
  if (spec.version !== SPEC_VERSION) throw new SpecError(`unsupported spec version ${spec.version}`);
  if (!Number.isInteger(spec.seed) || spec.seed < 0 || spec.seed > 0xffffffff) {
    throw new SpecError(`seed must be a uint32, got ${spec.seed}`);
  }
  for (const [field, [lo, hi]] of Object.entries(LIMITS) as [NumericField, readonly [number, number]][]) {
    const v = spec[field];
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new SpecError(`${field} must be an integer in [${lo}, ${hi}], got ${v}`);
    }
  }
  if (spec.heartbeatTick >= spec.electionTick) {
    throw new SpecError(
      `heartbeatTick (${spec.heartbeatTick}) must be below electionTick (${spec.electionTick})`,
    );
  }
  return spec;
}

/** The printable form, e.g. `v1-s1f2e3d4c-n5-t2000-e10-h1-d20-...-f3`; parseSeedString inverts it. */
export function formatSeedString(spec: ScheduleSpec): string {
  const parts = [`v${spec.version}`];
  for (const [tag, field] of TAGS) {
    if (field === 'seed') parts.push(`${tag}${spec.seed.toString(16)}`);
    else if (field === 'flags') parts.push(`${tag}${(spec.preVote ? 1 : 0) | (spec.checkQuorum ? 2 : 0)}`);
    else parts.push(`${tag}${spec[field]}`);
  }
  return parts.join('-');
}

/**
 * Parses a seed string. A bare number (decimal or 0x-hex) is shorthand for specFromSeed(number),
 * the spec the soak command derives from a seed.
 */
export function parseSeedString(text: string): ScheduleSpec {
  const s = text.trim();
  if (/^(0x[0-9a-f]+|\d+)$/i.test(s)) return specFromSeed(Number(s) >>> 0);
  const parts = s.split('-');
  const version = parts[0];
  if (version !== `v${SPEC_VERSION}`) {
    throw new SpecError(`seed string must start with v${SPEC_VERSION}-, got ${JSON.stringify(text)}`);
  }
  const values = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const tag = p.slice(0, 1);
    if (!TAGS.some(([t]) => t === tag)) throw new SpecError(`unknown field "${p}" in seed string`);
    if (values.has(tag)) throw new SpecError(`field "${tag}" appears twice in seed string`);
    values.set(tag, p.slice(1));
  }
  const out: Record<string, number | boolean> = { version: SPEC_VERSION };
  for (const [tag, field] of TAGS) {
    const raw = values.get(tag);
    if (raw === undefined) throw new SpecError(`seed string lacks field "${tag}" (${field})`);
    const pattern = field === 'seed' ? /^[0-9a-f]{1,8}$/ : /^\d{1,9}$/;
    if (!pattern.test(raw)) throw new SpecError(`field "${tag}" (${field}) has a bad value "${raw}"`);
    const n = field === 'seed' ? Number.parseInt(raw, 16) : Number(raw);
    if (field === 'flags') {
      if (n > 3) throw new SpecError(`flags must be in [0, 3], got ${n}`);
      out.preVote = (n & 1) !== 0;
      out.checkQuorum = (n & 2) !== 0;
    } else {
      out[field] = n;
    }
  }
  return validateSpec(out as unknown as ScheduleSpec);
}

/** A fault-free baseline; tests and the demo override what they exercise. */
export function baseSpec(overrides: Partial<ScheduleSpec> = {}): ScheduleSpec {
  return validateSpec({
    version: SPEC_VERSION,
    seed: 1,
    nodes: 3,
    steps: 2000,
    electionTick: 10,
    heartbeatTick: 1,
    dropPermille: 0,
    dupPermille: 0,
    maxDelaySteps: 0,
    partitionPermille: 0,
    partitionKinds: ALL_PARTITION_KINDS,
    crashPermille: 0,
    crashPoints: ALL_CRASH_POINTS,
    pausePermille: 0,
    confChangePermille: 0,
    transferPermille: 0,
    compactEvery: 0,
    proposalPermille: 500,
    readPermille: 100,
    preVote: true,
    checkQuorum: true,
    ...overrides,
  });
}

/**
 * Derives a whole spec from one 32-bit seed (the soak command's schedules). The ranges match the
 * fast-check arbitrary's so that soak explores the same space, just without shrinking.
 */
export function specFromSeed(seed: number, overrides: Partial<ScheduleSpec> = {}): ScheduleSpec {
  const r = new SeededRand((seed ^ 0x5eed5eed) >>> 0);
  const electionTick = r.pick([5, 8, 10, 10, 10, 15, 20]);
  const some = (max: number): number => (r.chance(0.2) ? 0 : r.intn(max + 1));
  return validateSpec({
    version: SPEC_VERSION,
    seed: seed >>> 0,
    nodes: r.pick([1, 2, 3, 3, 3, 4, 5, 5, 5, 6, 7]),
    steps: 2000,
    electionTick,
    heartbeatTick: Math.min(electionTick - 1, r.pick([1, 1, 1, 2, 3])),
    dropPermille: some(100),
    dupPermille: some(50),
    maxDelaySteps: r.pick([0, 0, 1, 1, 2, 3, 5]),
    partitionPermille: some(30),
    partitionKinds: 1 + r.intn(ALL_PARTITION_KINDS),
    crashPermille: some(15),
    crashPoints: 1 + r.intn(ALL_CRASH_POINTS),
    pausePermille: some(8),
    confChangePermille: some(25),
    transferPermille: some(10),
    compactEvery: r.pick([0, 8, 32, 128]),
    proposalPermille: 50 + r.intn(1500),
    readPermille: some(400),
    preVote: r.chance(0.6),
    checkQuorum: r.chance(0.6),
    ...overrides,
  });
}

/** The seed of the k-th schedule of a soak that starts at `start` (splitmix-style mixing). */
export function soakSeed(start: number, k: number): number {
  let z = (start + Math.imul(k, 0x9e3779b9)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
