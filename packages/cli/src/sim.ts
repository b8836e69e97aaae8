// `keelson sim run` and `keelson sim soak`: replay one schedule exactly, or run many.
import { Worker } from 'node:worker_threads';
import {
  addStats,
  emptyStats,
  formatFailure,
  parseSeedString,
  type RunResult,
  replayCommand,
  runSimulation,
  runSoak,
  runWithTailOnFailure,
  type ScheduleSpec,
  type SimStats,
  type SoakProgress,
  SpecError,
  specFromSeed,
} from '@keelson/raft-sim';
import { count, describeSpec, describeStats, duration } from './format.js';
import type { Io } from './io.js';
import type { SoakWorkerData, SoakWorkerMessage } from './soak_worker.js';

export interface SimRunOptions {
  /** Print every trace line as it happens. */
  readonly trace?: boolean;
}

/** Replays one schedule; returns the exit code (1 on a violation or a bad seed string). */
export function simRun(seedString: string, opts: SimRunOptions, io: Io): number {
  let spec: ScheduleSpec;
  try {
    spec = parseSeedString(seedString);
  } catch (err) {
    io.err(`keelson sim run: ${(err as Error).message}`);
    io.err(
      'A seed string looks like v1-s1a2b3c-n5-t2000-...; copy it from a failure report, or pass a plain number.',
    );
    return 2;
  }
  const t0 = io.clock();
  // Keep the tail of the trace always (it is printed with a violation); stream all of it with --trace.
  const r = runSimulation(
    spec,
    opts.trace === true ? { trace: 'tail', onTraceLine: io.out } : { trace: 'tail' },
  );
  const ms = io.clock() - t0;
  io.out(`schedule ${r.seedString}`);
  for (const line of describeSpec(spec)) io.out(`  ${line}`);
  printResult(r, io);
  io.out(`trace hash ${r.traceHash} (${count(r.traceEvents)} events), ran in ${duration(ms)}`);
  return r.ok ? 0 : 1;
}

function printResult(r: RunResult, io: Io): void {
  if (r.ok) {
    io.out('result: OK — every invariant held after every step, and liveness returned after the heal');
  } else {
    io.out('result: VIOLATION');
    for (const line of formatFailure(r, 200).split('\n')) io.out(`  ${line}`);
  }
  io.out('stats:');
  for (const line of describeStats(r.stats)) io.out(line);
}

export interface SoakCommandOptions {
  readonly seeds: number;
  readonly start: number;
  readonly steps?: number;
  readonly nodes?: number;
  /** Worker threads; 1 runs in this thread. */
  readonly jobs?: number;
  /** End with a JSON summary line (for scripts such as scripts/mutants.mjs). */
  readonly json?: boolean;
}

interface SoakOutcome {
  readonly runs: number;
  readonly stats: SimStats;
  readonly failure: RunResult | null;
  readonly elapsedMs: number;
}

/** Runs `seeds` derived schedules; stops at the first violation. Returns the exit code. */
export async function simSoak(opts: SoakCommandOptions, io: Io): Promise<number> {
  const overrides: Partial<ScheduleSpec> = {};
  if (opts.steps !== undefined) Object.assign(overrides, { steps: opts.steps });
  if (opts.nodes !== undefined) Object.assign(overrides, { nodes: opts.nodes });
  try {
    specFromSeed(opts.start, overrides);
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    io.err(`keelson sim soak: ${err.message}`);
    return 2;
  }
  const jobs = Math.max(1, Math.min(opts.jobs ?? 1, opts.seeds));
  io.err(
    `soak: ${count(opts.seeds)} schedules from start seed ${opts.start} on ${jobs} thread(s); progress every second, Ctrl-C to stop`,
  );
  const outcome =
    jobs === 1
      ? soakHere(opts.seeds, opts.start, overrides, io)
      : await soakThreads(opts, overrides, jobs, io);
  io.progressDone();
  const { runs, stats, failure } = outcome;
  if (failure !== null) {
    io.out(`soak stopped after ${count(runs)} of ${count(opts.seeds)} runs: VIOLATION`);
    for (const l of formatFailure(failure, 200).split('\n')) io.out(`  ${l}`);
  }
  io.out('soak summary');
  io.out(`  runs        ${count(runs)} of ${count(opts.seeds)} (start seed ${opts.start})`);
  io.out(`  steps       ${count(stats.steps)}`);
  io.out(`  commits     ${count(stats.committedIndex)}`);
  io.out(`  elections   ${count(stats.elections)}`);
  io.out(`  checks      ${count(stats.checks)}`);
  io.out(`  violations  ${failure === null ? 0 : 1}`);
  io.out(`  wall time   ${duration(outcome.elapsedMs)}`);
  if (failure !== null) io.out(`replay: ${replayCommand(failure.seedString)}`);
  if (opts.json === true) {
    const v = failure?.violation ?? null;
    const violation =
      v === null || failure === null
        ? null
        : {
            invariant: v.invariant,
            step: v.step,
            node: v.node,
            message: v.message,
            seed: failure.seedString,
          };
    io.out(
      JSON.stringify({
        runs,
        seeds: opts.seeds,
        start: opts.start,
        ...stats,
        elapsedMs: outcome.elapsedMs,
        violation,
      }),
    );
  }
  return failure === null ? 0 : 1;
}

function progressLine(
  runs: number,
  seeds: number,
  stats: SimStats,
  violations: number,
  elapsedMs: number,
): string {
  const perSec = elapsedMs > 0 ? (runs * 1000) / elapsedMs : 0;
  const left = perSec > 0 ? ((seeds - runs) / perSec) * 1000 : 0;
  const share = seeds > 0 ? ((100 * runs) / seeds).toFixed(1) : '100';
  return `soak: ${count(runs)}/${count(seeds)} runs (${share}%), ${count(stats.steps)} steps, ${count(stats.committedIndex)} commits, ${violations} violations, ${perSec.toFixed(1)} runs/s, ETA ${duration(left)}`;
}

function soakHere(seeds: number, start: number, overrides: Partial<ScheduleSpec>, io: Io): SoakOutcome {
  const summary = runSoak({
    seeds,
    start,
    overrides,
    clock: io.clock,
    onProgress: (p: SoakProgress) =>
      io.progress(progressLine(p.runs, p.seeds, p.stats, p.violations, p.elapsedMs)),
  });
  return { runs: summary.runs, stats: summary.stats, failure: summary.failure, elapsedMs: summary.elapsedMs };
}

/** The soak spread over worker threads (each takes every jobs-th schedule); stops all at a violation. */
async function soakThreads(
  opts: SoakCommandOptions,
  overrides: Partial<ScheduleSpec>,
  jobs: number,
  io: Io,
): Promise<SoakOutcome> {
  const t0 = io.clock();
  const stats = emptyStats();
  let runs = 0;
  let failed: string | null = null;
  const url = new URL('./soak_worker.js', import.meta.url);
  const workers = Array.from(
    { length: jobs },
    (_, index) =>
      new Worker(url, {
        workerData: { start: opts.start, seeds: opts.seeds, jobs, index, overrides } satisfies SoakWorkerData,
      }),
  );
  const progress = (): void =>
    io.progress(progressLine(runs, opts.seeds, stats, failed === null ? 0 : 1, io.clock() - t0));
  const timer = setInterval(progress, 1000);
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.on('message', (m: SoakWorkerMessage) => {
              if (m.type === 'run') {
                runs++;
                addStats(stats, m.stats);
              } else if (m.type === 'fail' && failed === null) {
                failed = m.seedString;
                for (const other of workers) if (other !== w) void other.terminate();
              } else if (m.type === 'done') resolve();
            });
            w.on('error', reject);
            w.on('exit', () => resolve());
          }),
      ),
    );
  } finally {
    clearInterval(timer);
    for (const w of workers) void w.terminate();
  }
  progress();
  const failure = failed === null ? null : runWithTailOnFailure(parseSeedString(failed));
  return { runs, stats, failure, elapsedMs: io.clock() - t0 };
}
