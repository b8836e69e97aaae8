import { type Entry, EntryType, MessageType, message, ProgressState, StateType } from '@keelson/raft';
import { describe, expect, it } from 'vitest';
import { bootstrapStorage, Cluster, enc } from './harness.js';

const ent = (index: number, term: number, data = ''): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: enc(data),
});

describe('log replication', () => {
  it('backtracks over a long conflicting tail in one round trip per term, not per entry', () => {
    // Proves fast conflict backtracking with the (rejectHint, logTerm) hint.
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    const s1 = bootstrapStorage([1, 2, 3]);
    s1.append(Array.from({ length: 10 }, (_, i) => ent(2 + i, 3, `good${i}`)));
    s1.setHardState({ term: 3, vote: 0, commit: 1 });
    const s2 = bootstrapStorage([1, 2, 3]);
    s2.append(Array.from({ length: 50 }, (_, i) => ent(2 + i, 2, `stale${i}`)));
    s2.setHardState({ term: 3, vote: 0, commit: 1 });
    c.add(1, s1);
    c.add(2, s2);
    c.elect(1);
    expect(c.get(1).node.state).toBe(StateType.Leader);
    const rejections = c.sentOfType(MessageType.AppResp).filter((m) => m.from === 2 && m.reject);
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(c.get(2).storage.lastIndex()).toBe(c.get(1).storage.lastIndex());
    expect(c.appliedData(2).slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `good${i}`));
  });

  it('never commits an entry of an earlier term by counting replicas alone', () => {
    // Proves the Figure 8 rule: only current-term entries commit by replica count.
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    const s1 = bootstrapStorage([1, 2, 3]);
    s1.append([ent(2, 2, 'old')]);
    s1.setHardState({ term: 2, vote: 0, commit: 1 });
    c.add(1, s1);
    const leader = c.get(1).node;
    // Elect 1 at term 3 without letting its appends through.
    c.filters.push((m) => m.type !== MessageType.App);
    c.elect(1);
    expect(leader.state).toBe(StateType.Leader);
    expect(leader.term).toBe(3);
    // Follower 2 acknowledges index 2 (the term-2 entry): a majority (1 and 2) holds it.
    leader.step(message({ type: MessageType.AppResp, from: 2, to: 1, term: 3, index: 2 }));
    c.stabilize();
    expect(leader.committed).toBe(1);
    // Once the term-3 empty entry at index 3 is on a majority, both commit together.
    leader.step(message({ type: MessageType.AppResp, from: 2, to: 1, term: 3, index: 3 }));
    c.stabilize();
    expect(leader.committed).toBe(3);
  });

  it('keeps at most maxInflightMsgs appends in flight to a replicating follower', () => {
    // Proves the bounded in-flight window of pipelined replication (Replicate state).
    const c = new Cluster([1, 2], { maxInflightMsgs: 4, maxSizePerMsgBytes: 1 });
    c.elect(1);
    const leader = c.get(1);
    expect(leader.node.status().progress.get(2)?.state).toBe(ProgressState.Replicate);
    // Hold every message to 2: nothing is acknowledged.
    const held: unknown[] = [];
    c.filters.push((m) => {
      if (m.to === 2) held.push(m);
      return m.to !== 2;
    });
    for (let i = 0; i < 10; i++) {
      leader.node.propose(enc(`e${i}`));
      c.stabilize();
    }
    const apps = (held as { type: MessageType; entries: unknown[] }[]).filter(
      (m) => m.type === MessageType.App && m.entries.length > 0,
    );
    expect(apps).toHaveLength(4);
    expect(leader.node.status().progress.get(2)?.inflight).toBe(4);
    // Releasing the window lets the rest through, pipelined.
    c.heal();
    c.tickAll(2);
    expect(c.appliedData(2)).toHaveLength(10);
  });

  it('sends one probe at a time to a follower in Probe state', () => {
    // Proves Probe state pauses after each append until the follower answers.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(1).node.reportUnreachable(2);
    expect(c.get(1).node.status().progress.get(2)?.state).toBe(ProgressState.Probe);
    const held: { type: MessageType; to: number }[] = [];
    c.filters.push((m) => {
      if (m.to === 2) held.push(m);
      return m.to !== 2;
    });
    for (let i = 0; i < 5; i++) {
      c.get(1).node.propose(enc(`p${i}`));
      c.stabilize();
    }
    expect(held.filter((m) => m.type === MessageType.App)).toHaveLength(1);
  });

  it('splits a backlog into messages no larger than maxSizePerMsgBytes', () => {
    // Proves batching: a catching-up follower gets several entries per message, within the limit.
    const c = new Cluster([1, 2, 3], { maxSizePerMsgBytes: 300 });
    c.elect(1);
    c.partition([3], [1, 2]);
    for (let i = 0; i < 30; i++) c.get(1).node.propose(enc('x'.repeat(50)));
    c.stabilize();
    c.heal();
    c.delivered = [];
    c.tickAll(3);
    const apps = c.sentOfType(MessageType.App).filter((m) => m.to === 3 && m.entries.length > 0);
    expect(apps.length).toBeGreaterThan(1);
    for (const m of apps) {
      const bytes = m.entries.reduce((s, e) => s + e.data.length + 24, 0);
      if (m.entries.length > 1) expect(bytes).toBeLessThanOrEqual(300);
    }
    expect(Math.max(...apps.map((m) => m.entries.length))).toBeGreaterThan(1);
    expect(c.appliedData(3)).toHaveLength(30);
  });

  it('replicates and applies the same sequence on every node', () => {
    // Proves end-to-end ordering: every node applies the leader's proposals in order.
    const c = new Cluster([1, 2, 3, 4, 5]);
    c.elect(3);
    const want: string[] = [];
    for (let i = 0; i < 50; i++) {
      want.push(`v${i}`);
      c.get(3).node.propose(enc(`v${i}`));
      if (i % 7 === 0) c.stabilize();
    }
    c.stabilize();
    for (const id of [1, 2, 3, 4, 5]) expect(c.appliedData(id)).toEqual(want);
  });
});

describe('snapshots and compaction', () => {
  it('catches up a follower from a snapshot once the entries it needs are compacted', () => {
    // Proves snapshot send/install for followers behind the leader's first index.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.partition([3], [1, 2]);
    for (let i = 0; i < 20; i++) c.get(1).node.propose(enc(`s${i}`));
    c.stabilize();
    const leader = c.get(1);
    const applied = leader.node.status().applied;
    leader.storage.createSnapshot(applied, leader.node.status().config, enc(`state@${applied}`));
    leader.storage.compact(applied);
    c.heal();
    c.delivered = [];
    c.tickAll(3);
    const snaps = c.sentOfType(MessageType.Snap).filter((m) => m.to === 3);
    expect(snaps).toHaveLength(1);
    expect(c.get(3).storage.snapshot().metadata.index).toBe(applied);
    expect(new TextDecoder().decode(c.get(3).storage.snapshot().data)).toBe(`state@${applied}`);
    // After the snapshot the follower replicates from the log again.
    leader.node.propose(enc('after'));
    c.stabilize();
    expect(c.appliedData(3)).toEqual(['after']);
    expect(leader.node.status().progress.get(3)?.state).toBe(ProgressState.Replicate);
  });

  it('ignores a snapshot that is not newer than its commit index', () => {
    // Proves a stale snapshot cannot move a follower's commit index or log backwards.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    for (let i = 0; i < 5; i++) c.get(1).node.propose(enc(`k${i}`));
    c.stabilize();
    const f = c.get(2).node;
    const committed = f.committed;
    const stale = { data: enc('old'), metadata: { index: 2, term: 2, confState: f.status().config } };
    f.step(message({ type: MessageType.Snap, from: 1, to: 2, term: f.term, snapshot: stale }));
    c.stabilize();
    expect(f.committed).toBe(committed);
    expect(c.get(2).storage.snapshot().metadata.index).toBeLessThan(committed);
  });
});
