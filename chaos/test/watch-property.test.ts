// Property tests of the watch checkers: watcher logs derived from a model store (random writes over a
// few keys, random reconnects, progress responses, compactions and replays) pass every property, and one
// random mutation (drop, duplicate, reorder, corrupt prev_kv, split a revision, change a replay) fails
// the matching property. CHAOS_WATCH_FC_SEED=<n> pins another fast-check seed, =random picks a fresh one.
import {
  checkWatches,
  formatWatchReport,
  type HistoryWrite,
  Prng,
  type ReplayLog,
  type WatchCheckResult,
  type WatchEventRec,
  type WatcherLog,
  type WatchKv,
  type WatchPropertyName,
  type WatchResponseRec,
  type WatchSession,
} from '@keelson/chaos';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function fcSeed(part: number): number | undefined {
  const env = process.env.CHAOS_WATCH_FC_SEED;
  if (env === 'random') return undefined;
  const base = env === undefined || env === '' ? 0x3a7c_0000 : Number(env);
  return (base + part) | 0;
}

const KEYS = ['a', 'b', 'c', 'd'];

interface Run {
  watchers: WatcherLog[];
  history: HistoryWrite[];
  replays: ReplayLog[];
  /** (revision, key) pairs an acknowledged write reports. */
  acked: Set<string>;
}

const id = (rev: number, key: string): string => `${rev}\u0000${key}`;

/** A store that assigns revisions as etcd does, recording each revision's events and the history. */
class ModelStore {
  rev = 1;
  readonly kvs = new Map<string, WatchKv>();
  readonly revisions: WatchEventRec[][] = [];
  readonly history: HistoryWrite[] = [];
  readonly acked = new Set<string>();
  private n = 0;

  constructor(private readonly rng: Prng) {}

  /** Applies puts (value null: delete) of distinct keys at one new revision. */
  private apply(writes: Array<[string, string | null]>): number {
    const rev = ++this.rev;
    const events: WatchEventRec[] = [];
    for (const [key, value] of writes) {
      const prev = this.kvs.get(key) ?? null;
      if (value === null) {
        events.push({
          type: 'DELETE',
          key,
          value: null,
          createRevision: 0,
          modRevision: rev,
          version: 0,
          prevKv: prev,
        });
        this.kvs.delete(key);
        continue;
      }
      const kv = {
        value,
        createRevision: prev?.createRevision ?? rev,
        modRevision: rev,
        version: (prev?.version ?? 0) + 1,
      };
      events.push({ type: 'PUT', key, ...kv, prevKv: prev });
      this.kvs.set(key, kv);
    }
    this.revisions.push(events);
    return rev;
  }

  private outcome(): 'ok' | 'info' | 'fail' {
    const x = this.rng.below(10);
    return x < 8 ? 'ok' : x < 9 ? 'info' : 'fail';
  }

  private record(
    op: Omit<HistoryWrite, 'outcome'>,
    outcome: 'ok' | 'info' | 'fail',
    rev: number | undefined,
  ): void {
    const revision = outcome === 'ok' ? rev : undefined;
    this.history.push({ ...op, outcome, ...(outcome === 'ok' ? {} : { result: undefined }), revision });
    if (
      outcome === 'ok' &&
      rev !== undefined &&
      op.key !== undefined &&
      (op.f !== 'delete' || op.result === 1)
    ) {
      if (op.f !== 'txn' || (op.result as { succeeded: boolean }).succeeded) this.acked.add(id(rev, op.key));
    }
  }

  step(): void {
    const key = KEYS[this.rng.below(KEYS.length)]!;
    const value = `v${++this.n}`;
    const kind = this.rng.below(10);
    const outcome = this.outcome();
    // An unknown outcome took effect or not; a failed write did not.
    const happens = outcome === 'ok' || (outcome === 'info' && this.rng.chance(500));
    if (kind < 5) {
      const rev = happens ? this.apply([[key, value]]) : undefined;
      this.record({ f: 'put', key, value }, outcome, rev);
    } else if (kind < 7) {
      const existed = this.kvs.has(key);
      const rev = happens && existed ? this.apply([[key, null]]) : this.rev;
      this.record({ f: 'delete', key, value: null, result: existed ? 1 : 0 }, outcome, rev);
    } else if (kind < 8) {
      const expect = this.rng.chance(600) ? (this.kvs.get(key)?.value ?? null) : 'stale';
      const succeeded = (this.kvs.get(key)?.value ?? null) === expect;
      const rev = happens && succeeded ? this.apply([[key, value]]) : this.rev;
      this.record(
        { f: 'txn', key, value: { expect, new: value }, result: { succeeded } },
        outcome === 'fail' ? 'fail' : outcome,
        rev,
      );
    } else {
      // A transaction over several keys: one revision, several events (recorded as one put per key).
      const keys = KEYS.filter(() => this.rng.chance(600));
      if (keys.length < 2) keys.splice(0, keys.length, 'a', 'c');
      const writes = keys.map((k, i): [string, string] => [k, `${value}.${i}`]);
      const rev = happens ? this.apply(writes) : undefined;
      for (const [k, v] of writes) this.record({ f: 'put', key: k, value: v }, outcome, rev);
    }
  }

  /** Events of revisions [from, to] in range, grouped by revision. */
  groups(from: number, to: number, inRange: (k: string) => boolean, prevKv: boolean): WatchEventRec[][] {
    const out: WatchEventRec[][] = [];
    for (const evs of this.revisions) {
      const rev = evs[0]!.modRevision;
      if (rev < from || rev > to) continue;
      const mine = evs.filter((e) => inRange(e.key)).map((e) => ({ ...e, prevKv: prevKv ? e.prevKv : null }));
      if (mine.length > 0) out.push(mine);
    }
    return out;
  }
}

const RANGES: Array<[string, string, (k: string) => boolean]> = [
  ['a', '', (k) => k === 'a'],
  ['c', '', (k) => k === 'c'],
  ['a', 'c', (k) => k >= 'a' && k < 'c'],
  ['a', '\0', () => true],
];

const response = (events: WatchEventRec[], header: number): WatchResponseRec => ({
  timeNs: 0,
  headerRevision: header,
  events,
  compactRevision: 0,
  canceled: false,
});

/** Splits groups into responses and sessions at random, resuming each session after its last event. */
function sessionsFor(
  rng: Prng,
  groups: WatchEventRec[][],
  start: number,
  prevKv: boolean,
  store: ModelStore,
): WatchSession[] {
  const sessions: WatchSession[] = [];
  let cur: WatchSession = {
    member: `m${rng.below(3)}`,
    startRevision: start,
    prevKv,
    responses: [],
    endReason: 'run over',
  };
  let next = start;
  let i = 0;
  for (let guard = 0; guard < 1000 && i < groups.length; guard++) {
    if (rng.chance(150)) {
      // A session that ends at once (or after a progress response) resumes at the same revision.
      if (rng.chance(500)) cur.responses.push(response([], Math.max(next - 1, 1)));
      sessions.push({ ...cur, endReason: 'stream error: unavailable' });
      cur = { ...cur, member: `m${rng.below(3)}`, startRevision: next, responses: [] };
      continue;
    }
    const take = 1 + rng.below(3);
    const events = groups.slice(i, i + take).flat();
    i += take;
    const top = events[events.length - 1]!.modRevision;
    cur.responses.push(response(events, Math.min(store.rev, top + rng.below(3))));
    next = top + 1;
    if (rng.chance(300) && i < groups.length) {
      sessions.push({ ...cur, endReason: 'stream error: reset' });
      cur = { ...cur, member: `m${rng.below(3)}`, startRevision: next, responses: [] };
    }
  }
  sessions.push(cur);
  return sessions;
}

function watcherFor(
  rng: Prng,
  store: ModelStore,
  n: number,
  compactRevision: number,
): { log: WatcherLog; replay?: ReplayLog } {
  const [key, rangeEnd, inRange] = RANGES[rng.below(RANGES.length)]!;
  const prevKv = rng.chance(500);
  const last = store.rev;
  const watcher = `w${n}`;
  if (rng.chance(200)) {
    // Watch from "now": the created response's header says where "now" was.
    const header = 1 + rng.below(last);
    const groups = store.groups(header + 1, 1 + rng.below(last), inRange, prevKv);
    const sessions = sessionsFor(rng, groups, 0, prevKv, store);
    const first = sessions[0]!;
    first.responses.unshift(response([], header));
    // Only the first session may start from "now"; later ones resume at an explicit revision.
    for (const s of sessions.slice(1)) if (s.startRevision === 0) s.startRevision = header + 1;
    return { log: { watcher, key, rangeEnd, sessions } };
  }
  let start = 1 + rng.below(last + 1);
  const pre: WatchSession[] = [];
  if (start < compactRevision && rng.chance(700)) {
    // The start was compacted: the server cancels, and the watcher resumes at the compact revision.
    const compacted = { ...response([], last), compactRevision, canceled: true };
    pre.push({ member: 'm0', startRevision: start, prevKv, responses: [compacted], endReason: 'canceled' });
    start = compactRevision;
  } else if (start < compactRevision) {
    start = compactRevision;
  }
  const end = start - 1 + rng.below(last - start + 2);
  const groups = store.groups(start, end, inRange, prevKv);
  const log = {
    watcher,
    key,
    rangeEnd,
    sessions: [...pre, ...sessionsFor(rng, groups, start, prevKv, store)],
  };
  if (!rng.chance(600) || groups.length === 0) return { log };
  const from = start + rng.below(end - start + 2);
  const replayPrevKv = rng.chance(500);
  const replay = {
    watcher,
    startRevision: from,
    prevKv: replayPrevKv,
    events: store.groups(from, last, inRange, replayPrevKv).flat(),
  };
  return { log, replay };
}

function generate(seed: number): Run & { compactRevision: number } {
  const rng = new Prng(seed);
  const store = new ModelStore(rng);
  const writes = 1 + rng.below(40);
  for (let i = 0; i < writes; i++) store.step();
  const compactRevision = rng.chance(200) && store.rev > 2 ? 2 + rng.below(store.rev - 1) : 0;
  const watchers: WatcherLog[] = [];
  const replays: ReplayLog[] = [];
  const count = 1 + rng.below(4);
  for (let n = 0; n < count; n++) {
    const { log, replay } = watcherFor(rng, store, n, compactRevision);
    watchers.push(log);
    if (replay !== undefined) replays.push(replay);
  }
  return { watchers, history: store.history, replays, acked: store.acked, compactRevision };
}

const failing = (r: WatchCheckResult): WatchPropertyName[] =>
  (Object.keys(r.properties) as WatchPropertyName[]).filter((n) => !r.properties[n].ok);

describe('checkWatches on generated runs', () => {
  // Proves correct watch streams (by construction) pass every property.
  it('accepts correct streams', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (seed) => {
        const run = generate(seed);
        const r = checkWatches(run.watchers, run.history, run.replays, {
          compactRevision: run.compactRevision,
        });
        expect(failing(r), formatWatchReport(r)).toEqual([]);
      }),
      { seed: fcSeed(1), numRuns: 300 },
    );
  });
});

// ---- Mutations: each breaks one guarantee in a way the checker can know about. ----

interface Pos {
  w: number;
  s: number;
  r: number;
  e: number;
}

function positions(run: Run): Pos[] {
  const out: Pos[] = [];
  run.watchers.forEach((w, wi) => {
    w.sessions.forEach((s, si) => {
      s.responses.forEach((r, ri) => {
        for (let ei = 0; ei < r.events.length; ei++) out.push({ w: wi, s: si, r: ri, e: ei });
      });
    });
  });
  return out;
}

const eventAt = (run: Run, p: Pos): WatchEventRec =>
  run.watchers[p.w]!.sessions[p.s]!.responses[p.r]!.events[p.e]!;
const lastRev = (w: WatcherLog): number =>
  Math.max(0, ...w.sessions.flatMap((s) => s.responses.flatMap((r) => r.events.map((e) => e.modRevision))));

/** Whether (rev, key) is known without the watcher `w`: an ack, another watcher, or a replay. */
function knownElsewhere(run: Run, w: number, ev: WatchEventRec): boolean {
  if (run.acked.has(id(ev.modRevision, ev.key))) return true;
  const same = (e: WatchEventRec) => e.modRevision === ev.modRevision && e.key === ev.key;
  const others = run.watchers
    .filter((_, i) => i !== w)
    .flatMap((x) => x.sessions.flatMap((s) => s.responses.flatMap((r) => r.events)));
  return others.some(same) || run.replays.some((rp) => rp.events.some(same));
}

type Mutation = (run: Run, pick: number) => WatchPropertyName | undefined;

const pickFrom = <T>(xs: readonly T[], pick: number): T | undefined =>
  xs.length === 0 ? undefined : xs[pick % xs.length];

const drop: Mutation = (run, pick) => {
  const p = pickFrom(
    positions(run).filter((q) => {
      const ev = eventAt(run, q);
      return ev.modRevision < lastRev(run.watchers[q.w]!) && knownElsewhere(run, q.w, ev);
    }),
    pick,
  );
  if (p === undefined) return undefined;
  const events = run.watchers[p.w]!.sessions[p.s]!.responses[p.r]!.events;
  const [ev] = events.splice(p.e, 1);
  // Others of its revision still delivered make it a partial revision; otherwise the revision is a gap.
  return events.some((e) => e.modRevision === ev!.modRevision) ? 'atomic' : 'reliable';
};

const duplicate: Mutation = (run, pick) => {
  const p = pickFrom(positions(run), pick);
  if (p === undefined) return undefined;
  const responses = run.watchers[p.w]!.sessions[p.s]!.responses;
  const ev = eventAt(run, p);
  responses.splice(p.r + 1, 0, response([{ ...ev }], responses[p.r]!.headerRevision));
  return 'unique';
};

const reorder: Mutation = (run, pick) => {
  const pairs: Array<[WatchResponseRec[], number]> = [];
  for (const w of run.watchers) {
    for (const s of w.sessions) {
      const rs = s.responses;
      for (let i = 0; i + 1 < rs.length; i++)
        if (rs[i]!.events.length > 0 && rs[i + 1]!.events.length > 0) pairs.push([rs, i]);
    }
  }
  const pair = pickFrom(pairs, pick);
  if (pair === undefined) return undefined;
  const [rs, i] = pair;
  [rs[i], rs[i + 1]] = [rs[i + 1]!, rs[i]!];
  return 'ordered';
};

const corruptPrevKv: Mutation = (run, pick) => {
  const p = pickFrom(
    positions(run).filter((q) => {
      const prev = eventAt(run, q).prevKv;
      return prev !== null && knownElsewhere(run, q.w, { ...eventAt(run, q), modRevision: prev.modRevision });
    }),
    pick,
  );
  if (p === undefined) return undefined;
  const ev = eventAt(run, p);
  run.watchers[p.w]!.sessions[p.s]!.responses[p.r]!.events[p.e] = {
    ...ev,
    prevKv: { ...ev.prevKv!, value: `${ev.prevKv!.value}~` },
  };
  return 'prev-kv';
};

const split: Mutation = (run, pick) => {
  const p = pickFrom(
    positions(run).filter(
      (q) => q.e > 0 && eventAt(run, { ...q, e: q.e - 1 }).modRevision === eventAt(run, q).modRevision,
    ),
    pick,
  );
  if (p === undefined) return undefined;
  const responses = run.watchers[p.w]!.sessions[p.s]!.responses;
  const r = responses[p.r]!;
  responses.splice(p.r, 1, { ...r, events: r.events.slice(0, p.e) }, { ...r, events: r.events.slice(p.e) });
  return 'atomic';
};

const replayDiffers: Mutation = (run, pick) => {
  const candidates = run.replays.flatMap((rp) => {
    const w = run.watchers.find((x) => x.watcher === rp.watcher)!;
    return rp.events.flatMap((e, i) => (e.modRevision <= lastRev(w) ? [{ rp, i }] : []));
  });
  const c = pickFrom(candidates, pick);
  if (c === undefined) return undefined;
  c.rp.events.splice(c.i, 1);
  return 'resumable';
};

const MUTATIONS: Record<string, Mutation> = { drop, duplicate, reorder, corruptPrevKv, split, replayDiffers };

describe('checkWatches on mutated runs', () => {
  for (const [name, mutate] of Object.entries(MUTATIONS)) {
    // Proves the mutation makes the property it breaks fail.
    it(`catches ${name}`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.nat(), (seed, pick) => {
          const run = generate(seed);
          const expected = mutate(run, pick);
          fc.pre(expected !== undefined);
          const r = checkWatches(run.watchers, run.history, run.replays, {
            compactRevision: (run as Run & { compactRevision: number }).compactRevision,
          });
          expect(failing(r), formatWatchReport(r)).toContain(expected);
          expect(r.ok).toBe(false);
        }),
        { seed: fcSeed(10 + Object.keys(MUTATIONS).indexOf(name)), numRuns: 150, maxSkipsPerRun: 1000 },
      );
    });
  }
});
