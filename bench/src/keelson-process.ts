// Starting `keelson <subcommand>` processes for the benchmarks: each announces itself with a JSON line
// on stdout (`keelson apiserver` prints {"securePort",…}, `keelson lb` its ports), which is awaited
// with a bound; stop() signals only the PID started here (SIGTERM, SIGKILL after a grace period), and a
// process-exit hook kills it if the bench dies first.
import { type ChildProcess, spawn } from 'node:child_process';
import { keelsonMain } from './clusters.js';

/** A process a bench started; stop() signals only its PID. */
export interface KeelsonChild {
  proc: ChildProcess;
  stop(): Promise<void>;
}

export class KeelsonStartError extends Error {
  override readonly name = 'KeelsonStartError';
}

const startTimeoutMs = 30_000;
const stopGraceMs = 5_000;
const stderrKeptBytes = 8_192;

/** Spawns `keelson <args>` and resolves with its first stdout line that starts with `prefix`. */
export async function spawnKeelson(
  args: string[],
  prefix: string,
): Promise<{ child: KeelsonChild; line: string }> {
  const proc = spawn(process.execPath, [keelsonMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-stderrKeptBytes);
  });
  const reap = (): void => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  process.once('exit', reap);
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), stopGraceMs);
      await exited;
      clearTimeout(timer);
    }
    process.removeListener('exit', reap);
  };
  const child = { proc, stop };
  try {
    const line = await firstLine(proc, prefix, () => stderr);
    return { child, line };
  } catch (err) {
    await stop();
    throw err;
  }
}

function firstLine(proc: ChildProcess, prefix: string, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new KeelsonStartError(`keelson did not announce itself: ${stderr()}`)),
      startTimeoutMs,
    );
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const line = out.split('\n').find((l) => l.startsWith(prefix));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve(line);
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new KeelsonStartError(`keelson exited with ${code}: ${stderr()}`));
    });
  });
}
