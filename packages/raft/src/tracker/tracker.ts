// The leader's view of the whole configuration, modelled on etcd-io/raft's tracker.ProgressTracker:
// who votes, where each peer's log is, and the votes of an election in progress.
import { JointConfig } from '../quorum/joint.js';
import { type AckedIndexer, MajorityConfig, VoteResult } from '../quorum/majority.js';
import type { ConfState } from '../types.js';
import type { Progress } from './progress.js';

/**
 * The membership configuration as the leader tracks it.
 * Invariants: learners ∩ voters.ids() = ∅; learnersNext ⊆ voters.outgoing.ids; learnersNext and
 * autoLeave are empty/false unless the config is joint.
 */
export interface TrackerConfig {
  voters: JointConfig;
  /** Leave the joint config automatically once it is committed. */
  autoLeave: boolean;
  learners: Set<number>;
  /**
   * Voters of the outgoing config that will become learners when the joint config is left. They
   * cannot be learners yet: a node is never a voter and a learner at the same time.
   */
  learnersNext: Set<number>;
}

export function emptyTrackerConfig(): TrackerConfig {
  return {
    voters: new JointConfig(new MajorityConfig(), new MajorityConfig()),
    autoLeave: false,
    learners: new Set(),
    learnersNext: new Set(),
  };
}

/** etcd's rendering, e.g. `voters=(1 2 3)&&(1 2) learners=(4) learners_next=(3) autoleave`. */
export function trackerConfigString(cfg: TrackerConfig): string {
  let s = `voters=${cfg.voters}`;
  if (cfg.learners.size > 0) s += ` learners=${new MajorityConfig(cfg.learners)}`;
  if (cfg.learnersNext.size > 0) s += ` learners_next=${new MajorityConfig(cfg.learnersNext)}`;
  if (cfg.autoLeave) s += ' autoleave';
  return s;
}

export interface VoteTally {
  granted: number;
  rejected: number;
  result: VoteResult;
}

export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress: Map<number, Progress> = new Map();
  votes: Map<number, boolean> = new Map();
  /** Append messages in flight per peer, handed to every new peer's Inflights. */
  readonly maxInflight: number;
  /** Bytes in flight per peer; 0 means unbounded. */
  readonly maxInflightBytes: number;

  /** Reads match from whatever progress map is current; built once so committed() allocates nothing. */
  private readonly matchIndexer: AckedIndexer = (id) => this.progress.get(id)?.match;
  /** visit()'s sorted ids, valid while the progress map and its key set are unchanged. */
  private sortedIds: number[] = [];
  private sortedIdsOf: Map<number, Progress> | null = null;
  /** Reused by quorumActive(). */
  private readonly activeScratch = new Map<number, boolean>();

  constructor(maxInflight: number, maxInflightBytes: number) {
    this.maxInflight = maxInflight;
    this.maxInflightBytes = maxInflightBytes;
  }

  /** The configuration as a ConfState, every list sorted. */
  confState(): ConfState {
    return {
      voters: this.config.voters.incoming.slice(),
      votersOutgoing: this.config.voters.outgoing.slice(),
      learners: sortedIds(this.config.learners),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  /** A single voter and no joint config: that voter alone decides everything. */
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && !this.config.voters.isJoint();
  }

  /** The largest index replicated to a quorum (of both halves when joint). */
  committed(): number {
    return this.config.voters.committedIndex(this.matchIndexer);
  }

  /** Calls f for every tracked peer in ascending id order, so that output is deterministic. */
  visit(f: (id: number, pr: Progress) => void): void {
    const ids = this.currentSortedIds();
    for (const id of ids) {
      const pr = this.progress.get(id);
      if (pr !== undefined) f(id, pr);
    }
  }

  /** Whether the voters heard from recently form a quorum; learners do not count. */
  quorumActive(): boolean {
    const active = this.activeScratch;
    active.clear();
    for (const [id, pr] of this.progress) {
      if (!pr.isLearner) active.set(id, pr.recentActive);
    }
    return this.config.voters.voteResult(active) === VoteResult.Won;
  }

  voterNodes(): number[] {
    return sortedIds(this.config.voters.ids());
  }

  learnerNodes(): number[] {
    return sortedIds(this.config.learners);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records a vote; only a peer's first vote in an election counts. */
  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Counts the votes of tracked voters and says whether the election is won, lost or pending. */
  tallyVotes(): VoteTally {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }

  /**
   * The progress ids in ascending order. Rebuilt only when the progress map was replaced or its
   * key set changed: checking membership is cheaper than sorting and allocates nothing.
   */
  private currentSortedIds(): readonly number[] {
    if (this.sortedIdsOf === this.progress && this.sortedIds.length === this.progress.size) {
      let same = true;
      for (const id of this.sortedIds) {
        if (!this.progress.has(id)) {
          same = false;
          break;
        }
      }
      if (same) return this.sortedIds;
    }
    this.sortedIds = sortedIds(this.progress.keys());
    this.sortedIdsOf = this.progress;
    return this.sortedIds;
  }
}

function sortedIds(ids: Iterable<number>): number[] {
  return [...ids].sort((a, b) => a - b);
}
