// Runs `etcdctl watch ...` as a child process and lets a test wait (bounded) for the lines it prints.
import { type ChildProcess, spawn } from 'node:child_process';
import { expect } from 'vitest';
import { waitFor } from './harness.js';

const outputLinesMax = 100_000;

export interface WatchChild {
  /** Non-empty stdout lines so far. */
  lines(): string[];
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** Waits until the next `expected.length` unread lines arrived, and asserts they equal `expected`. */
  waitLines(expected: string[], timeoutMs: number): Promise<void>;
  /** Waits for the child to exit by itself; returns its exit code. */
  waitExit(timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

export function startWatch(args: string[], endpoints: string[]): WatchChild {
  const child: ChildProcess = spawn('etcdctl', [`--endpoints=${endpoints.join(',')}`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const got: string[] = [];
  let partial = '';
  let stderr = '';
  let cursor = 0;
  let exitCode: number | undefined;
  child.stdout?.on('data', (b: Buffer) => {
    const parts = (partial + b.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line !== '' && got.length < outputLinesMax) got.push(line);
  });
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code ?? -1;
      resolve();
    });
  });
  child.once('error', (err) => {
    stderr += `\ncannot run etcdctl: ${err.message}`;
  });
  const output = () => `stdout:\n${got.join('\n')}\nstderr:\n${stderr}`;

  return {
    lines: () => [...got],
    output,
    async waitLines(expected, timeoutMs) {
      const end = cursor + expected.length;
      await waitFor(
        `watch to print ${JSON.stringify(expected)}; ${output()}`,
        () => got.length >= end,
        timeoutMs,
        50,
      );
      expect(got.slice(cursor, end)).toEqual(expected);
      cursor = end;
    },
    async waitExit(timeoutMs) {
      await waitFor(`watch to exit; ${output()}`, () => exitCode !== undefined, timeoutMs, 50);
      return exitCode ?? -1;
    },
    async stop() {
      if (exitCode === undefined) child.kill('SIGKILL');
      await exited;
    },
  };
}
