// The JSONL history parser: pairing, dropping failed operations, unknown outcomes, and errors that
// name the line.
import { formatHistory, HistoryError, parseHistory } from '@keelson/chaos';
import { describe, expect, it } from 'vitest';

const line = (o: object): string => JSON.stringify(o);

describe('parseHistory', () => {
  // Proves ok, fail and info lines pair with their process's invoke, fail is dropped, info has no return.
  it('pairs completions with invokes', () => {
    const text = [
      line({ process: 1, type: 'invoke', f: 'write', key: 'a', value: 1, time: 0 }),
      line({ process: 2, type: 'invoke', f: 'write', key: 'a', value: 2, time: 1 }),
      line({ process: 1, type: 'ok', f: 'write', key: 'a', value: 1, time: 5 }),
      line({ process: 2, type: 'info', f: 'write', key: 'a', time: 6 }),
      line({ process: 3, type: 'invoke', f: 'write', value: 3, time: 7 }),
      line({ process: 3, type: 'fail', f: 'write', time: 8 }),
      '',
      '# a comment',
      line({ process: 4, type: 'invoke', f: 'read', time: 9 }),
    ].join('\n');
    const h = parseHistory(text);
    expect(h.failed).toBe(1);
    expect(h.unfinished).toBe(1);
    expect(h.ops.map((o) => [o.id, o.process, o.outcome, o.callNs, o.returnNs, o.line])).toEqual([
      [0, 1, 'ok', 0, 5, 1],
      [1, 2, 'info', 1, Number.POSITIVE_INFINITY, 2],
      [2, 4, 'info', 9, Number.POSITIVE_INFINITY, 9],
    ]);
    expect(h.ops[0]!.key).toBe('a');
    expect(h.ops[2]!.value).toBeNull();
  });

  // Proves a process may invoke again after an unknown outcome (the old operation stays in flight).
  it('lets a process go on after info', () => {
    const text = [
      line({ process: 1, type: 'invoke', f: 'write', value: 1, time: 0 }),
      line({ process: 1, type: 'info', f: 'write', time: 5 }),
      line({ process: 1, type: 'invoke', f: 'read', time: 6 }),
      line({ process: 1, type: 'ok', f: 'read', value: 1, time: 7 }),
    ].join('\n');
    expect(parseHistory(text).ops.length).toBe(2);
  });

  const bad: [string, string[], RegExp][] = [
    ['invalid JSON', ['{"process":'], /line 1: not valid JSON/],
    ['a non-object', ['[1,2]'], /line 1: not a JSON object/],
    [
      'a missing process',
      [line({ type: 'invoke', f: 'read', time: 0 })],
      /line 1: "process" must be an integer/,
    ],
    ['an unknown type', [line({ process: 1, type: 'done', f: 'read', time: 0 })], /line 1: "type" must be/],
    ['a missing f', [line({ process: 1, type: 'invoke', time: 0 })], /line 1: "f" must be/],
    [
      'a numeric key',
      [line({ process: 1, type: 'invoke', f: 'read', key: 3, time: 0 })],
      /"key" must be a string/,
    ],
    [
      'a float time',
      [line({ process: 1, type: 'invoke', f: 'read', time: 1.5 })],
      /"time" must be a non-negative integer/,
    ],
    [
      'an epoch time beyond 2^53',
      [`{"process":1,"type":"invoke","f":"read","time":1732950000000000000}`],
      /below 2\^53/,
    ],
    [
      'an ok without invoke',
      [line({ process: 1, type: 'ok', f: 'read', time: 0 })],
      /line 1: "ok" for process 1/,
    ],
    [
      'a double invoke',
      [
        line({ process: 1, type: 'invoke', f: 'read', time: 0 }),
        line({ process: 1, type: 'invoke', f: 'read', time: 1 }),
      ],
      /line 2: process 1 invokes while its invoke on line 1 is pending/,
    ],
    [
      'a completion of another function',
      [
        line({ process: 1, type: 'invoke', f: 'read', time: 0 }),
        line({ process: 1, type: 'ok', f: 'write', time: 1 }),
      ],
      /line 2: completes a "read"/,
    ],
    [
      'a completion before its invoke',
      [
        line({ process: 1, type: 'invoke', f: 'read', time: 9 }),
        line({ process: 1, type: 'ok', f: 'read', time: 1 }),
      ],
      /line 2: completes at 1 ns, before its invoke/,
    ],
    [
      'a negative revision',
      [
        line({ process: 1, type: 'invoke', f: 'put', time: 0 }),
        line({ process: 1, type: 'ok', f: 'put', time: 1, revision: -1 }),
      ],
      /line 2: "revision" must be a non-negative integer/,
    ],
  ];
  for (const [name, lines, message] of bad) {
    // Proves a malformed history is refused with a HistoryError naming the line.
    it(`refuses ${name}`, () => {
      let caught: unknown;
      try {
        parseHistory(lines.join('\n'));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(HistoryError);
      expect((caught as HistoryError).code).toBe('HISTORY_INVALID');
      expect((caught as Error).message).toMatch(message);
    });
  }

  // Proves formatHistory writes what parseHistory reads back to the same operations.
  it('round-trips through formatHistory', () => {
    const text = [
      line({ process: 1, type: 'invoke', f: 'put', key: 'a', value: 'x', time: 0 }),
      line({ process: 2, type: 'invoke', f: 'put', key: 'a', value: 'y', time: 2 }),
      line({ process: 1, type: 'ok', f: 'put', key: 'a', value: null, time: 5, revision: 7 }),
      line({ process: 2, type: 'info', f: 'put', key: 'a', time: 6 }),
      line({ process: 1, type: 'invoke', f: 'get', key: 'a', time: 5 }),
      line({ process: 1, type: 'ok', f: 'get', key: 'a', value: 'x', time: 9, revision: 7, version: 1 }),
    ].join('\n');
    const once = parseHistory(text).ops;
    const twice = parseHistory(formatHistory(once)).ops;
    const strip = (ops: typeof once) => ops.map(({ line: _, ...rest }) => rest);
    expect(strip(twice)).toEqual(strip(once));
  });
});
