// `npm run bench:vs-etcd`: Keelson's store and etcd 3.4 side by side, on the same machine, with the same
// client (runKv over the etcd v3 gRPC API) and the same workloads, each store on 3 loopback members
// with its own default timings. Every workload runs against each store in alternation (etcd, keelson,
// etcd, keelson, ...) on a fresh cluster, and the table reports the median of the rounds and the ratio
// keelson/etcd: ratios, not absolute figures, because these machines are noisy.
//   node bench/dist/vs-etcd.js [--quick] [--rounds N] [--duration S] [--warmup S] [--only put-64,...]
//                              [--revisions N] [--failover-rounds N] [--soak-minutes N]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { EtcdClient } from '@keelson/store';
import { assertImplPresent, type BenchImpl, etcdBin, launchCluster } from './clusters.js';
import { type FailoverResult, median, runFailover } from './failover.js';
import { type KvOptions, type KvResult, runKv } from './kv.js';

type KvOp = KvOptions['op'];

interface KvWorkload {
  readonly id: string;
  readonly op: KvOp;
  readonly clients: number;
  readonly label: string;
}

/** The steady-state workloads, in the order they run; `id` is what --only takes. */
const KV_WORKLOADS: readonly KvWorkload[] = [
  { id: 'put-1', op: 'put', clients: 1, label: 'put, 1 client (sequential)' },
  { id: 'put-16', op: 'put', clients: 16, label: 'put, 16 clients' },
  { id: 'put-64', op: 'put', clients: 64, label: 'put, 64 clients' },
  { id: 'put-256', op: 'put', clients: 256, label: 'put, 256 clients' },
  { id: 'get-64', op: 'get', clients: 64, label: 'linearizable get, 64 clients' },
  { id: 'get-serializable-64', op: 'get-serializable', clients: 64, label: 'serializable get, 64 clients' },
  { id: 'txn-cas-64', op: 'txn-cas', clients: 64, label: 'txn compare-and-swap, 64 clients' },
];
const WORKLOAD_IDS = [...KV_WORKLOADS.map((w) => w.id), 'failover', 'history', 'soak'];
/** The soak: a long 256-client put run that must see no leader change (a busy disk or loop must not cost one). */
const soakClients = 256;
const soakMinutesMax = 24 * 60;
/**
 * During the soak, history older than the previous tick's revision is compacted this often (for both
 * stores alike). Without it either store fills its 2 GiB default quota within minutes at ~20k puts/s and
 * answers NOSPACE; kube-apiserver compacts every 5 minutes for the same reason.
 */
const soakCompactEveryMs = 30_000;
const IMPLS: readonly BenchImpl[] = ['etcd', 'keelson'];

const keySize = 8;
const valSize = 256;
const keySpace = 10_000;
/** The history case rewrites a small key space, so that every key has hundreds of revisions. */
const historyKeySpace = 1_000;
const historyClients = 64;
const historyWriteClients = 64;
const roundsMax = 20;
/** The warm-up run of a get workload prefills only this many keys, to keep it short. */
const warmupKeySpace = 1_000;
const durationSMax = 600;
const revisionsMax = 5_000_000;
const warmupSMax = 300;

interface Settings {
  quick: boolean;
  rounds: number;
  durationS: number;
  /**
   * An unmeasured run of the same workload on each fresh cluster before the measured one. Long enough
   * for Node's optimizing compiler to settle: at one client a member still compiles functions 4 to 8 s
   * after it started (node --trace-opt), on worker threads that take a core from the other processes
   * for milliseconds at a time. A Go binary has no such phase; both stores get the same warm-up.
   */
  warmupS: number;
  revisions: number;
  /** kill -9 rounds per failover run; the table aggregates every gap of every round. */
  failoverRounds: number;
  /** History is costly (hundreds of thousands of writes per store); it runs this many rounds. */
  historyRounds: number;
  /** Length of the soak run per store (it runs once). */
  soakMinutes: number;
  only: Set<string>;
}

/** A bad command line: reported as its message and the usage, without a stack. */
export class UsageError extends Error {}

function positiveInt(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--${name} must be an integer in 1..${max}`);
  return n;
}

export const USAGE = `usage: npm run bench:vs-etcd -- [options]   (or node bench/dist/vs-etcd.js [options])

Keelson's store and etcd 3.4 side by side on 3 loopback members each, alternating rounds on fresh
clusters; prints one table and writes it to bench/results/ (.md and .json). ~39 minutes with defaults.

  --quick                one short round of everything (defaults below in brackets)
  --rounds N             rounds per workload, median reported (3 [1]; at most ${roundsMax})
  --duration S           measured seconds per steady workload (10 [3]; at most ${durationSMax})
  --warmup S             unmeasured seconds on each fresh cluster first (10 [1]; at most ${warmupSMax})
  --only IDS             comma-separated workloads (default all): ${WORKLOAD_IDS.join(',')}
  --revisions N          revisions written for the history case (300000 [20000]; at most ${revisionsMax})
  --failover-rounds N    kill -9 rounds per failover run (3 [1]; at most 100)
  --soak-minutes N       length of the 256-client soak (10 [1]; at most ${soakMinutesMax})
  -h, --help             this text
`;

/** The settings, or null when --help asks for the usage only. */
export function parseSettings(argv: string[]): Settings | null {
  let parsed: ReturnType<typeof parseArgsOf>;
  try {
    parsed = parseArgsOf(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return parsed.values.help === true ? null : settingsOf(parsed.values);
}

function parseArgsOf(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      only: { type: 'string' },
      revisions: { type: 'string' },
      'failover-rounds': { type: 'string' },
      'soak-minutes': { type: 'string' },
      warmup: { type: 'string' },
    },
    strict: true,
  });
}

function settingsOf(values: ReturnType<typeof parseArgsOf>['values']): Settings {
  const quick = values.quick === true;
  const only = new Set((values.only ?? WORKLOAD_IDS.join(',')).split(',').filter((s) => s !== ''));
  for (const id of only) {
    if (!WORKLOAD_IDS.includes(id))
      throw new UsageError(`--only: unknown workload ${id} (known: ${WORKLOAD_IDS})`);
  }
  const rounds = positiveInt('rounds', values.rounds, quick ? 1 : 3, roundsMax);
  return {
    quick,
    rounds,
    durationS: positiveInt('duration', values.duration, quick ? 3 : 10, durationSMax),
    warmupS: positiveInt('warmup', values.warmup, quick ? 1 : 10, warmupSMax),
    revisions: positiveInt('revisions', values.revisions, quick ? 20_000 : 300_000, revisionsMax),
    failoverRounds: positiveInt('failover-rounds', values['failover-rounds'], quick ? 1 : 3, 100),
    historyRounds: values.rounds === undefined ? 1 : rounds,
    soakMinutes: positiveInt('soak-minutes', values['soak-minutes'], quick ? 1 : 10, soakMinutesMax),
    only,
  };
}

/** Installs Debian's etcd 3.4 (server and etcdctl) when missing; needs root to do so. */
export function ensureEtcd(log: (line: string) => void): void {
  const haveCtl =
    spawnSync('etcdctl', ['version'], { env: { ...process.env, ETCDCTL_API: '3' } }).status === 0;
  if (existsSync(etcdBin) && haveCtl) return;
  if (process.getuid?.() !== 0) {
    throw new Error('etcd is missing: run `apt-get install -y etcd-server etcd-client` as root, then retry');
  }
  log('installing etcd-server and etcd-client with apt-get');
  for (const args of [['update'], ['install', '-y', 'etcd-server', 'etcd-client']]) {
    const r = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
  }
  if (!existsSync(etcdBin)) throw new Error(`apt-get installed etcd-server but ${etcdBin} is still missing`);
}

function etcdVersion(): string {
  const r = spawnSync(etcdBin, ['--version'], { encoding: 'utf8' });
  return /etcd Version: (\S+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}

/** Connections for a multi-client workload: a multiple of 3, so that every member gets as many. */
const connsMulti = 9;

function kvOptions(endpoints: string[], w: { op: KvOp; clients: number }, durationS: number): KvOptions {
  return {
    endpoints,
    clients: w.clients,
    // Like etcd's benchmark tool, clients share a few connections; the same for both stores.
    conns: Math.min(w.clients, connsMulti),
    durationS,
    op: w.op,
    keySpace,
    keySize,
    valSize,
    prefill: w.op !== 'put',
  };
}

/**
 * One steady-state sample: a fresh cluster, the workload for durationS, the cluster stopped. A single
 * client talks to the leader, as etcd's clientv3 would after a redirect: whether it landed on a follower
 * (one more hop) must not depend on which member won the first election.
 */
/** A measured run, with the CPU it cost: all members together, and the bench client (this process). */
export interface KvSample extends KvResult {
  cpu: { serversMs: number; clientMs: number };
}

/** CPU time (user + system) a process has used so far, from /proc; 0 once it is gone. */
function procCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerS;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ: /proc reports CPU times in these ticks. */
const clockTicksPerS = 100;

async function measured(pids: ReadonlyArray<number | undefined>, o: KvOptions): Promise<KvSample> {
  // The baseline is taken when the measured part starts: a get workload's prefill is not counted.
  let servers0 = 0;
  let client0 = process.cpuUsage();
  const r = await runKv({
    ...o,
    onMeasureStart: () => {
      servers0 = pids.reduce<number>((a, p) => a + procCpuMs(p), 0);
      client0 = process.cpuUsage();
    },
  });
  const client = process.cpuUsage(client0);
  const serversMs = pids.reduce<number>((a, p) => a + procCpuMs(p), 0) - servers0;
  return { ...r, cpu: { serversMs, clientMs: (client.user + client.system) / 1000 } };
}

async function kvSample(
  impl: BenchImpl,
  w: KvWorkload,
  durationS: number,
  warmupS: number,
): Promise<KvSample> {
  const cluster = await launchCluster({ impl, size: 3 });
  try {
    const leader = w.clients === 1 ? await cluster.waitLeader() : -1;
    const endpoints = leader >= 0 ? [cluster.endpoints[leader] as string] : cluster.endpoints;
    // Unmeasured first: a fresh Node process runs its first seconds in the interpreter, a Go binary
    // does not; steady-state throughput is what is compared, so both get the same warm-up.
    await runKv({ ...kvOptions(endpoints, w, warmupS), keySpace: Math.min(keySpace, warmupKeySpace) });
    return await measured(cluster.pids, kvOptions(endpoints, w, durationS));
  } finally {
    await cluster.stop();
  }
}

interface HistorySample {
  fresh: KvResult;
  writes: KvResult;
  history: KvResult;
}

/** Gets on a fresh store, then `revisions` puts over a small key space (no compaction), then gets again. */
async function historySample(impl: BenchImpl, s: Settings, log: (l: string) => void): Promise<HistorySample> {
  const cluster = await launchCluster({ impl, size: 3 });
  const get = { op: 'get' as const, clients: historyClients };
  try {
    // The same warm-up as the steady workloads, so that "fresh" is not also "cold".
    await runKv({ ...kvOptions(cluster.endpoints, get, s.warmupS), keySpace: historyKeySpace });
    const fresh = await runKv({
      ...kvOptions(cluster.endpoints, get, s.durationS),
      keySpace: historyKeySpace,
    });
    log(`history ${impl}: fresh gets ${fresh.opsPerSec.toFixed(0)} ops/s; writing ${s.revisions} revisions`);
    const writes = await runKv({
      ...kvOptions(cluster.endpoints, { op: 'put', clients: historyWriteClients }, s.durationS),
      durationS: undefined,
      total: s.revisions,
      keySpace: historyKeySpace,
      progress: (line) => log(`history ${impl} writes: ${line}`),
    });
    // runKv prefills before every get run; over the same key space that adds only keySpace revisions.
    const history = await runKv({
      ...kvOptions(cluster.endpoints, get, s.durationS),
      keySpace: historyKeySpace,
    });
    return { fresh, writes, history };
  } finally {
    await cluster.stop();
  }
}

/** A soak run: throughput, and the leader changes any member saw while it ran. */
export interface SoakSample {
  minutes: number;
  leaderChanges: number;
  result: KvResult;
}

/** etcd_server_leader_changes_seen_total of one member (both stores export it on the client port). */
async function leaderChangesSeen(endpoint: string): Promise<number> {
  const res = await fetch(`http://${endpoint}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  const m = /^etcd_server_leader_changes_seen_total\s+(\S+)/m.exec(text);
  if (m === null) throw new Error(`${endpoint}/metrics has no etcd_server_leader_changes_seen_total`);
  return Number(m[1]);
}

/**
 * Compacts every soakCompactEveryMs to the revision seen one tick earlier, so that about one tick of
 * history is kept; returns a stop that waits for a compaction in flight. A failed compaction is logged and
 * the next tick tries again.
 */
function startCompactor(endpoints: string[], log: (line: string) => void): () => Promise<void> {
  const client = new EtcdClient({ endpoints, requestTimeoutMs: 20_000 });
  let previous = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    try {
      const { header } = await client.status();
      if (previous > 0) {
        await client.compact(previous);
        log(`compacted to revision ${previous.toLocaleString('en-US')}`);
      }
      previous = header.revision;
    } catch (e) {
      log(`compaction failed (next tick retries): ${(e as Error).message}`);
    }
  };
  const timer = setInterval(() => {
    inFlight = inFlight.then(tick);
  }, soakCompactEveryMs);
  return async () => {
    clearInterval(timer);
    await inFlight;
    client.close();
  };
}

async function soakSample(impl: BenchImpl, s: Settings, log: (l: string) => void): Promise<SoakSample> {
  const cluster = await launchCluster({ impl, size: 3 });
  try {
    await cluster.waitLeader();
    const w = { op: 'put' as const, clients: soakClients };
    await runKv({ ...kvOptions(cluster.endpoints, w, s.warmupS) });
    const before = await Promise.all(cluster.endpoints.map(leaderChangesSeen));
    const stopCompactor = startCompactor(cluster.endpoints, (line) => log(`soak ${impl}: ${line}`));
    let result: KvResult;
    try {
      result = await runKv({
        ...kvOptions(cluster.endpoints, w, s.soakMinutes * 60),
        progress: (line) => log(`soak ${impl}: ${line}`),
      });
    } finally {
      await stopCompactor();
    }
    const after = await Promise.all(cluster.endpoints.map(leaderChangesSeen));
    const leaderChanges = Math.max(...after.map((a, i) => a - (before[i] ?? 0)));
    return { minutes: s.soakMinutes, leaderChanges, result };
  } finally {
    await cluster.stop();
  }
}

interface Samples {
  soak: Record<BenchImpl, SoakSample[]>;
  kv: Map<string, Record<BenchImpl, KvSample[]>>;
  failover: Record<BenchImpl, FailoverResult[]>;
  history: Record<BenchImpl, HistorySample[]>;
}

function describeKv(r: KvResult): string {
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const cpu = 'cpu' in r ? cpuPerKop(r as KvSample) : null;
  const cpuText =
    cpu === null
      ? ''
      : `, CPU per 1k ops: servers ${cpu.servers.toFixed(0)} ms, client ${cpu.client.toFixed(0)} ms`;
  return `${r.opsPerSec.toFixed(0)} ops/s, p99 ${r.latencyMs.p99.toFixed(2)} ms${errors > 0 ? `, ${errors} errors` : ''}${cpuText}`;
}

/** CPU milliseconds per 1,000 successful requests. */
function cpuPerKop(r: KvSample): { servers: number; client: number } {
  const kops = Math.max(1, r.ops) / 1000;
  return { servers: r.cpu.serversMs / kops, client: r.cpu.clientMs / kops };
}

async function runAll(s: Settings, log: (l: string) => void): Promise<Samples> {
  const samples: Samples = {
    soak: { etcd: [], keelson: [] },
    kv: new Map(),
    failover: { etcd: [], keelson: [] },
    history: { etcd: [], keelson: [] },
  };
  for (let round = 1; round <= s.rounds; round++) {
    for (const w of KV_WORKLOADS.filter((x) => s.only.has(x.id))) {
      const perImpl = samples.kv.get(w.id) ?? { etcd: [], keelson: [] };
      samples.kv.set(w.id, perImpl);
      for (const impl of IMPLS) {
        const r = await kvSample(impl, w, s.durationS, s.warmupS);
        perImpl[impl].push(r);
        log(`round ${round}/${s.rounds} ${w.id} ${impl}: ${describeKv(r)}`);
      }
    }
    if (s.only.has('failover')) {
      for (const impl of IMPLS) {
        const r = await runFailover({ impl, rounds: s.failoverRounds, mode: 'kill', progress: log });
        samples.failover[impl].push(r);
      }
    }
    if (s.only.has('history') && round <= s.historyRounds) {
      for (const impl of IMPLS) {
        const r = await historySample(impl, s, log);
        samples.history[impl].push(r);
        log(`round ${round}/${s.rounds} history ${impl}: after ${describeKv(r.history)}`);
      }
    }
  }
  if (s.only.has('soak')) {
    for (const impl of IMPLS) {
      const r = await soakSample(impl, s, log);
      samples.soak[impl].push(r);
      log(`soak ${impl}: ${r.leaderChanges} leader change(s) in ${r.minutes} min; ${describeKv(r.result)}`);
    }
  }
  return samples;
}

export interface Row {
  workload: string;
  unit: string;
  better: 'higher' | 'lower';
  etcd: number;
  keelson: number;
  /** keelson / etcd. */
  ratio: number;
  rounds: number;
}

function row(
  workload: string,
  unit: string,
  better: Row['better'],
  values: Record<BenchImpl, number[]>,
): Row {
  const etcd = median(values.etcd);
  const keelson = median(values.keelson);
  return { workload, unit, better, etcd, keelson, ratio: keelson / etcd, rounds: values.keelson.length };
}

function pick<T>(per: Record<BenchImpl, T[]>, f: (x: T) => number): Record<BenchImpl, number[]> {
  return { etcd: per.etcd.map(f), keelson: per.keelson.map(f) };
}

function buildRows(s: Samples, revisions: number): Row[] {
  const rows: Row[] = [];
  for (const w of KV_WORKLOADS) {
    const per = s.kv.get(w.id);
    if (per === undefined) continue;
    rows.push(
      row(
        w.label,
        'ops/s',
        'higher',
        pick(per, (r) => r.opsPerSec),
      ),
    );
    if (w.clients === 1)
      rows.push(
        row(
          `${w.label} p99`,
          'ms',
          'lower',
          pick(per, (r) => r.latencyMs.p99),
        ),
      );
  }
  if (s.failover.etcd.length > 0) {
    // Every gap of every round, so that the max is the worst failover seen, not a median of maxima.
    const gaps = pick(s.failover, (r) => median(r.gapsMs));
    const all = {
      etcd: s.failover.etcd.flatMap((r) => r.gapsMs),
      keelson: s.failover.keelson.flatMap((r) => r.gapsMs),
    };
    const n = all.keelson.length;
    rows.push({
      ...row(`failover after kill -9 of the leader, median of ${n}`, 'ms', 'lower', all),
      rounds: gaps.keelson.length,
    });
    const maxOf = { etcd: [Math.max(...all.etcd)], keelson: [Math.max(...all.keelson)] };
    rows.push({
      ...row(`failover after kill -9 of the leader, max of ${n}`, 'ms', 'lower', maxOf),
      rounds: gaps.keelson.length,
    });
  }
  if (s.history.etcd.length > 0) {
    const k = `${Math.round(revisions / 1000)}k`;
    rows.push(
      row(
        `get, 64 clients, fresh store`,
        'ops/s',
        'higher',
        pick(s.history, (h) => h.fresh.opsPerSec),
      ),
    );
    rows.push(
      row(
        `put, ${historyWriteClients} clients, writing the ${k} revisions`,
        'ops/s',
        'higher',
        pick(s.history, (h) => h.writes.opsPerSec),
      ),
    );
    rows.push(
      row(
        `get, 64 clients, after ${k} un-compacted revisions`,
        'ops/s',
        'higher',
        pick(s.history, (h) => h.history.opsPerSec),
      ),
    );
    rows.push(
      row(
        `history slowdown: fresh ÷ after ${k} revisions`,
        '×',
        'lower',
        pick(s.history, (h) => h.fresh.opsPerSec / h.history.opsPerSec),
      ),
    );
  }
  if (s.soak.etcd.length > 0) {
    const minutes = s.soak.keelson[0]?.minutes ?? 0;
    rows.push({
      ...row(
        `leader changes during a ${minutes}-minute ${soakClients}-client put run`,
        'count',
        'lower',
        pick(s.soak, (x) => x.leaderChanges),
      ),
    });
    rows.push(
      row(
        `put, ${soakClients} clients, over the ${minutes}-minute run`,
        'ops/s',
        'higher',
        pick(s.soak, (x) => x.result.opsPerSec),
      ),
    );
  }
  return rows;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  return x.toFixed(2);
}

/** Where the CPU went in each steady workload (median of rounds): the evidence for what limits throughput. */
export function formatCpuTable(kv: Samples['kv']): string {
  const lines = [
    '| workload | etcd members | keelson members | bench client (etcd run) | bench client (keelson run) |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const w of KV_WORKLOADS) {
    const per = kv.get(w.id);
    if (per === undefined) continue;
    const m = (xs: KvSample[], f: (c: { servers: number; client: number }) => number) =>
      fmt(median(xs.map((x) => f(cpuPerKop(x)))));
    lines.push(
      `| ${w.label} | ${m(per.etcd, (c) => c.servers)} | ${m(per.keelson, (c) => c.servers)} | ${m(per.etcd, (c) => c.client)} | ${m(per.keelson, (c) => c.client)} |`,
    );
  }
  return lines.join('\n');
}

export function formatTable(rows: readonly Row[]): string {
  const lines = [
    '| workload | etcd | keelson | ratio keelson/etcd |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => {
      const arrow = r.better === 'higher' ? '↑' : '↓';
      const name = `${r.workload} (${r.unit} ${arrow}${r.rounds === 1 ? ', 1 round' : ''})`;
      const ratio = Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : '—';
      const v = (x: number): string => (r.unit === 'count' ? String(Math.round(x)) : fmt(x));
      return `| ${name} | ${v(r.etcd)} | ${v(r.keelson)} | ${ratio} |`;
    }),
  ];
  return lines.join('\n');
}

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/:/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

async function main(): Promise<void> {
  const startedMs = performance.now();
  const log = (line: string): void => {
    const t = ((performance.now() - startedMs) / 1000).toFixed(0).padStart(5);
    process.stderr.write(`[${t}s] ${line}\n`);
  };
  const s = parseSettings(process.argv.slice(2));
  if (s === null) {
    process.stdout.write(USAGE);
    return;
  }
  ensureEtcd(log);
  assertImplPresent('etcd');
  assertImplPresent('keelson');
  const startedAt = new Date();
  log(
    `etcd ${etcdVersion()} vs keelson; ${s.rounds} round(s), ${s.durationS} s per workload, only ${[...s.only]}`,
  );
  const samples = await runAll(s, log);
  const rows = buildRows(samples, s.revisions);
  const table = formatTable(rows);
  const cpuTable =
    samples.kv.size === 0
      ? ''
      : `\n\nCPU milliseconds per 1,000 requests (user + system; all three members together, and the in-process\nbench client; the machine has 2 cores = 2,000 ms of CPU per second):\n\n${formatCpuTable(samples.kv)}`;
  const minutes = ((performance.now() - startedMs) / 60_000).toFixed(1);
  process.stdout.write(`${table}${cpuTable}\n`);
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `vs-etcd-${stamp(startedAt)}${s.quick ? '-quick' : ''}`);
  const header = [
    `# Keelson store vs etcd ${etcdVersion()} — ${startedAt.toISOString()}`,
    '',
    `3 members each on loopback, default timings; ${s.rounds} round(s) alternating etcd/keelson on fresh`,
    `clusters; ${s.durationS} s per steady workload after a ${s.warmupS} s warm-up; ${valSize}-byte values, ${keySize}-byte keys; values are`,
    `medians of rounds; ↑ higher is better, ↓ lower is better; ${minutes} min in all.`,
    '',
  ];
  writeFileSync(`${base}.md`, `${header.join('\n')}${table}${cpuTable}\n`);
  const json = {
    startedAt: startedAt.toISOString(),
    settings: { ...s, only: [...s.only] },
    rows,
    samples: {
      kv: Object.fromEntries(samples.kv),
      failover: samples.failover,
      history: samples.history,
      soak: samples.soak,
    },
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${base}.md and .json`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`bench:vs-etcd: ${err.message}\n\n${USAGE}`);
        process.exit(2);
      }
      process.stderr.write(`bench:vs-etcd failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
