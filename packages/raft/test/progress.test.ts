import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../src/errors.js';
import { Inflights, Progress, ProgressState } from '../src/tracker/index.js';

function progress(
  fields: Partial<Pick<Progress, 'match' | 'next' | 'state' | 'pendingSnapshot'>> = {},
): Progress {
  const pr = new Progress(fields.next ?? 1, new Inflights(256, 0), false);
  pr.match = fields.match ?? 0;
  pr.state = fields.state ?? ProgressState.Probe;
  pr.pendingSnapshot = fields.pendingSnapshot ?? 0;
  return pr;
}

describe('Progress', () => {
  it('starts probing with nothing matched', () => {
    // A new Progress is in Probe with match 0, not paused and not recently active.
    const pr = new Progress(7, new Inflights(4, 0), true);
    expect(pr.state).toBe(ProgressState.Probe);
    expect(pr.match).toBe(0);
    expect(pr.next).toBe(7);
    expect(pr.isPaused()).toBe(false);
    expect(pr.toString()).toBe('StateProbe match=0 next=7 learner inactive');
  });

  it('renders state, pause, snapshot and inflights like etcd', () => {
    // toString shows what an operator needs when a follower lags.
    const pr = progress({ match: 1, next: 2 });
    pr.recentActive = true;
    pr.becomeReplicate();
    pr.sentEntries(3, 10);
    expect(pr.toString()).toBe('StateReplicate match=1 next=5 inflight=1');
    pr.becomeSnapshot(9);
    expect(pr.toString()).toBe('StateSnapshot match=1 next=10 paused pendingSnap=9');
  });

  it('is paused according to its state', () => {
    // Probe and Replicate pause on the flow flag; Snapshot always pauses.
    for (const state of [ProgressState.Probe, ProgressState.Replicate]) {
      const pr = progress({ state });
      expect(pr.isPaused()).toBe(false);
      pr.msgAppFlowPaused = true;
      expect(pr.isPaused()).toBe(true);
    }
    expect(progress({ state: ProgressState.Snapshot }).isPaused()).toBe(true);
  });

  it('resumes on acknowledgement', () => {
    // maybeUpdate with a new index clears the pause flag; a stale one changes nothing.
    const pr = progress({ next: 2 });
    pr.msgAppFlowPaused = true;
    expect(pr.maybeUpdate(2)).toBe(true);
    expect(pr.isPaused()).toBe(false);
    expect(pr.match).toBe(2);
    expect(pr.next).toBe(3);
    pr.msgAppFlowPaused = true;
    expect(pr.maybeUpdate(1)).toBe(false);
    expect(pr.isPaused()).toBe(true);
  });

  it('pauses a probe after one append and a replicate stream when inflights fill', () => {
    // sentEntries pauses Probe after any entries and Replicate only when inflights are full.
    const probe = progress({ match: 3, next: 4 });
    probe.sentEntries(0, 0);
    expect(probe.isPaused()).toBe(false);
    probe.sentEntries(2, 10);
    expect(probe.isPaused()).toBe(true);
    expect(probe.next).toBe(4);

    const rep = new Progress(1, new Inflights(2, 0), false);
    rep.becomeReplicate();
    rep.sentEntries(3, 10);
    expect(rep.next).toBe(4);
    expect(rep.isPaused()).toBe(false);
    rep.sentEntries(1, 10);
    expect(rep.isPaused()).toBe(true);
    expect(rep.inflights.count()).toBe(2);
  });

  it('refuses to send appends while a snapshot is pending', () => {
    // sentEntries in Snapshot state is a bug and throws.
    const pr = progress();
    pr.becomeSnapshot(10);
    expect(() => pr.sentEntries(1, 1)).toThrow(AssertionError);
  });

  it('falls back to probing from the right place', () => {
    // becomeProbe probes after match, or after the pending snapshot when leaving Snapshot.
    const cases: { from: ProgressState; match: number; next: number; pending: number; want: number }[] = [
      { from: ProgressState.Replicate, match: 1, next: 5, pending: 0, want: 2 },
      { from: ProgressState.Snapshot, match: 1, next: 11, pending: 10, want: 11 },
      { from: ProgressState.Snapshot, match: 1, next: 11, pending: 0, want: 2 },
    ];
    for (const c of cases) {
      const pr = progress({ state: c.from, match: c.match, next: c.next, pendingSnapshot: c.pending });
      pr.becomeProbe();
      expect(pr.state).toBe(ProgressState.Probe);
      expect(pr.match).toBe(c.match);
      expect(pr.next).toBe(c.want);
      expect(pr.pendingSnapshot).toBe(0);
    }
  });

  it('regresses sentCommit to what was sent', () => {
    // After becomeProbe the follower cannot have been told a commit beyond next - 1.
    const pr = progress({ match: 1, next: 10, state: ProgressState.Replicate });
    pr.sentCommitTo(8);
    pr.becomeProbe();
    expect(pr.sentCommit).toBe(1);
    expect(pr.canBumpCommit(5)).toBe(false);
    pr.becomeSnapshot(20);
    expect(pr.sentCommit).toBe(20);
  });

  it('bumps commit only with something new to tell', () => {
    // canBumpCommit needs a higher commit and entries sent beyond the last commit sent.
    const pr = progress({ match: 0, next: 6 });
    pr.sentCommitTo(3);
    expect(pr.canBumpCommit(3)).toBe(false);
    expect(pr.canBumpCommit(4)).toBe(true);
    pr.sentCommitTo(5);
    expect(pr.canBumpCommit(9)).toBe(false);
  });

  it('replicates right after match', () => {
    // becomeReplicate sets next to match + 1 and clears any pause.
    const pr = progress({ match: 1, next: 5 });
    pr.msgAppFlowPaused = true;
    pr.becomeReplicate();
    expect(pr.state).toBe(ProgressState.Replicate);
    expect(pr.next).toBe(2);
    expect(pr.isPaused()).toBe(false);
  });

  it('handles rejections like etcd', () => {
    // maybeDecrTo ignores stale rejections and otherwise moves next back, never below match + 1.
    type Case = [ProgressState, number, number, number, number, boolean, number];
    // state, match, next, rejected, hint -> ok, next
    const cases: Case[] = [
      [ProgressState.Replicate, 5, 10, 5, 5, false, 10], // rejected <= match: stale
      [ProgressState.Replicate, 5, 10, 4, 4, false, 10],
      [ProgressState.Replicate, 5, 10, 9, 9, true, 6],
      [ProgressState.Probe, 0, 0 + 1, 0, 0, true, 1], // next-1 == rejected
      [ProgressState.Probe, 0, 10, 5, 5, false, 10], // next-1 != rejected: stale
      [ProgressState.Probe, 0, 10, 9, 9, true, 9], // next-1 == rejected, hint = rejected
      [ProgressState.Probe, 0, 2, 1, 1, true, 1],
      [ProgressState.Probe, 0, 10, 9, 2, true, 3], // the hint jumps further back
      [ProgressState.Probe, 5, 10, 9, 2, true, 6], // but never below match + 1
    ];
    for (const [state, match, next, rejected, hint, ok, want] of cases) {
      const pr = progress({ state, match, next });
      pr.msgAppFlowPaused = true;
      expect(pr.maybeDecrTo(rejected, hint)).toBe(ok);
      expect(pr.next).toBe(want);
      expect(pr.match).toBe(match);
      if (ok && state === ProgressState.Probe) expect(pr.msgAppFlowPaused).toBe(false);
    }
  });

  it('clones independently', () => {
    // A clone carries every field, and changes to it do not reach the original.
    const pr = progress({ match: 2, next: 3, state: ProgressState.Replicate });
    pr.sentEntries(2, 7);
    const c = pr.clone();
    expect(c.toString()).toBe(pr.toString());
    c.maybeUpdate(4);
    c.inflights.freeLE(4);
    expect(pr.match).toBe(2);
    expect(pr.inflights.count()).toBe(1);
  });

  it('keeps match < next under any sequence of operations', () => {
    // Random sequences of the leader's calls never break match < next nor corrupt inflights.
    const op = fc.oneof(
      fc.record({ k: fc.constant('update' as const), n: fc.nat(40) }),
      fc.record({ k: fc.constant('decr' as const), rejected: fc.nat(40), hint: fc.nat(40) }),
      fc.record({ k: fc.constant('send' as const), entries: fc.nat(4), bytes: fc.nat(100) }),
      fc.record({ k: fc.constant('probe' as const) }),
      fc.record({ k: fc.constant('replicate' as const) }),
      fc.record({ k: fc.constant('snapshot' as const), ahead: fc.nat(10) }),
      fc.record({ k: fc.constant('free' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 60 }), (next, ops) => {
        const pr = new Progress(next, new Inflights(4, 150), false);
        for (const o of ops) {
          if (o.k === 'update') pr.maybeUpdate(o.n);
          else if (o.k === 'decr') {
            // As stepLeader does: a rejection that moves a replicating follower back sends it to probing.
            if (pr.maybeDecrTo(o.rejected, o.hint) && pr.state === ProgressState.Replicate) pr.becomeProbe();
          } else if (o.k === 'send' && pr.state !== ProgressState.Snapshot && !pr.isPaused()) {
            pr.sentEntries(o.entries, o.bytes);
          } else if (o.k === 'probe') pr.becomeProbe();
          else if (o.k === 'replicate') pr.becomeReplicate();
          else if (o.k === 'snapshot') pr.becomeSnapshot(pr.next - 1 + o.ahead);
          else if (o.k === 'free') pr.inflights.freeLE(pr.match);
          expect(pr.match).toBeLessThan(pr.next);
          expect(pr.inflights.count()).toBeLessThanOrEqual(4);
          if (pr.state !== ProgressState.Replicate) expect(pr.inflights.count()).toBe(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('replays the seed that once broke the property above', () => {
    // Proves the fixed model of the caller holds on the counterexample CI found (decr, then send).
    const pr = new Progress(1, new Inflights(4, 150), false);
    pr.becomeReplicate();
    pr.sentEntries(1, 0);
    if (pr.maybeDecrTo(1, 0) && pr.state === ProgressState.Replicate) pr.becomeProbe();
    pr.sentEntries(1, 0);
    expect(pr.state).toBe(ProgressState.Probe);
    expect(pr.match).toBeLessThan(pr.next);
  });
});
