// Hand-built watcher logs: for each watch property a passing case and the failure it must catch, the
// compaction case (not a gap), and the report.
import {
  checkWatches,
  formatWatchReport,
  type HistoryWrite,
  type ReplayLog,
  type WatchCheckResult,
  type WatchEventRec,
  type WatcherLog,
  type WatchKv,
  WatchLogError,
  type WatchPropertyName,
  type WatchResponseRec,
  type WatchSession,
} from '@keelson/chaos';
import { describe, expect, it } from 'vitest';

const kv = (value: string, createRevision: number, modRevision: number, version: number): WatchKv => ({
  value,
  createRevision,
  modRevision,
  version,
});
const put = (
  key: string,
  value: string,
  mod: number,
  create: number,
  version: number,
  prevKv: WatchKv | null = null,
): WatchEventRec => ({
  type: 'PUT',
  key,
  value,
  createRevision: create,
  modRevision: mod,
  version,
  prevKv,
});
const del = (key: string, mod: number, prevKv: WatchKv | null = null): WatchEventRec => ({
  type: 'DELETE',
  key,
  value: null,
  createRevision: 0,
  modRevision: mod,
  version: 0,
  prevKv,
});
const resp = (events: WatchEventRec[], header?: number): WatchResponseRec => ({
  timeNs: 0,
  headerRevision: header ?? events.reduce((m, e) => Math.max(m, e.modRevision), 1),
  events,
  compactRevision: 0,
  canceled: false,
});
const session = (startRevision: number, responses: WatchResponseRec[], prevKv = false): WatchSession => ({
  member: 'm1',
  startRevision,
  prevKv,
  responses,
  endReason: 'run over',
});
const okPut = (key: string, value: string, revision: number): HistoryWrite => ({
  f: 'put',
  key,
  value,
  outcome: 'ok',
  revision,
});
const okDel = (key: string, revision: number): HistoryWrite => ({
  f: 'delete',
  key,
  value: null,
  result: 1,
  outcome: 'ok',
  revision,
});

// The store's changes: a1@2, b1@3, a2@4, {a3, b2}@5 (one transaction), delete a@6, a4@7.
const E = {
  a1: put('a', 'a1', 2, 2, 1),
  b1: put('b', 'b1', 3, 3, 1),
  a2: put('a', 'a2', 4, 2, 2, kv('a1', 2, 2, 1)),
  a3: put('a', 'a3', 5, 2, 3, kv('a2', 2, 4, 2)),
  b2: put('b', 'b2', 5, 3, 2, kv('b1', 3, 3, 1)),
  da: del('a', 6, kv('a3', 2, 5, 3)),
  a4: put('a', 'a4', 7, 7, 1),
};
const noPrev = (e: WatchEventRec): WatchEventRec => ({ ...e, prevKv: null });

const history = (): HistoryWrite[] => [
  okPut('a', 'a1', 2),
  okPut('b', 'b1', 3),
  okPut('a', 'a2', 4),
  okPut('a', 'a3', 5),
  okPut('b', 'b2', 5),
  okDel('a', 6),
  { f: 'put', key: 'a', value: 'a4', outcome: 'info' },
];

/** w1 watches every key from 'a' with prev_kv and reconnects once; w2 watches 'a' alone from 4. */
function watchers(): WatcherLog[] {
  return [
    {
      watcher: 'w1',
      key: 'a',
      rangeEnd: '\0',
      sessions: [
        { ...session(2, [resp([E.a1]), resp([E.b1, E.a2])], true), endReason: 'stream error: unavailable' },
        session(5, [resp([E.a3, E.b2]), resp([E.da, E.a4])], true),
      ],
    },
    {
      watcher: 'w2',
      key: 'a',
      rangeEnd: '',
      sessions: [
        session(4, [resp([noPrev(E.a2)]), resp([noPrev(E.a3)]), resp([noPrev(E.da)]), resp([noPrev(E.a4)])]),
      ],
    },
  ];
}
const replays = (): ReplayLog[] => [
  { watcher: 'w1', startRevision: 4, events: [E.a2, E.a3, E.b2, E.da, E.a4], prevKv: true },
];

function failing(r: WatchCheckResult): WatchPropertyName[] {
  return (Object.keys(r.properties) as WatchPropertyName[]).filter((n) => !r.properties[n].ok);
}
function expectOnly(r: WatchCheckResult, ...names: WatchPropertyName[]): void {
  expect(failing(r), formatWatchReport(r)).toEqual(names);
  expect(r.ok).toBe(false);
}
const firstMessage = (r: WatchCheckResult, name: WatchPropertyName): string =>
  r.properties[name].violations[0]?.message ?? '';

describe('checkWatches on a correct run', () => {
  // Proves the baseline (reconnect, multi-key revision, prev_kv, unknown-outcome write, replay) passes.
  it('accepts it', () => {
    const r = checkWatches(watchers(), history(), replays());
    expect(failing(r), formatWatchReport(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.stats).toEqual({
      watchers: 2,
      sessions: 3,
      responses: 8,
      events: 11,
      replays: 1,
      revisionsKnown: 6,
    });
  });
});

describe('ordered', () => {
  // Proves two revisions delivered the wrong way round are caught.
  it('catches revisions out of order', () => {
    const ws = watchers();
    ws[0]!.sessions[1]!.responses = [resp([E.a3, E.b2]), resp([E.a4]), resp([E.da])];
    const r = checkWatches(ws, history(), []);
    expectOnly(r, 'ordered');
    expect(r.properties.ordered.violations[0]).toMatchObject({ watcher: 'w1', revision: 6 });
  });

  // Proves the events of one revision must keep the order in which the fullest source saw them.
  it('catches the events of one revision reordered', () => {
    const ws = watchers();
    ws.push({
      watcher: 'w3',
      key: 'a',
      rangeEnd: 'c',
      sessions: [session(5, [resp([noPrev(E.b2), noPrev(E.a3)])])],
    });
    const r = checkWatches(ws, history(), replays());
    expectOnly(r, 'ordered');
    expect(r.properties.ordered.violations[0]).toMatchObject({ watcher: 'w3', revision: 5 });
  });

  // Proves an event below the session's start revision and a header below its events are caught.
  it('catches an event before the start revision and a header below its events', () => {
    const ws = watchers();
    ws[1]!.sessions[0]!.responses[0] = resp([noPrev(E.a2)], 3);
    ws.push({
      watcher: 'w3',
      key: 'b',
      rangeEnd: '',
      sessions: [session(4, [resp([noPrev(E.b1)]), resp([noPrev(E.b2)])])],
    });
    const r = checkWatches(ws, history(), []);
    expectOnly(r, 'ordered');
    const messages = r.properties.ordered.violations.map((v) => v.message).join('\n');
    expect(messages).toContain('header revision 3');
    expect(messages).toContain('whose start revision is 4');
  });
});

describe('unique', () => {
  // Proves a reconnect that resumes one revision too early and re-delivers it is caught (only by unique).
  it('catches a duplicate after a reconnect', () => {
    const ws = watchers();
    ws[0]!.sessions[1] = session(4, [resp([E.a2]), resp([E.a3, E.b2]), resp([E.da, E.a4])], true);
    const r = checkWatches(ws, history(), replays());
    expectOnly(r, 'unique');
    expect(firstMessage(r, 'unique')).toContain('delivered twice');
  });
});

describe('atomic', () => {
  // Proves a revision split over two responses is caught.
  it('catches a split revision', () => {
    const ws = watchers();
    ws[0]!.sessions[1]!.responses = [resp([E.a3]), resp([E.b2]), resp([E.da, E.a4])];
    const r = checkWatches(ws, history(), replays());
    expectOnly(r, 'atomic');
    expect(r.properties.atomic.violations[0]).toMatchObject({ watcher: 'w1', revision: 5 });
  });

  // Proves a revision delivered without one of its in-range events (that another source saw) is caught.
  it('catches a partial revision', () => {
    const ws = watchers();
    ws[0]!.sessions[1]!.responses = [resp([E.a3]), resp([E.da, E.a4])];
    const r = checkWatches(ws, history(), []);
    expectOnly(r, 'atomic');
    expect(r.properties.atomic.violations[0]).toMatchObject({ watcher: 'w1', revision: 5, key: 'b' });
  });
});

describe('reliable', () => {
  // Proves a revision missing inside the covered window is a gap (w2 and the ack know it).
  it('catches a gap', () => {
    const ws = watchers();
    ws[0]!.sessions[1]!.responses = [resp([E.a3, E.b2]), resp([E.a4])];
    const r = checkWatches(ws, history(), []);
    expectOnly(r, 'reliable');
    expect(r.properties.reliable.violations).toHaveLength(1);
    expect(r.properties.reliable.violations[0]).toMatchObject({ watcher: 'w1', revision: 6, key: 'a' });
  });

  // Proves an acknowledged write no watcher saw is still a gap for a watcher that covered its revision.
  it('catches an acknowledged write nobody delivered', () => {
    const ws = watchers();
    ws[1]!.sessions[0]!.responses.push(resp([put('a', 'a6', 9, 7, 3)]));
    const h = [...history(), okPut('a', 'a5', 8), okPut('a', 'a6', 9)];
    const r = checkWatches(ws, h, []);
    expectOnly(r, 'reliable');
    expect(r.properties.reliable.violations[0]).toMatchObject({ watcher: 'w2', revision: 8 });
    expect(firstMessage(r, 'reliable')).toContain('the history');
  });

  // Proves a reconnect that resumes past revisions it never delivered is reported.
  it('catches a reconnect that skips revisions', () => {
    const ws = watchers();
    ws[0]!.sessions[1] = session(6, [resp([E.da, E.a4])], true);
    const r = checkWatches(ws, history(), []);
    expect(failing(r)).toEqual(['reliable']);
    expect(firstMessage(r, 'reliable')).toContain('resumed at revision 6');
  });

  // Proves a compacted start revision ends a watcher legitimately and is reported apart, not as a gap.
  it('reports compaction separately', () => {
    const ws = watchers();
    const compacted: WatchResponseRec = { ...resp([], 5), compactRevision: 4, canceled: true };
    ws.push({
      watcher: 'w3',
      key: 'a',
      rangeEnd: '',
      sessions: [
        { ...session(2, [compacted]), endReason: 'canceled' },
        session(4, [resp([noPrev(E.a2)]), resp([noPrev(E.a3)]), resp([noPrev(E.da)]), resp([noPrev(E.a4)])]),
      ],
    });
    ws.push({
      watcher: 'w4',
      key: 'b',
      rangeEnd: '',
      sessions: [{ ...session(1, [compacted]), endReason: 'canceled' }],
    });
    const r = checkWatches(ws, history(), replays());
    expect(failing(r), formatWatchReport(r)).toEqual([]);
    expect(r.compactions).toEqual([
      { watcher: 'w3', session: 0, startRevision: 2, compactRevision: 4 },
      { watcher: 'w4', session: 0, startRevision: 1, compactRevision: 4 },
    ]);
    expect(formatWatchReport(r)).toContain('compactions (not gaps): 2');
  });

  // Proves a watch from "now" (start 0) owes only the revisions after the created response's header.
  it('starts a start-0 watcher after the created header', () => {
    const ws = watchers();
    ws.push({
      watcher: 'w3',
      key: 'a',
      rangeEnd: '',
      sessions: [session(0, [resp([], 5), resp([noPrev(E.da)]), resp([noPrev(E.a4)])])],
    });
    expect(checkWatches(ws, history(), replays()).ok).toBe(true);
    ws[2]!.sessions[0]!.responses.splice(1, 1);
    const r = checkWatches(ws, history(), replays());
    expectOnly(r, 'reliable');
    expect(r.properties.reliable.violations[0]).toMatchObject({ watcher: 'w3', revision: 6 });
  });
});

describe('resumable', () => {
  // Proves a replay that differs from what the watcher saw is caught.
  it('catches a replay that differs', () => {
    const rs = replays();
    rs[0]!.events = [E.a2, E.a3, E.b2, E.a4];
    const r = checkWatches(watchers(), history(), rs);
    expectOnly(r, 'resumable');
    expect(firstMessage(r, 'resumable')).toContain('replay of w1 from 4');
  });

  // Proves replay events past the watcher's last revision are ignored, and a compacted replay is skipped.
  it('compares only up to the watcher last revision', () => {
    const rs = replays();
    rs[0]!.events.push(put('a', 'a5', 8, 7, 2, kv('a4', 7, 7, 1)));
    rs.push({ watcher: 'w2', startRevision: 2, events: [], compactRevision: 3 });
    const r = checkWatches(watchers(), [...history(), okPut('a', 'a5', 8)], rs);
    expect(failing(r), formatWatchReport(r)).toEqual([]);
  });

  // Proves a replay of a watcher that was never recorded is reported.
  it('catches a replay of an unknown watcher', () => {
    const r = checkWatches(watchers(), history(), [{ watcher: 'nobody', startRevision: 2, events: [] }]);
    expectOnly(r, 'resumable');
  });
});

describe('prev-kv', () => {
  // Proves a prev_kv with the wrong value for a known previous version is caught.
  it('catches a wrong prev_kv', () => {
    const ws = watchers();
    ws[0]!.sessions[0]!.responses[1] = resp([E.b1, { ...E.a2, prevKv: kv('zzz', 2, 2, 1) }]);
    const r = checkWatches(ws, history(), replays());
    expectOnly(r, 'prev-kv');
    expect(r.properties['prev-kv'].violations[0]).toMatchObject({ watcher: 'w1', revision: 4, key: 'a' });
  });

  // Proves a stale prev_kv (an older version than the last one) is caught.
  it('catches a stale prev_kv', () => {
    const ws = watchers();
    ws[0]!.sessions[1]!.responses[1] = resp([{ ...E.da, prevKv: kv('a2', 2, 4, 2) }, E.a4]);
    const r = checkWatches(ws, history(), []);
    expectOnly(r, 'prev-kv');
    expect(firstMessage(r, 'prev-kv')).toContain('stale');
  });

  // Proves a missing prev_kv is caught for a delete, and allowed where a compaction hid the previous version.
  it('catches a missing prev_kv unless compacted', () => {
    const ws = watchers();
    ws[0]!.sessions[1]!.responses[1] = resp([noPrev(E.da), E.a4]);
    expectOnly(checkWatches(ws, history(), []), 'prev-kv');
    expect(checkWatches(ws, history(), [], { compactRevision: 6 }).ok).toBe(true);
  });

  // Proves a prev_kv on a PUT that created the key is caught.
  it('catches a prev_kv where the key did not exist', () => {
    const ws = watchers();
    ws[0]!.sessions[1]!.responses[1] = resp([E.da, { ...E.a4, prevKv: kv('a3', 2, 5, 3) }]);
    expectOnly(checkWatches(ws, history(), []), 'prev-kv');
  });
});

describe('matches-history', () => {
  // Proves an event no write explains is caught (and so is the disagreement with the other watcher).
  it('catches an event with no write', () => {
    const ws = watchers();
    ws[1]!.sessions[0]!.responses[3] = resp([put('a', 'ghost', 7, 7, 1)]);
    const r = checkWatches(ws, history(), []);
    expectOnly(r, 'matches-history');
    const messages = r.properties['matches-history'].violations.map((v) => v.message).join('\n');
    expect(messages).toContain('the history has no a write of value "ghost"');
    expect(messages).toContain('but w1 saw');
  });

  // Proves an event for a write that failed is caught.
  it('catches an event for a failed write', () => {
    const ws = watchers();
    ws[1]!.sessions[0]!.responses.push(resp([put('a', 'a9', 8, 7, 2)]));
    const h: HistoryWrite[] = [...history(), { f: 'put', key: 'a', value: 'a9', outcome: 'fail' }];
    const r = checkWatches(ws, h, []);
    expectOnly(r, 'matches-history');
    expect(firstMessage(r, 'matches-history')).toContain('failed');
  });

  // Proves an event at another revision than its write's acknowledged one, and a double apply, are caught.
  it('catches a wrong revision and a value applied twice', () => {
    const ws = watchers();
    ws[1]!.sessions[0]!.responses.push(resp([put('a', 'a4', 8, 7, 2)]));
    const h = history().map((op) => (op.value === 'a4' ? okPut('a', 'a4', 7) : op));
    const r = checkWatches(ws, h, []);
    expectOnly(r, 'matches-history');
    const messages = r.properties['matches-history'].violations.map((v) => v.message).join('\n');
    expect(messages).toContain('acknowledged at revision 7, not 8');
    expect(messages).toContain('shows at revisions 7, 8');
  });

  // Proves a delete event needs a delete that may have removed the key, and txn values count as writes.
  it('matches deletes and txns', () => {
    const h = history().map(
      (op): HistoryWrite =>
        op.f === 'delete'
          ? { ...op, result: 0 }
          : op.value === 'a2'
            ? {
                f: 'txn',
                key: 'a',
                value: { expect: 'a1', new: 'a2' },
                result: { succeeded: true },
                outcome: 'ok',
                revision: 4,
              }
            : op,
    );
    const r = checkWatches(watchers(), h, replays());
    expectOnly(r, 'matches-history');
    expect(firstMessage(r, 'matches-history')).toContain('failed or changed nothing');
  });
});

describe('bounds and report', () => {
  // Proves violations beyond maxViolations are counted, not kept, and the report says so.
  it('keeps the first violations and counts the rest', () => {
    const ws = watchers();
    ws[1]!.sessions[0]!.responses = [resp([noPrev(E.a2)]), resp([noPrev(E.a4)])];
    ws[1]!.sessions[0]!.responses.push(resp([put('a', 'x', 20, 7, 2)]));
    const h = [
      ...history(),
      ...[8, 9, 10, 11, 12].map((rev) => okPut('a', `v${rev}`, rev)),
      okPut('a', 'x', 20),
    ];
    const r = checkWatches(ws, h, [], { maxViolations: 2 });
    expect(r.properties.reliable.violations).toHaveLength(2);
    expect(r.properties.reliable.omitted).toBe(5);
    const text = formatWatchReport(r);
    expect(text.split('\n')[0]).toBe('watch guarantees violated');
    expect(text).toContain('FAIL reliable: 7 violations');
    expect(text).toContain('... and 5 more');
    expect(text).toContain('ok   unique');
    const json = JSON.parse(formatWatchReport(r, 'json')) as WatchCheckResult;
    expect(json.properties.reliable.omitted).toBe(5);
  });
});

describe('input', () => {
  // Proves a malformed recorded event is refused with a typed error instead of being judged.
  it('refuses a malformed event', () => {
    const ws = watchers();
    ws[1]!.sessions[0]!.responses[0] = resp([{ ...E.a2, modRevision: -1 }]);
    expect(() => checkWatches(ws, history(), [])).toThrow(WatchLogError);
    expect(() => checkWatches([...watchers(), ...watchers()], history(), [])).toThrow('unique');
  });
});
