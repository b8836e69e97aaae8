import { ConfChangeTransition, ConfChangeType, SeededRand } from '@keelson/raft';
import {
  baseSpec,
  CrashPoint,
  makePartition,
  PartitionKind,
  type ScheduleSpec,
  Simulation,
} from '@keelson/raft-sim';
import { describe, expect, it } from 'vitest';

// Scripted scenarios on a calm network: one fault at a time, with the checker judging every step.
// Each ends by healing and demanding that the cluster converges.

const E = 10; // electionTick of every scenario
const spec = (o: Partial<ScheduleSpec> = {}): ScheduleSpec =>
  baseSpec({ nodes: 5, electionTick: E, proposalPermille: 400, readPermille: 150, ...o });

/** Runs until every member of the leader's configuration applied the commit index known now. */
function expectConverges(sim: Simulation): void {
  const target = sim.checker.commitIndex;
  sim.runUntil(
    () => {
      const conf = sim.leader()?.conf;
      if (conf === undefined) return false;
      const members = [...conf.voters, ...conf.learners, ...conf.votersOutgoing];
      return members.every((id) => sim.node(id).sm.appliedIndex >= target);
    },
    50 * E,
    `every member applying ${target}`,
  );
  expect(sim.checker.violation).toBeNull();
}

function voters(sim: Simulation, id: number): number[] {
  return [...sim.node(id).conf.voters].sort((a, b) => a - b);
}

describe('partitions', () => {
  const kinds: [string, PartitionKind][] = [
    ['symmetric', PartitionKind.Symmetric],
    ['asymmetric', PartitionKind.Asymmetric],
    ['isolate-leader', PartitionKind.IsolateLeader],
    ['majority/minority', PartitionKind.MajorityMinority],
    ['bridge', PartitionKind.Bridge],
  ];
  for (const [name, kind] of kinds) {
    // Proves the cluster stays safe through this partition kind and commits again once it heals.
    it(`stays safe through a ${name} partition and recovers`, () => {
      for (const seed of [1, 2, 3]) {
        const sim = new Simulation(spec({ seed }));
        sim.waitForLeader();
        sim.run(3 * E);
        sim.partition(kind);
        sim.run(20 * E);
        sim.healNetwork();
        const before = sim.checker.commitIndex;
        sim.runUntil(() => sim.checker.commitIndex > before + 5, 30 * E, 'commits after the heal');
        expectConverges(sim);
      }
    });
  }

  // Proves an isolated leader is replaced by a leader among the others, which keeps committing.
  it('replaces an isolated leader', () => {
    const sim = new Simulation(spec({ seed: 7 }));
    const old = sim.waitForLeader().id;
    sim.partition(PartitionKind.IsolateLeader);
    sim.runUntil(() => (sim.leader()?.id ?? old) !== old, 20 * E, 'a new leader');
    const before = sim.checker.commitIndex;
    sim.run(5 * E);
    expect(sim.checker.commitIndex).toBeGreaterThan(before);
    sim.healNetwork();
    expectConverges(sim);
  });

  // Proves the majority side of a majority/minority split keeps committing during the split.
  it('keeps committing on the majority side', () => {
    const sim = new Simulation(spec({ seed: 8 }));
    sim.waitForLeader();
    sim.partition(PartitionKind.MajorityMinority);
    sim.run(10 * E);
    const before = sim.checker.commitIndex;
    sim.run(10 * E);
    expect(sim.checker.commitIndex).toBeGreaterThan(before);
    sim.healNetwork();
    expectConverges(sim);
  });
});

describe('crashes', () => {
  // Proves a crashed leader is replaced, and that it catches up after restarting from its disk.
  it('survives a leader crash', () => {
    const sim = new Simulation(spec({ seed: 11 }));
    sim.waitForLeader();
    sim.run(5 * E);
    const old = sim.leader()!.id;
    sim.crash(old);
    sim.runUntil(() => sim.leader() !== null && sim.leader()!.id !== old, 20 * E, 'a new leader');
    sim.run(5 * E);
    sim.restart(old);
    expectConverges(sim);
  });

  const points: [string, CrashPoint][] = [
    ['before persisting', CrashPoint.BeforePersist],
    ['after persisting, before sending', CrashPoint.AfterPersist],
    ['after sending, before applying', CrashPoint.AfterSend],
  ];
  for (const [name, point] of points) {
    // Proves a crash at this point of the Ready loop loses nothing committed, on leader and follower.
    it(`survives crashes ${name}`, () => {
      const sim = new Simulation(spec({ seed: 12 + point }));
      for (let round = 0; round < 6; round++) {
        const leader = sim.waitForLeader();
        const victim =
          round % 2 === 0
            ? leader.id
            : (sim.cluster.runningNodes().find((n) => n !== leader)?.id ?? leader.id);
        sim.crash(victim, point);
        sim.runUntil(() => sim.node(victim).crashed, 5 * E, 'the armed crash');
        sim.run(3 * E);
        sim.restart(victim);
        sim.run(2 * E);
      }
      expectConverges(sim);
    });
  }

  // Proves a whole-cluster crash and restart keeps every committed entry.
  it('survives a crash of every node', () => {
    const sim = new Simulation(spec({ seed: 13, nodes: 3 }));
    sim.waitForLeader();
    sim.run(10 * E);
    const committed = sim.checker.commitIndex;
    for (const id of [1, 2, 3]) sim.crash(id);
    for (const id of [1, 2, 3]) sim.restart(id);
    sim.waitForLeader();
    expectConverges(sim);
    expect(sim.checker.commitIndex).toBeGreaterThanOrEqual(committed);
  });
});

describe('membership', () => {
  // Proves a leader can remove itself: a new leader takes over in the smaller configuration.
  it('lets the leader remove itself', () => {
    const sim = new Simulation(spec({ seed: 21 }));
    const old = sim.waitForLeader().id;
    sim.run(3 * E);
    expect(sim.proposeConfChange([{ type: ConfChangeType.RemoveNode, nodeId: old }])).toBe(true);
    sim.runUntil(
      () => {
        const l = sim.leader();
        return l !== null && l.id !== old && !l.conf.voters.includes(old);
      },
      30 * E,
      'a leader of the configuration without the old leader',
    );
    const newLeader = sim.leader()!.id;
    expect(voters(sim, newLeader)).toHaveLength(4);
    expectConverges(sim);
  });

  // Proves a joint change (replace a voter, explicit leave) passes through C_old,new to C_new safely.
  it('replaces a voter through an explicit joint configuration', () => {
    const sim = new Simulation(spec({ seed: 22, nodes: 3 }));
    sim.waitForLeader();
    const fresh = sim.addNode().id;
    expect(
      sim.proposeConfChange(
        [
          { type: ConfChangeType.AddNode, nodeId: fresh },
          { type: ConfChangeType.RemoveNode, nodeId: 3 },
        ],
        ConfChangeTransition.JointExplicit,
      ),
    ).toBe(true);
    sim.runUntil(() => (sim.leader()?.conf.votersOutgoing.length ?? 0) > 0, 20 * E, 'the joint config');
    const joint = sim.leader()!.conf;
    expect([...joint.voters].sort()).toEqual([1, 2, fresh].sort());
    expect([...joint.votersOutgoing].sort()).toEqual([1, 2, 3]);
    sim.run(2 * E);
    expect(sim.proposeConfChange([])).toBe(true);
    sim.runUntil(() => sim.leader()?.conf.votersOutgoing.length === 0, 20 * E, 'leaving the joint config');
    expect(voters(sim, sim.leader()!.id)).toEqual([1, 2, fresh].sort());
    expectConverges(sim);
    expect(sim.node(fresh).sm.appliedIndex).toBeGreaterThan(1);
  });

  // Proves a learner can be added, catches up without voting, and can then be promoted.
  it('adds a learner and promotes it', () => {
    const sim = new Simulation(spec({ seed: 23, nodes: 3 }));
    sim.waitForLeader();
    const fresh = sim.addNode().id;
    sim.proposeConfChange([{ type: ConfChangeType.AddLearnerNode, nodeId: fresh }]);
    sim.runUntil(() => sim.node(fresh).conf.learners.includes(fresh), 30 * E, 'the learner to catch up');
    sim.run(2 * E);
    expect(sim.proposeConfChange([{ type: ConfChangeType.AddNode, nodeId: fresh }])).toBe(true);
    sim.runUntil(() => sim.leader()?.conf.voters.includes(fresh) === true, 20 * E, 'the promotion');
    expectConverges(sim);
  });
});

describe('leadership transfer', () => {
  // Proves a transfer hands leadership to the chosen voter.
  it('moves leadership to the transferee', () => {
    const sim = new Simulation(spec({ seed: 31 }));
    const old = sim.waitForLeader().id;
    sim.run(3 * E);
    const target = old === 5 ? 4 : 5;
    sim.transferLeader(target);
    sim.runUntil(() => sim.isLeader(target), 5 * E, `node ${target} leading`);
    expectConverges(sim);
  });
});

describe('snapshots', () => {
  // Proves a follower that fell behind a compacted log catches up by installing a snapshot.
  it('catches a lagging follower up with a snapshot', () => {
    const sim = new Simulation(spec({ seed: 41, compactEvery: 8, proposalPermille: 1500 }));
    const leader = sim.waitForLeader().id;
    const lagging = leader === 1 ? 2 : 1;
    // Cut the follower off (an isolate partition centred on it), let the others move on and compact.
    const p = makePartition(PartitionKind.IsolateLeader, sim.cluster.liveIds(), lagging, new SeededRand(1))!;
    sim.setPartition(p);
    sim.run(30 * E);
    const restoredBefore = sim.stats.snapshotsRestored;
    expect(sim.node(leader).storage.firstIndex()).toBeGreaterThan(sim.node(lagging).sm.appliedIndex + 1);
    sim.healNetwork();
    expectConverges(sim);
    expect(sim.stats.snapshotsRestored).toBeGreaterThan(restoredBefore);
  });
});
