// The HTML report of a failing history: a timeline per failing key with the longest partial
// linearization numbered, the stuck operation marked, values escaped, large keys windowed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHistory, generateHistory, historyModels, parseHistory, writeReport } from '@keelson/chaos';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'keelson-lin-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ev = (process: number, type: string, f: string, value: unknown, time: number, key = 'k') =>
  JSON.stringify({ process, type, f, key, value, time });

// w1 done; w2 slow; a read sees 2, a later read sees 1 again.
const newThenOld = [
  ev(1, 'invoke', 'write', 1, 0),
  ev(1, 'ok', 'write', 1, 10),
  ev(1, 'invoke', 'write', '<b>2</b>', 20),
  ev(2, 'invoke', 'read', null, 30),
  ev(2, 'ok', 'read', '<b>2</b>', 40),
  ev(3, 'invoke', 'read', null, 50),
  ev(3, 'ok', 'read', 1, 60),
  ev(1, 'ok', 'write', '<b>2</b>', 100),
].join('\n');

describe('writeReport', () => {
  // Proves the report draws every process, numbers the partial linearization and marks the stuck op.
  it('draws the failing key', () => {
    const result = checkHistory(historyModels.register, parseHistory(newThenOld).ops);
    expect(result.verdict).toBe('not linearizable');
    const f = result.failures[0]!;
    expect(f.linearization.map((i) => f.labels[i])).toEqual(['write 1', 'write <b>2</b>', 'read → <b>2</b>']);
    expect(f.labels[f.stuck!]).toBe('read → 1');
    expect(f.states).toEqual(['null', '1', '<b>2</b>', '<b>2</b>']);
    const path = writeReport(result, dir, 'new-then-old')!;
    expect(path).toBe(join(dir, 'new-then-old.linearizability.html'));
    const html = readFileSync(path, 'utf8');
    expect(html).toContain('<svg');
    for (const p of [1, 2, 3]) expect(html).toContain(`process ${p}</text>`);
    expect(html).toContain('#1 write 1');
    expect(html).toContain('#3 read → &lt;b&gt;2&lt;/b&gt;');
    expect(html).toMatch(/class="op stuck"/);
    expect(html).toContain('Stuck at <b>read → 1</b>');
    expect(html).not.toContain('<b>2</b>');
  });

  // Proves nothing is written for a linearizable history.
  it('writes nothing without a failure', () => {
    const ok = checkHistory(
      historyModels.register,
      parseHistory(newThenOld.split('\n').slice(0, 5).join('\n')).ops,
    );
    expect(ok.verdict).toBe('linearizable');
    expect(writeReport(ok, dir, 'fine')).toBeUndefined();
  });

  // Proves a large failing key is drawn as a bounded window around the stuck operation.
  it('windows large keys', () => {
    const ops = generateHistory({ seed: 7, model: 'register', ops: 800, keys: 1, clients: 4 });
    const read = ops.filter((o) => o.f === 'read' && o.result !== null).at(-1)!;
    const bad = ops.map((o) => (o === read ? { ...o, result: 'never written' } : o));
    const result = checkHistory(historyModels.register, bad);
    expect(result.verdict).toBe('not linearizable');
    const html = readFileSync(writeReport(result, dir, 'large')!, 'utf8');
    expect(html).toMatch(/Showing 300 of 800 operations/);
    expect(html).toContain('read → never written');
  });
});
