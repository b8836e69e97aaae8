// The apiserver chaos suite on real processes: a `keelson cluster up` cluster (3 store members, 2
// apiservers, the LB) under seeded kill/pause/SIGTERM of apiservers and kills of store members, with
// ConfigMap writers and watchers through the LB. Each run tears its cluster down (cluster down, then
// SIGKILL of any PID of that cluster still alive) even when it fails.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ApiNemesis, runApiserverSuite } from '@keelson/chaos';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainScript = join(repoRoot, 'packages/cli/dist/main.js');
const seeds = (process.env.CHAOS_API_SEEDS ?? '1,2').split(',').map(Number);
/** 20 s fit about three faults: the two default seeds split the five nemeses between them. */
const nemesesBySeed: Record<number, ApiNemesis[]> = {
  1: ['kill-apiserver', 'pause-apiserver', 'kill-store-leader'],
  2: ['term-apiserver', 'kill-store-follower', 'kill-apiserver'],
};
const durationS = Number(process.env.CHAOS_API_DURATION_S ?? 20);
const verbose = process.env.CHAOS_VERBOSE === '1';

describe('apiserver chaos suite', () => {
  for (const seed of seeds) {
    it(`seed ${seed}: every checker is green under apiserver and store faults`, async () => {
      // Proves acknowledged writes survive, watch streams have no gaps or duplicates across reconnects
      // and relists, and no writer saw more than one failed attempt per fault.
      if (!existsSync(join(repoRoot, 'packages/cli/dist/lb.js')))
        throw new Error('run `npm run build` first');
      const outDir = mkdtempSync(join(tmpdir(), `keelson-chaos-api-test-${seed}-`));
      const summary = await runApiserverSuite({
        seed,
        durationS,
        outDir,
        mainScript,
        ...(nemesesBySeed[seed] === undefined ? {} : { nemeses: nemesesBySeed[seed] }),
        ...(verbose ? { progress: (l: string) => console.log(l) } : {}),
      });
      const detail = JSON.stringify(summary, null, 2);
      for (const [name, c] of Object.entries(summary.checkers))
        expect(c.verdict, `${name}\n${detail}`).toBe('ok');
      expect(summary.verdict).toBe('ok');
      // Enough was checked to mean something (counts, not a speed).
      expect(summary.ops.acknowledgedWrites, detail).toBeGreaterThanOrEqual(100);
      expect(summary.watch.events, detail).toBeGreaterThanOrEqual(100);
      expect(summary.watch.sessions, detail).toBeGreaterThan(summary.watch.watchers);
      expect(summary.nemeses.healed, detail).toBeGreaterThanOrEqual(2);
      expect(summary.nemeses.covered.length, detail).toBeGreaterThanOrEqual(2);
      if (process.env.KEEP_CHAOS_RESULTS === undefined) rmSync(outDir, { recursive: true, force: true });
    }, 120_000);
  }
});
