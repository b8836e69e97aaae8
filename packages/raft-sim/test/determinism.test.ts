import { parseSeedString, runSimulation, specFromSeed, TRACE_TAIL_LINES } from '@keelson/raft-sim';
import { describe, expect, it } from 'vitest';

describe('determinism', () => {
  const spec = specFromSeed(2024, { steps: 600 });

  // Proves running one seed twice produces the same trace hash and the same statistics.
  it('replays a seed exactly', () => {
    const a = runSimulation(spec);
    const b = runSimulation(spec);
    expect(a.traceHash).toBe(b.traceHash);
    expect(a.traceEvents).toBe(b.traceEvents);
    expect(a.stats).toEqual(b.stats);
    expect(a.traceEvents).toBeGreaterThan(1000);
  });

  // Proves different seeds give different runs.
  it('differs across seeds', () => {
    const hashes = new Set([1, 2, 3, 4, 5].map((s) => runSimulation({ ...spec, seed: s }).traceHash));
    expect(hashes.size).toBe(5);
  });

  // Proves keeping trace lines does not change the run: the hash is the same with and without them.
  it('does not depend on the trace mode', () => {
    const none = runSimulation(spec);
    const lines: string[] = [];
    const all = runSimulation(spec, { trace: 'all', onTraceLine: (l) => lines.push(l) });
    const tail = runSimulation(spec, { trace: 'tail' });
    expect(all.traceHash).toBe(none.traceHash);
    expect(tail.traceHash).toBe(none.traceHash);
    expect(all.traceLines).toEqual(lines);
    expect(tail.traceLines).toEqual(lines.slice(-TRACE_TAIL_LINES));
  });

  // Proves a seed string replays the same run as the spec it was printed from.
  it('replays from the seed string', () => {
    const a = runSimulation(spec);
    expect(runSimulation(parseSeedString(a.seedString)).traceHash).toBe(a.traceHash);
  });
});
