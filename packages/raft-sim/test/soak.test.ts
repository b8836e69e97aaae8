import { runSimulation, runSoak, soakSeed, soakSpec, specFromSeed } from '@keelson/raft-sim';
import { describe, expect, it } from 'vitest';

describe('soak', () => {
  // Proves a soak runs the derived schedules, reports progress and sums the statistics.
  it('runs derived seeds and summarises', () => {
    let t = 0;
    const progress: number[] = [];
    const summary = runSoak({
      seeds: 4,
      start: 99,
      overrides: { steps: 300, confChangePermille: 0 },
      clock: () => (t += 400),
      onProgress: (p) => progress.push(p.runs),
    });
    expect(summary.runs).toBe(4);
    expect(summary.violations).toBe(0);
    expect(summary.failure).toBeNull();
    expect(summary.steps).toBeGreaterThanOrEqual(4 * 300);
    expect(summary.stats.checks).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(4);
    expect(progress.length).toBeGreaterThanOrEqual(2);
  });

  // Proves the k-th soak run is exactly specFromSeed(soakSeed(start, k)), so any soak failure replays.
  it('derives replayable specs', () => {
    const spec = soakSpec({ start: 5, overrides: { steps: 200 } }, 3);
    expect(spec).toEqual(specFromSeed(soakSeed(5, 3), { steps: 200 }));
    expect(runSimulation(spec).traceHash).toBe(runSimulation(spec).traceHash);
  });
});
