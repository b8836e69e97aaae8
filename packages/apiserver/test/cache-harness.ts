// Real apiserver processes with watch-cache settings, on one real 3-member store. The CLI's flags for
// the cache (--watch-cache, --watch-cache-sizes) belong to another change, so this launches the built
// @keelson/apiserver directly with the same ApiServerFlags the CLI would pass; ports are announced on
// stdout as `keelson apiserver` does. Kills only the PIDs it started.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const startTimeoutMs = 30_000;

/** Runs in the child: start the apiserver with the JSON flags in argv[1]; SIGTERM stops it. */
export const launcherScript = `
const { defaultFlags, startApiServer } = await import('@keelson/apiserver');
const flags = { ...defaultFlags(), ...JSON.parse(process.argv[1]) };
const running = await startApiServer(flags);
process.stdout.write(JSON.stringify({ securePort: running.server.securePort, insecurePort: running.server.insecurePort }) + '\\n');
process.once('SIGTERM', () => { running.stop().finally(() => process.exit(0)); });
`;

export interface CacheApiserver {
  proc: ChildProcess;
  url: string;
  logs: () => string;
  kill(): Promise<void>;
}

export async function spawnFlaggedApiserver(
  endpoints: string[],
  flags: Record<string, unknown>,
): Promise<CacheApiserver> {
  const dir = mkdtempSync(join(tmpdir(), 'keelson-cache-apiserver-'));
  const all = {
    etcdServers: endpoints.map((e) => `http://${e}`),
    securePort: 0,
    bindAddress: '127.0.0.1',
    insecurePort: 0,
    certDir: dir,
    authorizationModes: ['AlwaysAllow'],
    logLevel: 'warn',
    ...flags,
  };
  const proc = spawn(process.execPath, ['--input-type=module', '-e', launcherScript, JSON.stringify(all)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-64 * 1024);
  });
  const kill = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = await new Promise<{ insecurePort: number }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`apiserver did not start within ${startTimeoutMs} ms`)),
        startTimeoutMs,
      );
      proc.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        const line = out.split('\n').find((l) => l.startsWith('{"securePort"'));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { insecurePort: number });
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`apiserver exited with ${code}: ${err}`));
      });
    });
    return { proc, url: `http://127.0.0.1:${ports.insecurePort}`, logs: () => err, kill };
  } catch (e) {
    await kill();
    throw e;
  }
}
