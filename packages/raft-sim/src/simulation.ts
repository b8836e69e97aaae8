// One simulation: a cluster, its network, faults, clients and the checker judging every step.
// runSimulation drives a whole schedule (fault phase, heal, liveness phase); scenario tests drive a
// Simulation by hand, like a script (partition, crash, change membership, run N steps).
import { type ConfChange, ConfChangeTransition, RaftError, SeededRand, StateType } from '@keelson/raft';
import { Checker, InvariantViolation, type Violation } from './checker.js';
import { Client } from './client.js';
import { Cluster, Ev, type SimEvent, type SimEventKind, type Streams } from './cluster.js';
import { describeChange, Faults } from './faults.js';
import { makePartition, Network, type Partition } from './network.js';
import type { SimNode } from './node.js';
import { CrashPoint, formatSeedString, type PartitionKind, type ScheduleSpec, validateSpec } from './spec.js';
import { encodeConfContext } from './state_machine.js';
import { emptyStats, type SimStats } from './stats.js';
import { hex32, Trace, type TraceMode } from './trace.js';

export interface RunOptions {
  /** Which trace lines to keep: none (default), the last ~200, or all. The hash is always computed. */
  readonly trace?: TraceMode;
  /** Receives every trace line as it is made (enables line formatting). */
  readonly onTraceLine?: (line: string) => void;
  /** Receives notable events (elections, faults, membership), for narration. */
  readonly onEvent?: (e: SimEvent) => void;
  /** Bound on the liveness phase in steps; default 50 election timeouts. */
  readonly livenessSteps?: number;
}

export interface RunResult {
  readonly seedString: string;
  readonly spec: ScheduleSpec;
  readonly ok: boolean;
  readonly violation: Violation | null;
  readonly stats: SimStats;
  /** FNV-1a hash of every trace event, as 8 hex digits: equal for equal seeds. */
  readonly traceHash: string;
  readonly traceEvents: number;
  /** Kept trace lines (all, or the tail), empty when the trace mode is none. */
  readonly traceLines: readonly string[];
}

/** How many election timeouts the liveness phase may take by default. */
export const LIVENESS_ELECTION_TIMEOUTS = 50;

export class Simulation {
  readonly spec: ScheduleSpec;
  readonly checker = new Checker();
  readonly stats = emptyStats();
  readonly trace: Trace;
  readonly network: Network;
  readonly cluster: Cluster;
  private readonly faults: Faults;
  private readonly client: Client;
  private readonly onEvent: ((e: SimEvent) => void) | undefined;
  private step = 0;

  constructor(specIn: ScheduleSpec, opts: RunOptions = {}) {
    this.spec = validateSpec(specIn);
    const root = new SeededRand(this.spec.seed);
    const rands: Streams = {
      net: root.fork(),
      fault: root.fork(),
      client: root.fork(),
      order: root.fork(),
      nodes: root.fork(),
    };
    this.trace = new Trace(opts.trace ?? 'none', opts.onTraceLine);
    this.network = new Network(rands.net, this.spec);
    this.onEvent = opts.onEvent;
    const emit = (kind: SimEventKind, node: number, text: string): void => {
      this.onEvent?.({ step: this.cluster.now, kind, node, text });
    };
    this.cluster = new Cluster(this.spec, rands, this.trace, this.checker, this.stats, this.network, emit);
    this.faults = new Faults(this.cluster);
    this.client = new Client(this.cluster);
    this.guard(() => this.cluster.bootstrap());
  }

  get now(): number {
    return this.step;
  }

  /** One step: faults (in the fault phase), clients, a tick of every running node, then settling. */
  stepOnce(phase: 'fault' | 'liveness' | 'quiet'): void {
    const { cluster, checker } = this;
    cluster.now = this.step;
    checker.step = this.step;
    this.trace.event(Ev.Step, this.step);
    if (phase === 'fault') this.faults.step();
    else if (phase === 'liveness') {
      this.faults.retireRemoved(true);
      this.client.livenessStep();
    }
    this.client.step();
    cluster.tickAll();
    cluster.settle();
    cluster.compactAll();
    this.stats.steps++;
    this.step++;
  }

  /** The whole schedule: the fault phase, the heal, then the liveness phase. Never throws a violation. */
  runSchedule(livenessSteps?: number): void {
    if (this.checker.violation !== null) return;
    this.guard(() => {
      while (this.step < this.spec.steps) this.stepOnce('fault');
      this.stats.faultSteps = this.spec.steps;
      this.healAll();
      this.client.startLiveness();
      const bound = livenessSteps ?? LIVENESS_ELECTION_TIMEOUTS * this.spec.electionTick;
      const deadline = this.step + bound;
      let satisfied = false;
      while (this.step < deadline && !satisfied) {
        this.stepOnce('liveness');
        satisfied = this.client.livenessSatisfied();
      }
      this.stats.livenessSteps = this.step - this.spec.steps;
      if (!satisfied) {
        this.checker.report('Liveness', 0, `${bound} steps after the heal: ${this.client.livenessReport()}`);
      }
      this.emit(
        'liveness',
        0,
        `after the heal, every new proposal committed within ${this.stats.livenessSteps} steps`,
      );
    });
  }

  /** Runs fn, turning an invariant violation into the recorded result (the first one stays). */
  guard(fn: () => void): Violation | null {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      const v = err.violation;
      this.emit('violation', v.node, `${v.invariant} violated: ${v.message}`);
      if (this.trace.keep) this.cluster.line(`VIOLATION ${v.invariant} on node ${v.node}: ${v.message}`);
    }
    return this.checker.violation;
  }

  result(): RunResult {
    const { stats, checker } = this;
    stats.elections = checker.stats.elections;
    stats.checks = checker.stats.checks;
    stats.committedIndex = checker.commitIndex;
    return {
      seedString: formatSeedString(this.spec),
      spec: this.spec,
      ok: checker.violation === null,
      violation: checker.violation,
      stats: { ...stats },
      traceHash: hex32(this.trace.hash),
      traceEvents: this.trace.eventCount,
      traceLines: this.trace.text(),
    };
  }

  private emit(kind: SimEventKind, node: number, text: string): void {
    this.onEvent?.({ step: this.step, kind, node, text });
  }

  // ---- scripting (scenario tests) ----

  /** Runs quiet steps (clients and ticks, no scheduled faults); throws InvariantViolation on a violation. */
  run(steps: number): void {
    for (let k = 0; k < steps; k++) this.stepOnce('quiet');
  }

  /** Runs quiet steps until pred holds (checked after each step); returns the steps taken, or throws. */
  runUntil(pred: () => boolean, maxSteps: number, what = 'condition'): number {
    for (let k = 1; k <= maxSteps; k++) {
      this.stepOnce('quiet');
      if (pred()) return k;
    }
    throw new Error(`${what} not reached within ${maxSteps} steps`);
  }

  node(id: number): SimNode {
    const n = this.cluster.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** The running leader with the highest term, or null. */
  leader(): SimNode | null {
    return this.cluster.leader();
  }

  /** Waits for a leader; returns it. */
  waitForLeader(maxSteps = 50 * this.spec.electionTick): SimNode {
    if (this.leader() === null) this.runUntil(() => this.leader() !== null, maxSteps, 'a leader');
    return this.leader() as SimNode;
  }

  /** Cuts the network with a partition of the given kind (over the live nodes). */
  partition(kind: PartitionKind): Partition {
    const p = makePartition(kind, this.cluster.liveIds(), this.leader()?.id ?? 0, this.cluster.rands.fault);
    if (p === null) throw new Error(`a ${kind} partition needs more nodes`);
    this.network.setPartition(p);
    this.stats.partitions++;
    this.trace.event(Ev.Partition, kind, p.cut.size);
    this.emit('partition', 0, `network partition: ${p.description}`);
    return p;
  }

  /** Installs an explicit partition (for tests that need exact groups). */
  setPartition(p: Partition | null): void {
    this.network.setPartition(p);
  }

  healNetwork(): void {
    this.network.setPartition(null);
    this.emit('partition-healed', 0, 'the partition healed');
  }

  /** Heals every fault: network, crashed and paused nodes. */
  healAll(): void {
    this.cluster.now = this.step;
    this.checker.step = this.step;
    this.faults.healAll();
    this.trace.event(Ev.Heal, this.step);
    if (this.trace.keep) this.cluster.line('HEAL: network healed, crashed nodes restarted, faults stop');
    this.emit('heal', 0, 'all faults healed: the network is whole and every crashed node restarted');
  }

  /** Crashes a node now (Idle) or arms a crash at a point of its next Ready. */
  crash(id: number, point: CrashPoint = CrashPoint.Idle): void {
    const n = this.node(id);
    if (point === CrashPoint.Idle) this.cluster.crash(n, point);
    else n.crashArmed = point;
  }

  restart(id: number): void {
    this.cluster.restart(this.node(id));
  }

  /** A fresh node with an empty disk (to be added with a conf change). */
  addNode(): SimNode {
    return this.cluster.addFreshNode();
  }

  /** Proposes a membership change through the leader; returns false if it was refused. */
  proposeConfChange(changes: ConfChange['changes'], transition = ConfChangeTransition.Auto): boolean {
    const leader = this.waitForLeader();
    const cc: ConfChange = { transition, changes, context: encodeConfContext(1_000_000 + this.step) };
    this.emit('conf-change', leader.id, `membership change proposed: ${describeChange(cc, leader.conf)}`);
    try {
      leader.raw?.proposeConfChange(cc);
      return true;
    } catch (err) {
      if (err instanceof RaftError && err.code === 'ProposalDropped') return false;
      throw err;
    }
  }

  transferLeader(to: number): void {
    const leader = this.waitForLeader();
    this.stats.transfers++;
    leader.raw?.transferLeader(to);
  }

  /** Whether node id currently leads. */
  isLeader(id: number): boolean {
    const raw = this.cluster.nodes.get(id)?.raw;
    return raw != null && raw.state === StateType.Leader;
  }
}

export function runSimulation(spec: ScheduleSpec, opts: RunOptions = {}): RunResult {
  const sim = new Simulation(spec, opts);
  sim.runSchedule(opts.livenessSteps);
  return sim.result();
}

/** The command that replays a run exactly. */
export function replayCommand(seedString: string): string {
  return `npm run sim -- run ${seedString}`;
}

/** A multi-line report of a failed run: the violation, the seed string, the replay command, the trace tail. */
export function formatFailure(r: RunResult, maxTraceLines = 200): string {
  const v = r.violation;
  const lines = [
    v === null
      ? `run ${r.seedString} passed`
      : `${v.invariant} violated at step ${v.step}${v.node ? ` on node ${v.node}` : ''}: ${v.message}`,
  ];
  if (v?.detail !== undefined) lines.push(`  at ${v.detail}`);
  lines.push(`seed: ${r.seedString}`, `replay: ${replayCommand(r.seedString)}`);
  const tail = r.traceLines.slice(-maxTraceLines);
  if (tail.length > 0) lines.push(`last ${tail.length} trace lines:`, ...tail.map((l) => `  ${l}`));
  return lines.join('\n');
}

/**
 * Runs a spec; if it fails, runs it again keeping the trace tail (the rerun is exact, so the tail
 * belongs to the same failure) and returns that result instead.
 */
export function runWithTailOnFailure(spec: ScheduleSpec): RunResult {
  const r = runSimulation(spec);
  return r.ok ? r : runSimulation(spec, { trace: 'tail' });
}
