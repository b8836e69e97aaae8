// The set checker: acknowledged adds must be in the final read, nothing twice, nothing never attempted
// or only failed; unknown outcomes may go either way. CHAOS_WATCH_FC_SEED pins the fast-check seed.
import { checkSet, type HistoryOp, parseHistory, type SetAdd } from '@keelson/chaos';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const add = (value: string, outcome: SetAdd['outcome'], key = 's'): SetAdd => ({
  f: 'add',
  key,
  value,
  outcome,
});

describe('checkSet', () => {
  // Proves a final read holding every acknowledged add, some unknown ones and no failed ones passes.
  it('accepts a correct final read', () => {
    const adds = [add('1', 'ok'), add('2', 'info'), add('3', 'info'), add('4', 'fail'), add('5', 'ok')];
    expect(checkSet(adds, ['5', '1', '2'])).toEqual({
      ok: true,
      lost: [],
      duplicated: [],
      unexpected: [],
      failedPresent: [],
      acknowledged: 2,
      unknown: 2,
      failed: 1,
      unknownPresent: 1,
    });
  });

  // Proves a lost acknowledged add, a duplicate, a never-attempted element and a failed add present are each caught.
  it('catches every kind of violation', () => {
    const adds = [add('1', 'ok'), add('2', 'ok'), add('3', 'fail')];
    const r = checkSet(adds, ['1', '1', '3', 'x']);
    expect(r.ok).toBe(false);
    expect(r.lost).toEqual(['2']);
    expect(r.duplicated).toEqual(['1']);
    expect(r.unexpected).toEqual(['x']);
    expect(r.failedPresent).toEqual(['3']);
  });

  // Proves an element retried after a failure or a timeout counts by its strongest outcome, and `set` filters.
  it('takes the strongest outcome of retries and filters by set', () => {
    const adds = [
      add('1', 'fail'),
      add('1', 'ok'),
      add('2', 'info'),
      add('2', 'fail'),
      add('9', 'ok', 'other'),
    ];
    expect(checkSet(adds, [], { set: 's' })).toMatchObject({
      ok: false,
      lost: ['1'],
      acknowledged: 1,
      unknown: 1,
      failed: 0,
    });
    expect(checkSet(adds, ['1', '9'])).toMatchObject({ ok: true, acknowledged: 2 });
  });

  // Proves parsed history operations (JSON values, info and unfinished adds) fit the add shape.
  it('reads parseHistory operations', () => {
    const lines = [
      { process: 1, type: 'invoke', f: 'add', key: 's', value: 7, time: 1 },
      { process: 1, type: 'ok', f: 'add', key: 's', time: 2 },
      { process: 2, type: 'invoke', f: 'add', key: 's', value: 8, time: 3 },
    ];
    const ops: HistoryOp[] = parseHistory(lines.map((l) => JSON.stringify(l)).join('\n')).ops;
    expect(checkSet(ops, ['7'])).toMatchObject({ ok: true, acknowledged: 1, unknown: 1 });
    expect(checkSet(ops, ['8'])).toMatchObject({ ok: false, lost: ['7'] });
  });
});

function fcSeed(part: number): number | undefined {
  const env = process.env.CHAOS_WATCH_FC_SEED;
  if (env === 'random') return undefined;
  return ((env === undefined || env === '' ? 0x5e7_0000 : Number(env)) + part) | 0;
}

const runArb = fc.array(
  fc.record({
    outcome: fc.constantFrom<SetAdd['outcome']>('ok', 'ok', 'info', 'fail'),
    landed: fc.boolean(),
  }),
  { maxLength: 60 },
);

/** Adds of unique elements, and the final read a correct set gives: acknowledged ones and some unknown. */
function correct(run: Array<{ outcome: SetAdd['outcome']; landed: boolean }>): {
  adds: SetAdd[];
  read: string[];
} {
  const adds = run.map((r, i) => add(`e${i}`, r.outcome));
  const read = run.flatMap((r, i) =>
    r.outcome === 'ok' || (r.outcome === 'info' && r.landed) ? [`e${i}`] : [],
  );
  return { adds, read };
}

describe('checkSet properties', () => {
  // Proves correct final reads pass, and removing an acknowledged element, repeating one or adding a stranger fails.
  it('accepts correct reads and rejects one mutation', () => {
    fc.assert(
      fc.property(runArb, fc.nat(), fc.constantFrom('drop', 'repeat', 'stranger'), (run, pick, mutation) => {
        const { adds, read } = correct(run);
        expect(checkSet(adds, read).ok).toBe(true);
        const acked = adds.filter((a) => a.outcome === 'ok').map((a) => a.value as string);
        if (mutation === 'drop') {
          fc.pre(acked.length > 0);
          const gone = acked[pick % acked.length]!;
          expect(
            checkSet(
              adds,
              read.filter((e) => e !== gone),
            ).lost,
          ).toEqual([gone]);
        } else if (mutation === 'repeat') {
          fc.pre(read.length > 0);
          const again = read[pick % read.length]!;
          expect(checkSet(adds, [...read, again]).duplicated).toEqual([again]);
        } else {
          expect(checkSet(adds, [...read, 'stranger']).unexpected).toEqual(['stranger']);
        }
      }),
      { seed: fcSeed(1), numRuns: 300 },
    );
  });
});
