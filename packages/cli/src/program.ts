// The `keelson` command line.
import { Command, InvalidArgumentError } from 'commander';
import { addApiserverCommand } from './apiserver.js';
import { addBenchCommands } from './bench.js';
import { addChaosCommands } from './chaos.js';
import { addClusterCommands } from './cluster.js';
import { DEMO_SEED, demo } from './demo.js';
import type { Io } from './io.js';
import { addLbCommand } from './lb.js';
import { simRun, simSoak } from './sim.js';

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

/** Builds the program; `setExit` receives each command's exit code. */
export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('keelson')
    .description(
      'Keelson: a highly available Kubernetes-style control plane with its own Raft-replicated store',
    )
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError()
    // Throw instead of exiting, so that runCli returns the exit code (subcommands inherit this).
    .exitOverride();

  program
    .command('demo')
    .description('run a 5-node Raft simulation with faults and narrate what happened')
    .option('--seed <n>', 'another seed for the demo schedule', integer(0, 0xffffffff), DEMO_SEED)
    .action((opts: { seed: number }) => setExit(demo(io, opts.seed)));

  const sim = program.command('sim').description('the deterministic Raft simulator');
  sim
    .command('run')
    .description(
      'replay one schedule exactly from its seed string and print the result (exit 1 on a violation)',
    )
    .argument('<seed>', 'a seed string (v1-s...-n...) or a plain number')
    .option('--trace', 'print every trace line as the run goes')
    .action((seed: string, opts: { trace?: boolean }) =>
      setExit(simRun(seed, { trace: opts.trace === true }, io)),
    );
  sim
    .command('soak')
    .description('run many schedules derived from a start seed; stop at the first violation')
    .option('--seeds <n>', 'how many schedules', integer(1, Number.MAX_SAFE_INTEGER), 1000)
    .option('--start <s>', 'the start seed', integer(0, 0xffffffff), 1)
    .option('--steps <n>', 'fault-phase steps per schedule (default 2000)', integer(1, 10_000_000))
    .option('--nodes <n>', 'initial cluster size for every schedule (default: varies, 1-7)', integer(1, 7))
    .option('--jobs <n>', 'worker threads to spread the schedules over', integer(1, 256), 1)
    .option('--json', 'end with one machine-readable JSON summary line on stdout')
    .action(
      async (opts: {
        seeds: number;
        start: number;
        steps?: number;
        nodes?: number;
        jobs: number;
        json?: boolean;
      }) => setExit(await simSoak(opts, io)),
    );
  addBenchCommands(program, io, setExit);
  addChaosCommands(program, io, setExit);
  addApiserverCommand(program, io, setExit);
  addLbCommand(program, io, setExit);
  addClusterCommands(program, io, setExit);
  return program;
}

/** Runs the CLI with argv (as process.argv); returns the exit code. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
    if (e.code === 'commander.help') return 0;
    if (typeof e.exitCode === 'number') return e.exitCode;
    throw err;
  }
  return code;
}
