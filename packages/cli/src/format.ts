// Plain-words formatting shared by the sim commands and the demo.
import { CrashPoint, PartitionKind, type ScheduleSpec, type SimStats } from '@keelson/raft-sim';

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s - m * 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

const pct = (permille: number): string => `${(permille / 10).toFixed(1)}%`;

function names<T extends number>(mask: number, all: Record<string, T | string>): string {
  const out: string[] = [];
  for (const [name, v] of Object.entries(all)) if (typeof v === 'number' && (mask & v) !== 0) out.push(name);
  return out.join(', ') || 'none';
}

/** A one-paragraph description of a schedule. */
export function describeSpec(spec: ScheduleSpec): string[] {
  return [
    `${spec.nodes} node(s), ${count(spec.steps)} fault steps, electionTick ${spec.electionTick}, heartbeatTick ${spec.heartbeatTick}, preVote ${spec.preVote ? 'on' : 'off'}, checkQuorum ${spec.checkQuorum ? 'on' : 'off'}`,
    `network: drop ${pct(spec.dropPermille)}, duplicate ${pct(spec.dupPermille)}, delay up to ${spec.maxDelaySteps} step(s), partitions ${pct(spec.partitionPermille)}/step (${names(spec.partitionKinds, PartitionKind)})`,
    `faults: crashes ${pct(spec.crashPermille)}/step (${names(spec.crashPoints, CrashPoint)}), pauses ${pct(spec.pausePermille)}/step`,
    `operations: membership changes ${pct(spec.confChangePermille)}/step, transfers ${pct(spec.transferPermille)}/step, snapshot every ${spec.compactEvery || 'never'} entries, ${spec.proposalPermille / 1000} proposals and ${spec.readPermille / 1000} reads per step`,
  ];
}

/** The statistics of a run (or of many), as aligned lines. */
export function describeStats(s: SimStats): string[] {
  const rows: [string, string][] = [
    [
      'steps',
      `${count(s.steps)} (fault phase ${count(s.faultSteps)}, liveness phase ${count(s.livenessSteps)})`,
    ],
    ['elections', `${count(s.elections)} (${count(s.leaders)} distinct leaders)`],
    ['committed', `${count(s.committedIndex)} log entries (${count(s.entriesApplied)} applies across nodes)`],
    ['proposals', `${count(s.proposals)} (${count(s.proposalsRefused)} refused)`],
    ['reads', `${count(s.reads)} issued, ${count(s.readsServed)} served, ${count(s.readsRefused)} refused`],
    ['crashes', `${count(s.crashes)} (${count(s.restarts)} restarts), ${count(s.pauses)} pauses`],
    ['partitions', count(s.partitions)],
    [
      'snapshots',
      `${count(s.snapshotsSent)} sent, ${count(s.snapshotsRestored)} installed, ${count(s.snapshotsCreated)} taken`,
    ],
    [
      'membership',
      `${count(s.confChangesProposed)} changes proposed, ${count(s.confChangesApplied)} applied, ${count(s.nodesAdded)} nodes added, ${count(s.nodesRetired)} retired`,
    ],
    ['transfers', count(s.transfers)],
    [
      'messages',
      `${count(s.messagesSent)} sent, ${count(s.messagesDelivered)} delivered, ${count(s.messagesDropped)} dropped, ${count(s.messagesDuplicated)} duplicated`,
    ],
    ['checks', `${count(s.checks)} invariant checks`],
  ];
  return rows.map(([k, v]) => `  ${k.padEnd(11)} ${v}`);
}
