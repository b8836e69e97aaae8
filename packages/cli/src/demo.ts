// `keelson demo`: a five-node Raft cluster in one process under a storm of faults, narrated in
// plain words, with every Raft safety property checked after every step.
import {
  baseSpec,
  formatSeedString,
  replayCommand,
  runSimulation,
  type ScheduleSpec,
  type SimEvent,
  type SimEventKind,
} from '@keelson/raft-sim';
import { count, duration } from './format.js';
import type { Io } from './io.js';

/** The demo's schedule: moderate rates of every fault, on a seed picked for a varied story. */
export function demoSpec(seed = DEMO_SEED): ScheduleSpec {
  return baseSpec({
    seed,
    nodes: 5,
    steps: 1500,
    electionTick: 10,
    heartbeatTick: 1,
    dropPermille: 20,
    dupPermille: 10,
    maxDelaySteps: 2,
    partitionPermille: 6,
    crashPermille: 5,
    pausePermille: 3,
    confChangePermille: 6,
    transferPermille: 4,
    compactEvery: 32,
    proposalPermille: 800,
    readPermille: 250,
  });
}

export const DEMO_SEED = 20_251;

/** How many events of each kind the narration shows before it only counts them. */
const SHOW_PER_KIND: Partial<Record<SimEventKind, number>> = {
  'snapshot-restored': 4,
  'node-added': 6,
  pause: 4,
  resume: 4,
  leader: 30,
};

export function demo(io: Io, seed = DEMO_SEED): number {
  const spec = demoSpec(seed);
  io.out('Keelson demo: a 5-node Raft cluster, simulated deterministically in one process.');
  io.out('The network drops, delays, duplicates and reorders messages and splits into partitions;');
  io.out('nodes crash (losing whatever they had not written to disk), restart and pause; clients');
  io.out('write and read all the time; the membership changes and leadership moves. After every');
  io.out('step a checker verifies the Raft safety properties.');
  io.out('');
  io.out(`What happened (step = one tick of every node's clock):`);
  const shown = new Map<SimEventKind, number>();
  const hidden = new Map<SimEventKind, number>();
  const t0 = io.clock();
  const onEvent = (e: SimEvent): void => {
    const n = shown.get(e.kind) ?? 0;
    if (n >= (SHOW_PER_KIND[e.kind] ?? Number.POSITIVE_INFINITY)) {
      hidden.set(e.kind, (hidden.get(e.kind) ?? 0) + 1);
      return;
    }
    shown.set(e.kind, n + 1);
    io.out(`  step ${String(e.step).padStart(5)}  ${e.text}`);
  };
  const r = runSimulation(spec, { onEvent });
  const ms = io.clock() - t0;
  for (const [kind, n] of hidden) io.out(`  (${n} more "${kind}" events not shown)`);
  const s = r.stats;
  io.out('');
  io.out('In numbers:');
  io.out(`  ${count(s.elections)} elections won, by ${s.leaders} different nodes`);
  io.out(
    `  ${count(s.partitions)} network partitions, ${count(s.crashes)} crashes (all restarted), ${count(s.pauses)} pauses`,
  );
  io.out(
    `  ${count(s.confChangesApplied)} membership changes applied (${count(s.nodesAdded)} nodes joined, ${count(s.nodesRetired)} left), ${count(s.transfers)} leadership transfers requested`,
  );
  io.out(
    `  ${count(s.committedIndex)} log entries committed from ${count(s.proposals)} client proposals (${count(s.proposalsRefused)} refused, e.g. while no leader was known)`,
  );
  io.out(`  ${count(s.readsServed)} linearizable reads served (ReadIndex)`);
  io.out(`  ${count(s.snapshotsSent)} snapshots sent to followers that fell behind the compacted log`);
  io.out(
    `  ${count(s.messagesSent)} messages sent: ${count(s.messagesDropped)} lost, ${count(s.messagesDuplicated)} duplicated`,
  );
  io.out(
    `  invariants checked ${count(s.checks)} times: election safety, leader append-only, log matching, leader completeness, state machine safety, durability across crashes, linearizable reads`,
  );
  io.out('');
  if (r.ok) {
    io.out(
      `Result: every invariant held. After the faults healed, a leader committed every new proposal within ${s.livenessSteps} step(s).`,
    );
  } else {
    const v = r.violation!;
    io.out(`Result: a BUG in the Raft core — ${v.invariant} broke at step ${v.step}: ${v.message}`);
  }
  io.out(`(simulated ${count(s.steps)} steps in ${duration(ms)}; trace hash ${r.traceHash})`);
  io.out(`Replay this exact run with: ${replayCommand(formatSeedString(spec))}`);
  return r.ok ? 0 : 1;
}
