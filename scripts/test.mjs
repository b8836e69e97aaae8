// Runs every test once with vitest, then prints the plain summary line CI reads:
// `N passed, N failed` — counted from vitest's JSON report, not parsed from its console output.
// Extra arguments are passed to vitest (e.g. a file filter).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const report = join(root, '.vitest-results.json');
rmSync(report, { force: true });

const typecheck = spawnSync('npx', ['tsc', '-p', 'tsconfig.check.json'], { cwd: root, stdio: 'inherit' });
if (typecheck.status !== 0) {
  console.log('typecheck of sources and tests failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
const run = spawnSync('npx', [...args, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });

if (!existsSync(report)) {
  console.log(`vitest wrote no report (exit status ${run.status})`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const result = JSON.parse(readFileSync(report, 'utf8'));
const passed = result.numPassedTests ?? 0;
// A test file that fails to load (a broken import) has no tests but must still count as a failure.
const brokenFiles = (result.testResults ?? []).filter(
  (f) => f.status === 'failed' && f.assertionResults.length === 0,
);
for (const f of brokenFiles) console.log(`test file failed to load: ${f.name}`);
const failed = (result.numFailedTests ?? 0) + brokenFiles.length;
const total = result.numTotalTests ?? 0;
if (total === 0) console.log('vitest ran no test');
console.log(`${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 && total > 0 ? 0 : 1);
