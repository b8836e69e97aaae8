import { type MemoryStorage, MessageType, RawNode, SeededRand, StateType } from '@keelson/raft';
import { describe, expect, it } from 'vitest';
import { bootstrapStorage, Cluster } from './harness.js';

function ticksUntilCampaign(seed: number): number {
  const n = new RawNode({
    id: 1,
    electionTick: 10,
    heartbeatTick: 1,
    storage: bootstrapStorage([1, 2, 3]),
    rand: new SeededRand(seed),
    preVote: false,
  });
  for (let t = 1; t <= 100; t++) {
    n.tick();
    if (n.state === StateType.Candidate) return t;
  }
  throw new Error('never campaigned');
}

describe('leader election', () => {
  it('randomizes the election timeout within [electionTick, 2 * electionTick)', () => {
    // Proves timeouts are jittered (split votes resolve) and bounded by etcd's range.
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const t = ticksUntilCampaign(seed);
      expect(t).toBeGreaterThanOrEqual(10);
      expect(t).toBeLessThan(20);
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it('elects exactly one leader by ticking, and everyone follows it', () => {
    // Proves an election happens by timeout alone and that the result is agreed on.
    const c = new Cluster([1, 2, 3, 4, 5]);
    for (let i = 0; i < 40 && c.leaders().length === 0; i++) c.tickAll();
    expect(c.leaders()).toHaveLength(1);
    const leader = c.leaders()[0] as number;
    c.tickAll(3);
    for (const n of c.nodes.values()) expect(n.node.lead).toBe(leader);
  });

  it('a candidate that cannot reach a quorum does not become leader', () => {
    // Proves votes are counted against a majority, not granted by default.
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.partition([1], [2, 3]);
    c.elect(1);
    expect(c.get(1).node.state).toBe(StateType.Candidate);
  });

  it('refuses to vote for a candidate whose log is behind', () => {
    // Proves the up-to-date check of RequestVote (Raft §5.4.1). (CheckQuorum off: its lease
    // would ignore the request before the log check is reached.)
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    c.elect(1);
    c.partition([3], [1, 2]);
    c.get(1).node.propose(new TextEncoder().encode('x'));
    c.stabilize();
    c.heal();
    // 3 missed the entry; its campaign must fail even though its term is higher.
    c.get(3).node.campaign();
    c.stabilize();
    expect(c.get(3).node.state).not.toBe(StateType.Leader);
    const rejections = c.sentOfType(MessageType.VoteResp).filter((m) => m.to === 3 && m.reject);
    expect(rejections.length).toBeGreaterThan(0);
  });

  it('persists the vote before answering, so a restarted node does not vote twice in a term', () => {
    // Proves the vote is in the HardState that the Ready asks to persist.
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.partition([3], [1, 2]);
    c.elect(1);
    const hs = c.get(2).storage.hardState();
    expect(hs.vote).toBe(1);
    expect(hs.term).toBe(c.get(1).node.term);
  });
});

describe('stale candidates', () => {
  it('a candidate with a stale term learns the current term from the rejection', () => {
    // Proves a Vote from an older term is answered (Raft §5.1), so a stale candidate catches up.
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    const s1 = bootstrapStorage([1, 2, 3]);
    s1.setHardState({ term: 5, vote: 0, commit: 1 });
    c.add(1, s1);
    for (const id of [2, 3]) {
      const s = bootstrapStorage([1, 2, 3]);
      s.setHardState({ term: 10, vote: 0, commit: 1 });
      c.add(id, s);
    }
    c.get(1).node.campaign();
    c.stabilize();
    expect(c.get(1).node.term).toBe(10);
    expect(c.get(1).node.state).toBe(StateType.Follower);
    // Its next campaign is at a current term and can win.
    c.elect(1);
    expect(c.get(1).node.state).toBe(StateType.Leader);
  });
});

describe('PreVote', () => {
  it('a partitioned node does not increase its term, so it cannot disrupt the leader when it returns', () => {
    // Proves PreVote keeps failed campaigns from bumping the term.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const term = c.get(1).node.term;
    c.partition([3], [1, 2]);
    for (let i = 0; i < 100; i++) {
      c.get(3).node.tick();
      c.stabilize();
    }
    expect(c.get(3).node.term).toBe(term);
    expect(c.get(3).node.state).toBe(StateType.PreCandidate);
    c.heal();
    c.tickAll(3);
    expect(c.get(1).node.state).toBe(StateType.Leader);
    expect(c.get(1).node.term).toBe(term);
  });

  it('without PreVote, the same partition bumps the term and deposes the leader', () => {
    // Proves the previous test depends on PreVote (the contrast case).
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    c.elect(1);
    const term = c.get(1).node.term;
    c.partition([3], [1, 2]);
    for (let i = 0; i < 100; i++) {
      c.get(3).node.tick();
      c.stabilize();
    }
    expect(c.get(3).node.term).toBeGreaterThan(term);
    c.heal();
    c.tickAll(3);
    expect(c.get(1).node.term).toBeGreaterThan(term);
  });

  it('a PreVote with an up-to-date log wins and leads to a real election', () => {
    // Proves PreVote is not an obstacle to a legitimate election.
    const c = new Cluster([1, 2, 3]);
    const n = c.elect(2);
    expect(n.node.state).toBe(StateType.Leader);
    expect(c.sentOfType(MessageType.PreVote).length).toBeGreaterThan(0);
    expect(c.sentOfType(MessageType.Vote).length).toBeGreaterThan(0);
  });
});

describe('CheckQuorum', () => {
  it('a leader that cannot hear from a quorum steps down within an election timeout', () => {
    // Proves leader step-down when quorum is lost.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.partition([1], [2, 3]);
    for (let i = 0; i < 25; i++) {
      c.get(1).node.tick();
      c.stabilize();
    }
    expect(c.get(1).node.state).toBe(StateType.Follower);
  });

  it('a leader that hears from a quorum keeps leading', () => {
    // Proves CheckQuorum does not depose a healthy leader (no spurious step-down).
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.partition([3], [1, 2]);
    c.tickAll(50);
    expect(c.get(1).node.state).toBe(StateType.Leader);
  });

  it('followers inside the lease ignore vote requests from a node that lost contact', () => {
    // Proves the leader lease: a disruptive candidate cannot win while the leader is heard.
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.elect(1);
    c.get(3).node.campaign();
    c.stabilize();
    expect(c.get(1).node.state).toBe(StateType.Leader);
    expect(c.get(3).node.state).not.toBe(StateType.Leader);
  });
});

describe('storage restart', () => {
  it('a node restarted from its storage keeps term, vote and commit', () => {
    // Proves the HardState round-trips through storage.
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.get(1).node.propose(new TextEncoder().encode('a'));
    c.stabilize();
    const before = c.get(2).node.status().hardState;
    const storage: MemoryStorage = c.get(2).storage;
    const n = new RawNode({ id: 2, electionTick: 10, heartbeatTick: 1, storage, rand: new SeededRand(9) });
    expect(n.status().hardState).toEqual(before);
  });
});

describe('campaignNow', () => {
  it('wins at once after the leader is gone, where a PreVote campaign is refused by the lease', () => {
    // Proves campaignNow skips PreVote and the voters' leader lease (as a transfer does), so a survivor
    // that knows the leader's process died needs no election timeout; campaign() cannot do that.
    const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: true });
    c.elect(1);
    c.partition([1], [2, 3]); // the leader is gone
    c.get(2).node.campaign();
    c.stabilize();
    expect(c.leaders()).toEqual([1]); // 3 still holds 1's lease: the PreVote is refused
    c.get(2).node.campaignNow();
    c.stabilize();
    expect(c.get(2).node.state).toBe(StateType.Leader);
    expect(c.get(3).node.status().softState.lead).toBe(2);
  });
});

describe('takeHeartbeats', () => {
  it('hands out a leader heartbeats while a Ready is unpersisted, and never before a new term is durable', () => {
    // Proves a leader whose Ready is held up by a slow disk can still send heartbeats (so followers keep
    // it), that they leave the next Ready, that other messages stay, and that a heartbeat response in a
    // term not yet persisted is withheld.
    const c = new Cluster([1, 2, 3], { checkQuorum: true, heartbeatTick: 1 });
    c.elect(1);
    const leader = c.get(1).node;
    leader.propose(new TextEncoder().encode('x'));
    const rd = leader.ready(); // the disk is "slow": not advanced yet
    expect(rd.entries.length).toBe(1);
    leader.tick();
    const hb = leader.takeHeartbeats();
    expect(hb.map((m) => [m.type, m.to]).sort()).toEqual([
      [MessageType.Heartbeat, 2],
      [MessageType.Heartbeat, 3],
    ]);
    expect(leader.takeHeartbeats()).toEqual([]);
    leader.advance();
    const next = leader.hasReady() ? leader.ready() : null;
    expect(next?.messages.filter((m) => m.type === MessageType.Heartbeat) ?? []).toEqual([]);
    if (next !== null) leader.advance();

    // A follower that learns a new term from a heartbeat must persist it before answering.
    const f = c.get(3).node;
    f.step({ ...hb[1]!, term: hb[1]!.term + 5 });
    expect(f.takeHeartbeats()).toEqual([]);
    const frd = f.ready();
    expect(frd.hardState?.term).toBe(hb[1]!.term + 5);
    expect(frd.messages.some((m) => m.type === MessageType.HeartbeatResp)).toBe(true);
    f.advance();
  });
});
