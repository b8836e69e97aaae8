// The volume property shared by the volume-*.test.ts files: fast-check generates schedules, each
// runs the full simulation, and a failure throws a report with the seed string and the replay
// command (fast-check then shrinks it and prints the smallest failing schedule's report).
import { formatFailure, runSimulation, runWithTailOnFailure } from '@keelson/raft-sim';
import fc from 'fast-check';
import { scheduleSpecArb } from './arbitrary.js';

/** The volume tests are split into this many files so that vitest's workers share them. */
export const VOLUME_PARTS = 4;
/** Schedules per part: 4 × 250 = 1,000 schedules per CI run. */
export const RUNS_PER_PART = 250;
/** Fault-phase steps per schedule (the liveness phase comes on top). */
export const STEPS_PER_RUN = 2000;
/**
 * Shrinking is bounded: once a failure is this old, further shrink candidates are not run (they
 * count as passing), so fast-check reports the smallest failure found so far without spending
 * minutes on a broken core.
 */
const SHRINK_BUDGET_MS = 45_000;

/**
 * The fast-check seed of a part: fixed, so CI is reproducible; RAFT_SIM_FC_SEED=<n> picks another
 * base, RAFT_SIM_FC_SEED=random a fresh one (printed by fast-check on failure).
 */
function fcSeed(part: number): number | undefined {
  const env = process.env.RAFT_SIM_FC_SEED;
  if (env === 'random') return undefined;
  const base = env === undefined || env === '' ? 0x5eed_0000 : Number(env);
  return (base + part) | 0;
}

export function runVolumePart(part: number): void {
  let totalSteps = 0;
  let firstFailureAt = -1;
  fc.assert(
    fc.property(scheduleSpecArb({ steps: STEPS_PER_RUN }), (spec) => {
      if (firstFailureAt >= 0 && performance.now() - firstFailureAt > SHRINK_BUDGET_MS) return;
      const r = runSimulation(spec);
      totalSteps += r.stats.steps;
      if (r.ok) return;
      if (firstFailureAt < 0) firstFailureAt = performance.now();
      throw new Error(`\n${formatFailure(runWithTailOnFailure(spec), 80)}`);
    }),
    { numRuns: RUNS_PER_PART, seed: fcSeed(part) },
  );
  if (totalSteps < RUNS_PER_PART * STEPS_PER_RUN) {
    throw new Error(
      `only ${totalSteps} steps ran; the volume test must cover ${RUNS_PER_PART * STEPS_PER_RUN}`,
    );
  }
}
