import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages by name; resolve them to their TypeScript sources so that
// tests never depend on a stale build.
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@keelson\/bench$/, replacement: `${root}bench/src/index.ts` },
      { find: /^@keelson\/chaos$/, replacement: `${root}chaos/src/index.ts` },
      { find: /^@keelson\/cluster$/, replacement: `${root}cluster/src/index.ts` },
      { find: /^@keelson\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
    ],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'chaos/test/**/*.test.ts',
      'cluster/test/**/*.test.ts',
      'bench/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest defaults to cores - 1 workers; on the 2-core CI machine that is one. The simulator's
    // volume files are CPU-bound and independent, so use both cores.
    maxWorkers: 2,
  },
});
