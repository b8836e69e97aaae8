// Many runs in a row: seed k of a soak that starts at S is soakSeed(S, k), its spec specFromSeed of
// that seed (with overrides), so a soak is as replayable as one run. Stops at the first violation.
import { type RunResult, runSimulation, runWithTailOnFailure } from './simulation.js';
import { type ScheduleSpec, soakSeed, specFromSeed } from './spec.js';
import { addStats, emptyStats, type SimStats } from './stats.js';

export interface SoakOptions {
  readonly seeds: number;
  readonly start: number;
  readonly overrides?: Partial<ScheduleSpec>;
  /** Wall clock in milliseconds; passed in so that the simulator itself never reads the time. */
  readonly clock: () => number;
  /** Called at most every progressEveryMs (default 1000) and once at the end. */
  readonly onProgress?: (p: SoakProgress) => void;
  readonly progressEveryMs?: number;
}

export interface SoakProgress {
  readonly runs: number;
  /** The statistics of the runs so far, added up. */
  readonly stats: SimStats;
  readonly seeds: number;
  readonly steps: number;
  readonly commits: number;
  readonly elections: number;
  readonly violations: number;
  readonly elapsedMs: number;
}

export interface SoakSummary extends SoakProgress {
  /** The first failing run (rerun with its trace tail), or null. */
  readonly failure: RunResult | null;
}

/** The spec of the k-th run of a soak. */
export function soakSpec(opts: Pick<SoakOptions, 'start' | 'overrides'>, k: number): ScheduleSpec {
  return specFromSeed(soakSeed(opts.start, k), opts.overrides);
}

export function runSoak(opts: SoakOptions): SoakSummary {
  const t0 = opts.clock();
  const every = opts.progressEveryMs ?? 1000;
  const stats = emptyStats();
  let lastReport = t0;
  let runs = 0;
  let failure: RunResult | null = null;
  const progress = (): SoakProgress => ({
    runs,
    stats,
    seeds: opts.seeds,
    steps: stats.steps,
    commits: stats.committedIndex,
    elections: stats.elections,
    violations: failure === null ? 0 : 1,
    elapsedMs: opts.clock() - t0,
  });
  for (let k = 0; k < opts.seeds && failure === null; k++) {
    const spec = soakSpec(opts, k);
    const r = runSimulation(spec);
    runs++;
    addStats(stats, r.stats);
    if (!r.ok) failure = runWithTailOnFailure(spec);
    const now = opts.clock();
    if (opts.onProgress !== undefined && now - lastReport >= every) {
      lastReport = now;
      opts.onProgress(progress());
    }
  }
  const p = progress();
  opts.onProgress?.(p);
  return { ...p, stats, failure };
}
