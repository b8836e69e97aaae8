// The cluster's processes: started detached (own process group, output to a log file) so that they
// outlive `keelson cluster up`, recorded in pid files, and signalled only after /proc/<pid>/cmdline
// shows that the PID still is the component we started (PIDs are recycled).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MEMBER_NODE_FLAGS } from '@keelson/store';
import type { ComponentPlan } from './components.js';
import { assert } from './errors.js';

const POLL_MS = 100;

/** The arguments of a live process, or null when there is none (or it is a zombie). */
export function readCmdline(pid: number): string[] | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
  // A zombie's cmdline is empty; arguments end with NUL.
  if (raw === '') return null;
  return raw.replace(/\0$/, '').split('\0');
}

/** Whether every run of `identity` occurs, contiguously, in `argv`. */
export function matchesIdentity(argv: readonly string[], identity: readonly (readonly string[])[]): boolean {
  assert(identity.length > 0, 'an identity is never empty');
  return identity.every((run) => indexOfRun(argv, run) >= 0);
}

function indexOfRun(argv: readonly string[], run: readonly string[]): number {
  for (let i = 0; i + run.length <= argv.length; i++) {
    if (run.every((arg, j) => argv[i + j] === arg)) return i;
  }
  return -1;
}

/** Whether `pid` is alive and is the component `plan` describes. */
export function isComponentProcess(pid: number, plan: ComponentPlan): boolean {
  const argv = readCmdline(pid);
  return argv !== null && matchesIdentity(argv, plan.identity);
}

export function readPidFile(file: string): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
  const pid = Number(text);
  return Number.isInteger(pid) && pid > 1 ? pid : null;
}

export function writePidFile(file: string, pid: number): void {
  assert(Number.isInteger(pid) && pid > 1, `a pid to record (${pid})`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${pid}\n`);
  renameSync(`${file}.tmp`, file);
}

export function removePidFile(file: string): void {
  rmSync(file, { force: true });
}

/** The recorded PID of the component if that process is running and is ours; else null. */
export function runningPid(plan: ComponentPlan): number | null {
  const pid = readPidFile(plan.pidFile);
  return pid !== null && isComponentProcess(pid, plan) ? pid : null;
}

/** A component started by this run. */
export interface Spawned {
  readonly plan: ComponentPlan;
  readonly pid: number;
  /** How it ended ("code 1", "signal SIGKILL"), null while it runs. */
  exit: string | null;
  readonly child: ChildProcess;
}

/**
 * Starts `node <mainScript> <plan.args>` detached, appending its output to plan.logFile, and records
 * its PID. The caller's process may exit at once afterwards; the component keeps running.
 */
export function spawnComponent(mainScript: string, plan: ComponentPlan, env: NodeJS.ProcessEnv): Spawned {
  mkdirSync(dirname(plan.logFile), { recursive: true });
  const fd = openSync(plan.logFile, 'a');
  let child: ChildProcess;
  try {
    const nodeFlags = plan.kind === 'store' ? MEMBER_NODE_FLAGS : [];
    child = spawn(process.execPath, [...nodeFlags, mainScript, ...plan.args], {
      stdio: ['ignore', fd, fd],
      env,
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`could not start ${plan.name}: no pid (see ${plan.logFile})`);
  const spawned: Spawned = { plan, pid: child.pid, exit: null, child };
  child.once('exit', (code, signal) => {
    spawned.exit = signal === null ? `code ${code}` : `signal ${signal}`;
  });
  child.once('error', (err) => {
    spawned.exit ??= `spawn error: ${err.message}`;
  });
  // Not waited for: `up` returns while the component runs on.
  child.unref();
  writePidFile(plan.pidFile, child.pid);
  return spawned;
}

/** The environment of components: the caller's, without ETCD_* (shared listen URLs would clash). */
export function componentEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('ETCD_')) out[k] = v;
  return out;
}

export interface StopTarget {
  readonly plan: ComponentPlan;
  readonly pid: number;
}

export type StopOutcome = 'stopped' | 'killed' | 'still running' | 'not ours';

export interface StopBounds {
  /** Between SIGTERM and SIGKILL. */
  readonly graceMs: number;
  /** After SIGKILL, before giving up. */
  readonly killWaitMs: number;
}

/** SIGTERM every target that still is ours, SIGKILL those left after the grace; bounded. */
export async function stopProcesses(
  targets: readonly StopTarget[],
  bounds: StopBounds,
): Promise<StopOutcome[]> {
  const outcomes: StopOutcome[] = targets.map((t) => (signalIfOurs(t, 'SIGTERM') ? 'stopped' : 'not ours'));
  await waitGone(targets, bounds.graceMs);
  targets.forEach((t, i) => {
    if (outcomes[i] === 'stopped' && signalIfOurs(t, 'SIGKILL')) outcomes[i] = 'killed';
  });
  await waitGone(targets, bounds.killWaitMs);
  targets.forEach((t, i) => {
    if (isComponentProcess(t.pid, t.plan)) outcomes[i] = 'still running';
  });
  return outcomes;
}

/** Sends `signal` only if the PID still is the component; returns whether it did. */
function signalIfOurs(t: StopTarget, signal: NodeJS.Signals): boolean {
  if (!isComponentProcess(t.pid, t.plan)) return false;
  try {
    process.kill(t.pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(targets: readonly StopTarget[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / POLL_MS) + 1; i++) {
    if (targets.every((t) => !isComponentProcess(t.pid, t.plan))) return;
    if (Date.now() >= deadline) return;
    await sleep(POLL_MS);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last lines of a log, for an error a person reads. */
export function logTail(file: string, lines: number): string[] {
  try {
    const text = readFileSync(file, 'utf8');
    return text
      .slice(-32 * 1024)
      .trimEnd()
      .split('\n')
      .slice(-lines);
  } catch {
    return ['(no log)'];
  }
}
