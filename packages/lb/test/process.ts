// Spawning a real `keelson lb` (the built CLI) and waiting for its announcement; kills only its PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const keelsonMain = join(repoRoot, 'packages/cli/dist/main.js');
const startTimeoutMs = 15_000;

export interface LbProcess {
  proc: ChildProcess;
  listen: string;
  admin: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running (cleanup after a failure). */
  kill(): void;
}

export async function spawnLb(args: string[]): Promise<LbProcess> {
  if (!existsSync(keelsonMain))
    throw new Error(`${keelsonMain} is missing: build first (npx tsc -b packages/cli)`);
  const proc = spawn(process.execPath, [keelsonMain, 'lb', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-64 * 1024);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const kill = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  try {
    const ports = await new Promise<{ listen: string; admin: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`keelson lb did not start: ${err}`)), startTimeoutMs);
      proc.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        const line = out.split('\n').find((l) => l.startsWith('{"listen"'));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { listen: string; admin: string });
        }
      });
      void exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`keelson lb exited with ${code}: ${err}`));
      });
    });
    return { proc, ...ports, stderr: () => err, exited, kill };
  } catch (e) {
    kill();
    throw e;
  }
}
