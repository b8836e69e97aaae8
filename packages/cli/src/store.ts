// `keelson store`: run one member of Keelson's etcd-compatible store with etcd's own flags, and
// `keelson store cluster`: run a local cluster of them as child processes, for development.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  createLogger,
  DataDirError,
  formatInitialCluster,
  loadMemberConfig,
  MEMBER_NODE_FLAGS,
  type MemberConfig,
  STORE_FLAGS,
  startMember,
} from '@keelson/store';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Io } from './io.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** What the store commands need from the process; tests pass fakes. */
export interface StoreHost {
  readonly env: Env;
  /** Where member logs go (etcd logs to stderr too). */
  readonly logStream: NodeJS.WritableStream;
  /** Calls `handler` on every SIGINT and SIGTERM; returns a function that stops listening. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void;
  /** Ends the process (a test's fake records the code instead). */
  exit(code: number): void;
  /** The script children run as `process.execPath ...execArgv mainScript store ...`. */
  readonly mainScript: string;
  readonly startMember: typeof startMember;
}

export function processHost(): StoreHost {
  return {
    env: process.env,
    logStream: process.stderr,
    onSignal: (handler) => {
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
    exit: (code) => process.exit(code),
    // Beside this file in dist/ (the CLI's bin is dist/main.js).
    mainScript: fileURLToPath(new URL('./main.js', import.meta.url)),
    startMember,
  };
}

/** How long a member may take to stop cleanly before `keelson store` gives up on it. */
const STOP_TIMEOUT_MS = 30_000;

/** Declares etcd's flags on `cmd`. No commander defaults: an unset flag may come from ETCD_*. */
export function addStoreFlags(cmd: Command): Command {
  for (const f of STORE_FLAGS) {
    const spec =
      f.kind === 'boolean' ? `--${f.flag} [bool]` : `--${f.flag} <${f.kind === 'urls' ? 'urls' : 'value'}>`;
    const shown = f.defaultText === '' ? '' : ` (default: ${f.defaultText})`;
    cmd.addOption(new Option(spec, `${f.description}${shown}; env ${f.env}`));
  }
  return cmd;
}

/** Adds `store` and `store cluster` to the keelson program. */
export function addStoreCommand(
  program: Command,
  io: Io,
  host: StoreHost,
  setExit: (c: number) => void,
): Command {
  const store = program
    .command('store')
    .description("run a member of Keelson's etcd-compatible store (etcd 3.4's flags and ETCD_* variables)")
    .enablePositionalOptions()
    .passThroughOptions();
  addStoreFlags(store).action(async (opts: Record<string, unknown>) =>
    setExit(await storeMember(opts, io, host)),
  );
  store
    .command('cluster')
    .description('run a local cluster of store members as child processes (client ports base, base+2, ...)')
    .option('--size <n>', 'how many members', integer(1, 9), 3)
    .option('--dir <path>', 'where data directories, logs and pids.json go', '.keelson/store')
    .option(
      '--base-port <port>',
      "the first member's client port; member i uses base+2i and base+2i+1",
      integer(1024, 65_000),
      23_790,
    )
    .option('--snapshot-count <n>', 'passed to every member', integer(1, Number.MAX_SAFE_INTEGER))
    .addOption(
      new Option('--log-level <level>', 'passed to every member')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .option(
      '--ready-timeout-ms <ms>',
      'how long to wait for every member to be healthy',
      integer(1000, 600_000),
      60_000,
    )
    .action(async (opts: ClusterOptions) => setExit(await storeCluster(opts, io, host)));
  return store;
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

/** Runs `keelson store ...` on its own (main.ts sends `keelson store` here); returns the exit code. */
export async function runStoreCli(
  argv: readonly string[],
  io: Io,
  host: StoreHost = processHost(),
): Promise<number> {
  let code = 0;
  const program = new Command('keelson')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError("(run 'keelson store --help' for the flags)")
    .exitOverride()
    .enablePositionalOptions();
  addStoreCommand(program, io, host, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version')
      return 0;
    // A flag commander refuses (unknown, missing value) is a usage error: exit 2, as etcd does.
    if (typeof e.exitCode === 'number') return e.exitCode === 1 ? 2 : e.exitCode;
    throw err;
  }
  return code;
}

/**
 * `keelson store [flags]`: exit 2 on a bad configuration, 0 after a clean stop on SIGINT/SIGTERM,
 * 1 on anything else (including a second signal, which exits at once).
 */
export async function storeMember(opts: Record<string, unknown>, io: Io, host: StoreHost): Promise<number> {
  let config: MemberConfig;
  let warnings: string[];
  try {
    ({ config, warnings } = loadMemberConfig(opts, host.env));
  } catch (err) {
    return configFailure(err, io);
  }
  // The member's own lines say "member" (or their component); this command's say "cli".
  const memberLog = createLogger({ name: config.name, level: config.logLevel, destination: host.logStream });
  const log = memberLog.child({ component: 'cli' });
  for (const w of warnings) log.warn(w);
  let stopRequested: (signal: NodeJS.Signals) => void = () => {};
  const stopSignal = new Promise<NodeJS.Signals>((r) => {
    stopRequested = r;
  });
  let signals = 0;
  const unsubscribe = host.onSignal((signal) => {
    signals += 1;
    if (signals === 1) {
      log.info({ signal }, 'received signal, stopping member (send it again to exit at once)');
      stopRequested(signal);
      return;
    }
    log.warn({ signal }, 'received a second signal, exiting without a clean stop');
    host.exit(1);
  });
  try {
    return await runUntilSignal(config, { memberLog, log }, host, stopSignal);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DataDirError) return configFailure(err, io);
    log.fatal({ err }, 'member failed');
    return 1;
  } finally {
    unsubscribe();
  }
}

/** A configuration or data directory a person must fix: the message, no stack, exit 2. */
function configFailure(err: unknown, io: Io): number {
  if (!(err instanceof ConfigError || err instanceof DataDirError)) throw err;
  io.err(`keelson store: ${err.message}`);
  if (err instanceof ConfigError) {
    io.err("See 'keelson store --help' for the flags (they are etcd's, and ETCD_* variables work too).");
  }
  return 2;
}

async function runUntilSignal(
  config: MemberConfig,
  logs: { memberLog: ReturnType<typeof createLogger>; log: ReturnType<typeof createLogger> },
  host: StoreHost,
  stopSignal: Promise<NodeJS.Signals>,
): Promise<number> {
  const { memberLog, log } = logs;
  log.info(
    {
      dataDir: config.dataDir,
      clientUrls: config.advertiseClientUrls,
      peerUrls: config.initialAdvertisePeerUrls,
      initialCluster: formatInitialCluster(config.initialCluster),
      initialClusterState: config.initialClusterState,
    },
    'starting member',
  );
  const member = await host.startMember(config, memberLog);
  log.info({ clientPorts: member.clientPorts() }, 'member started');
  const ended = await Promise.race([stopSignal.then(() => null), member.done]);
  if (ended !== null) {
    // The member stopped by itself (removed from the cluster, or a fatal error it already logged).
    log.warn({ code: ended.code, reason: ended.reason }, 'member stopped by itself');
    return ended.code;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), STOP_TIMEOUT_MS);
  });
  const outcome = await Promise.race([member.stop().then(() => 'stopped' as const), timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    log.error({ timeoutMs: STOP_TIMEOUT_MS }, 'member did not stop in time; exiting anyway');
    return 1;
  }
  log.info('member stopped cleanly; exiting');
  return 0;
}

// ---------------------------------------------------------------------------------------------
// keelson store cluster

export interface ClusterOptions {
  readonly size: number;
  readonly dir: string;
  readonly basePort: number;
  readonly snapshotCount?: number;
  readonly logLevel: string;
  readonly readyTimeoutMs: number;
}

/** One child member of a local cluster: where it listens and what it is started with. */
export interface ClusterMemberPlan {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly args: string[];
}

/** The members of a local cluster; pure, so that the flags can be checked without processes. */
export function planCluster(opts: ClusterOptions, fresh: boolean): ClusterMemberPlan[] {
  const dir = resolve(opts.dir);
  const members = Array.from({ length: opts.size }, (_, i) => ({
    name: `s${i + 1}`,
    clientUrl: `http://127.0.0.1:${opts.basePort + 2 * i}`,
    peerUrl: `http://127.0.0.1:${opts.basePort + 2 * i + 1}`,
  }));
  const initialCluster = formatInitialCluster(members.map((m) => ({ name: m.name, peerUrls: [m.peerUrl] })));
  return members.map((m) => {
    const dataDir = join(dir, `${m.name}.etcd`);
    const args = [
      'store',
      ...['--name', m.name, '--data-dir', dataDir],
      ...['--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl],
      ...['--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl],
      ...['--initial-cluster', initialCluster, '--initial-cluster-token', 'keelson-local-cluster'],
      // A restarted member recovers its membership from its data directory; "existing" keeps a
      // member whose directory vanished from bootstrapping a second, split cluster.
      ...['--initial-cluster-state', fresh ? 'new' : 'existing'],
      ...['--log-level', opts.logLevel],
      ...(opts.snapshotCount === undefined ? [] : ['--snapshot-count', String(opts.snapshotCount)]),
    ];
    return { ...m, dataDir, logFile: join(dir, `${m.name}.log`), args };
  });
}

/** Decides whether this is a fresh cluster; throws a message for a person if the dir is in an odd state. */
function checkClusterDir(opts: ClusterOptions): boolean {
  const dir = resolve(opts.dir);
  const names = Array.from({ length: opts.size }, (_, i) => `s${i + 1}`);
  const present = names.filter((n) => existsSync(join(dir, `${n}.etcd`)));
  if (present.length > 0 && present.length < names.length) {
    const missing = names.filter((n) => !present.includes(n));
    throw new Error(
      `${dir} holds data for ${present.join(', ')} but not for ${missing.join(', ')}; ` +
        `use the --size it was created with, or remove ${dir} to start a new cluster`,
    );
  }
  if (existsSync(join(dir, `s${opts.size + 1}.etcd`))) {
    throw new Error(
      `${dir} holds data for more than ${opts.size} members; use the --size it was created with`,
    );
  }
  const live = livePids(join(dir, 'pids.json'));
  if (live.length > 0) {
    throw new Error(
      `a cluster from ${dir} seems to be running already (pids ${live.join(', ')}); ` +
        `stop it first (Ctrl-C in its terminal, or kill ${live.join(' ')})`,
    );
  }
  return present.length === 0;
}

function livePids(pidFile: string): number[] {
  if (!existsSync(pidFile)) return [];
  let pids: number[] = [];
  try {
    const parsed = JSON.parse(readFileSync(pidFile, 'utf8')) as {
      launcherPid?: number;
      members?: { pid?: number }[];
    };
    pids = [parsed.launcherPid, ...(parsed.members ?? []).map((m) => m.pid)].filter(
      (p): p is number => typeof p === 'number' && p !== process.pid,
    );
  } catch {
    return [];
  }
  return pids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

async function checkPortsFree(plans: readonly ClusterMemberPlan[]): Promise<void> {
  for (const p of plans) {
    for (const url of [p.clientUrl, p.peerUrl]) {
      const port = Number(new URL(url).port);
      if (!(await portFree(port))) {
        throw new Error(`port ${port} (for ${p.name}) is in use; pick other ports with --base-port`);
      }
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

interface ChildMember {
  readonly plan: ClusterMemberPlan;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Set when the child has exited, e.g. "code 1" or "signal SIGKILL". */
  exit: string | null;
}

/** How long a child gets between SIGTERM and SIGKILL. */
const CHILD_STOP_GRACE_MS = 5000;
/** Lines of a dead member's log that are printed. */
const LOG_TAIL_LINES = 20;
const HEALTH_POLL_MS = 250;

/** `keelson store cluster`: returns 0 after a stop on a signal, 1 if the cluster failed, 2 on bad input. */
export async function storeCluster(opts: ClusterOptions, io: Io, host: StoreHost): Promise<number> {
  const dir = resolve(opts.dir);
  let plans: ClusterMemberPlan[];
  let fresh: boolean;
  try {
    fresh = checkClusterDir(opts);
    plans = planCluster(opts, fresh);
    await checkPortsFree(plans);
  } catch (err) {
    io.err(`keelson store cluster: ${(err as Error).message}`);
    return 2;
  }
  mkdirSync(dir, { recursive: true });
  io.err(`${fresh ? 'Creating' : 'Restarting'} a ${opts.size}-member store cluster in ${dir}`);
  const members = plans.map((p) => spawnMember(p, host));
  writePidFile(dir, members);
  let stopping = false;
  let requestStop: () => void = () => {};
  const stopRequested = new Promise<'signal'>((r) => {
    requestStop = () => r('signal');
  });
  let signals = 0;
  const unsubscribe = host.onSignal(() => {
    signals += 1;
    if (signals === 1) return requestStop();
    io.err('second signal: killing every member now');
    for (const m of members) if (m.exit === null) m.child.kill('SIGKILL');
    host.exit(1);
  });
  for (const m of members) void m.exited.then(() => (stopping ? undefined : reportDeath(m, io)));
  try {
    const outcome = await superviseCluster(members, opts, dir, io, stopRequested);
    stopping = true;
    await stopAll(members, io);
    return outcome === 'signal' ? 0 : 1;
  } finally {
    stopping = true;
    unsubscribe();
    writePidFile(
      dir,
      members.filter((m) => m.exit === null),
    );
  }
}

/** Waits for the cluster to be healthy, then for a signal or for every member to die. */
async function superviseCluster(
  members: readonly ChildMember[],
  opts: ClusterOptions,
  dir: string,
  io: Io,
  stopRequested: Promise<'signal'>,
): Promise<'signal' | 'failed'> {
  const ready = await Promise.race([waitReady(members, opts.readyTimeoutMs, io), stopRequested]);
  if (ready !== 'ready') return ready;
  printEndpoints(members, dir, io);
  const allDead = Promise.all(members.map((m) => m.exited)).then(() => 'failed' as const);
  const outcome = await Promise.race([stopRequested, allDead]);
  if (outcome === 'failed') io.err('every member has exited; see the logs above');
  return outcome;
}

function spawnMember(plan: ClusterMemberPlan, host: StoreHost): ChildMember {
  mkdirSync(resolve(plan.logFile, '..'), { recursive: true });
  const fd = openSync(plan.logFile, 'a');
  // A user's ETCD_* variables would reach every child alike (and shared listen URLs clash).
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(host.env)) if (!k.startsWith('ETCD_')) env[k] = v;
  let child: ChildProcess;
  try {
    // Own process group: a Ctrl-C in the terminal reaches only the launcher, which then stops each
    // member with one SIGTERM (a member takes a second signal as "exit now").
    // The member's V8 flags first, so that the launcher's own (node --flag keelson ...) win.
    child = spawn(
      process.execPath,
      [...MEMBER_NODE_FLAGS, ...process.execArgv, host.mainScript, ...plan.args],
      {
        stdio: ['ignore', fd, fd],
        env,
        detached: true,
      },
    );
  } finally {
    closeSync(fd);
  }
  const member: ChildMember = { plan, child, exit: null, exited: Promise.resolve() };
  const exited = new Promise<void>((done) => {
    child.once('error', (err) => {
      member.exit ??= `spawn error: ${err.message}`;
      done();
    });
    child.once('exit', (code, signal) => {
      member.exit = signal === null ? `code ${code}` : `signal ${signal}`;
      done();
    });
  });
  return Object.assign(member, { exited });
}

function reportDeath(m: ChildMember, io: Io): void {
  io.progressDone();
  io.err(
    `member ${m.plan.name} (pid ${m.child.pid ?? '?'}) exited with ${m.exit}; the end of ${m.plan.logFile}:`,
  );
  for (const line of logTail(m.plan.logFile, LOG_TAIL_LINES)) io.err(`  ${line}`);
}

function logTail(file: string, lines: number): string[] {
  try {
    const text = readFileSync(file, 'utf8');
    // Logs of restarted clusters grow; only the end matters.
    return text
      .slice(-64 * 1024)
      .trimEnd()
      .split('\n')
      .slice(-lines);
  } catch {
    return ['(no log)'];
  }
}

function writePidFile(dir: string, members: readonly ChildMember[]): void {
  const file = join(dir, 'pids.json');
  const body = {
    launcherPid: members.length === 0 ? null : process.pid,
    members: members.map((m) => ({
      name: m.plan.name,
      pid: m.child.pid ?? null,
      clientUrl: m.plan.clientUrl,
      peerUrl: m.plan.peerUrl,
      dataDir: m.plan.dataDir,
      log: m.plan.logFile,
    })),
  };
  // Write then rename, so that a reader never sees half a file.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Polls every member's /health until all say true; 'failed' (after saying why) on a death or timeout. */
async function waitReady(
  members: readonly ChildMember[],
  timeoutMs: number,
  io: Io,
): Promise<'ready' | 'failed'> {
  const t0 = Date.now();
  const healthy = new Set<string>();
  let shown = '';
  // Bounded by time; the iteration cap only guards against a clock that does not move.
  for (let i = 0; i < Math.ceil(timeoutMs / HEALTH_POLL_MS) + 10; i++) {
    const dead = members.find((m) => m.exit !== null);
    if (dead !== undefined) {
      io.progressDone();
      io.err(`member ${dead.plan.name} died while the cluster was starting; stopping the others`);
      return 'failed';
    }
    await Promise.all(
      members.map(async (m) => {
        if (!healthy.has(m.plan.name) && (await isHealthy(m.plan.clientUrl))) healthy.add(m.plan.name);
      }),
    );
    const elapsedMs = Date.now() - t0;
    const states = members
      .map((m) => `${m.plan.name} ${healthy.has(m.plan.name) ? 'healthy' : 'starting'}`)
      .join(', ');
    // Redrawn in place on a terminal; when stderr is a file, a line per change or per second is enough.
    if (states !== shown || i % 4 === 0)
      io.progress(`waiting for members: ${states} (${(elapsedMs / 1000).toFixed(1)}s)`);
    shown = states;
    if (healthy.size === members.length) {
      io.progressDone();
      return 'ready';
    }
    if (elapsedMs > timeoutMs) break;
    await sleep(HEALTH_POLL_MS);
  }
  io.progressDone();
  const slow = members.filter((m) => !healthy.has(m.plan.name));
  io.err(`not every member was healthy after ${timeoutMs} ms: ${slow.map((m) => m.plan.name).join(', ')}`);
  for (const m of slow) {
    io.err(`the end of ${m.plan.logFile}:`);
    for (const line of logTail(m.plan.logFile, LOG_TAIL_LINES)) io.err(`  ${line}`);
  }
  return 'failed';
}

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: unknown };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

/** A pause that does not by itself keep the process alive (the children's handles do). */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function printEndpoints(members: readonly ChildMember[], dir: string, io: Io): void {
  const endpoints = members.map((m) => m.plan.clientUrl).join(',');
  io.out(`Store cluster is up: ${members.length} members, logs and data in ${dir}`);
  for (const m of members)
    io.out(`  ${m.plan.name}  pid ${m.child.pid}  client ${m.plan.clientUrl}  peer ${m.plan.peerUrl}`);
  io.out(`Endpoints: ${endpoints}`);
  io.out(`Try:       ETCDCTL_API=3 etcdctl --endpoints=${endpoints} put foo bar`);
  io.out(`           ETCDCTL_API=3 etcdctl --endpoints=${endpoints} endpoint status -w table`);
  io.out(
    `PIDs in ${join(dir, 'pids.json')}. Press Ctrl-C to stop every member (data is kept for the next run).`,
  );
}

/** SIGTERM every live member, SIGKILL those still there after the grace period. */
async function stopAll(members: readonly ChildMember[], io: Io): Promise<void> {
  const live = members.filter((m) => m.exit === null);
  if (live.length === 0) return;
  io.err(`stopping ${live.map((m) => m.plan.name).join(', ')}...`);
  for (const m of live) m.child.kill('SIGTERM');
  await Promise.race([Promise.all(live.map((m) => m.exited)), sleep(CHILD_STOP_GRACE_MS)]);
  const stuck = live.filter((m) => m.exit === null);
  for (const m of stuck) {
    io.err(`member ${m.plan.name} did not stop within ${CHILD_STOP_GRACE_MS} ms; killing it`);
    m.child.kill('SIGKILL');
  }
  await Promise.race([Promise.all(stuck.map((m) => m.exited)), sleep(2000)]);
  const results = live.map((m) => `${m.plan.name} ${m.exit ?? 'still running'}`);
  io.err(`stopped: ${results.join(', ')}`);
}
