// `keelson cluster up|down|status` with real processes: 3 store members, 2 apiservers and the LB on
// free loopback ports in a temp dir, driven with kubectl through the LB. Only the PIDs this file
// started are ever signalled (afterAll runs `down` and then kills any recorded PID still ours).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ClusterError,
  type ClusterIo,
  type ClusterStatus,
  clusterDown,
  clusterPaths,
  clusterStatus,
  clusterUp,
  isComponentProcess,
  lbBackends,
  planComponents,
  readCmdline,
  readLayout,
  readPidFile,
  type UpResult,
} from '@keelson/cluster';
import { MEMBER_NODE_FLAGS } from '@keelson/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeBasePort, killLeftovers, sleep } from './harness.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainScript = join(repoRoot, 'packages/cli/dist/main.js');
const readyTimeoutMs = 45_000;
const kubectlTimeoutMs = 15_000;

const log: string[] = [];
const io: ClusterIo = { out: (l) => log.push(l), err: (l) => log.push(l) };
let dir = '';
let first: UpResult | undefined;
/** Every PID any `up` of this file reported, for the last-resort cleanup. */
const seenPids = new Set<number>();

function remember(result: UpResult): UpResult {
  for (const pid of Object.values(result.pids)) seenPids.add(pid);
  return result;
}

function kubectl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'kubectl',
      args,
      { env: { ...process.env, KUBECONFIG: clusterPaths(dir).kubeconfig }, timeout: kubectlTimeoutMs },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** PIDs of live processes whose arguments mention the cluster dir (every component's do). */
function processesOfCluster(clusterDir = dir): number[] {
  const pids = readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  return pids.filter(
    (pid) => pid !== process.pid && (readCmdline(pid) ?? []).some((a) => a.startsWith(clusterDir)),
  );
}

beforeAll(async () => {
  if (!existsSync(join(repoRoot, 'packages/cli/dist/lb.js'))) {
    throw new Error(`${mainScript} (with \`keelson lb\`) is missing: run \`npm run build\` first`);
  }
  dir = mkdtempSync(join(tmpdir(), 'keelson-cluster-'));
  const basePort = await freeBasePort();
  try {
    first = remember(await clusterUp({ dir, basePort, mainScript, readyTimeoutMs }, io));
  } catch (err) {
    console.error(log.join('\n'));
    throw err;
  }
}, 120_000);

afterAll(async () => {
  if (dir === '') return;
  try {
    await clusterDown({ dir, graceMs: 3000 }, io);
  } catch (err) {
    console.error(`cluster down failed: ${(err as Error).message}`);
  }
  // Last resort: a recorded or reported PID that still is one of this cluster's components.
  killLeftovers(dir, seenPids);
  if (process.env.KEEP_CLUSTER_DIRS === undefined) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('keelson cluster', () => {
  it('up brings the default topology healthy', async () => {
    // Proves a fresh `up` starts 3 store members, 2 apiservers and the LB and returns once all are healthy.
    expect(first?.started).toEqual(['store-1', 'store-2', 'store-3', 'apiserver-1', 'apiserver-2', 'lb']);
    expect(first?.created).toBe(true);
    const status = await clusterStatus({ dir });
    expect(status.components.map((c) => c.health)).toEqual(Array(6).fill('healthy'));
    expect(readFileSync(clusterPaths(dir).kubeconfig, 'utf8')).toContain(first?.server ?? '?');
  });

  it("starts the store members, and only them, with the members' Node flags", () => {
    // Proves `up` passes MEMBER_NODE_FLAGS (V8's smaller young generation) to each store member's node.
    const argv = (name: string) =>
      readFileSync(`/proc/${first?.pids[name]}/cmdline`, 'utf8')
        .split('\0')
        .filter((a) => a !== '');
    for (const name of ['store-1', 'store-2', 'store-3']) {
      const args = argv(name);
      expect(args.slice(1, 1 + MEMBER_NODE_FLAGS.length)).toEqual([...MEMBER_NODE_FLAGS]);
      expect(args).toContain('store');
    }
    for (const name of ['apiserver-1', 'lb']) {
      for (const f of MEMBER_NODE_FLAGS) expect(argv(name)).not.toContain(f);
    }
  });

  it('serves kubectl get namespaces and get nodes through the LB', async () => {
    // Proves the kubeconfig (admin cert, CA, LB URL) works end to end with kubectl.
    const ns = await kubectl(['get', 'namespaces', '-o', 'name']);
    expect(ns.stderr).toBe('');
    expect(ns.stdout).toContain('namespace/default');
    expect(ns.stdout).toContain('namespace/kube-system');
    const nodes = await kubectl(['get', 'nodes']);
    expect(nodes.code).toBe(0);
  });

  it('status --json names a store leader and 2 healthy apiservers', async () => {
    // Proves the CLI's status JSON carries the roles and health a person or script needs.
    const { memoryIo, runCli } = await import('@keelson/cli');
    const cliIo = memoryIo();
    const code = await runCli(['node', 'keelson', 'cluster', 'status', '--json', '--dir', dir], cliIo);
    expect(code).toBe(0);
    const status = JSON.parse(cliIo.stdout.join('\n')) as ClusterStatus;
    expect(status.storeLeader).toMatch(/^store-\d$/);
    expect(status.components.filter((c) => c.role === 'leader')).toHaveLength(1);
    const apiservers = status.components.filter((c) => c.kind === 'apiserver');
    expect(apiservers.map((a) => a.health)).toEqual(['healthy', 'healthy']);
    for (const c of status.components) expect(c.pid).toBeGreaterThan(1);
  });

  it('keeps serving kubectl through the LB after kill -9 of one apiserver', async () => {
    // Proves the LB takes a dead apiserver out within its detection time and requests keep succeeding.
    const layout = readLayout(dir);
    const plan = planComponents(clusterPaths(dir), layout ?? expect.fail('no layout')).find(
      (p) => p.name === 'apiserver-1',
    );
    const pid = plan === undefined ? null : readPidFile(plan.pidFile);
    expect(pid !== null && plan !== undefined && isComponentProcess(pid, plan)).toBe(true);
    process.kill(pid ?? -1, 'SIGKILL');
    const t0 = Date.now();
    let detectedMs = -1;
    for (let i = 0; i < 50 && detectedMs < 0; i++) {
      const backends = await lbBackends(layout?.lb.adminPort ?? 0);
      if (backends?.some((b) => !b.healthy)) detectedMs = Date.now() - t0;
      else await sleep(100);
    }
    expect(detectedMs).toBeGreaterThanOrEqual(0);
    expect(detectedMs).toBeLessThan(3000);
    for (let i = 0; i < 4; i++) {
      const r = await kubectl(['get', 'namespaces', '-o', 'name']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('namespace/default');
    }
    const status = await clusterStatus({ dir });
    expect(status.components.find((c) => c.name === 'apiserver-1')?.health).toBe('stopped');
  });

  it('up on a running cluster restarts only what is not running', async () => {
    // Proves `up` leaves running components alone (same PIDs) and restarts the dead one.
    const again = remember(await clusterUp({ dir, mainScript, readyTimeoutMs }, io));
    expect(again.started).toEqual(['apiserver-1']);
    expect(again.alreadyRunning).toHaveLength(5);
    for (const name of again.alreadyRunning) expect(again.pids[name]).toBe(first?.pids[name]);
    expect((await clusterStatus({ dir })).healthy).toBe(true);
  });

  it('down then up restarts with the data intact', async () => {
    // Proves a full stop and restart keeps the store's data (a configmap), ports and certificates.
    const created = await kubectl(['create', 'configmap', 'survivor', '--from-literal=k=v']);
    expect(created.stderr).toBe('');
    const caBefore = readFileSync(clusterPaths(dir).caCert, 'utf8');
    const servingBefore = readFileSync(join(clusterPaths(dir).pki, 'apiserver-1.crt'), 'utf8');
    const down = await clusterDown({ dir }, io);
    expect(down.stopped).toBe(true);
    expect(processesOfCluster()).toEqual([]);
    const again = remember(await clusterUp({ dir, mainScript, readyTimeoutMs }, io));
    expect(again.started).toHaveLength(6);
    expect(again.server).toBe(first?.server);
    expect(readFileSync(clusterPaths(dir).caCert, 'utf8')).toBe(caBefore);
    expect(readFileSync(join(clusterPaths(dir).pki, 'apiserver-1.crt'), 'utf8')).toBe(servingBefore);
    const got = await kubectl(['get', 'configmap', 'survivor', '-o', 'jsonpath={.data.k}']);
    expect(got.stderr).toBe('');
    expect(got.stdout).toBe('v');
  });

  it('down leaves no process of the cluster running', async () => {
    // Proves `down` stops every component it recorded, and reports each.
    const down = await clusterDown({ dir }, io);
    expect(down.stopped).toBe(true);
    for (const e of down.entries) expect(['stopped', 'killed']).toContain(e.outcome);
    expect(processesOfCluster()).toEqual([]);
    const status = await clusterStatus({ dir });
    expect(status.components.map((c) => c.health)).toEqual(Array(6).fill('stopped'));
  });
});

describe('keelson cluster up failures', () => {
  let failDir = '';
  const failPids = new Set<number>();
  let blocker: Server | undefined;

  afterAll(async () => {
    blocker?.close();
    if (failDir === '') return;
    try {
      await clusterDown({ dir: failDir, graceMs: 3000 }, io);
    } catch {
      // Nothing recorded: nothing to stop.
    }
    killLeftovers(failDir, failPids);
    if (process.env.KEEP_CLUSTER_DIRS === undefined) rmSync(failDir, { recursive: true, force: true });
  }, 30_000);

  it('names a component that exits while starting, shows its log, and stops what it started', async () => {
    // Proves a failed `up` is bounded, blames the right component and leaves nothing running.
    failDir = mkdtempSync(join(tmpdir(), 'keelson-cluster-fail-'));
    // A main.js that runs the real one, except that every apiserver dies at once.
    const failingMain = join(failDir, 'failing-main.mjs');
    writeFileSync(
      failingMain,
      `if (process.argv[2] === 'apiserver') { console.error('simulated apiserver crash'); process.exit(3); }\n` +
        `await import(${JSON.stringify(mainScript)});\n`,
    );
    const lines: string[] = [];
    const failIo: ClusterIo = { out: (l) => lines.push(l), err: (l) => lines.push(l) };
    const basePort = await freeBasePort();
    const err = await clusterUp(
      { dir: failDir, basePort, mainScript: failingMain, readyTimeoutMs },
      failIo,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    for (const f of readdirSync(clusterPaths(failDir).pids)) {
      const pid = readPidFile(join(clusterPaths(failDir).pids, f));
      if (pid !== null) failPids.add(pid);
    }
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).code).toBe('EXITED');
    expect((err as ClusterError).details.component).toMatch(/^apiserver-\d$/);
    expect((err as ClusterError).message).toContain(join(failDir, 'logs'));
    expect(lines.join('\n')).toContain('simulated apiserver crash');
    expect(processesOfCluster(failDir)).toEqual([]);
  });

  it('gives up on a component that never becomes healthy within the bound, and stops what it started', async () => {
    // Proves the wait is bounded, NOT_HEALTHY names the component, and nothing of this run survives it.
    const hangingMain = join(failDir, 'hanging-main.mjs');
    writeFileSync(
      hangingMain,
      `if (process.argv[2] === 'lb') { console.error('simulated hung lb'); setInterval(() => {}, 1000); }\n` +
        `else await import(${JSON.stringify(mainScript)});\n`,
    );
    const t0 = Date.now();
    const err = await clusterUp({ dir: failDir, mainScript: hangingMain, readyTimeoutMs: 12_000 }, io).then(
      () => undefined,
      (e: unknown) => e,
    );
    const lbPid = readPidFile(join(clusterPaths(failDir).pids, 'lb.pid'));
    if (lbPid !== null) failPids.add(lbPid);
    expect((err as ClusterError).code).toBe('NOT_HEALTHY');
    expect((err as ClusterError).details.component).toBe('lb');
    expect(Date.now() - t0).toBeLessThan(40_000);
    expect(processesOfCluster(failDir)).toEqual([]);
  }, 60_000);

  it('refuses a port in use, naming the component, before starting it', async () => {
    // Proves PORT_IN_USE names the component whose port is taken (the store ran before and is stopped).
    blocker = createServer();
    const layout = readLayout(failDir);
    const port = layout?.lb.port ?? 0;
    await new Promise<void>((r) => blocker?.listen(port, '127.0.0.1', r));
    const err = await clusterUp({ dir: failDir, mainScript, readyTimeoutMs }, io).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as ClusterError).code).toBe('PORT_IN_USE');
    expect((err as ClusterError).details.component).toBe('lb');
    expect(processesOfCluster(failDir)).toEqual([]);
  });

  it('refuses flags that contradict the directory', async () => {
    // Proves `up --stores 5` on a 3-member dir fails with LAYOUT_MISMATCH and starts nothing.
    const err = await clusterUp({ dir: failDir, stores: 5, mainScript, readyTimeoutMs }, io).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as ClusterError).code).toBe('LAYOUT_MISMATCH');
    expect((err as ClusterError).message).toContain('--stores 3');
  });
});
