// Counters of one run, and of many runs added together (soak).

export interface SimStats {
  /** Steps executed in total (fault phase plus liveness phase). */
  steps: number;
  faultSteps: number;
  /** Steps the liveness phase needed until a leader committed every post-heal proposal. */
  livenessSteps: number;
  /** Distinct (term, leader) pairs. */
  elections: number;
  /** Distinct nodes that ever led. */
  leaders: number;
  /** The highest committed index at the end. */
  committedIndex: number;
  entriesApplied: number;
  proposals: number;
  proposalsRefused: number;
  reads: number;
  readsServed: number;
  readsRefused: number;
  crashes: number;
  restarts: number;
  pauses: number;
  partitions: number;
  snapshotsSent: number;
  snapshotsRestored: number;
  snapshotsCreated: number;
  confChangesProposed: number;
  confChangesRefused: number;
  confChangesApplied: number;
  nodesAdded: number;
  nodesRetired: number;
  transfers: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesDropped: number;
  messagesDuplicated: number;
  /** Individual invariant checks performed. */
  checks: number;
}

export function emptyStats(): SimStats {
  return {
    steps: 0,
    faultSteps: 0,
    livenessSteps: 0,
    elections: 0,
    leaders: 0,
    committedIndex: 0,
    entriesApplied: 0,
    proposals: 0,
    proposalsRefused: 0,
    reads: 0,
    readsServed: 0,
    readsRefused: 0,
    crashes: 0,
    restarts: 0,
    pauses: 0,
    partitions: 0,
    snapshotsSent: 0,
    snapshotsRestored: 0,
    snapshotsCreated: 0,
    confChangesProposed: 0,
    confChangesRefused: 0,
    confChangesApplied: 0,
    nodesAdded: 0,
    nodesRetired: 0,
    transfers: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
    messagesDuplicated: 0,
    checks: 0,
  };
}

/** Adds b into a, field by field. */
export function addStats(a: SimStats, b: SimStats): SimStats {
  for (const k of Object.keys(a) as (keyof SimStats)[]) a[k] += b[k];
  return a;
}
