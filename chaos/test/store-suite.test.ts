// Runs the store chaos suite on real processes: short seeded runs that together cover every nemesis,
// and every checker (linearizability, watch, set, lease) must be green.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allVariants, parseNemeses } from '../src/store/nemesis.js';
import { runSuite, type SuiteSummary } from '../src/store/run.js';

const durationS = Number(process.env.CHAOS_STORE_DURATION_S ?? 20);
/** Seeds and the nemeses each one runs; together they cover every variant. */
const RUNS: Array<{ seed: number; nemesis: string }> = [
  { seed: 1, nemesis: 'kill,pause' },
  { seed: 2, nemesis: 'partition' },
  { seed: 3, nemesis: 'delay,loss,membership' },
  { seed: 4, nemesis: 'crash:before-log-sync,crash:after-log-sync,crash:before-apply-write' },
  { seed: 5, nemesis: 'crash:after-apply-write,crash:before-snapshot,crash:after-snapshot' },
  { seed: 6, nemesis: 'all' },
];
const only = process.env.CHAOS_STORE_SEEDS?.split(',').map(Number);
const covered = new Set<string>();

describe('store chaos suite', () => {
  for (const run of RUNS.filter((r) => only === undefined || only.includes(r.seed))) {
    it(
      `seed ${run.seed}: ${run.nemesis} for ${durationS} s`,
      async () => {
        // Proves the store stays linearizable, keeps watch/set/lease guarantees under these faults.
        const out = mkdtempSync(join(tmpdir(), `keelson-chaos-suite-${run.seed}-`));
        let summary: SuiteSummary | undefined;
        try {
          summary = await runSuite({
            seed: run.seed,
            durationS,
            nemeses: parseNemeses(run.nemesis),
            outDir: out,
            progress: process.env.CHAOS_VERBOSE === '1' ? (l) => console.log(l) : undefined,
          });
          for (const v of summary.nemeses.covered) covered.add(v);
          console.log(
            `seed ${run.seed}: ${summary.opsChecked} ops checked (${summary.ops.opsPerS} ops/s), ` +
              `nemeses ${summary.nemeses.covered.join(' ')}; ` +
              Object.entries(summary.checkers)
                .map(([k, c]) => `${k} ${c.verdict}`)
                .join(', '),
          );
          if (summary.verdict !== 'ok') console.log(JSON.stringify(summary, null, 2));
          expect(summary.verdict).toBe('ok');
          // A check of a near-empty history proves nothing: demand enough operations to judge, but no
          // speed (a loaded CI machine may run the workload slowly; speed is bench/'s business).
          expect(summary.opsChecked).toBeGreaterThanOrEqual(300);
        } finally {
          // Keep the results of a failed run for inspection.
          if (summary?.verdict === 'ok') rmSync(out, { recursive: true, force: true });
          else console.log(`results kept in ${out}`);
        }
      },
      (durationS + 90) * 1000,
    );
  }

  it.runIf(only === undefined)('covered every nemesis variant', () => {
    // Proves the CI runs above exercised each nemesis variant at least once.
    const missing = allVariants().filter((v) => !covered.has(v));
    expect(missing).toEqual([]);
  });
});
