// Proves `keelson store` as a process: it logs pino JSON lines carrying the member name, answers
// /health and /version on its client URL, stops cleanly with exit 0 on SIGTERM keeping its data,
// and refuses bad flags and a data dir of another member with exit 2 and a clear message.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/util/ports.js';

const main = join(import.meta.dirname, '..', 'dist', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'keelson-store-cli-'));
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function run(args: string[]): Run {
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  const child = spawn(process.execPath, [main, 'store', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function memberFlags(name: string, dataDir: string): Promise<{ args: string[]; client: number }> {
  const client = await freePort();
  const peer = await freePort();
  return {
    client,
    args: [
      '--name',
      name,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      `http://127.0.0.1:${client}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${client}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `${name}=http://127.0.0.1:${peer}`,
    ],
  };
}

async function untilHealthy(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`member on ${port} never became healthy`);
}

describe('keelson store', () => {
  // Proves a member process serves /health and /version, logs JSON with its name, exits 0 on SIGTERM,
  // and that its data dir is then refused to a member with another name.
  it('serves, logs JSON with its name, and stops cleanly on SIGTERM', async () => {
    const dir = join(root, 'one');
    const { args, client } = await memberFlags('solo', dir);
    const r = run(args);
    await untilHealthy(client);
    expect(await (await fetch(`http://127.0.0.1:${client}/health`)).json()).toEqual({ health: 'true' });
    const version = (await (await fetch(`http://127.0.0.1:${client}/version`)).json()) as Record<
      string,
      string
    >;
    expect(version.etcdserver).toMatch(/^3\.4\./);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    const lines = r
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { member?: string; msg?: string });
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.every((l) => l.member === 'solo')).toBe(true);
    expect(lines.some((l) => l.msg === 'member stopped')).toBe(true);

    // The same data dir under another name is refused, never reused.
    const other = await memberFlags('intruder', dir);
    const bad = run(other.args);
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain(dir);
    expect(bad.output()).toContain('belongs to member "solo"');
  }, 40_000);

  // Proves an invalid flag combination exits 2 with a message naming the flag.
  it('refuses bad flags with exit 2 and the flag named', async () => {
    const r = run([
      '--name',
      'x',
      '--data-dir',
      join(root, 'bad'),
      '--heartbeat-interval',
      '100',
      '--election-timeout',
      '50',
    ]);
    expect(await r.exited).toBe(2);
    expect(r.output()).toMatch(/election-timeout/);
  }, 20_000);
});
