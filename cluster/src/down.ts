// `keelson cluster down`: stop every component of the cluster by its recorded PID — the LB first,
// then the apiservers, then the store — with SIGTERM and, after a bound, SIGKILL. A PID is signalled
// only while /proc shows it is still that component. Data, certificates and logs are kept.
import { type ClusterPaths, type ComponentKind, clusterPaths, planComponents } from './components.js';
import { ClusterError } from './errors.js';
import { readLayout } from './layout.js';
import { readPidFile, removePidFile, runningPid, type StopOutcome, stopProcesses } from './procs.js';
import type { ClusterIo } from './progress.js';

export const STOP_GRACE_MS_DEFAULT = 10_000;
const KILL_WAIT_MS = 3000;

export interface DownOptions {
  readonly dir: string;
  /** Between SIGTERM and SIGKILL, per phase. */
  readonly graceMs?: number;
}

export interface DownEntry {
  readonly name: string;
  readonly pid: number | null;
  readonly outcome: StopOutcome | 'not running';
}

export interface DownResult {
  readonly dir: string;
  readonly entries: readonly DownEntry[];
  /** Whether every component is stopped now. */
  readonly stopped: boolean;
}

export async function clusterDown(opts: DownOptions, io: ClusterIo): Promise<DownResult> {
  const paths = clusterPaths(opts.dir);
  const plans = planComponents(paths, loadLayoutOrThrow(paths));
  const entries: DownEntry[] = [];
  // The LB first, so that clients stop being sent to apiservers that are going away; the store last,
  // so that stopping apiservers can still finish their requests.
  const order: ComponentKind[] = ['lb', 'apiserver', 'store'];
  for (const kind of order) {
    const phase = plans.filter((p) => p.kind === kind);
    const targets = phase.flatMap((plan) => {
      const pid = runningPid(plan);
      return pid === null ? [] : [{ plan, pid }];
    });
    const outcomes = await stopProcesses(targets, {
      graceMs: opts.graceMs ?? STOP_GRACE_MS_DEFAULT,
      killWaitMs: KILL_WAIT_MS,
    });
    for (const plan of phase) {
      const i = targets.findIndex((t) => t.plan === plan);
      const outcome = i < 0 ? 'not running' : (outcomes[i] ?? 'still running');
      const pid = i < 0 ? readPidFile(plan.pidFile) : (targets[i]?.pid ?? null);
      if (outcome !== 'still running') removePidFile(plan.pidFile);
      entries.push({ name: plan.name, pid: i < 0 ? null : pid, outcome });
      io.err(describe(plan.name, i < 0 ? null : pid, outcome));
    }
  }
  return { dir: paths.dir, entries, stopped: entries.every((e) => e.outcome !== 'still running') };
}

function describe(name: string, pid: number | null, outcome: DownEntry['outcome']): string {
  if (outcome === 'not running') return `  ${name.padEnd(13)} was not running`;
  if (outcome === 'killed')
    return `  ${name.padEnd(13)} killed (pid ${pid}; it did not stop on SIGTERM in time)`;
  if (outcome === 'still running') return `  ${name.padEnd(13)} STILL RUNNING (pid ${pid}); kill it by hand`;
  if (outcome === 'not ours') return `  ${name.padEnd(13)} had exited (pid ${pid})`;
  return `  ${name.padEnd(13)} stopped (pid ${pid})`;
}

export function loadLayoutOrThrow(paths: ClusterPaths) {
  const layout = readLayout(paths.dir);
  if (layout === undefined) {
    throw new ClusterError(
      'NO_CLUSTER',
      `no cluster in ${paths.dir} (no cluster.json); create one with \`keelson cluster up --dir ${paths.dir}\``,
    );
  }
  return layout;
}
