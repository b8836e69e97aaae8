// Integration tests of the fault-injection API on real `keelson store` processes (chaos/src/store).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosCluster, sleep } from '../src/store/cluster.js';

const dirs: string[] = [];
const clusters: ChaosCluster[] = [];

function tempDir(label: string): string {
  const d = mkdtempSync(join(tmpdir(), `keelson-${label}-`));
  dirs.push(d);
  return d;
}

async function startCluster(label: string, faultInjection: boolean): Promise<ChaosCluster> {
  const dir = tempDir(label);
  const c = await ChaosCluster.start({
    dataRoot: join(dir, 'data'),
    logDir: join(dir, 'logs'),
    faultInjection,
  });
  clusters.push(c);
  return c;
}

afterAll(async () => {
  for (const c of clusters) await c.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('fault-injection API', () => {
  it('does not exist without --enable-fault-injection (404)', async () => {
    // Proves a production member (no flag) serves no fault route at all.
    const c = await startCluster('nofaults', false);
    const url = `${c.member(0).clientUrl}/debug/faults`;
    expect((await fetch(url)).status).toBe(404);
    expect((await fetch(url, { method: 'PUT', body: '{"delayMs":10}' })).status).toBe(404);
    await c.stop();
  }, 60_000);

  it('validates input, sets and clears faults, and an isolated leader is replaced', async () => {
    // Proves bad bodies get 400 with a reason, and a partition built from dropTo/dropFrom elects a new leader.
    const c = await startCluster('faults', true);
    const url = `${c.member(0).clientUrl}/debug/faults`;
    const put = (body: string) => fetch(url, { method: 'PUT', body });
    const bad = [
      'not json',
      '[]',
      '{"delayMs":-1}',
      '{"lossRate":2}',
      '{"crashAt":"never"}',
      '{"dropTo":["x"]}',
    ];
    for (const body of bad) {
      const res = await put(body);
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { message: string }).message.length).toBeGreaterThan(5);
    }
    expect((await put('{"unknownField":1}')).status).toBe(400);
    const ok = await put('{"delayMs":5,"dropTo":["12345"],"lossRate":0.5}');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ delayMs: 5, dropTo: ['12345'], lossRate: 0.5, crashAt: null });
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(200);
    expect(await (await fetch(url)).json()).toMatchObject({ delayMs: 0, dropTo: [], lossRate: 0 });

    const leader = await c.waitForLeader(10_000);
    const leaderId = c.member(leader).id as string;
    const others = c.members.filter((m) => m.index !== leader);
    await c.setFaults(leader, {
      dropTo: others.map((m) => m.id as string),
      dropFrom: others.map((m) => m.id as string),
    });
    for (const m of others) await c.setFaults(m.index, { dropTo: [leaderId], dropFrom: [leaderId] });
    // The majority elects one of its own; ask only the majority.
    let newLeader = '';
    for (let i = 0; i < 50 && (newLeader === '' || newLeader === leaderId); i++) {
      await sleep(200);
      const st = await Promise.all(
        others.map((m) =>
          c
            .client(m.index)
            .status()
            .catch(() => null),
        ),
      );
      const leaders = new Set(st.map((s) => s?.leader ?? ''));
      newLeader = leaders.size === 1 ? [...leaders][0]! : '';
    }
    expect(newLeader).not.toBe('');
    expect(newLeader).not.toBe(leaderId);
    await c.client(others[0]!.index).put('after-partition', 'x');
    for (const m of c.members) await c.clearFaults(m.index);
    await c.waitForLeader(10_000);
  }, 90_000);
});
