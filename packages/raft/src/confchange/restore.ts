// Rebuilds a configuration from a ConfState (a snapshot's or the initial one), modelled on
// etcd-io/raft's confchange.Restore: it replays changes through the Changer, so a restored config
// passes the same validation as one built change by change.
import { emptyTrackerConfig } from '../tracker/tracker.js';
import type { ConfChangeSingle, ConfState } from '../types.js';
import { ConfChangeType } from '../types.js';
import { Changer, type ChangerTracker, type ConfigAndProgress } from './changer.js';

/**
 * The changes that rebuild cs from an empty config: `outgoing` builds the outgoing voters as a
 * plain config, then `incoming`, applied while entering the joint config, turns it into cs.
 *
 * For voters=(1 2 3) learners=(5) outgoing=(1 2 4 6) learnersNext=(4) they are
 * outgoing: add 1, add 2, add 4, add 6; incoming: remove 1, 2, 4, 6; add 1, 2, 3; add-learner 5, 4.
 * Whether 5 was a learner before the joint config cannot be told and does not matter.
 */
export function toConfChangeSingles(cs: ConfState): {
  outgoing: ConfChangeSingle[];
  incoming: ConfChangeSingle[];
} {
  const single = (type: ConfChangeType, nodeId: number): ConfChangeSingle => ({ type, nodeId });
  const outgoing = cs.votersOutgoing.map((id) => single(ConfChangeType.AddNode, id));
  const incoming = [
    ...cs.votersOutgoing.map((id) => single(ConfChangeType.RemoveNode, id)),
    ...cs.voters.map((id) => single(ConfChangeType.AddNode, id)),
    ...cs.learners.map((id) => single(ConfChangeType.AddLearnerNode, id)),
    // Outgoing voters to become learners: adding them as learners while joint stages them.
    ...cs.learnersNext.map((id) => single(ConfChangeType.AddLearnerNode, id)),
  ];
  return { outgoing, incoming };
}

/**
 * The config and progress described by cs, built from an empty configuration. Only the changer's
 * lastIndex and inflight limits are used: like etcd, whose callers always pass a fresh tracker, the
 * result depends on cs alone and every peer gets a new Progress.
 */
export function restore(changer: Changer, cs: ConfState): ConfigAndProgress {
  const { outgoing, incoming } = toConfChangeSingles(cs);
  let state: ChangerTracker = {
    config: emptyTrackerConfig(),
    progress: new Map(),
    maxInflight: changer.tracker.maxInflight,
    maxInflightBytes: changer.tracker.maxInflightBytes,
  };
  let result: ConfigAndProgress = { config: state.config, progress: new Map() };
  const step = (op: (c: Changer) => ConfigAndProgress): void => {
    result = op(new Changer(state, changer.lastIndex));
    state = { ...state, config: result.config, progress: result.progress };
  };
  if (outgoing.length === 0) {
    // Not joint: one voter or learner at a time, each a valid simple change.
    for (const cc of incoming) step((c) => c.simple([cc]));
  } else {
    // Joint: build the outgoing voters as a plain config, then enter the joint config, which
    // rotates them into the outgoing half and applies the incoming changes.
    for (const cc of outgoing) step((c) => c.simple([cc]));
    step((c) => c.enterJoint(cs.autoLeave, incoming));
  }
  return result;
}

/** Whether two ConfStates describe the same configuration, ignoring the order of ids. */
export function confStatesEquivalent(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly number[], y: readonly number[]): boolean => {
    const sx = [...new Set(x)].sort((p, q) => p - q);
    const sy = [...new Set(y)].sort((p, q) => p - q);
    return sx.length === sy.length && sx.every((v, i) => v === sy[i]);
  };
  return (
    same(a.voters, b.voters) &&
    same(a.learners, b.learners) &&
    same(a.votersOutgoing, b.votersOutgoing) &&
    same(a.learnersNext, b.learnersNext) &&
    a.autoLeave === b.autoLeave
  );
}
