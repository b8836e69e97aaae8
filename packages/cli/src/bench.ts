// `keelson bench kv` and `keelson bench failover`: load generators and failover timing over etcd's v3 API.
// The bench package (gRPC, the store, process launching) is imported inside the actions, so that
// commands that do not need it (`keelson sim`) start as fast as before.
import type { FailoverResult, KvOp, KvOptions, KvResult } from '@keelson/bench';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { count } from './format.js';
import type { Io } from './io.js';

const kvOps: readonly KvOp[] = ['put', 'get', 'get-serializable', 'txn-cas', 'mixed'];
type KvClient = NonNullable<KvOptions['client']>;
const kvClients: readonly KvClient[] = ['h2', 'grpc-js'];

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    }
    return n;
  };
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 7 * 86_400) {
    throw new InvalidArgumentError(`expected seconds above 0 and at most a week, got "${value}"`);
  }
  return n;
}

interface KvFlags {
  endpoints: string;
  clients: number;
  conns: number;
  total?: number;
  duration?: number;
  op: KvOp;
  keySpace: number;
  keySize: number;
  valSize: number;
  prefill?: boolean;
  client: KvClient;
  json?: boolean;
  progress?: boolean;
}

interface FailoverFlags {
  impl: 'keelson' | 'etcd';
  mode: 'kill' | 'transfer';
  rounds: number;
  clients?: number;
  json?: boolean;
  progress?: boolean;
}

/**
 * Adds `bench kv` and `bench failover`. Progress goes to stderr each second when it is a terminal
 * (`isTty`), or always with --progress.
 */
export function addBenchCommands(
  program: Command,
  io: Io,
  setExit: (code: number) => void,
  isTty: boolean = process.stderr.isTTY === true,
): Command {
  const bench = program.command('bench').description('benchmarks over the etcd v3 API (Keelson or etcd)');
  bench
    .command('kv')
    .description('closed-loop load on any etcd v3 endpoints: ops/s, latency percentiles, errors by code')
    .option('--endpoints <urls>', 'comma-separated client URLs', '127.0.0.1:2379')
    .option(
      '--clients <n>',
      'concurrent clients, each waiting for its previous request',
      integer(1, 100_000),
      1,
    )
    .option(
      '--conns <n>',
      'gRPC connections the clients share (round-robin over endpoints)',
      integer(1, 10_000),
      1,
    )
    .addOption(
      new Option('--total <n>', 'requests to make (default: 10000 unless --duration)')
        .argParser(integer(1, Number.MAX_SAFE_INTEGER))
        .conflicts('duration'),
    )
    .option('--duration <s>', 'run for this many seconds instead of --total', seconds)
    .addOption(new Option('--op <op>', 'the workload').choices(kvOps).default('put'))
    .option('--key-space <n>', 'keys are drawn uniformly from this many', integer(1, 100_000_000), 1000)
    .option('--key-size <bytes>', 'bytes per key', integer(1, 1024 * 1024), 8)
    .option('--val-size <bytes>', 'bytes per value', integer(0, 16 * 1024 * 1024), 256)
    .option('--prefill', 'write every key first (always done for get, get-serializable and mixed)')
    .addOption(
      new Option('--client <impl>', 'gRPC client: h2 (lean, built in) or grpc-js')
        .choices(kvClients)
        .default('h2'),
    )
    .option('--json', 'print the result as one JSON object')
    .option('--progress', 'a progress line each second even when stderr is not a terminal')
    .action(async (flags: KvFlags) => setExit(await benchKv(flags, io, isTty)));
  bench
    .command('failover')
    .description('launch a 3-member cluster, kill -9 (or move) its leader N times, time the write gap')
    .addOption(new Option('--impl <impl>', 'which store').choices(['keelson', 'etcd']).default('keelson'))
    .addOption(
      new Option('--mode <mode>', 'how the leader goes').choices(['kill', 'transfer']).default('kill'),
    )
    .option('--rounds <n>', 'failovers to time', integer(1, 1000), 5)
    .option('--clients <n>', 'writers keeping a light load', integer(1, 64))
    .option('--json', 'print the result as one JSON object')
    .option('--progress', 'progress lines even when stderr is not a terminal')
    .action(async (flags: FailoverFlags) => setExit(await benchFailover(flags, io, isTty)));
  return bench;
}

function kvOptions(f: KvFlags, progress: ((line: string) => void) | undefined): KvOptions {
  const endpoints = f.endpoints
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const o: KvOptions = {
    endpoints,
    clients: f.clients,
    conns: f.conns,
    op: f.op,
    keySpace: f.keySpace,
    keySize: f.keySize,
    valSize: f.valSize,
    prefill: f.prefill === true,
    client: f.client,
  };
  if (f.duration !== undefined) o.durationS = f.duration;
  else o.total = f.total ?? 10_000;
  if (progress !== undefined) o.progress = progress;
  return o;
}

async function benchKv(f: KvFlags, io: Io, isTty: boolean): Promise<number> {
  const { runKv, validateKvOptions } = await import('@keelson/bench');
  const o = kvOptions(f, isTty || f.progress === true ? (l) => io.progress(l) : undefined);
  try {
    validateKvOptions(o);
  } catch (e) {
    io.err(`${(e as Error).message}`);
    return 2;
  }
  let result: KvResult;
  try {
    result = await runKv(o);
  } catch (e) {
    io.progressDone();
    io.err(`bench kv failed: ${(e as Error).message}`);
    return 1;
  }
  io.progressDone();
  if (f.json === true) io.out(JSON.stringify(result));
  else for (const line of kvTable(result, o.endpoints)) io.out(line);
  if (result.ops === 0) {
    io.err('no request succeeded: check that the endpoints are etcd v3 client URLs and reachable');
    return 1;
  }
  return 0;
}

const ms = (x: number): string => `${x.toFixed(2)} ms`;

/** The result as aligned lines for a person. */
export function kvTable(r: KvResult, endpoints: string[]): string[] {
  const failed = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const rows: [string, string][] = [
    ['workload', `${r.op}, ${r.clients} client(s) over ${r.conns} connection(s) to ${endpoints.join(', ')}`],
    ['requests', `${count(r.ops)} succeeded, ${count(failed)} failed, in ${r.durationS.toFixed(2)} s`],
    ['throughput', `${count(Math.round(r.opsPerSec))} ops/s`],
    [
      'latency',
      `p50 ${ms(r.latencyMs.p50)}  p90 ${ms(r.latencyMs.p90)}  p99 ${ms(r.latencyMs.p99)}  p99.9 ${ms(r.latencyMs.p999)}  max ${ms(r.latencyMs.max)}`,
    ],
  ];
  if (r.op === 'txn-cas')
    rows.push(['cas failed', `${count(r.casFailures)} compares lost to another client`]);
  for (const [key, n] of Object.entries(r.errors).sort((a, b) => b[1] - a[1]))
    rows.push(['error', `${count(n)}× ${key}`]);
  return rows.map(([k, v]) => `${k.padEnd(11)} ${v}`);
}

async function benchFailover(f: FailoverFlags, io: Io, isTty: boolean): Promise<number> {
  const { runFailover } = await import('@keelson/bench');
  let result: FailoverResult;
  try {
    result = await runFailover({
      impl: f.impl,
      mode: f.mode,
      rounds: f.rounds,
      ...(f.clients === undefined ? {} : { clients: f.clients }),
      ...(isTty || f.progress === true ? { progress: (l: string) => io.progress(l) } : {}),
    });
  } catch (e) {
    io.progressDone();
    io.err(`bench failover failed: ${(e as Error).message}`);
    return 1;
  }
  io.progressDone();
  if (f.json === true) io.out(JSON.stringify(result));
  else {
    io.out(
      `${result.impl}, leader ${result.mode === 'kill' ? 'killed (kill -9)' : 'transferred'}, ${result.rounds} round(s)`,
    );
    io.out(
      `write gap  min ${Math.round(result.minMs)} ms  median ${Math.round(result.medianMs)} ms  max ${Math.round(result.maxMs)} ms`,
    );
    io.out(`each       ${result.gapsMs.map((g) => `${Math.round(g)} ms`).join(', ')}`);
  }
  return 0;
}
