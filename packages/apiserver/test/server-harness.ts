// Starts a real store (Keelson's, 3 members, or etcd 3.4, 1 member) and a real `keelson apiserver`
// process on it, on loopback with free ports and a temp dir; kills only what it started.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Cluster, type StoreImpl, startCluster } from '../../../test/store/harness.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const keelsonMain = join(repoRoot, 'packages/cli/dist/main.js');
const startTimeoutMs = 30_000;

export interface RunningServer {
  cluster: Cluster;
  /** http://127.0.0.1:<insecure port> */
  url: string;
  securePort: number;
  dir: string;
  proc: ChildProcess;
  logs: () => string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  impl?: StoreImpl;
  extraFlags?: string[];
}

/**
 * The issue asks that the etcd runs install Debian's etcd-server when it is missing; that needs root
 * and apt. Anything else fails loudly (the harness never skips).
 */
function ensureEtcdInstalled(): void {
  if (existsSync('/usr/bin/etcd')) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot)
    throw new Error("/usr/bin/etcd is missing: install Debian's etcd-server (apt-get install etcd-server)");
  const res = spawnSync(
    'apt-get',
    ['install', '-y', '--no-install-recommends', 'etcd-server', 'etcd-client'],
    { stdio: 'inherit', timeout: 300_000 },
  );
  if (res.status !== 0 || !existsSync('/usr/bin/etcd'))
    throw new Error('installing etcd-server with apt-get failed');
}

export interface ApiserverProcess {
  proc: ChildProcess;
  url: string;
  securePort: number;
  logs: () => string;
  kill(): Promise<void>;
}

/** Spawns `keelson apiserver` on the store at `endpoints`; resolves once it announces its ports. */
export async function spawnApiserver(
  endpoints: string[],
  dir: string,
  extraFlags: string[] = [],
): Promise<ApiserverProcess> {
  const args = [
    keelsonMain,
    'apiserver',
    `--etcd-servers=${endpoints.map((e) => `http://${e}`).join(',')}`,
    '--secure-port=0',
    '--bind-address=127.0.0.1',
    '--insecure-port=0',
    `--cert-dir=${dir}`,
    '--authorization-mode=AlwaysAllow',
    '--log-level=warn',
    ...extraFlags,
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-64 * 1024);
  });
  const kill = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const ports = await new Promise<{ securePort: number; insecurePort: number }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`apiserver did not start within ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
      proc.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        const line = out.split('\n').find((l) => l.startsWith('{"securePort"'));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { securePort: number; insecurePort: number });
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`apiserver exited with ${code}: ${err}`));
      });
    });
    return {
      proc,
      url: `http://127.0.0.1:${ports.insecurePort}`,
      securePort: ports.securePort,
      logs: () => err,
      kill,
    };
  } catch (e) {
    await kill();
    throw e;
  }
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  if (!existsSync(keelsonMain)) throw new Error(`${keelsonMain} is missing: run \`npm run build\` first`);
  const impl = opts.impl ?? 'keelson';
  if (impl === 'etcd') ensureEtcdInstalled();
  const cluster = await startCluster({ impl, size: impl === 'keelson' ? 3 : 1, label: 'apiserver' });
  const dir = mkdtempSync(join(tmpdir(), 'keelson-apiserver-'));
  let api: ApiserverProcess | undefined;
  const stop = async (): Promise<void> => {
    await api?.kill();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    api = await spawnApiserver(cluster.endpoints, dir, opts.extraFlags);
  } catch (e) {
    await stop();
    throw e;
  }
  return { cluster, url: api.url, securePort: api.securePort, dir, proc: api.proc, logs: api.logs, stop };
}
