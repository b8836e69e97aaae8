// `keelson chaos check` on hand-written history files: verdicts, exit codes, the report, and clear
// refusals of unusable input.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryIo, runCli } from '@keelson/cli';
import { afterAll, describe, expect, it } from 'vitest';

const argv = (...args: string[]): string[] => ['node', 'keelson', ...args];
const dir = mkdtempSync(join(tmpdir(), 'keelson-chaos-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: readonly object[] | string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    typeof lines === 'string' ? lines : `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`,
  );
  return path;
}

const ev = (process: number, type: string, f: string, value: unknown, time: number) => ({
  process,
  type,
  f,
  key: 'k1',
  value,
  time,
});

const good = [
  ev(1, 'invoke', 'write', 1, 0),
  ev(1, 'ok', 'write', 1, 10),
  ev(2, 'invoke', 'read', null, 20),
  ev(2, 'ok', 'read', 1, 30),
];
const stale = [
  ev(1, 'invoke', 'write', 1, 0),
  ev(1, 'ok', 'write', 1, 10),
  ev(1, 'invoke', 'write', 2, 20),
  ev(1, 'ok', 'write', 2, 30),
  ev(2, 'invoke', 'read', null, 40),
  ev(2, 'ok', 'read', 1, 50),
];

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await runCli(argv('chaos', 'check', ...args), io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('keelson chaos check', () => {
  // Proves a linearizable history prints "linearizable" first and exits 0.
  it('accepts a linearizable history', async () => {
    const r = await run('--model', 'register', file('good.jsonl', good));
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('linearizable');
    expect(r.out).toContain('2 operations');
  });

  // Proves a stale read exits 1, names the key and the stuck line, and writes the report to --out.
  it('rejects a stale read and writes the report', async () => {
    const out = join(dir, 'reports');
    const r = await run('--model', 'cas-register', '--out', out, file('stale.jsonl', stale));
    expect(r.code).toBe(1);
    expect(r.out.split('\n')[0]).toBe('not linearizable');
    expect(r.out).toMatch(/key "k1": not linearizable .*stuck at line 5: read → 1/);
    const report = join(out, 'stale.linearizability.html');
    expect(r.out).toContain(`report: ${report}`);
    expect(readFileSync(report, 'utf8')).toContain('<svg');
  });

  // Proves the report goes next to the history file when --out is not given.
  it('writes the report next to the history by default', async () => {
    const r = await run('--model', 'register', file('stale2.jsonl', stale));
    expect(r.code).toBe(1);
    expect(existsSync(join(dir, 'stale2.linearizability.html'))).toBe(true);
  });

  // Proves a history too hard for the time budget gives "unknown" and exits 2.
  it('says unknown when the time budget runs out', async () => {
    const writes = Array.from({ length: 40 }, (_, i) => [
      ev(i, 'invoke', 'write', i, 0),
      ev(i, 'ok', 'write', i, 1000),
    ]);
    const hard = [...writes.flat(), ev(99, 'invoke', 'read', null, 2000), ev(99, 'ok', 'read', 999, 2001)];
    const r = await run('--model', 'register', '--timeout', '0.2', file('hard.jsonl', hard));
    expect(r.code).toBe(2);
    expect(r.out.split('\n')[0]).toBe('unknown');
    expect(r.out).toContain('time budget of 0.2 s ran out');
  });

  // Proves a malformed line is refused with its line number and exit code 3.
  it('refuses a malformed line', async () => {
    const text = `${JSON.stringify(good[0])}\n{"process": 1, "type": "ok"\n`;
    const r = await run('--model', 'register', file('broken.jsonl', text));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/broken\.jsonl: line 2: not valid JSON/);
  });

  // Proves an ok without a pending invoke is refused with exit code 3.
  it('refuses a completion without an invoke', async () => {
    const r = await run('--model', 'register', file('orphan.jsonl', [ev(4, 'ok', 'read', 1, 5)]));
    expect(r.code).toBe(3);
    expect(r.err).toContain('line 1: "ok" for process 4, which has no pending invoke');
  });

  // Proves an operation the model does not know is refused with exit code 3.
  it('refuses an operation of another model', async () => {
    const r = await run('--model', 'kv', file('register.jsonl', good));
    expect(r.code).toBe(3);
    expect(r.err).toContain('the kv model has no operation "write"');
  });

  // Proves bad options (unknown model, missing model, missing file) exit 3, not 1 or 2.
  it('refuses bad options with exit code 3', async () => {
    expect((await run('--model', 'queue', file('g2.jsonl', good))).code).toBe(3);
    expect((await run(file('g3.jsonl', good))).code).toBe(3);
    expect((await run('--model', 'register')).code).toBe(3);
    const missing = await run('--model', 'register', join(dir, 'nope.jsonl'));
    expect(missing.code).toBe(3);
    expect(missing.err).toContain('cannot read the history');
  });
});
