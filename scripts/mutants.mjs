// Proves the simulator has teeth: for each deliberate bug below, copy the workspace to a temp
// directory, break the Raft core there in exactly that way, build it, and soak the simulator until
// it reports a violation (or the seed budget runs out). The real sources are never touched.
//
//   node scripts/mutants.mjs [--seeds N] [--only NAME] [--json] [--volume]
//
// With --volume, each mutant faces CI's own volume tests (the 1,000 fast-check schedules of
// packages/raft-sim/test/volume-*.test.ts) instead of a soak.
// Exit status 0 means every mutant was caught; the report lists the invariant and seed per bug.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

/** Each mutant is one or more exact find/replace edits in packages/raft/src. */
export const MUTANTS = [
  {
    name: 'commit-prior-term-by-counting',
    bug: 'commit a prior-term entry by counting replicas',
    edits: [
      [
        'log.ts',
        'if (maxIndex > this.committed && this.zeroTermOnOutOfRange(maxIndex) === term) {',
        'if (maxIndex > this.committed && this.zeroTermOnOutOfRange(maxIndex) <= term) {',
      ],
    ],
  },
  {
    // The same bug with the core's own assertion that notices it disabled, to show that the
    // simulator's safety checker (not only the core's assertions) catches the consequence.
    name: 'commit-prior-term-by-counting-no-assert',
    bug: 'commit a prior-term entry by counting replicas (core assertion removed)',
    edits: [
      [
        'log.ts',
        'if (maxIndex > this.committed && this.zeroTermOnOutOfRange(maxIndex) === term) {',
        'if (maxIndex > this.committed && this.zeroTermOnOutOfRange(maxIndex) <= term) {',
      ],
      [
        'step_leader.ts',
        "  assert(r.committedEntryInCurrentTerm(), 'pending reads released before the first commit of the term');\n",
        '',
      ],
    ],
  },
  {
    name: 'forget-to-persist-vote',
    bug: 'forget to persist the vote',
    edits: [
      [
        'rawnode.ts',
        'hardState: hardChanged ? hs : null,',
        'hardState: hardChanged ? { ...hs, vote: 0 } : null,',
      ],
    ],
  },
  {
    name: 'vote-for-shorter-log',
    bug: 'grant a vote to a candidate with a shorter log',
    edits: [
      [
        'raft.ts',
        'if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {',
        'if (canVote && m.logTerm >= this.raftLog.lastTerm()) {',
      ],
    ],
  },
  {
    name: 'prevote-bumps-term',
    bug: 'let a PreVote bump the term',
    edits: [
      [
        'raft.ts',
        '    if (m.type === MessageType.PreVote) {\n      // Never change our term in response to a PreVote.\n    } else',
        '    if (m.type === MessageType.PreVote) {\n      this.becomeFollower(m.term, NONE);\n    } else',
      ],
    ],
  },
  {
    name: 'readindex-without-heartbeat',
    bug: 'answer a ReadIndex without the heartbeat round',
    edits: [
      [
        'step_leader.ts',
        'if (r.readOnlyOption === ReadOnlyOption.LeaseBased) {',
        'if (r.readOnlyOption === ReadOnlyOption.LeaseBased || true) {',
      ],
    ],
  },
  {
    name: 'apply-stale-snapshot',
    bug: 'apply a snapshot older than the commit index',
    edits: [
      ['raft.ts', '    if (index <= this.raftLog.committed) return false;\n', ''],
      [
        'log.ts',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: this is the source text to find, not a template.
        '    assert(index >= this.committed, () => `snapshot ${index} would move committed ${this.committed} back`);\n',
        '',
      ],
    ],
  },
];

function parseArgs(argv) {
  const args = { seeds: 2000, only: null, json: false, volume: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seeds') args.seeds = Number(argv[++i]);
    else if (argv[i] === '--only') args.only = argv[++i];
    else if (argv[i] === '--json') args.json = true;
    else if (argv[i] === '--volume') args.volume = true;
    else
      throw new Error(
        `unknown argument ${argv[i]}; usage: node scripts/mutants.mjs [--seeds N] [--only NAME] [--json]`,
      );
  }
  return args;
}

/** A copy of the workspace whose node_modules links to the real one, except our own packages. */
function makeWorkspace() {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-mutant-'));
  for (const f of ['package.json', 'tsconfig.base.json', 'tsconfig.json', 'vitest.config.ts']) {
    cpSync(join(root, f), join(dir, f));
  }
  for (const p of ['raft', 'raft-sim', 'cli']) {
    cpSync(join(root, 'packages', p), join(dir, 'packages', p), {
      recursive: true,
      filter: (src) => !src.includes(`${p}/dist`) && !src.endsWith('.tsbuildinfo'),
    });
  }
  mkdirSync(join(dir, 'node_modules', '@keelson'), { recursive: true });
  for (const e of readdirSync(join(root, 'node_modules'))) {
    if (e === '@keelson' || e === '.bin' || e.startsWith('.')) continue;
    symlinkSync(join(root, 'node_modules', e), join(dir, 'node_modules', e));
  }
  for (const p of ['raft', 'raft-sim', 'cli'])
    symlinkSync(join(dir, 'packages', p), join(dir, 'node_modules', '@keelson', p));
  return dir;
}

function applyEdits(dir, edits) {
  for (const [file, find, replace] of edits) {
    const path = join(dir, 'packages', 'raft', 'src', file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(find))
      throw new Error(`mutant edit no longer applies to ${file}: ${JSON.stringify(find.slice(0, 80))}`);
    writeFileSync(path, text.replace(find, replace));
  }
}

/** Runs CI's volume tests in the mutated workspace; a failing test reports the invariant and seed. */
function runVolume(m, dir) {
  const started = Date.now();
  const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const files = [1, 2, 3, 4].map((i) => `packages/raft-sim/test/volume-${i}.test.ts`);
  const run = spawnSync(process.execPath, [vitest, 'run', ...files], {
    cwd: dir,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60 * 1000,
  });
  const out = `${run.stdout}${run.stderr}`;
  const found = out.match(/(\w+) violated at step \d+[^\n]*/);
  const seed = out.match(/seed: (v1-[0-9a-z-]+)/);
  const violation = found ? { invariant: found[1], message: found[0], seed: seed?.[1] ?? null } : null;
  const seconds = (Date.now() - started) / 1000;
  return {
    name: m.name,
    bug: m.bug,
    caught: run.status !== 0 && violation !== null,
    seconds,
    summary: { runs: 'volume', violation },
  };
}

function runMutant(m, seeds) {
  const dir = makeWorkspace();
  try {
    applyEdits(dir, m.edits);
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const build = spawnSync(process.execPath, [tsc, '-b', 'packages/cli'], { cwd: dir, encoding: 'utf8' });
    if (build.status !== 0)
      throw new Error(`mutant ${m.name} does not build:\n${build.stdout}${build.stderr}`);
    if (args.volume) return runVolume(m, dir);
    const started = Date.now();
    const soak = spawnSync(
      process.execPath,
      [
        'packages/cli/dist/main.js',
        'sim',
        'soak',
        '--seeds',
        String(seeds),
        '--start',
        '1',
        '--jobs',
        '2',
        '--json',
      ],
      { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 30 * 60 * 1000 },
    );
    const lines = soak.stdout.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1] ?? '{}');
    return {
      name: m.name,
      bug: m.bug,
      caught: soak.status === 1 && summary.violation != null,
      seconds: (Date.now() - started) / 1000,
      summary,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = parseArgs(process.argv.slice(2));
const chosen = MUTANTS.filter((m) => args.only === null || m.name === args.only);
if (chosen.length === 0)
  throw new Error(`no mutant named ${args.only}; known: ${MUTANTS.map((m) => m.name).join(', ')}`);
const results = [];
for (const m of chosen) {
  const how = args.volume ? "CI's volume tests" : `a soak of up to ${args.seeds} seeds`;
  process.stderr.write(`mutant ${m.name} (${m.bug}): running ${how}…\n`);
  const r = runMutant(m, args.seeds);
  results.push(r);
  const v = r.summary.violation;
  process.stderr.write(
    r.caught
      ? `  caught after ${r.summary.runs} runs (${r.seconds.toFixed(1)} s): ${v.invariant} — seed ${v.seed}\n`
      : `  NOT caught in ${r.summary.runs ?? '?'} runs (${r.seconds.toFixed(1)} s)\n`,
  );
}
if (args.only === null) {
  const out = join(root, 'bench', 'results', args.volume ? 'raft-mutants-volume.json' : 'raft-mutants.json');
  const mode = args.volume ? 'volume' : 'soak';
  const report = {
    date: new Date().toISOString(),
    mode,
    seedsPerMutant: args.volume ? null : args.seeds,
    results,
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`wrote ${out}\n`);
}
if (args.json) console.log(JSON.stringify(results, null, 2));
else
  for (const r of results)
    console.log(
      `${r.caught ? 'caught' : 'MISSED'}\t${r.name}\t${r.summary.violation?.invariant ?? '-'}\t${r.summary.violation?.seed ?? '-'}`,
    );
process.exit(results.every((r) => r.caught) ? 0 : 1);
