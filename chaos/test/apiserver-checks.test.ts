// The apiserver suite's checkers on hand-built records: each passes a correct run and names the
// violation it exists for (a lost write, a stale list, a gap, a client failing twice in one fault).
import {
  checkFailures,
  checkFinalState,
  checkLists,
  checkWatches,
  knownChanges,
  kubeOps,
  toHistoryWrites,
  type WatcherLog,
} from '@keelson/chaos';
import { describe, expect, it } from 'vitest';

type Ev = {
  process: number;
  type: 'invoke' | 'ok' | 'info' | 'fail';
  f: string;
  key?: string;
  value?: unknown;
  time: number;
  revision?: number;
};

/** A history: w0 creates k=a (rv 10), w1 updates it to b (rv 11), w0's delete of k2 is unknown. */
function history(): Ev[] {
  return [
    { process: 0, type: 'invoke', f: 'create', key: 'k', value: 'a', time: 1 },
    {
      process: 0,
      type: 'ok',
      f: 'create',
      key: 'k',
      value: { status: 201, applied: true },
      time: 2,
      revision: 10,
    },
    { process: 1, type: 'invoke', f: 'update', key: 'k', value: { expect: '10', new: 'b' }, time: 3 },
    {
      process: 1,
      type: 'ok',
      f: 'update',
      key: 'k',
      value: { status: 200, applied: true },
      time: 4,
      revision: 11,
    },
    { process: 0, type: 'invoke', f: 'update', key: 'k', value: { expect: '10', new: 'c' }, time: 5 },
    { process: 0, type: 'ok', f: 'update', key: 'k', value: { status: 409, applied: false }, time: 6 },
  ];
}

const obj = (name: string, value: string, rv: number) => ({ name, value, rv });
const put = (key: string, value: string, rev: number) => ({
  type: 'PUT' as const,
  key,
  value,
  createRevision: 0,
  modRevision: rev,
  version: 0,
  prevKv: null,
});

describe('apiserver suite checkers', () => {
  it('final state: accepts the last acknowledged value and rejects a lost or rejected one', () => {
    // Proves checker (1) holds for the right final read and names a lost update and a 409's value.
    const ops = kubeOps(history());
    expect(checkFinalState(ops, new Map([['k', obj('k', 'b', 11)]])).ok).toBe(true);
    const lost = checkFinalState(ops, new Map([['k', obj('k', 'a', 10)]]));
    expect(lost.ok).toBe(false);
    expect(lost.violations[0]?.message).toContain('is lost');
    expect(checkFinalState(ops, new Map([['k', obj('k', 'c', 12)]])).ok).toBe(false);
    expect(checkFinalState(ops, new Map()).violations[0]?.message).toContain(
      'no delete could have removed it',
    );
  });

  it('final state: an acknowledged delete after the last write explains absence, not presence', () => {
    // Proves deletes are ordered in real time against the write they follow.
    const events: Ev[] = [
      ...history(),
      { process: 2, type: 'invoke', f: 'delete', key: 'k', value: null, time: 7 },
      { process: 2, type: 'ok', f: 'delete', key: 'k', value: { status: 200, applied: true }, time: 8 },
    ];
    const ops = kubeOps(events);
    expect(checkFinalState(ops, new Map()).ok).toBe(true);
    expect(checkFinalState(ops, new Map([['k', obj('k', 'b', 11)]])).violations[0]?.message).toContain(
      'delete',
    );
  });

  it('lists: a relist must show every change known up to its resourceVersion', () => {
    // Proves checker (2b) accepts a relist at rv 11 showing b and rejects one showing the older a.
    const ops = kubeOps(history());
    const known = knownChanges([put('k', 'b', 11)], ops);
    const list = (items: { name: string; value: string; rv: number }[]) => [
      { watcher: 'w0', timeNs: 9, rv: 11, reason: 'gone' as const, items },
    ];
    expect(checkLists(list([obj('k', 'b', 11)]), known, ops).ok).toBe(true);
    expect(checkLists(list([obj('k', 'a', 10)]), known, ops).violations[0]?.message).toContain('older than');
    expect(checkLists(list([]), known, ops).violations[0]?.message).toContain('lacks k');
  });

  it('watch: a stream that skips an acknowledged write fails reliable; a 410 relist excuses it', () => {
    // Proves the mapping onto the store suite's watch checker: gaps count, unless a 410 relist covered them.
    const ops = kubeOps(history());
    const session = (start: number, events: ReturnType<typeof put>[], compact = 0) => ({
      member: 'lb',
      startRevision: start,
      prevKv: false,
      endReason: '',
      responses: [
        ...events.map((e) => ({
          timeNs: 1,
          headerRevision: 0,
          events: [e],
          compactRevision: 0,
          canceled: false,
        })),
        ...(compact > 0
          ? [{ timeNs: 2, headerRevision: 0, events: [], compactRevision: compact, canceled: true }]
          : []),
      ],
    });
    const full: WatcherLog = {
      watcher: 'w0',
      key: '',
      rangeEnd: '\0',
      sessions: [session(10, [put('k', 'a', 10), put('k', 'b', 11)])],
    };
    expect(checkWatches([full], toHistoryWrites(ops), []).ok).toBe(true);
    const gap: WatcherLog = {
      watcher: 'w0',
      key: '',
      rangeEnd: '\0',
      sessions: [session(9, [put('k', 'b', 11)])],
    };
    expect(checkWatches([gap], toHistoryWrites(ops), []).properties.reliable.ok).toBe(false);
    const relisted: WatcherLog = {
      watcher: 'w0',
      key: '',
      rangeEnd: '\0',
      sessions: [session(9, [], 11), session(11, [put('k', 'b', 11)])],
    };
    expect(checkWatches([relisted], toHistoryWrites(ops), []).ok).toBe(true);
    const dup: WatcherLog = {
      watcher: 'w0',
      key: '',
      rangeEnd: '\0',
      sessions: [session(10, [put('k', 'a', 10)]), session(10, [put('k', 'a', 10), put('k', 'b', 11)])],
    };
    expect(checkWatches([dup], toHistoryWrites(ops), []).properties.unique.ok).toBe(false);
  });

  it('failures: at most one failed attempt per client per fault, none outside a fault', () => {
    // Proves checker (3) attributes failures to the fault in force (plus the settle time) and counts per client.
    const fault = {
      index: 0,
      nemesis: 'kill-apiserver' as const,
      target: 'apiserver-1',
      startNs: 100,
      healedNs: 200,
      notes: [],
    };
    const f = (client: number, timeNs: number) => ({ client, timeNs, what: 'PUT', error: 'ECONNRESET' });
    expect(checkFailures([f(0, 150), f(1, 160), f(0, 205)], [fault], 1000, 0).ok).toBe(false);
    expect(checkFailures([f(0, 150), f(1, 160)], [fault], 1000, 0).ok).toBe(true);
    expect(checkFailures([f(0, 205)], [fault], 1000, 10).ok).toBe(true);
    expect(checkFailures([f(0, 500)], [fault], 1000, 10).unattributed).toBe(1);
  });
});
