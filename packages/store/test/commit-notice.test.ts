// Proves that a leader's commit-only appends are held for at most holdMs and never lost unless a later
// append to the same follower replaced them, that every other message goes out at once and in order,
// that a follower which forwarded a proposal or a read gets its commit notices at once, and that
// nothing stays held once the time is up (fast-check over random message streams; COMMIT_NOTICE_SEED
// replays a failing run).
import { type Message, MessageType } from '@keelson/raft';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommitNoticeHold, type CommitNoticeOutcome } from '../src/member/commit_notice.js';

const HOLD_MS = 1;
const EAGER_MS = 50;
const PEERS = [2, 3, 4];

function msg(type: MessageType, to: number, entries: number, id: number, from = 1): Message {
  return {
    type,
    to,
    from,
    term: 1,
    logTerm: 1,
    index: 0,
    // The id rides in `commit` so each message can be traced through the hold.
    commit: id,
    entries: Array.from({ length: entries }, (_, i) => ({
      term: 1,
      index: i + 1,
      type: 0,
      data: new Uint8Array(0),
    })),
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: new Uint8Array(0),
  } as unknown as Message;
}

type Step =
  | { kind: 'send'; batch: Array<{ type: 'app' | 'commit' | 'heartbeat'; to: number }> }
  | { kind: 'peer'; from: number; type: 'prop' | 'read' | 'resp' }
  | { kind: 'advance'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('send' as const),
    batch: fc.array(
      fc.record({
        type: fc.constantFrom('app' as const, 'commit' as const, 'heartbeat' as const),
        to: fc.constantFrom(...PEERS),
      }),
      { maxLength: 6 },
    ),
  }),
  fc.record({
    kind: fc.constant('peer' as const),
    from: fc.constantFrom(...PEERS),
    type: fc.constantFrom('prop' as const, 'read' as const, 'resp' as const),
  }),
  // Quarter milliseconds: exact in floating point.
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 12 }).map((q) => q / 4) }),
);

describe('CommitNoticeHold', () => {
  it('holds commit-only appends briefly, loses none that were not replaced, and delays nothing else', () => {
    const seed = process.env.COMMIT_NOTICE_SEED;
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 80 }), (steps) => {
        let now = 0;
        let timer: { fn: () => void; due: number } | null = null;
        // A fake timer fires at the first step past its due time; what it sends counts as sent when due.
        let firingDue: number | null = null;
        const sent: Array<{ id: number; at: number }> = [];
        const outcomes: CommitNoticeOutcome[] = [];
        const hold = new CommitNoticeHold({
          holdMs: HOLD_MS,
          eagerMs: EAGER_MS,
          now: () => now,
          send: (msgs) => {
            for (const m of msgs) sent.push({ id: m.commit, at: firingDue ?? now });
          },
          setTimer: (fn, ms) => {
            expect(timer).toBeNull();
            timer = { fn, due: now + ms };
            return timer;
          },
          clearTimer: (t) => {
            expect(t).toBe(timer);
            timer = null;
          },
          observe: (o) => outcomes.push(o),
        });
        const fire = (): void => {
          const t = timer as { fn: () => void; due: number } | null;
          if (t === null || t.due > now) return;
          timer = null;
          firingDue = t.due;
          t.fn();
          firingDue = null;
        };
        // What the property checks, per commit-only append: when it was offered and whether it must go at once.
        const offered = new Map<number, { to: number; at: number; eager: boolean; commitOnly: boolean }>();
        const eagerUntil = new Map<number, number>();
        /** Per follower, the id of the last append of any kind offered (a later one replaces a held one). */
        const appendsTo = new Map<number, number[]>();
        let nextId = 1;
        for (const step of steps) {
          if (step.kind === 'advance') {
            now += step.ms;
            fire();
          } else if (step.kind === 'peer') {
            const type =
              step.type === 'prop'
                ? MessageType.Prop
                : step.type === 'read'
                  ? MessageType.ReadIndex
                  : MessageType.AppResp;
            if (type !== MessageType.AppResp) eagerUntil.set(step.from, now + EAGER_MS);
            hold.notePeerMessage(msg(type, 1, 0, 0, step.from));
          } else {
            const batch = step.batch.map((b) => {
              const id = nextId++;
              const type = b.type === 'heartbeat' ? MessageType.Heartbeat : MessageType.App;
              const commitOnly = b.type === 'commit';
              offered.set(id, { to: b.to, at: now, eager: (eagerUntil.get(b.to) ?? -1) > now, commitOnly });
              if (type === MessageType.App) appendsTo.set(b.to, [...(appendsTo.get(b.to) ?? []), id]);
              return msg(type, b.to, commitOnly ? 0 : 1, id);
            });
            const before = sent.length;
            const out = hold.filter(batch);
            for (const m of out) sent.push({ id: m.commit, at: now });
            // Everything but a held commit-only append goes out now, in the order given.
            const expected = batch
              .filter((m) => {
                const o = offered.get(m.commit)!;
                return !(o.commitOnly && !o.eager);
              })
              .map((m) => m.commit);
            expect(out.map((m) => m.commit)).toEqual(expected);
            expect(sent.length - before).toBe(out.length);
          }
        }
        now += HOLD_MS;
        fire();
        expect(hold.heldCount()).toBe(0);
        expect(timer).toBeNull();

        const sentAt = new Map<number, number>();
        for (const s of sent) {
          expect(sentAt.has(s.id)).toBe(false); // never twice
          expect(offered.has(s.id)).toBe(true); // never one that was not offered
          sentAt.set(s.id, s.at);
        }
        for (const [id, o] of offered) {
          const at = sentAt.get(id);
          if (!o.commitOnly || o.eager) {
            expect(at).toBe(o.at);
            continue;
          }
          if (at !== undefined) {
            expect(at).toBeGreaterThanOrEqual(o.at);
            expect(at - o.at).toBeLessThanOrEqual(HOLD_MS);
            continue;
          }
          // Not sent: a later append to the same follower replaced it.
          const later = (appendsTo.get(o.to) ?? []).filter((x) => x > id);
          expect(later.length).toBeGreaterThan(0);
        }
        // Every held notice is accounted for exactly once: replaced, or sent (at once or when expired).
        const held = [...offered.values()].filter((o) => o.commitOnly && !o.eager).length;
        const replaced = outcomes.filter((o) => o === 'replaced').length;
        const sentHeld = [...offered.entries()].filter(
          ([id, o]) => o.commitOnly && !o.eager && sentAt.has(id),
        ).length;
        expect(replaced + sentHeld).toBe(held);
      }),
      { numRuns: 300, ...(seed === undefined ? {} : { seed: Number(seed) }) },
    );
  });

  it('sends a held notice at once when its follower forwards a proposal', () => {
    const sent: number[] = [];
    let armed = 0;
    const hold = new CommitNoticeHold({
      holdMs: HOLD_MS,
      eagerMs: EAGER_MS,
      now: () => 0,
      send: (msgs) => sent.push(...msgs.map((m) => m.commit)),
      setTimer: () => ++armed,
      clearTimer: () => {},
    });
    expect(hold.filter([msg(MessageType.App, 2, 0, 7)])).toEqual([]);
    expect(hold.heldCount()).toBe(1);
    hold.notePeerMessage(msg(MessageType.Prop, 1, 1, 0, 2));
    expect(sent).toEqual([7]);
    expect(hold.heldCount()).toBe(0);
    // Eager now: the next notice to it is not held.
    expect(hold.filter([msg(MessageType.App, 2, 0, 8)]).map((m) => m.commit)).toEqual([8]);
    expect(armed).toBe(1);
  });
});
