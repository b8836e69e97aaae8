// `keelson cluster up`: create (or restart) the cluster in a directory and return once every
// component is healthy. Components run detached; a component already running is left alone; when
// something does not come up, what this run started is stopped again and the error names the
// component and its log.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import {
  type ClusterPaths,
  type ComponentKind,
  type ComponentPlan,
  clusterPaths,
  planComponents,
} from './components.js';
import { assert, ClusterError } from './errors.js';
import { probeComponent, storeIsLeader } from './health.js';
import {
  type ClusterLayout,
  checkRequestAgainst,
  type LayoutRequest,
  layoutPorts,
  planLayout,
  readLayout,
  writeLayout,
} from './layout.js';
import { ensurePki, serverUrl, writeKubeconfig } from './pki.js';
import {
  componentEnv,
  logTail,
  removePidFile,
  runningPid,
  type Spawned,
  sleep,
  spawnComponent,
  stopProcesses,
} from './procs.js';
import { type ClusterIo, ProgressBoard } from './progress.js';
import { currentVersions } from './versions.js';

export const DIR_DEFAULT = '.keelson';
export const READY_TIMEOUT_MS_DEFAULT = 60_000;
const POLL_MS = 250;
const LOG_TAIL_LINES = 15;
/** Grace before SIGKILL when `up` stops what it started after a failure. */
const CLEANUP_GRACE_MS = 5000;

export interface UpOptions extends LayoutRequest {
  readonly dir: string;
  /** `keelson`'s main.js: every component runs `node <mainScript> store|apiserver|lb ...`. */
  readonly mainScript: string;
  /** How long each phase (store, apiservers, LB) may take to become healthy. */
  readonly readyTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Aborting stops what this run started and rejects with ABORTED. */
  readonly signal?: AbortSignal;
}

export interface UpResult {
  readonly dir: string;
  readonly kubeconfig: string;
  /** The LB's URL (the kubeconfig's server). */
  readonly server: string;
  /** Components this run started, and those it found running and left alone. */
  readonly started: readonly string[];
  readonly alreadyRunning: readonly string[];
  readonly pids: Readonly<Record<string, number>>;
  readonly created: boolean;
  readonly stores: number;
  readonly apiservers: number;
}

interface RunContext {
  readonly opts: UpOptions;
  readonly paths: ClusterPaths;
  readonly layout: ClusterLayout;
  readonly caPem: string;
  readonly board: ProgressBoard;
  readonly io: ClusterIo;
  readonly started: Spawned[];
  readonly pids: Record<string, number>;
  readonly alreadyRunning: string[];
}

export async function clusterUp(opts: UpOptions, io: ClusterIo): Promise<UpResult> {
  if (!existsSync(opts.mainScript)) {
    throw new ClusterError('MAIN_MISSING', `${opts.mainScript} is missing: run \`npm run build\` first`);
  }
  const paths = clusterPaths(opts.dir);
  mkdirSync(paths.dir, { recursive: true });
  const { layout, created } = prepareLayout(paths, opts);
  const plans = planComponents(paths, layout);
  checkStoreData(plans, layout, paths);
  await ensurePki(paths, layout);
  io.err(
    `${created ? 'Creating' : 'Starting'} a cluster in ${paths.dir}: ${layout.stores.length} store members, ` +
      `${layout.apiservers.length} apiservers, a load balancer`,
  );
  const overlap = ephemeralOverlap(layout);
  if (overlap !== undefined) io.err(overlap);
  const ctx: RunContext = {
    opts,
    paths,
    layout,
    caPem: readFileSync(paths.caCert, 'utf8'),
    board: new ProgressBoard(
      io,
      plans.map((p) => p.name),
    ),
    io,
    started: [],
    pids: {},
    alreadyRunning: [],
  };
  const finalLayout = await startAll(ctx, plans);
  writeKubeconfig(paths, finalLayout);
  return {
    dir: paths.dir,
    kubeconfig: paths.kubeconfig,
    server: serverUrl(finalLayout),
    started: ctx.started.map((s) => s.plan.name),
    alreadyRunning: ctx.alreadyRunning,
    pids: ctx.pids,
    created,
    stores: finalLayout.stores.length,
    apiservers: finalLayout.apiservers.length,
  };
}

/** Starts the phases in order; on any failure stops what this run started, then rethrows. */
async function startAll(ctx: RunContext, plans: readonly ComponentPlan[]): Promise<ClusterLayout> {
  let layout = ctx.layout;
  const kinds: ComponentKind[] = ['store', 'apiserver', 'lb'];
  try {
    for (const kind of kinds) {
      await startPhase(
        ctx,
        plans.filter((p) => p.kind === kind),
      );
      if (kind === 'store' && !layout.bootstrapped) {
        layout = { ...layout, bootstrapped: true };
        writeLayout(ctx.paths.dir, layout);
      }
    }
    return layout;
  } catch (err) {
    await stopStarted(ctx);
    throw err;
  }
}

/** cluster.json as it is (checked against the flags) or as planned now; written either way. */
function prepareLayout(paths: ClusterPaths, opts: UpOptions): { layout: ClusterLayout; created: boolean } {
  const existing = readLayout(paths.dir);
  if (existing !== undefined) {
    checkRequestAgainst(existing, opts, paths.dir);
    const layout = { ...existing, versions: currentVersions() };
    writeLayout(paths.dir, layout);
    return { layout, created: false };
  }
  const layout = planLayout(opts, currentVersions());
  // Members' data without cluster.json belongs to a cluster whose token is lost: the members would
  // refuse it. (Other files in store/, e.g. `keelson store cluster`'s s1.etcd, are no concern.)
  const orphaned = layout.stores.map((s) => join(paths.storeData, s.name)).filter(hasData);
  if (orphaned.length > 0) {
    throw new ClusterError(
      'BAD_DIR',
      `${orphaned.join(', ')} hold${orphaned.length === 1 ? 's' : ''} store data but ${paths.layout} is ` +
        `missing; restore cluster.json, or remove ${paths.dir} to start a new cluster (its data is lost)`,
    );
  }
  writeLayout(paths.dir, layout);
  return { layout, created: true };
}

/**
 * A warning when the cluster's ports lie in the kernel's ephemeral range: outgoing connections (the
 * cluster's own among them) may take such a port while its component is down, and the restart fails.
 */
function ephemeralOverlap(layout: ClusterLayout): string | undefined {
  let range: number[];
  try {
    range = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  } catch {
    return undefined;
  }
  const [low, high] = range;
  if (low === undefined || high === undefined) return undefined;
  const ports = layoutPorts(layout);
  if (!ports.some((p) => p >= low && p <= high)) return undefined;
  return (
    `warning: ports ${Math.min(...ports)}-${Math.max(...ports)} overlap the ephemeral port range ` +
    `${low}-${high}; a restart may find a port taken. Prefer a --base-port below ${low} for a new cluster`
  );
}

/** Once the store has been bootstrapped, a member without data cannot simply be started again. */
function checkStoreData(plans: readonly ComponentPlan[], layout: ClusterLayout, paths: ClusterPaths): void {
  if (!layout.bootstrapped) return;
  const missing = plans.filter((p) => p.dataDir !== undefined && !hasData(p.dataDir));
  if (missing.length === 0) return;
  throw new ClusterError(
    'BAD_DIR',
    `the store of ${paths.dir} was bootstrapped, but ${missing.map((p) => p.name).join(', ')} ` +
      `${missing.length === 1 ? 'has' : 'have'} no data in ${paths.storeData}; starting ` +
      `${missing.length === 1 ? 'it' : 'them'} empty would split the cluster. Restore the data, or ` +
      `remove ${paths.dir} to start a new cluster (its data is lost)`,
  );
}

function hasData(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).length > 0;
}

/** Starts the components of one phase that are not running, then waits until all are healthy. */
async function startPhase(ctx: RunContext, plans: readonly ComponentPlan[]): Promise<void> {
  const toStart: ComponentPlan[] = [];
  for (const plan of plans) {
    const pid = runningPid(plan);
    if (pid === null) {
      toStart.push(plan);
      continue;
    }
    ctx.pids[plan.name] = pid;
    ctx.alreadyRunning.push(plan.name);
    ctx.board.set(plan.name, 'running', `pid ${pid}, left alone`);
  }
  await checkPortsFree(toStart);
  const env = componentEnv(ctx.opts.env ?? process.env);
  const spawned = toStart.map((plan) => {
    removePidFile(plan.pidFile);
    const s = spawnComponent(ctx.opts.mainScript, plan, env);
    ctx.started.push(s);
    ctx.pids[plan.name] = s.pid;
    ctx.board.set(plan.name, 'starting', `pid ${s.pid}`);
    return s;
  });
  await waitHealthy(ctx, plans, spawned);
}

async function checkPortsFree(plans: readonly ComponentPlan[]): Promise<void> {
  for (const plan of plans) {
    for (const port of plan.ports) {
      if (await portFree(port)) continue;
      throw new ClusterError(
        'PORT_IN_USE',
        `port ${port} (for ${plan.name}) is in use by another program; stop it, or create the cluster ` +
          'in another --dir with another --base-port',
        { component: plan.name },
      );
    }
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** Polls the phase's components until every one is healthy (and, for the store, a leader is known). */
async function waitHealthy(
  ctx: RunContext,
  plans: readonly ComponentPlan[],
  spawned: readonly Spawned[],
): Promise<void> {
  const timeoutMs = ctx.opts.readyTimeoutMs ?? READY_TIMEOUT_MS_DEFAULT;
  const t0 = Date.now();
  const healthy = new Set<string>();
  const last = new Map<string, string>();
  // Bounded by time; the iteration cap only guards against a clock that does not move.
  for (let i = 0; i < Math.ceil(timeoutMs / POLL_MS) + 10; i++) {
    throwIfAborted(ctx);
    throwIfExited(ctx, spawned);
    await Promise.all(
      plans
        .filter((p) => !healthy.has(p.name))
        .map(async (p) => {
          const probe = await probeComponent(p, ctx.layout, ctx.caPem);
          last.set(p.name, probe.detail);
          if (!probe.healthy) return;
          healthy.add(p.name);
          ctx.board.set(p.name, 'healthy', probe.detail);
        }),
    );
    if (healthy.size === plans.length && (await leaderKnown(ctx, plans))) return;
    ctx.board.render();
    if (Date.now() - t0 > timeoutMs) break;
    await sleep(POLL_MS);
  }
  throw notHealthy(ctx, plans, healthy, last, timeoutMs);
}

/** The error for a phase that ran out of time, after marking the culprit and showing its log. */
function notHealthy(
  ctx: RunContext,
  plans: readonly ComponentPlan[],
  healthy: ReadonlySet<string>,
  last: ReadonlyMap<string, string>,
  timeoutMs: number,
): ClusterError {
  // Every member healthy but no single leader reported: blame the store's first member.
  const slow = plans.find((p) => !healthy.has(p.name)) ?? plans[0];
  assert(slow !== undefined, 'a phase has components');
  const what = healthy.has(slow.name)
    ? 'the store did not agree on one leader'
    : `${slow.name} did not become healthy`;
  const lastCheck = last.get(slow.name) ?? '';
  ctx.board.set(slow.name, 'failed', lastCheck);
  showLog(ctx, slow);
  return new ClusterError(
    'NOT_HEALTHY',
    `${what} within ${timeoutMs} ms (last check: ${lastCheck === '' ? 'no answer' : lastCheck}); ` +
      `see its log ${slow.logFile}`,
    { component: slow.name, logFile: slow.logFile },
  );
}

async function leaderKnown(ctx: RunContext, plans: readonly ComponentPlan[]): Promise<boolean> {
  if (plans[0]?.kind !== 'store') return true;
  const leaders = await Promise.all(ctx.layout.stores.map((s) => storeIsLeader(s.clientPort)));
  return leaders.filter((l) => l === true).length === 1;
}

function throwIfExited(ctx: RunContext, spawned: readonly Spawned[]): void {
  const dead = spawned.find((s) => s.exit !== null);
  if (dead === undefined) return;
  ctx.board.set(dead.plan.name, 'failed', `exited with ${dead.exit}`);
  showLog(ctx, dead.plan);
  throw new ClusterError(
    'EXITED',
    `${dead.plan.name} exited with ${dead.exit} while starting; see its log ${dead.plan.logFile}`,
    { component: dead.plan.name, logFile: dead.plan.logFile },
  );
}

function throwIfAborted(ctx: RunContext): void {
  if (ctx.opts.signal?.aborted !== true) return;
  throw new ClusterError('ABORTED', 'interrupted; stopping what this run started');
}

function showLog(ctx: RunContext, plan: ComponentPlan | undefined): void {
  if (plan === undefined) return;
  ctx.io.err(`the end of ${plan.logFile}:`);
  for (const line of logTail(plan.logFile, LOG_TAIL_LINES)) ctx.io.err(`  ${line}`);
}

/** Stops, in reverse order, what this run started (never what it found running). */
async function stopStarted(ctx: RunContext): Promise<void> {
  const targets = [...ctx.started].reverse().filter((s) => s.exit === null);
  if (targets.length === 0) return;
  ctx.io.err(`stopping what this run started: ${targets.map((s) => s.plan.name).join(', ')}`);
  await stopProcesses(
    targets.map((s) => ({ plan: s.plan, pid: s.pid })),
    { graceMs: CLEANUP_GRACE_MS, killWaitMs: 2000 },
  );
  for (const s of ctx.started) removePidFile(s.plan.pidFile);
}

/** The lines `up` ends with: how to use kubectl with the cluster, and how to stop it. */
export function usageLines(result: UpResult): string[] {
  const rel = relative(process.cwd(), result.dir);
  const dirFlag =
    result.dir === resolve(DIR_DEFAULT)
      ? ''
      : ` --dir ${rel === '' || rel.startsWith('..') ? result.dir : rel}`;
  return [
    `Cluster is up: ${result.stores} store members, ${result.apiservers} apiservers, load balancer at ${result.server}`,
    '',
    `  export KUBECONFIG=${result.kubeconfig}`,
    '  kubectl get nodes',
    '  kubectl get namespaces',
    '',
    `Status: keelson cluster status${dirFlag}    Stop: keelson cluster down${dirFlag}`,
    `Logs, data, certificates and PIDs are in ${result.dir}`,
  ];
}
