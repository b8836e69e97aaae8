// The fast-check arbitrary of ScheduleSpecs. Its ranges match specFromSeed's, and every field
// shrinks toward the calm end (no faults, fewer nodes), so a failing schedule shrinks to the
// smallest set of fault kinds that still breaks an invariant.
import { ALL_CRASH_POINTS, ALL_PARTITION_KINDS, type ScheduleSpec, SPEC_VERSION } from '@keelson/raft-sim';
import fc from 'fast-check';

export interface SpecArbOptions {
  /** Fault-phase steps of every schedule (default 2000). */
  readonly steps?: number;
}

export function scheduleSpecArb(opts: SpecArbOptions = {}): fc.Arbitrary<ScheduleSpec> {
  const steps = opts.steps ?? 2000;
  const rate = (max: number): fc.Arbitrary<number> => fc.integer({ min: 0, max });
  return fc
    .record({
      seed: fc.integer({ min: 0, max: 0xffffffff }),
      nodes: fc.integer({ min: 1, max: 7 }),
      electionTick: fc.constantFrom(10, 5, 8, 15, 20),
      heartbeatTick: fc.integer({ min: 1, max: 3 }),
      dropPermille: rate(100),
      dupPermille: rate(50),
      maxDelaySteps: fc.integer({ min: 0, max: 5 }),
      partitionPermille: rate(30),
      partitionKinds: fc.integer({ min: 1, max: ALL_PARTITION_KINDS }),
      crashPermille: rate(15),
      crashPoints: fc.integer({ min: 1, max: ALL_CRASH_POINTS }),
      pausePermille: rate(8),
      confChangePermille: rate(25),
      transferPermille: rate(10),
      compactEvery: fc.constantFrom(0, 8, 32, 128),
      proposalPermille: fc.integer({ min: 50, max: 1550 }),
      readPermille: rate(400),
      preVote: fc.boolean(),
      checkQuorum: fc.boolean(),
    })
    .map(
      (r): ScheduleSpec => ({
        version: SPEC_VERSION,
        steps,
        ...r,
        heartbeatTick: Math.min(r.heartbeatTick, r.electionTick - 1),
      }),
    );
}
