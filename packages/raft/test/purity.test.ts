import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const forbidden: [RegExp, string][] = [
  [/from\s+['"]node:/, 'node:* import'],
  [
    /from\s+['"](fs|net|os|path|crypto|child_process|timers|perf_hooks|worker_threads)['"]/,
    'Node built-in import',
  ],
  [/\brequire\s*\(/, 'require()'],
  [/\bDate\b/, 'Date'],
  [/Math\.random/, 'Math.random'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, 'timer'],
  [/\bprocess\./, 'process'],
  [/\bperformance\./, 'performance'],
  [/\bconsole\./, 'console'],
];

describe('purity of packages/raft', () => {
  it('uses no I/O, timers, clock, global randomness or console in its sources', () => {
    // Proves the core stays a deterministic state machine (the simulator relies on it).
    const files = sources(join(import.meta.dirname, '..', 'src'));
    expect(files.length).toBeGreaterThan(10);
    const hits: string[] = [];
    for (const f of files) {
      const lines = readFileSync(f, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        for (const [re, what] of forbidden) if (re.test(code)) hits.push(`${f}:${i + 1}: ${what}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
