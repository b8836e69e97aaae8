// Unit tests of the store suite's pure parts: nemesis list parsing and history pairing.
import { describe, expect, it } from 'vitest';
import { allVariants, NEMESES, parseNemeses } from '../src/store/nemesis.js';
import { HistoryRecorder, pairEvents } from '../src/store/recorder.js';

describe('parseNemeses', () => {
  it('expands kinds, keeps single variants, and "all" is every variant', () => {
    // Proves --nemesis accepts kinds, kind:variant and all, without duplicates.
    expect(parseNemeses('kill')).toEqual(['kill:any', 'kill:leader']);
    expect(parseNemeses('partition:ring, kill:any,kill')).toEqual([
      'partition:ring',
      'kill:any',
      'kill:leader',
    ]);
    expect(parseNemeses('all')).toEqual(allVariants());
    expect(allVariants().length).toBe(Object.values(NEMESES).reduce((n, v) => n + v.length, 0));
  });

  it('refuses unknown names with the known ones in the message', () => {
    // Proves a typo in --nemesis is a clear error, not a silently empty schedule.
    expect(() => parseNemeses('kil')).toThrow(/unknown nemesis "kil"; known: kill, pause/);
    expect(() => parseNemeses('partition:square')).toThrow(/known: isolate-one/);
    expect(() => parseNemeses('')).toThrow(/no nemesis/);
  });
});

describe('HistoryRecorder', () => {
  it('records the README format and pairs completions, unfinished invokes as unknown', () => {
    // Proves recorded events pair into operations with outcomes, failed ones kept.
    const h = new HistoryRecorder(performance.now());
    h.invoke(0, 'put', 'k', 'a');
    h.invoke(1, 'get', 'k', null);
    h.complete(0, 'ok', null, { revision: 5 });
    h.complete(1, 'fail');
    h.invoke(0, 'delete', 'k', null);
    expect(() => h.invoke(0, 'get', 'k', null)).toThrow(/pending/);
    const lines = h.toJsonl().trim().split('\n');
    expect(JSON.parse(lines[2]!)).toMatchObject({ process: 0, type: 'ok', f: 'put', key: 'k', revision: 5 });
    const ops = pairEvents(h.events);
    expect(ops.map((o) => [o.f, o.outcome])).toEqual([
      ['put', 'ok'],
      ['get', 'fail'],
      ['delete', 'info'],
    ]);
    expect(h.counts).toEqual({ ok: 1, fail: 1, info: 0 });
  });
});
