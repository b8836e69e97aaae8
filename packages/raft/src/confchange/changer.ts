// Membership changes, modelled on etcd-io/raft's confchange.Changer: validates a change against the
// current configuration and computes the next configuration and progress map, never touching the
// tracker's own. The caller switches to the result once the change entry is applied.
import { assert, RaftError } from '../errors.js';
import { JointConfig } from '../quorum/joint.js';
import { MajorityConfig } from '../quorum/majority.js';
import { Inflights } from '../tracker/inflights.js';
import { Progress } from '../tracker/progress.js';
import type { TrackerConfig } from '../tracker/tracker.js';
import { type ConfChange, type ConfChangeSingle, ConfChangeTransition, ConfChangeType } from '../types.js';

/** What the Changer reads from the tracker; a ProgressTracker is one. */
export interface ChangerTracker {
  readonly config: TrackerConfig;
  readonly progress: ReadonlyMap<number, Progress>;
  readonly maxInflight: number;
  readonly maxInflightBytes: number;
}

/** A new configuration with its progress map, ready to replace the tracker's. */
export interface ConfigAndProgress {
  config: TrackerConfig;
  progress: Map<number, Progress>;
}

/** The configuration being built by one change; every set is a private copy. */
interface Draft {
  incoming: Set<number>;
  outgoing: Set<number>;
  learners: Set<number>;
  learnersNext: Set<number>;
  autoLeave: boolean;
  progress: Map<number, Progress>;
  /** Ids whose Progress in `progress` is a private copy or new, and so may be mutated. */
  owned: Set<number>;
}

export class Changer {
  readonly tracker: ChangerTracker;
  /** The leader's last log index; new peers are first probed there. */
  readonly lastIndex: number;

  constructor(tracker: ChangerTracker, lastIndex: number) {
    this.tracker = tracker;
    this.lastIndex = lastIndex;
  }

  /**
   * Enters a joint configuration: the current voters become the outgoing half, and `ccs` applied
   * to them give the incoming half. With autoLeave, the leader leaves it once it is committed.
   */
  enterJoint(autoLeave: boolean, ccs: readonly ConfChangeSingle[]): ConfigAndProgress {
    const d = this.checkAndCopy();
    if (d.outgoing.size > 0) throw invalid('config is already joint');
    // An empty config may be populated by simple changes (bootstrap, tests) but has no quorum to
    // carry a joint config.
    if (d.incoming.size === 0) throw invalid("can't make a zero-voter config joint");
    d.outgoing = new Set(d.incoming);
    this.apply(d, ccs);
    d.autoLeave = autoLeave;
    return finish(d);
  }

  /** Leaves the joint configuration: the outgoing half is dropped and staged learners become learners. */
  leaveJoint(): ConfigAndProgress {
    const d = this.checkAndCopy();
    if (d.outgoing.size === 0) throw invalid("can't leave a non-joint config");
    for (const id of d.learnersNext) {
      d.learners.add(id);
      ownedProgress(d, id).isLearner = true;
    }
    d.learnersNext.clear();
    for (const id of d.outgoing) {
      if (!d.incoming.has(id) && !d.learners.has(id)) dropProgress(d, id);
    }
    d.outgoing.clear();
    d.autoLeave = false;
    return finish(d);
  }

  /**
   * Applies changes that alter at most one voter without a joint config: with a single voter
   * changed, any majority of the old config overlaps any majority of the new one.
   */
  simple(ccs: readonly ConfChangeSingle[]): ConfigAndProgress {
    const d = this.checkAndCopy();
    if (d.outgoing.size > 0) throw invalid("can't apply simple config change in joint config");
    this.apply(d, ccs);
    if (symmetricDifferenceSize(this.tracker.config.voters.incoming.ids, d.incoming) > 1) {
      throw invalid('more than one voter changed without entering joint config');
    }
    return finish(d);
  }

  private checkAndCopy(): Draft {
    const { config, progress } = this.tracker;
    assertConfigInvariants(config, progress);
    return {
      incoming: new Set(config.voters.incoming.ids),
      outgoing: new Set(config.voters.outgoing.ids),
      learners: new Set(config.learners),
      learnersNext: new Set(config.learnersNext),
      autoLeave: config.autoLeave,
      progress: new Map(progress),
      owned: new Set(),
    };
  }

  private apply(d: Draft, ccs: readonly ConfChangeSingle[]): void {
    for (const cc of ccs) {
      if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId < 0) throw invalid(`invalid node id ${cc.nodeId}`);
      // The application may zero a change's node id to veto it (etcd does); skip those.
      if (cc.nodeId === 0) continue;
      if (cc.type === ConfChangeType.AddNode) this.makeVoter(d, cc.nodeId);
      else if (cc.type === ConfChangeType.AddLearnerNode) this.makeLearner(d, cc.nodeId);
      else if (cc.type === ConfChangeType.RemoveNode) remove(d, cc.nodeId);
      else throw invalid(`unexpected conf change type ${String(cc.type)}`);
    }
    if (d.incoming.size === 0) throw invalid('removed all voters');
  }

  private makeVoter(d: Draft, id: number): void {
    const pr = d.progress.get(id);
    if (pr === undefined) {
      this.initProgress(d, id, false);
      return;
    }
    if (pr.isLearner) ownedProgress(d, id).isLearner = false;
    d.learners.delete(id);
    d.learnersNext.delete(id);
    d.incoming.add(id);
  }

  private makeLearner(d: Draft, id: number): void {
    const pr = d.progress.get(id);
    if (pr === undefined) {
      this.initProgress(d, id, true);
      return;
    }
    if (pr.isLearner) return;
    // Remove the voter from the incoming config but keep its Progress: it stays a peer.
    remove(d, id);
    d.progress.set(id, pr);
    // A voter of the outgoing config is still a voter until the joint config is left, and a node
    // is never both; stage it in learnersNext instead.
    if (d.outgoing.has(id)) {
      d.learnersNext.add(id);
    } else {
      ownedProgress(d, id).isLearner = true;
      d.learners.add(id);
    }
  }

  private initProgress(d: Draft, id: number, isLearner: boolean): void {
    if (isLearner) d.learners.add(id);
    else d.incoming.add(id);
    // Probing from the last index is optimistic (a new peer likely needs a snapshot) but costs
    // only one rejected probe when wrong.
    const inflights = new Inflights(this.tracker.maxInflight, this.tracker.maxInflightBytes);
    const pr = new Progress(Math.max(this.lastIndex, 1), inflights, isLearner);
    // A new peer counts as active, so that CheckQuorum does not depose the leader before the
    // peer had a chance to answer.
    pr.recentActive = true;
    d.progress.set(id, pr);
    d.owned.add(id);
  }
}

function remove(d: Draft, id: number): void {
  if (!d.progress.has(id)) return;
  d.incoming.delete(id);
  d.learners.delete(id);
  d.learnersNext.delete(id);
  // A voter of the outgoing config still needs its Progress until the joint config is left.
  if (!d.outgoing.has(id)) dropProgress(d, id);
}

function dropProgress(d: Draft, id: number): void {
  d.progress.delete(id);
  d.owned.delete(id);
}

/** The draft's Progress for id, copied first if it is still the tracker's. */
function ownedProgress(d: Draft, id: number): Progress {
  const pr = d.progress.get(id);
  assert(pr !== undefined, () => `no progress for ${id}`);
  if (d.owned.has(id)) return pr;
  const copy = pr.clone();
  d.progress.set(id, copy);
  d.owned.add(id);
  return copy;
}

function finish(d: Draft): ConfigAndProgress {
  const config: TrackerConfig = {
    voters: new JointConfig(new MajorityConfig(d.incoming), new MajorityConfig(d.outgoing)),
    autoLeave: d.autoLeave,
    learners: d.learners,
    learnersNext: d.learnersNext,
  };
  assertConfigInvariants(config, d.progress);
  return { config, progress: d.progress };
}

function symmetricDifferenceSize(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n++;
  for (const id of b) if (!a.has(id)) n++;
  return n;
}

function invalid(message: string): RaftError {
  return new RaftError('InvalidConfChange', message);
}

/**
 * Asserts the invariants of a configuration and its progress map: every member has a Progress and
 * every Progress a member; a learner is never a voter; staged learners are outgoing voters; and a
 * non-joint config stages nothing and does not auto-leave. The empty config is valid (bootstrap).
 */
export function assertConfigInvariants(cfg: TrackerConfig, progress: ReadonlyMap<number, Progress>): void {
  const { incoming, outgoing } = cfg.voters;
  const isVoter = (id: number): boolean => incoming.ids.has(id) || outgoing.ids.has(id);
  for (const [id, pr] of progress) {
    const member = isVoter(id) || cfg.learners.has(id) || cfg.learnersNext.has(id);
    assert(member, () => `progress for ${id}, which is not in the config`);
    assert(pr.isLearner === cfg.learners.has(id), () => `${id} has isLearner=${pr.isLearner}`);
  }
  for (const id of cfg.voters.ids()) assert(progress.has(id), () => `no progress for voter ${id}`);
  for (const id of cfg.learners) {
    assert(progress.has(id), () => `no progress for learner ${id}`);
    assert(!isVoter(id), () => `${id} is both a learner and a voter`);
  }
  for (const id of cfg.learnersNext) {
    assert(progress.has(id), () => `no progress for staged learner ${id}`);
    assert(outgoing.ids.has(id), () => `${id} is in learnersNext but not an outgoing voter`);
  }
  if (!cfg.voters.isJoint()) {
    assert(cfg.learnersNext.size === 0, 'learnersNext set but config not joint');
    assert(!cfg.autoLeave, 'autoLeave set but config not joint');
  }
}

/**
 * Whether applying cc enters a joint config, and whether that config is left automatically (as
 * etcd's ConfChangeV2.EnterJoint). More than one change always uses a joint config: whether a
 * simple change would be safe depends on the config it lands on, and joint is always safe.
 */
export function confChangeEnterJoint(cc: ConfChange): { autoLeave: boolean; ok: boolean } {
  if (cc.transition === ConfChangeTransition.Auto && cc.changes.length <= 1) {
    return { autoLeave: false, ok: false };
  }
  switch (cc.transition) {
    case ConfChangeTransition.Auto:
    case ConfChangeTransition.JointImplicit:
      return { autoLeave: true, ok: true };
    case ConfChangeTransition.JointExplicit:
      return { autoLeave: false, ok: true };
    default:
      throw invalid(`unknown conf change transition ${String(cc.transition)}`);
  }
}

/** Whether cc is the empty change that means "leave the joint config" (its context is ignored). */
export function confChangeLeaveJoint(cc: ConfChange): boolean {
  return cc.transition === ConfChangeTransition.Auto && cc.changes.length === 0;
}
