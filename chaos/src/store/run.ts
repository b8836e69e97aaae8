// `keelson chaos run --suite store`: starts a cluster of real members, runs the workloads (kv, set,
// watches, leases) while a seeded nemesis schedule injects faults, heals, does the final reads, then
// judges the records with every checker and writes a results folder:
//   history.jsonl (kv, the linearizability input), set.jsonl + set.json, watches.json, lease.json,
//   nemesis.log, logs/<member>.log, history.linearizability.html (on failure), summary.json.
// The verdict is "ok" only if every checker says so; "unknown" counts as a failure.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHistory } from '../lin/check.js';
import { parseHistory } from '../lin/history.js';
import { kvModel } from '../lin/models/kv.js';
import { writeReport } from '../lin/report.js';
import { checkSet } from '../set.js';
import { checkWatches } from '../watch/check.js';
import { formatWatchReport } from '../watch/report.js';
import type { ReplayLog } from '../watch/types.js';
import { ChaosCluster, sleep } from './cluster.js';
import { type LeaseResult, runLeaseWorkload } from './lease.js';
import { allVariants, formatNemesisEvent, Nemesis, type NemesisVariant } from './nemesis.js';
import { HistoryRecorder, pairEvents } from './recorder.js';
import { replayWatch, Watcher } from './watchers.js';
import { KV_PREFIX, readSet, rotatingClient, runKvWorkload, runSetWorkload, SET_NAME } from './workload.js';

export type CheckerVerdict = 'ok' | 'violation' | 'unknown';

export interface SuiteOptions {
  readonly seed: number;
  readonly durationS: number;
  /** Nemesis variants (parseNemeses); default: all. */
  readonly nemeses?: readonly NemesisVariant[];
  readonly outDir: string;
  /** A line per second while the workload runs, and a few at phase changes. */
  readonly progress?: (line: string) => void;
  readonly signal?: AbortSignal;
  readonly clusterSize?: number;
  readonly kvClients?: number;
  readonly kvKeys?: number;
  /** Operations per second per kv client (the total is about clients × this). */
  readonly ratePerClient?: number;
  readonly watchers?: number;
  /** Time budget of the linearizability check. */
  readonly checkTimeoutMs?: number;
  readonly keelsonMain?: string;
}

export interface SuiteSummary {
  seed: number;
  durationS: number;
  verdict: 'ok' | 'failed';
  checkers: Record<
    'linearizability' | 'watch' | 'set' | 'lease',
    { verdict: CheckerVerdict; detail: string }
  >;
  ops: { kv: number; kvOk: number; kvInfo: number; kvFail: number; opsPerS: number; setAdds: number };
  /** kv operations the linearizability checker looked at (ok + unknown outcome). */
  opsChecked: number;
  nemeses: { enabled: string[]; covered: string[]; events: number; unrecovered: number };
  outDir: string;
  elapsedS: number;
}

const SENTINEL_KEY = `${KV_PREFIX}~end`;
/** History process numbers: kv clients from 0, set clients from 1000, the sentinel writer 9999. */
const SET_PROCESS_BASE = 1000;
const SENTINEL_PROCESS = 9999;

interface Running {
  cluster: ChaosCluster;
  nemesis: Nemesis;
  kv: HistoryRecorder;
  set: HistoryRecorder;
  watchers: Watcher[];
  lease: LeaseResult;
  setRead: string[];
  replays: ReplayLog[];
  errors: number;
}

export async function runSuite(o: SuiteOptions): Promise<SuiteSummary> {
  if (!(o.durationS > 0 && o.durationS <= 24 * 3600)) throw new Error('durationS must be in (0, 86400]');
  const t0 = Date.now();
  const progress = o.progress ?? (() => {});
  const logDir = join(o.outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const dataRoot = mkdtempSync(join(tmpdir(), `keelson-chaos-${o.seed}-`));
  progress(`starting a ${o.clusterSize ?? 3}-member cluster (logs in ${logDir})`);
  const cluster = await ChaosCluster.start({
    dataRoot,
    logDir,
    size: o.clusterSize ?? 3,
    ...(o.keelsonMain === undefined ? {} : { keelsonMain: o.keelsonMain }),
  });
  // Whatever happens (an exception, Ctrl-C handled by the caller), only this cluster's PIDs die.
  const onExit = (): void => cluster.killAllSync();
  process.once('exit', onExit);
  let r: Running;
  try {
    r = await drive(o, cluster, progress);
  } finally {
    await cluster.stop();
    process.removeListener('exit', onExit);
  }
  progress('checking');
  return judge(o, r, Date.now() - t0);
}

async function drive(
  o: SuiteOptions,
  cluster: ChaosCluster,
  progress: (l: string) => void,
): Promise<Running> {
  const endpoints = cluster.endpoints();
  const startRevision = await currentRevision(endpoints);
  const startMs = performance.now();
  const wallStartMs = Date.now();
  const kv = new HistoryRecorder(startMs);
  const set = new HistoryRecorder(startMs);
  const stop = new AbortController();
  const abortOuter = (): void => stop.abort();
  o.signal?.addEventListener('abort', abortOuter);
  let errors = 0;
  let lastError = '';
  const onError = (text: string): void => {
    errors++;
    lastError = text;
  };
  const nemesis = new Nemesis(cluster, {
    seed: o.seed,
    variants: o.nemeses ?? allVariants(),
    startMs: wallStartMs,
    // The last fault heals before the workload ends, so the end of the run sees a healthy cluster.
    untilMs: wallStartMs + Math.max(0, o.durationS - 4) * 1000,
    onEvent: (e) => progress(`nemesis ${formatNemesisEvent(e).trim()}`),
    signal: stop.signal,
  });
  const watchers = Array.from(
    { length: o.watchers ?? 3 },
    (_, w) =>
      new Watcher({
        name: `w${w}`,
        endpoints,
        start: w,
        prefix: KV_PREFIX,
        startRevision,
        nowNs: () => kv.nowNs(),
        onError,
      }),
  );
  const watcherRuns = watchers.map((w) => w.run());
  const kvRun = runKvWorkload({
    endpoints,
    seed: o.seed,
    clients: o.kvClients ?? 8,
    keys: o.kvKeys ?? 8,
    ratePerClient: o.ratePerClient ?? 16,
    history: kv,
    signal: stop.signal,
    onError,
  });
  const setRun = runSetWorkload({
    endpoints,
    seed: o.seed,
    clients: 2,
    ratePerClient: 8,
    processBase: SET_PROCESS_BASE,
    history: set,
    signal: stop.signal,
    onError,
  });
  const leaseRun = runLeaseWorkload({ endpoints, signal: stop.signal, ratePerS: 2, onError });
  const nemesisRun = nemesis.run();
  let lastOps = 0;
  let lastErrors = 0;
  const ticker = setInterval(() => {
    const ops = kv.counts.ok + kv.counts.info + kv.counts.fail;
    const s = ((Date.now() - wallStartMs) / 1000).toFixed(0);
    progress(
      `${s}s ops ${ops} (+${ops - lastOps}/s) errors +${errors - lastErrors}/s` +
        ` nemesis ${nemesis.current ?? '-'}${errors > lastErrors ? ` last error: ${lastError.slice(0, 80)}` : ''}`,
    );
    lastOps = ops;
    lastErrors = errors;
  }, 1000);
  const timer = setTimeout(() => stop.abort(), o.durationS * 1000);
  let lease: LeaseResult;
  try {
    await nemesisRun;
    [, , lease] = await Promise.all([kvRun, setRun, leaseRun]);
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    stop.abort();
    o.signal?.removeEventListener('abort', abortOuter);
  }
  progress('workload over; healing and doing the final reads');
  await nemesis.healAll();
  await cluster.waitForLeader(20_000);
  await writeSentinel(endpoints, kv);
  await waitFor(() => watchers.every((w) => w.saw(SENTINEL_KEY)), 15_000);
  await Promise.all(watchers.map((w) => w.stop()));
  await Promise.all(watcherRuns);
  const setRead = await readSet(endpoints);
  const replays: ReplayLog[] = [];
  for (const [i, w] of watchers.entries()) {
    const from = w.log.sessions[0]?.startRevision ?? startRevision;
    replays.push(await replayWatch(w.log.watcher, endpoints, i + 1, KV_PREFIX, from, SENTINEL_KEY, 15_000));
  }
  return { cluster, nemesis, kv, set, watchers, lease, setRead, replays, errors };
}

async function currentRevision(endpoints: readonly string[]): Promise<number> {
  const c = rotatingClient(endpoints, 0);
  try {
    return (await c.get(KV_PREFIX, { prefix: true, countOnly: true })).header.revision + 1;
  } finally {
    c.close();
  }
}

/** A put of the sentinel key, recorded: watchers wait for its event, replays read up to it. */
async function writeSentinel(endpoints: readonly string[], kv: HistoryRecorder): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const c = rotatingClient(endpoints, attempt);
    kv.invoke(SENTINEL_PROCESS, 'put', SENTINEL_KEY, `end-${attempt}`);
    try {
      const r = await c.put(SENTINEL_KEY, `end-${attempt}`);
      kv.complete(SENTINEL_PROCESS, 'ok', null, { revision: r.header.revision });
      return;
    } catch {
      kv.complete(SENTINEL_PROCESS, 'info');
      await sleep(500);
    } finally {
      c.close();
    }
  }
  throw new Error('the cluster did not accept a write after the nemesis healed');
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await sleep(50);
  return cond();
}

function judge(o: SuiteOptions, r: Running, elapsedMs: number): SuiteSummary {
  const out = o.outDir;
  const kvText = r.kv.toJsonl();
  writeFileSync(join(out, 'history.jsonl'), kvText);
  writeFileSync(join(out, 'set.jsonl'), r.set.toJsonl());
  writeFileSync(join(out, 'set.json'), JSON.stringify({ set: SET_NAME, finalRead: r.setRead }));
  writeFileSync(
    join(out, 'watches.json'),
    JSON.stringify({ watchers: r.watchers.map((w) => w.log), replays: r.replays }),
  );
  writeFileSync(join(out, 'lease.json'), JSON.stringify(r.lease, null, 2));
  writeFileSync(join(out, 'nemesis.log'), `${r.nemesis.events.map(formatNemesisEvent).join('\n')}\n`);

  const parsed = parseHistory(kvText);
  const lin = checkHistory(kvModel, parsed.ops, { timeoutMs: o.checkTimeoutMs ?? 60_000 });
  const linVerdict: CheckerVerdict =
    lin.verdict === 'linearizable' ? 'ok' : lin.verdict === 'unknown' ? 'unknown' : 'violation';
  let linDetail = `${lin.verdict}: ${parsed.ops.length} ops on ${lin.partitions.length} keys in ${Math.round(lin.elapsedMs)} ms`;
  const report = writeReport(lin, out, 'history');
  if (report !== undefined) linDetail += `; report ${report}`;

  const writes = pairEvents(r.kv.events);
  const watch = checkWatches(
    r.watchers.map((w) => w.log),
    writes,
    r.replays,
  );
  writeFileSync(join(out, 'watch-report.txt'), formatWatchReport(watch, 'text'));
  const failedProps = Object.values(watch.properties).filter((p) => !p.ok);
  const watchDetail =
    `${watch.stats.watchers} watchers, ${watch.stats.sessions} sessions, ${watch.stats.events} events, ` +
    `${watch.stats.replays} replays` +
    (failedProps.length > 0
      ? `; violated: ${failedProps.map((p) => `${p.name} (${p.violations[0]?.message ?? ''})`).join('; ')}`
      : '');

  const adds = pairEvents(r.set.events);
  const setResult = checkSet(adds, r.setRead, { set: SET_NAME });
  writeFileSync(join(out, 'set-report.json'), JSON.stringify(setResult, null, 2));
  const setDetail =
    `${setResult.acknowledged} acknowledged, ${setResult.unknown} unknown, final read ${r.setRead.length}` +
    (setResult.ok
      ? ''
      : `; lost ${setResult.lost.length}, duplicated ${setResult.duplicated.length}, unexpected ${setResult.unexpected.length}, failed-but-present ${setResult.failedPresent.length}`);

  const leaseDetail =
    `${r.lease.checked} revokes checked, ${r.lease.abandoned} abandoned` +
    (r.lease.violations.length > 0 ? `; ${r.lease.violations[0]}` : '');
  const checkers: SuiteSummary['checkers'] = {
    linearizability: { verdict: linVerdict, detail: linDetail },
    watch: { verdict: watch.ok ? 'ok' : 'violation', detail: watchDetail },
    set: { verdict: setResult.ok ? 'ok' : 'violation', detail: setDetail },
    lease: { verdict: r.lease.violations.length === 0 ? 'ok' : 'violation', detail: leaseDetail },
  };
  const c = r.kv.counts;
  const kvOps = c.ok + c.info + c.fail;
  const summary: SuiteSummary = {
    seed: o.seed,
    durationS: o.durationS,
    verdict: Object.values(checkers).every((x) => x.verdict === 'ok') ? 'ok' : 'failed',
    checkers,
    ops: {
      kv: kvOps,
      kvOk: c.ok,
      kvInfo: c.info,
      kvFail: c.fail,
      opsPerS: Math.round(kvOps / o.durationS),
      setAdds: r.set.counts.ok + r.set.counts.info + r.set.counts.fail,
    },
    opsChecked: parsed.ops.length,
    nemeses: {
      enabled: [...(o.nemeses ?? allVariants())],
      covered: [...r.nemesis.covered].sort(),
      events: r.nemesis.events.length,
      unrecovered: r.nemesis.unrecovered,
    },
    outDir: out,
    elapsedS: Math.round(elapsedMs / 1000),
  };
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
