// `keelson chaos check`: checks a recorded history (JSONL) for linearizability against a model.
// Exit codes: 0 linearizable, 1 not linearizable, 2 unknown (the time budget or memo ran out),
// 3 unusable input (unreadable or malformed history, bad options). The chaos package is imported
// inside the action, so that other commands do not pay for loading it.
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import type { CheckResult, HistoryOp } from '@keelson/chaos';
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

/** Adds `chaos check`. */
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
  return chaos;
}
