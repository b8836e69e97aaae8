// `keelson cluster up|down|status`: a local HA cluster — store members, apiservers and a load
// balancer — with its data, certificates, logs, PIDs and kubeconfig in one directory.
import { fileURLToPath } from 'node:url';
import type { ClusterError as ClusterErrorType, ClusterIo } from '@keelson/cluster';
import { type Command, InvalidArgumentError } from 'commander';
import type { Io } from './io.js';

interface UpOpts {
  dir: string;
  stores?: number;
  apiservers?: number;
  basePort?: number;
  readyTimeoutMs: number;
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

/** Every component runs this CLI's own main.js (beside this file in dist/). */
const mainScript = fileURLToPath(new URL('./main.js', import.meta.url));
const DIR_DEFAULT = '.keelson';

export function addClusterCommands(program: Command, io: Io, setExit: (code: number) => void): Command {
  const cluster = program
    .command('cluster')
    .description('a local HA cluster: store members, apiservers and a load balancer, in one directory');
  cluster
    .command('up')
    .description('create or restart the cluster and wait until every component is healthy')
    .option('--dir <path>', 'where data, certificates, logs, PIDs and the kubeconfig live', DIR_DEFAULT)
    .option('--stores <n>', 'store members, odd (default 3, or what --dir was created with)', integer(1, 9))
    .option('--apiservers <n>', 'apiservers (default 2, or what --dir was created with)', integer(1, 9))
    .option(
      '--base-port <port>',
      'the LB port; the cluster uses the 40 ports from it, best below 32768 (default 6443, or what --dir recorded)',
      integer(1024, 65_495),
    )
    .option('--ready-timeout-ms <ms>', 'bound on each phase becoming healthy', integer(1000, 600_000), 60_000)
    .action(async (opts: UpOpts) => setExit(await up(opts, io)));
  cluster
    .command('down')
    .description('stop every component by its recorded PID (data is kept)')
    .option('--dir <path>', 'the cluster directory', DIR_DEFAULT)
    .action(async (opts: { dir: string }) => setExit(await down(opts, io)));
  cluster
    .command('status')
    .description('every component with its role, PID, address and health (exit 1 unless all healthy)')
    .option('--dir <path>', 'the cluster directory', DIR_DEFAULT)
    .option('--json', 'print the status as JSON')
    .action(async (opts: { dir: string; json?: boolean }) => setExit(await status(opts, io)));
  return cluster;
}

function clusterIo(io: Io): ClusterIo {
  // The live multi-line display only on a terminal; a log or CI job gets one line per change.
  const tty =
    process.stderr.isTTY === true ? { write: (s: string) => void process.stderr.write(s) } : undefined;
  return { out: io.out, err: io.err, tty };
}

async function up(opts: UpOpts, io: Io): Promise<number> {
  // Loaded only when asked for: the launcher pulls in the apiserver's certificate code.
  const { clusterUp, usageLines } = await import('@keelson/cluster');
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await clusterUp(
      {
        dir: opts.dir,
        stores: opts.stores,
        apiservers: opts.apiservers,
        basePort: opts.basePort,
        readyTimeoutMs: opts.readyTimeoutMs,
        mainScript,
        signal: abort.signal,
      },
      clusterIo(io),
    );
    io.out('');
    for (const line of usageLines(result)) io.out(line);
    return 0;
  } catch (err) {
    return await failure(err, io, 'up');
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function down(opts: { dir: string }, io: Io): Promise<number> {
  const { clusterDown } = await import('@keelson/cluster');
  try {
    io.err(`Stopping the cluster in ${opts.dir}`);
    const result = await clusterDown({ dir: opts.dir }, clusterIo(io));
    io.out(
      result.stopped
        ? 'Cluster stopped (data kept; `keelson cluster up` restarts it)'
        : 'Some components are still running',
    );
    return result.stopped ? 0 : 1;
  } catch (err) {
    return await failure(err, io, 'down');
  }
}

async function status(opts: { dir: string; json?: boolean }, io: Io): Promise<number> {
  const { clusterStatus, formatStatusTable } = await import('@keelson/cluster');
  try {
    const s = await clusterStatus({ dir: opts.dir });
    if (opts.json === true) io.out(JSON.stringify(s, null, 2));
    else for (const line of formatStatusTable(s)) io.out(line);
    return s.healthy ? 0 : 1;
  } catch (err) {
    return await failure(err, io, 'status');
  }
}

/** A ClusterError is a message for a person: exit 1; 2 for flags that contradict the dir; 130 on Ctrl-C. */
async function failure(err: unknown, io: Io, command: string): Promise<number> {
  const { ClusterError } = await import('@keelson/cluster');
  if (!(err instanceof ClusterError)) throw err;
  const e = err as ClusterErrorType;
  io.err(`keelson cluster ${command}: ${e.message}`);
  if (e.code === 'ABORTED') return 130;
  return e.code === 'LAYOUT_MISMATCH' ? 2 : 1;
}
