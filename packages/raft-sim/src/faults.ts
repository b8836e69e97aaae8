// The fault scheduler of the fault phase: partitions come and go, nodes crash (at any point of the
// Ready loop) and restart, pause and resume; the leader is asked to change the membership and to
// hand leadership over. Every choice comes from the seeded fault stream.
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  RaftError,
} from '@keelson/raft';
import { type Cluster, Ev } from './cluster.js';
import { makePartition } from './network.js';
import type { SimNode } from './node.js';
import { CRASH_POINT_LIST, CrashPoint, MAX_NODES, PARTITION_KIND_LIST } from './spec.js';
import { encodeConfContext } from './state_machine.js';

/** Upper bound on nodes that exist at once (members plus nodes still waiting to join). */
export const MAX_SIM_NODES = 10;

type ChangeKind =
  | 'add-voter'
  | 'add-learner'
  | 'promote'
  | 'remove-learner'
  | 'remove-voter'
  | 'demote'
  | 'replace-voter'
  | 'promote-and-remove'
  | 'demote-and-add';

export class Faults {
  private partitionUntil = 0;
  private nextConfId = 1;

  constructor(private readonly c: Cluster) {}

  private get rand() {
    return this.c.rands.fault;
  }

  private permille(p: number): boolean {
    return p > 0 && this.rand.intn(1000) < p;
  }

  /** One step of the fault phase. */
  step(): void {
    const spec = this.c.spec;
    this.c.voteCrashes = spec.crashPermille > 0;
    this.partitions();
    this.restartsAndResumes();
    if (this.permille(spec.crashPermille)) this.crashSomeone();
    if (this.permille(spec.pausePermille)) this.pauseSomeone();
    if (this.permille(spec.confChangePermille)) this.changeMembership();
    if (this.permille(spec.transferPermille)) this.transferLeadership();
    this.retireRemoved(false);
  }

  /** Ends every fault: the network heals, crashed nodes restart, paused nodes resume. */
  healAll(): void {
    this.c.voteCrashes = false;
    const net = this.c.network;
    if (net.currentPartition() !== null) this.healPartition();
    // Liveness needs message round trips well inside the election timeout (Raft's timing
    // requirement): at most one step of delay, and none when the election timeout is tiny.
    const delay = this.c.spec.electionTick < 4 ? 0 : Math.min(1, this.c.spec.maxDelaySteps);
    net.setRates({ dropPermille: 0, dupPermille: 0, maxDelaySteps: delay });
    for (const n of this.c.nodes.values()) {
      n.crashArmed = 0;
      if (n.crashed) this.c.restart(n);
      if (n.paused) this.c.resume(n);
    }
  }

  private partitions(): void {
    const { c } = this;
    if (c.network.currentPartition() !== null) {
      if (c.now >= this.partitionUntil) this.healPartition();
      return;
    }
    if (!this.permille(c.spec.partitionPermille)) return;
    const kinds = PARTITION_KIND_LIST.filter((k) => (c.spec.partitionKinds & k) !== 0);
    if (kinds.length === 0) return;
    const kind = this.rand.pick(kinds);
    const p = makePartition(kind, c.liveIds(), c.leader()?.id ?? 0, this.rand);
    if (p === null) return;
    c.network.setPartition(p);
    this.partitionUntil = c.now + c.spec.electionTick + this.rand.intn(8 * c.spec.electionTick);
    c.stats.partitions++;
    c.trace.event(Ev.Partition, kind, p.cut.size, this.partitionUntil);
    if (c.trace.keep) c.line(`PARTITION ${p.description} until step ${this.partitionUntil}`);
    c.emitEvent('partition', 0, `network partition: ${p.description}`);
  }

  private healPartition(): void {
    const { c } = this;
    c.network.setPartition(null);
    c.trace.event(Ev.PartitionHealed);
    if (c.trace.keep) c.line('partition healed');
    c.emitEvent('partition-healed', 0, 'the partition healed');
  }

  private restartsAndResumes(): void {
    for (const n of this.c.nodes.values()) {
      if (n.crashed && this.c.now >= n.crashedUntil) this.c.restart(n);
      else if (n.paused && this.c.now >= n.pausedUntil) this.c.resume(n);
    }
  }

  private crashSomeone(): void {
    const points = CRASH_POINT_LIST.filter((p) => (this.c.spec.crashPoints & p) !== 0);
    const running = this.c.runningNodes().filter((n) => n.crashArmed === 0);
    if (points.length === 0 || running.length === 0) return;
    const point = this.rand.pick(points);
    const leader = this.c.leader();
    // Leaders crash more often than their share: that is where the interesting recoveries are.
    const victim =
      leader !== null && leader.crashArmed === 0 && this.rand.intn(3) === 0
        ? leader
        : this.rand.pick(running);
    if (point === CrashPoint.Idle) this.c.crash(victim, point);
    else victim.crashArmed = point;
  }

  private pauseSomeone(): void {
    const running = this.c.runningNodes();
    if (running.length === 0) return;
    const victim = this.rand.pick(running);
    this.c.pause(victim, this.c.now + 1 + this.rand.intn(4 * this.c.spec.electionTick));
  }

  // ---- membership ----

  private changeMembership(): void {
    const leader = this.c.leader();
    if (leader === null) return;
    const conf = leader.conf;
    const context = encodeConfContext(this.nextConfId++);
    const fresh: SimNode[] = [];
    let cc: ConfChange | null;
    if (conf.votersOutgoing.length > 0) {
      // A joint config must be left before anything else changes; with autoLeave the leader does it.
      cc = conf.autoLeave ? null : { transition: ConfChangeTransition.Auto, changes: [], context };
    } else {
      cc = this.pickChange(conf, context, fresh);
    }
    if (cc === null) return;
    this.proposeConfChange(leader, cc, fresh);
  }

  private proposeConfChange(leader: SimNode, cc: ConfChange, fresh: SimNode[]): void {
    const { c } = this;
    // Mostly through the leader; sometimes through a follower, which forwards it.
    const running = c.runningNodes();
    const via = this.rand.intn(5) === 0 && running.length > 0 ? this.rand.pick(running) : leader;
    const text = describeChange(cc, leader.conf);
    c.stats.confChangesProposed++;
    c.trace.event(Ev.ConfChange, via.id, cc.transition, cc.changes.length, cc.changes[0]?.nodeId ?? 0);
    if (c.trace.keep) c.line(`n${via.id} propose conf change: ${text}`);
    try {
      via.raw?.proposeConfChange(cc);
      c.emitEvent('conf-change', via.id, `membership change proposed: ${text}`);
    } catch (err) {
      if (!(err instanceof RaftError && err.code === 'ProposalDropped')) {
        c.coreError(via.id, 'proposeConfChange', err);
      }
      c.stats.confChangesRefused++;
      // Nodes created for a refused change would wait forever: shut them down again.
      for (const n of fresh) c.retire(n);
    }
  }

  private pickChange(conf: ConfState, context: Uint8Array, fresh: SimNode[]): ConfChange | null {
    const { voters, learners } = conf;
    const canAdd = voters.length + learners.length < MAX_NODES && this.c.liveIds().length < MAX_SIM_NODES;
    const kinds: ChangeKind[] = [];
    // Grow and shrink around the initial size, so that runs keep exercising larger quorums too.
    const target = Math.max(3, this.c.spec.nodes);
    const grow = voters.length < target;
    const shrink = voters.length > target;
    if (canAdd) kinds.push('add-voter', 'add-learner');
    if (canAdd && grow) kinds.push('add-voter', 'add-voter');
    if (learners.length > 0) kinds.push('promote', 'remove-learner');
    if (learners.length > 0 && grow) kinds.push('promote');
    if (voters.length > 1) kinds.push('remove-voter', 'demote');
    if (voters.length > 1 && shrink) kinds.push('remove-voter', 'remove-voter');
    if (canAdd && voters.length > 0) kinds.push('replace-voter');
    if (learners.length > 0 && voters.length > 1) kinds.push('promote-and-remove');
    if (canAdd && voters.length > 1) kinds.push('demote-and-add');
    if (kinds.length === 0) return null;
    const r = this.rand;
    const kind = r.pick(kinds);
    const newId = (): number => {
      const n = this.c.addFreshNode();
      fresh.push(n);
      return n.id;
    };
    const ch = (type: ConfChangeType, nodeId: number): ConfChangeSingle => ({ type, nodeId });
    const { AddNode, AddLearnerNode, RemoveNode } = ConfChangeType;
    let changes: ConfChangeSingle[];
    switch (kind) {
      case 'add-voter':
        changes = [ch(AddNode, newId())];
        break;
      case 'add-learner':
        changes = [ch(AddLearnerNode, newId())];
        break;
      case 'promote':
        changes = [ch(AddNode, r.pick(learners))];
        break;
      case 'remove-learner':
        changes = [ch(RemoveNode, r.pick(learners))];
        break;
      case 'remove-voter':
        changes = [ch(RemoveNode, r.pick(voters))];
        break;
      case 'demote':
        changes = [ch(AddLearnerNode, r.pick(voters))];
        break;
      case 'replace-voter':
        changes = [ch(AddNode, newId()), ch(RemoveNode, r.pick(voters))];
        break;
      case 'promote-and-remove':
        changes = [ch(AddNode, r.pick(learners)), ch(RemoveNode, r.pick(voters))];
        break;
      case 'demote-and-add':
        changes = [ch(AddLearnerNode, r.pick(voters)), ch(AddNode, newId())];
        break;
    }
    // One change may go through a joint config too; several always do (Auto means JointImplicit then).
    const transition = r.pick([
      ConfChangeTransition.Auto,
      ConfChangeTransition.Auto,
      ConfChangeTransition.JointImplicit,
      ConfChangeTransition.JointExplicit,
    ]);
    return { transition, changes, context };
  }

  /**
   * Shuts down nodes that were members but are not in the newest committed configuration: in the
   * fault phase now and then, in the liveness phase at once. Ids are never reused and a leader only
   * proposes changes against the newest configuration, so such a node is never needed as a member
   * again. Like a careful operator, the simulator waits until every voter of that configuration
   * has applied it: a survivor that has not may still need the removed node's vote (or the commit
   * index it can tell) to elect a leader.
   */
  retireRemoved(always: boolean): void {
    const { latestConf: conf, latestConfIndex } = this.c;
    if (latestConfIndex === 0) return;
    const voters = [...conf.voters, ...conf.votersOutgoing];
    if (!voters.every((id) => (this.c.nodes.get(id)?.sm.appliedIndex ?? 0) >= latestConfIndex)) return;
    const member = (id: number): boolean =>
      voters.includes(id) || conf.learners.includes(id) || conf.learnersNext.includes(id);
    for (const n of this.c.nodes.values()) {
      if (n.retired || !n.wasMember || member(n.id)) continue;
      if (always || this.rand.intn(50) === 0) this.c.retire(n);
    }
  }

  // ---- leadership transfer ----

  private transferLeadership(): void {
    const { c } = this;
    const leader = c.leader();
    if (leader === null) return;
    const others = leader.conf.voters.filter((id) => id !== leader.id);
    const x = this.rand.intn(10);
    let target: number;
    // Mostly a real voter; sometimes the leader itself, a learner or a stranger, which must be ignored.
    if (x < 8 && others.length > 0) target = this.rand.pick(others);
    else if (x < 9) target = leader.id;
    else target = leader.conf.learners[0] ?? c.nextNodeId + 1000;
    const running = c.runningNodes();
    const via = this.rand.intn(5) === 0 && running.length > 0 ? this.rand.pick(running) : leader;
    c.stats.transfers++;
    c.trace.event(Ev.Transfer, via.id, target);
    if (c.trace.keep) c.line(`n${via.id} transfer leadership to ${target}`);
    const note =
      target === leader.id
        ? ' (it already leads: a no-op)'
        : others.includes(target)
          ? ''
          : ' (not a voter: must be ignored)';
    c.emitEvent(
      'transfer',
      via.id,
      `leadership transfer from node ${leader.id} to node ${target} requested${note}`,
    );
    try {
      via.raw?.transferLeader(target);
    } catch (err) {
      if (!(err instanceof RaftError && err.code === 'ProposalDropped'))
        c.coreError(via.id, 'transferLeader', err);
    }
  }
}

/** A change in words; with the configuration it applies to, promotions and demotions are named. */
export function describeChange(cc: ConfChange, conf?: ConfState): string {
  if (cc.changes.length === 0) return 'leave the joint configuration';
  const how: Record<ConfChangeTransition, string> = {
    [ConfChangeTransition.Auto]: cc.changes.length > 1 ? ' (joint, auto-leave)' : '',
    [ConfChangeTransition.JointImplicit]: ' (joint, auto-leave)',
    [ConfChangeTransition.JointExplicit]: ' (joint, explicit leave)',
  };
  const one = (x: ConfChangeSingle): string => {
    const voter = conf?.voters.includes(x.nodeId) === true;
    const learner = conf?.learners.includes(x.nodeId) === true;
    switch (x.type) {
      case ConfChangeType.AddNode:
        return learner ? `promote learner ${x.nodeId}` : `add voter ${x.nodeId}`;
      case ConfChangeType.AddLearnerNode:
        return voter ? `demote voter ${x.nodeId} to learner` : `add learner ${x.nodeId}`;
      case ConfChangeType.RemoveNode:
        return `remove ${voter ? 'voter' : learner ? 'learner' : 'node'} ${x.nodeId}`;
    }
  };
  return cc.changes.map(one).join(' + ') + how[cc.transition];
}
