// `keelson chaos run --suite apiserver`: a `keelson cluster up` cluster (3 store members, 2 apiservers,
// the LB) in a temp dir; writers and watchers on ConfigMaps through the LB while a seeded nemesis
// schedule kills, pauses and terminates apiservers and kills store members; then a sentinel write,
// the final read and the checkers. Results folder:
//   history.jsonl (every write attempt), watches.json (watcher logs and lists), failures.json (failed
//   attempts), nemesis.log, logs/<component>.log (copied from the cluster dir), summary.json.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../lin/prng.js';
import { HistoryRecorder } from '../store/recorder.js';
import { checkWatches } from '../watch/check.js';
import { formatWatchReport } from '../watch/report.js';
import {
  checkFailures,
  checkFinalState,
  checkLists,
  type KubeCheckResult,
  knownChanges,
  kubeOps,
  toHistoryWrites,
} from './check.js';
import { KubeClient, type KubeTls, readTls } from './client.js';
import { ApiCluster, freeBasePort } from './cluster.js';
import { API_NEMESES, type ApiNemesis, ApiNemesisRunner, formatApiNemesisEvent } from './nemesis.js';
import { KubeWatcher, type ListedObject } from './watchers.js';
import { type AttemptFailure, configMap, configMapPath, runWriters } from './workload.js';

export type ApiCheckerName = 'final-state' | 'watch' | 'lists' | 'failures';

export interface ApiSuiteOptions {
  readonly seed: number;
  readonly durationS: number;
  readonly outDir: string;
  /** `keelson`'s main.js (packages/cli/dist/main.js, built). */
  readonly mainScript: string;
  readonly nemeses?: readonly ApiNemesis[];
  readonly progress?: (line: string) => void;
  readonly signal?: AbortSignal;
  readonly writers?: number;
  readonly ratePerWriter?: number;
  readonly keys?: number;
  readonly watchers?: number;
  readonly attemptTimeoutMs?: number;
  readonly retryDelayMs?: number;
  /** How long after a heal a failed attempt still counts against that fault. */
  readonly settleMs?: number;
}

export interface ApiSuiteSummary {
  suite: 'apiserver';
  seed: number;
  durationS: number;
  verdict: 'ok' | 'failed';
  checkers: Record<ApiCheckerName, { verdict: 'ok' | 'violation'; detail: string }>;
  ops: {
    total: number;
    ok: number;
    info: number;
    fail: number;
    acknowledgedWrites: number;
    conflicts: number;
    notFound: number;
    opsPerS: number;
    failedAttempts: number;
  };
  watch: { watchers: number; sessions: number; events: number; relists: number };
  nemeses: {
    enabled: string[];
    events: number;
    healed: number;
    covered: string[];
    failuresPerEvent: Record<string, number>;
  };
  outDir: string;
  elapsedS: number;
}

const NAMESPACE = 'chaos';
const SENTINEL = 'zz-end';
/** History processes: writers from 0, the sentinel writer here. */
const SENTINEL_PROCESS = 9999;
const READY_TIMEOUT_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Records {
  history: HistoryRecorder;
  failures: AttemptFailure[];
  watchers: KubeWatcher[];
  nemesis: ApiNemesisRunner;
  finalRead: Map<string, ListedObject>;
  keys: string[];
  endNs: number;
  errors: number;
}

export async function runApiserverSuite(o: ApiSuiteOptions): Promise<ApiSuiteSummary> {
  if (!(o.durationS >= 5 && o.durationS <= 24 * 3600)) throw new Error('durationS must be in [5, 86400]');
  const t0 = Date.now();
  const progress = o.progress ?? (() => {});
  mkdirSync(o.outDir, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), `keelson-chaos-api-${o.seed}-`));
  const clusterLog: string[] = [];
  const rng = new Prng(o.seed);
  const cluster = new ApiCluster({
    dir,
    mainScript: o.mainScript,
    basePort: await freeBasePort((n) => rng.below(n)),
    readyTimeoutMs: READY_TIMEOUT_MS,
    log: (l) => clusterLog.push(l),
  });
  // Whatever happens, only this cluster's PIDs die (also when the process exits on a second Ctrl-C).
  const onExit = (): void => cluster.killLeftoversSync();
  process.once('exit', onExit);
  let rec: Records;
  try {
    progress(`starting the cluster in ${dir}`);
    await startCluster(cluster, progress);
    rec = await drive(o, cluster, progress);
  } finally {
    writeFileSync(join(o.outDir, 'cluster.log'), `${clusterLog.join('\n')}\n`);
    await cluster.teardown();
    if (existsSync(cluster.paths.logs))
      cpSync(cluster.paths.logs, join(o.outDir, 'logs'), { recursive: true });
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
  }
  progress('checking');
  return judge(o, rec, Date.now() - t0);
}

/**
 * The first `up`, tried twice: two apiservers starting at once on an empty store can race to create
 * the default Service and one exits ("provided IP is already allocated"); a second `up` finds it made.
 */
async function startCluster(cluster: ApiCluster, progress: (l: string) => void): Promise<void> {
  try {
    await cluster.up();
  } catch (e) {
    progress(`cluster up failed (${(e as Error).message}); trying once more`);
    await cluster.up();
  }
}

async function request(port: number, tls: KubeTls, method: string, path: string, body?: unknown) {
  // Setup and final reads retry until they get an answer (bounded), unlike the recorded workload.
  for (let attempt = 0; attempt < 40; attempt++) {
    const c = new KubeClient(port, tls, 5000);
    try {
      const r = await c.send(method, path, body);
      if (r.status < 500 && r.status !== 429) return r;
    } catch {
      // Retried below.
    } finally {
      c.close();
    }
    await sleep(500);
  }
  throw new Error(`${method} ${path}: no answer through the LB after 40 attempts`);
}

interface Ctx {
  readonly o: ApiSuiteOptions;
  readonly cluster: ApiCluster;
  readonly progress: (l: string) => void;
  readonly port: number;
  readonly tls: KubeTls;
  readonly keys: string[];
  readonly startMs: number;
  readonly history: HistoryRecorder;
  readonly failures: AttemptFailure[];
  readonly watchers: KubeWatcher[];
  readonly errors: { n: number };
}

async function drive(
  o: ApiSuiteOptions,
  cluster: ApiCluster,
  progress: (l: string) => void,
): Promise<Records> {
  const tls = readTls(cluster.paths);
  const port = cluster.lbPort;
  const ns = await request(port, tls, 'POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NAMESPACE },
  });
  if (ns.status !== 201 && ns.status !== 409)
    throw new Error(`creating namespace ${NAMESPACE}: HTTP ${ns.status}`);
  const keys = Array.from({ length: o.keys ?? 8 }, (_, i) => `k${i}`);
  const startMs = performance.now();
  const history = new HistoryRecorder(startMs);
  const errors = { n: 0 };
  const watchers = Array.from(
    { length: o.watchers ?? 3 },
    (_, w) =>
      new KubeWatcher({
        name: `w${w}`,
        port,
        tls,
        namespace: NAMESPACE,
        keys: new Set([...keys, SENTINEL]),
        seed: o.seed + w,
        nowNs: () => history.nowNs(),
        onError: () => errors.n++,
      }),
  );
  const ctx: Ctx = {
    o,
    cluster,
    progress,
    port,
    tls,
    keys,
    startMs,
    history,
    failures: [],
    watchers,
    errors,
  };
  const watcherRuns = watchers.map((w) => w.run());
  try {
    const nemesis = await workload(ctx);
    const finalRead = await finish(ctx);
    return {
      history,
      failures: ctx.failures,
      watchers,
      nemesis,
      finalRead,
      keys,
      endNs: history.nowNs(),
      errors: errors.n,
    };
  } finally {
    // Also on a failure: watchers that went on would keep the process alive.
    for (const w of watchers) w.halt();
    await Promise.all(watcherRuns);
  }
}

/** Writers and the nemesis schedule until the duration is over (or the run is interrupted). */
async function workload(c: Ctx): Promise<ApiNemesisRunner> {
  const { o, history, failures } = c;
  const stop = new AbortController();
  const abortOuter = (): void => stop.abort();
  o.signal?.addEventListener('abort', abortOuter);
  const nemesis = new ApiNemesisRunner(c.cluster, {
    seed: o.seed,
    nemeses: o.nemeses ?? API_NEMESES,
    untilMs: c.startMs + Math.max(0, o.durationS - 6) * 1000,
    nowNs: () => history.nowNs(),
    signal: stop.signal,
    onEvent: (l) => c.progress(`nemesis ${l}`),
  });
  const writersRun = runWriters({
    port: c.port,
    tls: c.tls,
    namespace: NAMESPACE,
    keys: c.keys,
    seed: o.seed,
    clients: o.writers ?? 4,
    ratePerClient: o.ratePerWriter ?? 8,
    history,
    failures,
    signal: stop.signal,
    attemptTimeoutMs: o.attemptTimeoutMs ?? 3000,
    retryDelayMs: o.retryDelayMs ?? 1000,
  });
  const ticker = setInterval(() => {
    const n = history.counts;
    const events = c.watchers.reduce(
      (sum, w) => sum + w.log.sessions.reduce((m, s) => m + s.responses.length, 0),
      0,
    );
    c.progress(
      `${((performance.now() - c.startMs) / 1000).toFixed(0)}s ops ${n.ok + n.info + n.fail} failed attempts ${failures.length} watch events ${events} watch errors ${c.errors.n} nemesis ${nemesis.current ?? '-'}`,
    );
  }, 1000);
  const timer = setTimeout(() => stop.abort(), o.durationS * 1000);
  try {
    await nemesis.run();
    await writersRun;
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    stop.abort();
    o.signal?.removeEventListener('abort', abortOuter);
  }
  return nemesis;
}

/** Heals, writes the sentinel, waits for the watchers to see it, and reads the final state. */
async function finish(c: Ctx): Promise<Map<string, ListedObject>> {
  c.progress('workload over; healing, then the sentinel write and the final read');
  c.cluster.continueAll();
  await c.cluster.up();
  await writeSentinel(c.port, c.tls, c.history);
  const deadline = Date.now() + 20_000;
  while (!c.watchers.every((w) => w.saw(SENTINEL)) && Date.now() < deadline) await sleep(50);
  return readFinal(c.port, c.tls, new Set([...c.keys, SENTINEL]));
}

async function writeSentinel(port: number, tls: KubeTls, history: HistoryRecorder): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const c = new KubeClient(port, tls, 5000);
    history.invoke(SENTINEL_PROCESS, 'create', SENTINEL, 'end');
    try {
      const r = await c.send('POST', configMapPath(NAMESPACE), configMap(NAMESPACE, SENTINEL, 'end'));
      const rv = Number((r.body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion);
      if (r.status === 201) {
        history.complete(SENTINEL_PROCESS, 'ok', { status: 201, applied: true }, { revision: rv });
        return;
      }
      history.complete(SENTINEL_PROCESS, r.status === 409 ? 'ok' : 'info', {
        status: r.status,
        applied: false,
      });
      if (r.status === 409) return;
    } catch {
      history.complete(SENTINEL_PROCESS, 'info', { error: 'no answer' });
    } finally {
      c.close();
    }
    await sleep(500);
  }
  throw new Error('the cluster did not accept the sentinel write after the nemesis healed');
}

async function readFinal(
  port: number,
  tls: KubeTls,
  keys: ReadonlySet<string>,
): Promise<Map<string, ListedObject>> {
  const r = await request(port, tls, 'GET', configMapPath(NAMESPACE));
  if (r.status !== 200) throw new Error(`final read: HTTP ${r.status}`);
  const items =
    (
      r.body as {
        items?: { metadata?: { name?: string; resourceVersion?: string }; data?: { v?: unknown } }[];
      }
    ).items ?? [];
  const out = new Map<string, ListedObject>();
  for (const it of items) {
    const name = it.metadata?.name ?? '';
    if (keys.has(name))
      out.set(name, { name, value: String(it.data?.v ?? ''), rv: Number(it.metadata?.resourceVersion) });
  }
  return out;
}

function verdictOf(r: KubeCheckResult): 'ok' | 'violation' {
  return r.ok ? 'ok' : 'violation';
}

function firstViolation(r: KubeCheckResult): string {
  const v = r.violations[0];
  return v === undefined ? '' : `; ${r.violations.length + r.omitted} violation(s), first: ${v.message}`;
}

function judge(o: ApiSuiteOptions, r: Records, elapsedMs: number): ApiSuiteSummary {
  const out = o.outDir;
  writeFileSync(join(out, 'history.jsonl'), r.history.toJsonl());
  const logs = r.watchers.map((w) => w.log);
  const lists = r.watchers.flatMap((w) => w.lists);
  writeFileSync(join(out, 'watches.json'), JSON.stringify({ watchers: logs, lists }));
  writeFileSync(join(out, 'failures.json'), JSON.stringify(r.failures, null, 1));
  writeFileSync(join(out, 'nemesis.log'), `${r.nemesis.events.map(formatApiNemesisEvent).join('\n')}\n`);
  writeFileSync(join(out, 'final-read.json'), JSON.stringify([...r.finalRead.values()], null, 1));

  const ops = kubeOps(r.history.events);
  const finalState = checkFinalState(ops, r.finalRead);
  const watch = checkWatches(logs, toHistoryWrites(ops), []);
  writeFileSync(join(out, 'watch-report.txt'), formatWatchReport(watch, 'text'));
  const events = logs.flatMap((l) => l.sessions.flatMap((s) => s.responses.flatMap((x) => x.events)));
  const listCheck = checkLists(lists, knownChanges(events, ops), ops);
  const failures = checkFailures(r.failures, r.nemesis.events, r.endNs, (o.settleMs ?? 3000) * 1e6);
  const failedProps = Object.values(watch.properties).filter((p) => !p.ok);
  const relists = lists.filter((l) => l.reason === 'gone').length;
  const checkers: ApiSuiteSummary['checkers'] = {
    'final-state': {
      verdict: verdictOf(finalState),
      detail: `${finalState.checked} acknowledged writes on ${r.keys.length} keys, ${r.finalRead.size} present at the end${firstViolation(finalState)}`,
    },
    watch: {
      verdict: watch.ok ? 'ok' : 'violation',
      detail:
        `${watch.stats.watchers} watchers, ${watch.stats.sessions} streams, ${watch.stats.events} events, ${watch.stats.revisionsKnown} revisions known` +
        (failedProps.length > 0
          ? `; violated: ${failedProps.map((p) => `${p.name} (${p.violations[0]?.message ?? ''})`).join('; ')}`
          : ''),
    },
    lists: {
      verdict: verdictOf(listCheck),
      detail: `${lists.length} lists (${relists} after 410)${firstViolation(listCheck)}`,
    },
    failures: {
      verdict: verdictOf(failures),
      detail: `${failures.checked} failed attempts over ${r.nemesis.events.length} faults, at most ${failures.maxPerClientPerEvent} per client per fault, ${failures.unattributed} outside any fault${firstViolation(failures)}`,
    },
  };
  const c = r.history.counts;
  const total = c.ok + c.info + c.fail;
  const summary: ApiSuiteSummary = {
    suite: 'apiserver',
    seed: o.seed,
    durationS: o.durationS,
    verdict: Object.values(checkers).every((x) => x.verdict === 'ok') ? 'ok' : 'failed',
    checkers,
    ops: {
      total,
      ok: c.ok,
      info: c.info,
      fail: c.fail,
      acknowledgedWrites: finalState.checked,
      conflicts: ops.filter((op) => op.status === 409).length,
      notFound: ops.filter((op) => op.status === 404).length,
      opsPerS: Math.round(total / o.durationS),
      failedAttempts: r.failures.length,
    },
    watch: { watchers: logs.length, sessions: watch.stats.sessions, events: watch.stats.events, relists },
    nemeses: {
      enabled: [...(o.nemeses ?? API_NEMESES)],
      events: r.nemesis.events.length,
      healed: r.nemesis.events.filter((e) => e.healedNs !== undefined).length,
      covered: [
        ...new Set(r.nemesis.events.filter((e) => e.healedNs !== undefined).map((e) => e.nemesis)),
      ].sort(),
      failuresPerEvent: failures.perEvent,
    },
    outDir: out,
    elapsedS: Math.round(elapsedMs / 1000),
  };
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
