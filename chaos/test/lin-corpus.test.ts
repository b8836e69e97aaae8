// The hand-built corpus: histories with known verdicts, one per file under fixtures/lin, each saying
// its model and expected verdict in '#' header lines.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHistory, historyModels, parseHistory } from '@keelson/chaos';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('./fixtures/lin/', import.meta.url));

interface Fixture {
  name: string;
  model: keyof typeof historyModels;
  expected: string;
  why: string;
  text: string;
}

function header(text: string, field: string): string {
  const m = new RegExp(`^# ${field}: (.*)$`, 'm').exec(text);
  if (m === null) throw new Error(`fixture without "# ${field}:"`);
  return m[1]!.trim();
}

const fixtures: Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith('.jsonl'))
  .sort()
  .map((file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const model = header(text, 'model');
    if (!(model in historyModels)) throw new Error(`${file}: unknown model ${model}`);
    return {
      name: file.replace(/\.jsonl$/, ''),
      model: model as keyof typeof historyModels,
      expected: header(text, 'expect'),
      why: header(text, 'why'),
      text,
    };
  });

describe('linearizability corpus', () => {
  // Proves the corpus is as large as the issue asks and covers both verdicts.
  it('has at least 20 histories of each kind of verdict together', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(20);
    expect(fixtures.filter((f) => f.expected === 'linearizable').length).toBeGreaterThanOrEqual(8);
    expect(fixtures.filter((f) => f.expected === 'not linearizable').length).toBeGreaterThanOrEqual(8);
  });

  for (const f of fixtures) {
    // Proves the checker gives the known verdict for this hand-built history.
    it(`${f.name}: ${f.expected} (${f.why})`, () => {
      const { ops } = parseHistory(f.text);
      const result = checkHistory(historyModels[f.model], ops, { timeoutMs: 10_000 });
      expect(result.verdict).toBe(f.expected);
      expect(result.failures.length > 0).toBe(f.expected === 'not linearizable');
    });
  }

  // Proves per-key partitioning reports the failing key and only it.
  it('names the failing key', () => {
    const f = fixtures.find((x) => x.name === 'kv-stale-read-one-key')!;
    const result = checkHistory(historyModels.kv, parseHistory(f.text).ops);
    expect(result.partitions.map((p) => [p.key, p.verdict])).toEqual([
      ['a', 'linearizable'],
      ['b', 'not linearizable'],
    ]);
    expect(result.failures.map((x) => x.key)).toEqual(['b']);
  });
});
