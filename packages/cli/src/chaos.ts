// `keelson chaos check`: checks a recorded history (JSONL) for linearizability against a model.
// Exit codes: 0 linearizable, 1 not linearizable, 2 unknown (the time budget or memo ran out),
// 3 unusable input (unreadable or malformed history, bad options). The chaos package is imported
// inside the action, so that other commands do not pay for loading it.
// `keelson chaos run --suite store`: a chaos suite on real store processes (chaos/src/store/run.ts).
// `keelson chaos run --suite apiserver`: apiservers and store members of a `keelson cluster up`
// cluster under faults (chaos/src/apiserver/run.ts); same exit codes.
// Exit codes: 0 every checker passed, 1 a violation or an unknown verdict, 2 the run itself failed
// (e.g. the cluster did not start), 3 bad options.
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiSuiteSummary, CheckResult, HistoryOp, SuiteSummary } from '@keelson/chaos';
import { type Command, CommanderError } from 'commander';
import type { Io } from './io.js';

export const EXIT_LINEARIZABLE = 0;
export const EXIT_NOT_LINEARIZABLE = 1;
export const EXIT_UNKNOWN = 2;
export const EXIT_BAD_INPUT = 3;

const MODELS = ['register', 'cas-register', 'kv'] as const;
type ModelName = (typeof MODELS)[number];

interface CheckFlags {
  model: string;
  out?: string;
  timeout: string;
}

/** Seconds from --timeout, or an error message. */
function timeoutSeconds(text: string): number | string {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 7 * 86_400) {
    return `--timeout expects seconds above 0 and at most a week, got "${text}"`;
  }
  return n;
}

/** How a partition's key reads in messages ("" is the partition of operations without a key). */
function keyName(key: string): string {
  return key === '' ? '(no key)' : `key ${JSON.stringify(key)}`;
}

function explainFailures(result: CheckResult<HistoryOp>, io: Io): void {
  for (const f of result.failures) {
    const stuck = f.stuck === undefined ? undefined : f.ops[f.stuck];
    const at = stuck === undefined ? '' : `; stuck at line ${stuck.line}: ${f.labels[f.stuck!]}`;
    io.out(
      `  ${keyName(f.key)}: not linearizable (longest partial linearization: ` +
        `${f.linearization.length} of ${f.ops.length} operations${at})`,
    );
  }
}

function explainUnknown(result: CheckResult<HistoryOp>, timeoutS: number, io: Io): void {
  const open = result.partitions.filter((p) => p.verdict === 'unknown');
  const why = open.some((p) => p.unknownReason === 'memory')
    ? 'the search memo reached its memory limit'
    : `the time budget of ${timeoutS} s ran out`;
  io.out(`  ${why} with ${open.length} key(s) unchecked: ${open.map((p) => keyName(p.key)).join(', ')}`);
  io.out('  (an unknown verdict counts as a failure; raise --timeout or check a shorter history)');
}

async function chaosCheck(file: string, flags: CheckFlags, io: Io): Promise<number> {
  if (!(MODELS as readonly string[]).includes(flags.model)) {
    io.err(`error: --model must be one of ${MODELS.join(', ')}, got "${flags.model}"`);
    return EXIT_BAD_INPUT;
  }
  const timeoutS = timeoutSeconds(flags.timeout);
  if (typeof timeoutS === 'string') {
    io.err(`error: ${timeoutS}`);
    return EXIT_BAD_INPUT;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    io.err(`error: cannot read the history ${file}: ${(e as Error).message}`);
    return EXIT_BAD_INPUT;
  }
  const { HistoryError, checkHistory, historyModels, parseHistory, writeReport } = await import(
    '@keelson/chaos'
  );
  try {
    const parsed = parseHistory(text);
    const result = checkHistory(historyModels[flags.model as ModelName], parsed.ops, {
      timeoutMs: timeoutS * 1000,
      onPartition: (i, n, key) => io.progress(`checking ${keyName(key)} (${i + 1}/${n})`),
    });
    io.progressDone();
    io.out(result.verdict);
    const unknownOutcome = parsed.ops.filter((o) => o.outcome === 'info').length;
    io.out(
      `  ${parsed.ops.length} operations (${unknownOutcome} of unknown outcome; ${parsed.failed} failed ones dropped), ` +
        `${result.partitions.length} key(s), model ${result.model}, ${(result.elapsedMs / 1000).toFixed(2)} s`,
    );
    if (result.verdict === 'linearizable') return EXIT_LINEARIZABLE;
    if (result.verdict === 'unknown') {
      explainUnknown(result, timeoutS, io);
      return EXIT_UNKNOWN;
    }
    explainFailures(result, io);
    const outDir = resolve(flags.out ?? dirname(file));
    const report = writeReport(result, outDir, basename(file, extname(file)));
    if (report !== undefined) io.out(`report: ${report}`);
    return EXIT_NOT_LINEARIZABLE;
  } catch (e) {
    io.progressDone();
    if (!(e instanceof HistoryError)) throw e;
    io.err(`error: ${file}: ${e.message}`);
    io.err('  (each line must be one JSON event; see chaos/README.md for the format)');
    return EXIT_BAD_INPUT;
  }
}

export const EXIT_RUN_OK = 0;
export const EXIT_RUN_FAILED = 1;
export const EXIT_RUN_ERROR = 2;

interface RunFlags {
  suite: string;
  duration: string;
  seed?: string;
  nemesis: string;
  out?: string;
}

/** "60s", "2m", "90" (seconds) → seconds, or an error message. */
export function parseDurationS(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;
  const n = m === null ? Number.NaN : Number(m[1]) * unit[(m[2] ?? 's') as keyof typeof unit];
  if (!Number.isFinite(n) || n < 5 || n > 24 * 3600) {
    return `--duration expects a time from 5s to 24h such as 60s or 2m, got "${text}"`;
  }
  return n;
}

const SUITES = ['store', 'apiserver'] as const;

function runOptions(flags: RunFlags): { durationS: number; seed: number } | string {
  if (!(SUITES as readonly string[]).includes(flags.suite)) {
    return `--suite must be one of ${SUITES.join(', ')}, got "${flags.suite}"`;
  }
  const durationS = parseDurationS(flags.duration);
  if (typeof durationS === 'string') return durationS;
  const seed = flags.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(flags.seed);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    return `--seed expects an integer from 0 to 2^32-1, got "${flags.seed}"`;
  }
  return { durationS, seed };
}

function printVerdicts(s: SuiteSummary, io: Io): void {
  for (const [name, c] of Object.entries(s.checkers)) io.out(`${name}: ${c.verdict}  (${c.detail})`);
  io.out(
    `${s.opsChecked} kv operations checked (${s.ops.opsPerS} ops/s; ${s.ops.kvInfo} of unknown outcome), ` +
      `${s.ops.setAdds} set adds; nemeses covered: ${s.nemeses.covered.join(' ') || 'none'}`,
  );
  io.out(`verdict: ${s.verdict === 'ok' ? 'ok' : 'FAILED'} (seed ${s.seed}; rerun with --seed ${s.seed})`);
  io.out(`results: ${s.outDir}`);
}

function printApiVerdicts(s: ApiSuiteSummary, io: Io): void {
  for (const [name, c] of Object.entries(s.checkers)) io.out(`${name}: ${c.verdict}  (${c.detail})`);
  io.out(
    `${s.ops.total} write attempts (${s.ops.acknowledgedWrites} acknowledged writes, ${s.ops.conflicts} conflicts, ` +
      `${s.ops.info} of unknown outcome), ${s.watch.events} watch events over ${s.watch.sessions} streams; ` +
      `faults: ${s.nemeses.events} (${s.nemeses.covered.join(' ') || 'none healed'})`,
  );
  io.out(`verdict: ${s.verdict === 'ok' ? 'ok' : 'FAILED'} (seed ${s.seed}; rerun with --seed ${s.seed})`);
  io.out(`results: ${s.outDir}`);
}

/** Every component of the apiserver suite's cluster runs this CLI's own main.js (beside this file in dist/). */
const mainScript = fileURLToPath(new URL('./main.js', import.meta.url));

async function chaosRunApiserver(
  flags: RunFlags,
  opts: { durationS: number; seed: number },
  io: Io,
): Promise<number> {
  const { parseApiNemeses, runApiserverSuite } = await import('@keelson/chaos');
  let nemeses: ReturnType<typeof parseApiNemeses>;
  try {
    nemeses = parseApiNemeses(flags.nemesis);
  } catch (e) {
    io.err(`error: --nemesis: ${(e as Error).message}`);
    return EXIT_BAD_INPUT;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = resolve(flags.out ?? join('chaos-results', `apiserver-seed${opts.seed}-${stamp}`));
  io.err(`chaos run: suite apiserver, seed ${opts.seed}, ${opts.durationS} s, nemeses ${nemeses.join(',')}`);
  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(130);
    io.err('interrupted: stopping the workload and checking what was recorded (Ctrl-C again to quit)');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const summary = await runApiserverSuite({
      seed: opts.seed,
      durationS: opts.durationS,
      nemeses,
      outDir,
      mainScript,
      signal: abort.signal,
      progress: (line) => io.progress(line),
    });
    io.progressDone();
    printApiVerdicts(summary, io);
    return summary.verdict === 'ok' ? EXIT_RUN_OK : EXIT_RUN_FAILED;
  } catch (e) {
    io.progressDone();
    io.err(`error: the chaos run failed: ${(e as Error).message}`);
    io.err(
      `  (component logs and partial results are in ${outDir}; run \`npm run build\` if main.js is missing)`,
    );
    return EXIT_RUN_ERROR;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

async function chaosRun(flags: RunFlags, io: Io): Promise<number> {
  const opts = runOptions(flags);
  if (typeof opts === 'string') {
    io.err(`error: ${opts}`);
    return EXIT_BAD_INPUT;
  }
  if (flags.suite === 'apiserver') return chaosRunApiserver(flags, opts, io);
  const { parseNemeses, runSuite } = await import('@keelson/chaos');
  let nemeses: string[];
  try {
    nemeses = parseNemeses(flags.nemesis);
  } catch (e) {
    io.err(`error: --nemesis: ${(e as Error).message}`);
    return EXIT_BAD_INPUT;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = resolve(flags.out ?? join('chaos-results', `store-seed${opts.seed}-${stamp}`));
  io.err(`chaos run: suite store, seed ${opts.seed}, ${opts.durationS} s, nemeses ${flags.nemesis}`);
  // First Ctrl-C: stop the workload early and still check what was recorded; second: leave at once
  // (the suite's exit handler kills the members it started).
  const abort = new AbortController();
  const onSigint = (): void => {
    if (abort.signal.aborted) process.exit(130);
    io.err('interrupted: stopping the workload and checking what was recorded (Ctrl-C again to quit)');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const summary = await runSuite({
      seed: opts.seed,
      durationS: opts.durationS,
      nemeses,
      outDir,
      signal: abort.signal,
      progress: (line) => io.progress(line),
    });
    io.progressDone();
    printVerdicts(summary, io);
    return summary.verdict === 'ok' ? EXIT_RUN_OK : EXIT_RUN_FAILED;
  } catch (e) {
    io.progressDone();
    io.err(`error: the chaos run failed: ${(e as Error).message}`);
    io.err(`  (member logs and partial results are in ${outDir})`);
    return EXIT_RUN_ERROR;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** Adds `chaos check` and `chaos run`. */
export function addChaosCommands(program: Command, io: Io, setExit: (code: number) => void): Command {
  const chaos = program.command('chaos').description('chaos suites and their checkers');
  chaos
    .command('check')
    .description(
      'check a recorded history (JSON lines) for linearizability: exit 0 linearizable, 1 not, ' +
        '2 unknown (time budget ran out), 3 unusable input',
    )
    .argument('<history>', 'the history file: one JSON event per line (see chaos/README.md)')
    .requiredOption('--model <model>', `the object's model: ${MODELS.join(', ')}`)
    .option('--out <dir>', 'where to write the report of a failure (default: next to the history)')
    .option('--timeout <s>', 'time budget in seconds; running out gives "unknown"', '60')
    // Usage errors exit 3, so that 1 and 2 keep meaning "not linearizable" and "unknown".
    .exitOverride((err) => {
      if (err.exitCode === 0) throw err;
      throw new CommanderError(EXIT_BAD_INPUT, err.code, err.message);
    })
    .action(async (file: string, flags: CheckFlags) => setExit(await chaosCheck(file, flags, io)));
  chaos
    .command('run')
    .description(
      'run a chaos suite on real processes: workloads under a seeded nemesis schedule, then every ' +
        'checker; exit 0 all passed, 1 a violation or unknown, 2 the run failed, 3 bad options',
    )
    .requiredOption('--suite <suite>', 'the suite: store, apiserver')
    .option('--duration <time>', 'how long the workload runs (e.g. 60s, 2m)', '60s')
    .option('--seed <n>', 'the nemesis and workload seed (default: random, printed)')
    .option(
      '--nemesis <list>',
      'comma-separated nemeses: kill, pause, partition, delay, loss, membership, crash, all; ' +
        'kind:variant for one variant (e.g. partition:ring). apiserver suite: kill-apiserver, ' +
        'pause-apiserver, term-apiserver, kill-store-leader, kill-store-follower, all',
      'all',
    )
    .option('--out <dir>', 'the results folder (default: chaos-results/<suite>-seed<N>-<time>)')
    .exitOverride((err) => {
      if (err.exitCode === 0) throw err;
      throw new CommanderError(EXIT_BAD_INPUT, err.code, err.message);
    })
    .action(async (flags: RunFlags) => setExit(await chaosRun(flags, io)));
  return chaos;
}
