// The simulated cluster: nodes, the network between them, and the Ready loop that persists, sends
// and applies exactly as the core's contract says, with seeded crashes at every point of it.
// Every observation goes to the Checker; every event is hashed into the Trace.
import {
  AssertionError,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  emptyConfState,
  MemoryStorage,
  type Message,
  MessageType,
  RaftError,
  type Ready,
  type SeededRand,
  type Snapshot,
  StateType,
} from '@keelson/raft';
import { type Checker, InvariantViolation } from './checker.js';
import type { Network, SendOutcome } from './network.js';
import { CRASH_POINT_NAMES, SimNode } from './node.js';
import { CrashPoint, type ScheduleSpec } from './spec.js';
import {
  BOOTSTRAP_INDEX,
  BOOTSTRAP_TERM,
  entryIdentity,
  IdStateMachine,
  INITIAL_STATE_HASH,
  SnapshotDataError,
} from './state_machine.js';
import type { SimStats } from './stats.js';
import type { Trace } from './trace.js';

/** Event kinds hashed into the trace (their numeric values are part of the trace hash). */
export enum Ev {
  Step = 1,
  Send = 2,
  Deliver = 3,
  Lost = 4,
  Ready = 5,
  Crash = 6,
  Restart = 7,
  Partition = 8,
  PartitionHealed = 9,
  Pause = 10,
  Resume = 11,
  Propose = 12,
  Read = 13,
  ReadState = 14,
  ConfChange = 15,
  Transfer = 16,
  Compact = 17,
  ConfApplied = 18,
  Leader = 19,
  Retire = 20,
  AddNode = 21,
  Heal = 22,
  ReadServed = 23,
  Restore = 24,
}

/** Notable things that happened, for people (the demo narrates these). */
export type SimEventKind =
  | 'leader'
  | 'partition'
  | 'partition-healed'
  | 'crash'
  | 'restart'
  | 'pause'
  | 'resume'
  | 'conf-change'
  | 'conf-applied'
  | 'transfer'
  | 'node-added'
  | 'node-retired'
  | 'snapshot-restored'
  | 'heal'
  | 'liveness'
  | 'violation';

export interface SimEvent {
  readonly step: number;
  readonly kind: SimEventKind;
  readonly node: number;
  readonly text: string;
}

export interface Streams {
  readonly net: SeededRand;
  readonly fault: SeededRand;
  readonly client: SeededRand;
  readonly order: SeededRand;
  /** Seeds each (re)started RawNode's election jitter. */
  readonly nodes: SeededRand;
}

const MAX_SETTLE_ROUNDS = 12;

/** Called for every applied entry (the client uses it to see its proposals land). */
export type ApplyListener = (node: SimNode, index: number, identity: number) => void;

export class Cluster {
  readonly nodes = new Map<number, SimNode>();
  now = 0;
  /**
   * Set during the fault phase of schedules with crashes: a node that has just granted a vote may
   * crash right after sending it (see crashAfterGrantedVote).
   */
  voteCrashes = false;
  nextNodeId: number;
  onApply: ApplyListener | null = null;
  private lastLeaderTerm = 0;
  /**
   * The newest committed configuration anyone applied (from a conf change entry or a snapshot) and
   * its index. Only nodes absent from it are ever shut down: a leader's own applied configuration
   * may lag behind one that already added them.
   */
  latestConf: ConfState = emptyConfState();
  latestConfIndex = 0;
  private readonly everLed = new Set<number>();
  private readonly confApplied = new Set<number>();

  constructor(
    readonly spec: ScheduleSpec,
    readonly rands: Streams,
    readonly trace: Trace,
    readonly checker: Checker,
    readonly stats: SimStats,
    readonly network: Network,
    readonly emitEvent: (kind: SimEventKind, node: number, text: string) => void,
  ) {
    this.nextNodeId = spec.nodes + 1;
  }

  /** Creates the initial nodes, each with the bootstrap snapshot on its disk. */
  bootstrap(): void {
    const voters = Array.from({ length: this.spec.nodes }, (_, i) => i + 1);
    const data = IdStateMachine.bootstrapBytes();
    this.checker.bootstrap(BOOTSTRAP_INDEX, BOOTSTRAP_TERM, INITIAL_STATE_HASH);
    for (const id of voters) {
      const storage = new MemoryStorage();
      storage.applySnapshot({
        data,
        metadata: {
          index: BOOTSTRAP_INDEX,
          term: BOOTSTRAP_TERM,
          confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        },
      });
      const n = new SimNode(id, storage);
      n.wasMember = true;
      this.nodes.set(id, n);
      this.startNode(n);
    }
  }

  /** A brand-new node with an empty disk; it waits for the leader's snapshot. */
  addFreshNode(): SimNode {
    const id = this.nextNodeId++;
    const n = new SimNode(id, new MemoryStorage());
    this.nodes.set(id, n);
    this.startNode(n);
    this.stats.nodesAdded++;
    this.trace.event(Ev.AddNode, id);
    if (this.trace.keep) this.line(`n${id} created with an empty disk`);
    this.emitEvent('node-added', id, `node ${id} started with an empty disk, waiting to join`);
    return n;
  }

  private startNode(n: SimNode): void {
    try {
      n.start(this.spec, this.rands.nodes.fork());
    } catch (err) {
      if (err instanceof SnapshotDataError) {
        this.checker.report(
          'StateMachineSafety',
          n.id,
          `restart: the snapshot on disk is unreadable: ${err.message}`,
        );
      }
      this.coreError(n.id, 'new RawNode', err);
    }
    this.checker.addNode(n.id, n.storage, n.sm.appliedIndex, n.sm.hash);
  }

  // ---- queries ----

  /** Running (not crashed, paused or retired) nodes in id order. */
  runningNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.running) out.push(n);
    return out;
  }

  /** Nodes that exist (not retired), in id order. */
  liveIds(): number[] {
    const out: number[] = [];
    for (const n of this.nodes.values()) if (!n.retired) out.push(n.id);
    return out;
  }

  /** The running leader with the highest term, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      const raw = n.raw;
      if (raw === null || n.paused || raw.state !== StateType.Leader) continue;
      if (best === null || raw.term > (best.raw?.term ?? 0)) best = n;
    }
    return best;
  }

  line(text: string): void {
    this.trace.line(`[${String(this.now).padStart(6)}] ${text}`);
  }

  // ---- time ----

  tickAll(): void {
    for (const n of this.nodes.values()) {
      const raw = n.raw;
      if (raw === null || n.paused) continue;
      try {
        raw.tick();
      } catch (err) {
        this.coreError(n.id, 'tick', err);
      }
    }
  }

  /**
   * Lets the cluster react within the current step: rounds of Ready handling (nodes in a random
   * order) and deliveries of due messages (in a random order), until quiet or a round bound.
   */
  settle(): void {
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      let progressed = false;
      for (const n of this.shuffledRunning()) if (this.processReady(n)) progressed = true;
      const due = this.network.takeDue(
        this.now,
        (id) => this.nodes.get(id)?.paused !== true,
        (m) => this.lost(m, 'cut'),
      );
      for (const m of due) {
        this.deliver(m);
        progressed = true;
        // Sometimes handle the receiver's Ready at once, so that Ready batching varies too.
        if (this.rands.order.intn(8) === 0) {
          const n = this.nodes.get(m.to);
          if (n?.running) this.processReady(n);
        }
      }
      if (!progressed) return;
    }
  }

  private shuffledRunning(): SimNode[] {
    const a = this.runningNodes();
    const r = this.rands.order;
    for (let i = a.length - 1; i > 0; i--) {
      const j = r.intn(i + 1);
      const t = a[i] as SimNode;
      a[i] = a[j] as SimNode;
      a[j] = t;
    }
    return a;
  }

  // ---- the network ----

  private deliver(m: Message): void {
    const n = this.nodes.get(m.to);
    const raw = n?.raw ?? null;
    if (n === undefined || raw === null) {
      this.lost(m, 'dropped');
      return;
    }
    this.stats.messagesDelivered++;
    this.trace.event(Ev.Deliver, m.from, m.to, m.type, m.term, m.index);
    if (this.trace.keep) this.line(`deliver ${describeMessage(m)}`);
    try {
      raw.step(m);
    } catch (err) {
      if (!(err instanceof RaftError && (err.code === 'StepPeerNotFound' || err.code === 'StepLocalMsg'))) {
        this.coreError(n.id, `step(${MessageType[m.type]} from ${m.from})`, err);
      }
    }
    if (m.type === MessageType.Snap) this.report(m.from, { kind: 'snapshot', peer: m.to, ok: true });
  }

  /** A message that will never arrive; the sender's transport notices for snapshots and cuts. */
  private lost(m: Message, why: 'cut' | 'dropped'): void {
    this.stats.messagesDropped++;
    this.trace.event(Ev.Lost, m.from, m.to, m.type, m.term, why === 'cut' ? 1 : 0);
    if (this.trace.keep) this.line(`${why === 'cut' ? 'cut' : 'drop'} ${describeMessage(m)}`);
    if (m.type === MessageType.Snap) this.report(m.from, { kind: 'snapshot', peer: m.to, ok: false });
    else if (why === 'cut' && m.type === MessageType.App) {
      this.report(m.from, { kind: 'unreachable', peer: m.to, ok: false });
    }
  }

  private report(id: number, r: SimNode['deferred'][number]): void {
    const n = this.nodes.get(id);
    if (n?.raw != null) n.deferred.push(r);
  }

  private send(m: Message): void {
    this.checker.onSend(m);
    if (m.type === MessageType.Snap) this.stats.snapshotsSent++;
    const outcome: SendOutcome = this.network.send(m, this.now);
    this.stats.messagesSent++;
    this.trace.event(Ev.Send, m.from, m.to, m.type, m.term, m.index);
    if (outcome === 'duplicated') this.stats.messagesDuplicated++;
    if (outcome === 'cut' || outcome === 'dropped') this.lost(m, outcome);
    else if (this.trace.keep)
      this.line(`send ${describeMessage(m)}${outcome === 'duplicated' ? ' (x2)' : ''}`);
  }

  // ---- the Ready loop ----

  /** Handles one Ready of n if it has one; returns whether it did. */
  processReady(n: SimNode): boolean {
    const raw = n.raw;
    if (raw === null || n.paused) return false;
    this.flushDeferred(n);
    let rd: Ready;
    try {
      if (!raw.hasReady()) return false;
      rd = raw.ready();
    } catch (err) {
      return this.coreError(n.id, 'ready', err);
    }
    this.traceReady(n, rd);
    this.checker.beginReady(n.id, rd.softState?.raftState ?? null, rd.hardState);
    if (rd.softState !== null) this.noteRole(n, rd);
    const point = n.crashArmed;
    if (point === CrashPoint.BeforePersist) return this.crash(n, point);
    this.persist(n, rd);
    if (point === CrashPoint.AfterPersist) return this.crash(n, point);
    for (const m of rd.messages) this.send(m);
    if (point === CrashPoint.AfterSend) return this.crash(n, point);
    if (this.crashAfterGrantedVote(rd)) return this.crash(n, CrashPoint.AfterSend);
    this.apply(n, rd);
    try {
      raw.advance();
    } catch (err) {
      this.coreError(n.id, 'advance', err);
    }
    this.flushDeferred(n);
    return true;
  }

  private traceReady(n: SimNode, rd: Ready): void {
    const hs = rd.hardState;
    this.trace.event(
      Ev.Ready,
      n.id,
      hs === null ? 0 : hs.term * 4096 + hs.commit,
      rd.entries.length,
      rd.committedEntries.length,
      rd.messages.length + (rd.snapshot === null ? 0 : 1000),
    );
    if (!this.trace.keep) return;
    const parts = [`n${n.id} ready`];
    if (rd.softState !== null) parts.push(`${StateType[rd.softState.raftState]} lead=${rd.softState.lead}`);
    if (hs !== null) parts.push(`hs(t${hs.term} v${hs.vote} c${hs.commit})`);
    if (rd.snapshot !== null) parts.push(`snap@${rd.snapshot.metadata.index}`);
    if (rd.entries.length > 0) parts.push(`persist ${rangeOf(rd.entries)}`);
    if (rd.committedEntries.length > 0) parts.push(`apply ${rangeOf(rd.committedEntries)}`);
    if (rd.messages.length > 0) parts.push(`${rd.messages.length} msgs`);
    if (rd.readStates.length > 0) parts.push(`${rd.readStates.length} reads`);
    this.line(parts.join(' '));
  }

  private noteRole(n: SimNode, rd: Ready): void {
    const ss = rd.softState;
    const raw = n.raw;
    if (ss === null || raw === null || ss.raftState !== StateType.Leader) return;
    const term = rd.hardState?.term ?? raw.term;
    if (term === this.lastLeaderTerm) return;
    this.lastLeaderTerm = term;
    this.everLed.add(n.id);
    this.stats.leaders = this.everLed.size;
    this.trace.event(Ev.Leader, n.id, term);
    this.emitEvent('leader', n.id, `node ${n.id} became leader for term ${term}`);
  }

  private persist(n: SimNode, rd: Ready): void {
    const snap = rd.snapshot;
    try {
      if (snap !== null && snap.metadata.index > 0) {
        this.checker.beforeSnapshotPersist(n.id, snap);
        n.storage.applySnapshot(snap);
      }
      if (rd.entries.length > 0) {
        this.checker.beforeEntriesPersist(n.id, rd.entries);
        n.storage.append(rd.entries);
      }
    } catch (err) {
      this.coreError(n.id, 'persisting a Ready (storage rejected it)', err);
    }
    if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
    this.checker.afterPersist(n.id, rd.hardState, n.conf);
  }

  private apply(n: SimNode, rd: Ready): void {
    if (rd.snapshot !== null && rd.snapshot.metadata.index > 0) this.restore(n, rd.snapshot);
    for (const e of rd.committedEntries) this.applyEntry(n, e);
    for (const rs of rd.readStates) {
      const readId = this.checker.onReadState(n.id, rs);
      this.trace.event(Ev.ReadState, n.id, readId, rs.index);
      if (this.trace.keep) this.line(`n${n.id} read ${readId} answered with index ${rs.index}`);
      if (readId !== 0) n.waitingReads.push({ readId, index: rs.index });
    }
    if (n.waitingReads.length > 0) this.serveReads(n);
  }

  private restore(n: SimNode, snap: Snapshot): void {
    const { index, term } = snap.metadata;
    let sm: IdStateMachine;
    try {
      sm = IdStateMachine.fromBytes(snap.data);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      this.checker.report('StateMachineSafety', n.id, `snapshot at ${index} carries unreadable data: ${why}`);
    }
    if (sm.appliedIndex !== index) {
      this.checker.report(
        'StateMachineSafety',
        n.id,
        `snapshot metadata says index ${index} but its state machine is at ${sm.appliedIndex}`,
      );
    }
    this.checker.onRestore(n.id, index, term, sm.hash);
    n.sm = sm;
    n.conf = snap.metadata.confState;
    this.noteConf(index, n.conf);
    this.stats.snapshotsRestored++;
    this.trace.event(Ev.Restore, n.id, index, term);
    this.emitEvent(
      'snapshot-restored',
      n.id,
      `node ${n.id} caught up by installing a snapshot at index ${index}`,
    );
  }

  private applyEntry(n: SimNode, e: Entry): void {
    const ident = entryIdentity(e);
    n.sm.apply(e.index, ident);
    this.checker.onApply(n.id, e.index, e.term, ident, n.sm.hash);
    this.stats.entriesApplied++;
    this.onApply?.(n, e.index, ident);
    if (e.type === EntryType.ConfChange) this.applyConfChange(n, e);
  }

  private applyConfChange(n: SimNode, e: Entry): void {
    const raw = n.raw;
    if (raw === null) return;
    let cs: ConfState;
    try {
      cs = raw.applyConfChange(decodeConfChange(e.data));
    } catch (err) {
      this.coreError(n.id, `applying the committed conf change at ${e.index}`, err);
    }
    n.conf = cs;
    n.snapshotDue = true;
    this.checker.onConfApplied(n.id, e.index, cs);
    this.noteConf(e.index, cs);
    this.trace.event(
      Ev.ConfApplied,
      n.id,
      e.index,
      cs.voters.length,
      cs.learners.length,
      cs.votersOutgoing.length,
    );
    if (!this.confApplied.has(e.index)) {
      this.confApplied.add(e.index);
      this.stats.confChangesApplied++;
      this.emitEvent('conf-applied', n.id, `configuration at index ${e.index} is now ${describeConf(cs)}`);
    }
  }

  private noteConf(index: number, cs: ConfState): void {
    if (index > this.latestConfIndex) {
      this.latestConfIndex = index;
      this.latestConf = cs;
    }
    for (const list of [cs.voters, cs.learners, cs.votersOutgoing]) {
      for (const id of list) {
        const m = this.nodes.get(id);
        if (m !== undefined) m.wasMember = true;
      }
    }
  }

  private serveReads(n: SimNode): void {
    const still: typeof n.waitingReads = [];
    for (const w of n.waitingReads) {
      if (w.index > n.sm.appliedIndex) {
        still.push(w);
        continue;
      }
      this.checker.readServed(w.readId);
      this.stats.readsServed++;
      this.trace.event(Ev.ReadServed, n.id, w.readId, n.sm.appliedIndex);
    }
    n.waitingReads = still;
  }

  private flushDeferred(n: SimNode): void {
    const raw = n.raw;
    if (raw === null || n.deferred.length === 0) return;
    const reports = n.deferred;
    n.deferred = [];
    for (const r of reports) {
      try {
        if (r.kind === 'snapshot') raw.reportSnapshot(r.peer, r.ok);
        else raw.reportUnreachable(r.peer);
      } catch (err) {
        this.coreError(n.id, `report ${r.kind} for ${r.peer}`, err);
      }
    }
  }

  // ---- crashes, restarts, pauses, retirement ----

  /** Crashes n at `point`; returns true so that processReady can return it. */
  /**
   * Buggify (after FoundationDB): just after a vote is granted is the moment a crash matters most
   * (a vote that did not reach the disk lets the node vote twice in one term), and a uniformly
   * random crash lands there too rarely for a thousand schedules to find such a bug.
   */
  private crashAfterGrantedVote(rd: Ready): boolean {
    if (!this.voteCrashes || (this.spec.crashPoints & CrashPoint.AfterSend) === 0) return false;
    if (!rd.messages.some((m) => m.type === MessageType.VoteResp && !m.reject)) return false;
    return this.rands.fault.intn(4) === 0;
  }

  crash(n: SimNode, point: CrashPoint): true {
    n.crash();
    n.crashedUntil = this.now + 1 + this.rands.fault.intn(5 * this.spec.electionTick);
    this.checker.crashNode(n.id);
    this.stats.crashes++;
    this.trace.event(Ev.Crash, n.id, point);
    if (this.trace.keep) this.line(`n${n.id} CRASH ${CRASH_POINT_NAMES[point]}`);
    this.emitEvent('crash', n.id, `node ${n.id} crashed ${CRASH_POINT_NAMES[point]}`);
    return true;
  }

  restart(n: SimNode): void {
    this.startNode(n);
    this.stats.restarts++;
    this.trace.event(Ev.Restart, n.id, n.sm.appliedIndex);
    if (this.trace.keep) this.line(`n${n.id} restart from snapshot ${n.sm.appliedIndex}`);
    this.emitEvent('restart', n.id, `node ${n.id} restarted from its disk`);
  }

  pause(n: SimNode, untilStep: number): void {
    n.paused = true;
    n.pausedUntil = untilStep;
    this.stats.pauses++;
    this.trace.event(Ev.Pause, n.id, untilStep);
    if (this.trace.keep) this.line(`n${n.id} PAUSE until step ${untilStep}`);
    this.emitEvent('pause', n.id, `node ${n.id} paused (it neither ticks nor hears anything)`);
  }

  resume(n: SimNode): void {
    n.paused = false;
    this.trace.event(Ev.Resume, n.id);
    if (this.trace.keep) this.line(`n${n.id} resume`);
    this.emitEvent('resume', n.id, `node ${n.id} resumed`);
  }

  /** Shuts a removed node down for good. */
  retire(n: SimNode): void {
    if (n.raw !== null) this.checker.crashNode(n.id);
    n.crash();
    n.retired = true;
    this.network.forget(n.id);
    this.stats.nodesRetired++;
    this.trace.event(Ev.Retire, n.id);
    if (this.trace.keep) this.line(`n${n.id} retired`);
    this.emitEvent('node-retired', n.id, `node ${n.id} was removed from the cluster and shut down`);
  }

  // ---- compaction ----

  /**
   * The application's snapshot policy, run between Readies: a node snapshots after applying a conf
   * change (so that joining nodes can use its snapshots), and snapshots and compacts once it applied
   * compactEvery entries past its last snapshot.
   */
  compactAll(): void {
    const every = this.spec.compactEvery;
    for (const n of this.nodes.values()) {
      if (n.raw === null || n.paused) continue;
      const applied = n.sm.appliedIndex;
      const snapIndex = n.storage.snapshot().metadata.index;
      const compactDue = every > 0 && applied - snapIndex >= every;
      if ((!compactDue && !n.snapshotDue) || applied <= snapIndex || applied > n.storage.lastIndex())
        continue;
      n.snapshotDue = false;
      try {
        n.storage.createSnapshot(applied, n.conf, n.sm.toBytes());
        // Keep a random tail of entries so that slightly slow followers still catch up from the log.
        const compactTo = applied - this.rands.fault.intn(every + 1);
        if (every > 0 && compactTo >= n.storage.firstIndex()) n.storage.compact(compactTo);
      } catch (err) {
        this.coreError(n.id, `snapshot and compact at ${applied}`, err);
      }
      this.stats.snapshotsCreated++;
      this.trace.event(Ev.Compact, n.id, applied, n.storage.firstIndex());
      if (this.trace.keep)
        this.line(`n${n.id} snapshot at ${applied}, log now starts at ${n.storage.firstIndex()}`);
    }
  }

  // ---- errors ----

  /** An exception out of the core (other than the expected RaftErrors) is a bug in the core. */
  coreError(node: number, what: string, err: unknown): never {
    if (err instanceof InvariantViolation) throw err;
    const e = err instanceof Error ? err : new Error(String(err));
    const kind =
      e instanceof AssertionError
        ? 'AssertionError'
        : e instanceof RaftError
          ? `RaftError(${e.code})`
          : e.name;
    const frames = (e.stack ?? '')
      .split('\n')
      .slice(1, 4)
      .map((s) => s.trim());
    return this.checker.report(
      'CoreException',
      node,
      `${what} threw ${kind}: ${e.message}`,
      frames.join(' | '),
    );
  }
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.type]} t${m.term}`;
  if (m.type === MessageType.App || m.type === MessageType.AppResp) s += ` i${m.index}/lt${m.logTerm}`;
  if (m.entries.length > 0) s += ` +${m.entries.length}`;
  if (m.commit > 0) s += ` c${m.commit}`;
  if (m.reject) s += ` reject(hint ${m.rejectHint})`;
  if (m.snapshot !== null) s += ` snap@${m.snapshot.metadata.index}`;
  return s;
}

function rangeOf(ents: readonly Entry[]): string {
  const a = ents[0] as Entry;
  const b = ents[ents.length - 1] as Entry;
  return a === b ? `${a.index}(t${a.term})` : `${a.index}..${b.index}(t${a.term}..${b.term})`;
}

export function describeConf(cs: ConfState): string {
  const set = (ids: readonly number[]): string => `{${[...ids].sort((x, y) => x - y).join(',')}}`;
  let s = `voters ${set(cs.voters)}`;
  if (cs.votersOutgoing.length > 0) s += ` joint with ${set(cs.votersOutgoing)}`;
  if (cs.learners.length > 0) s += `, learners ${set(cs.learners)}`;
  if (cs.learnersNext.length > 0) s += `, learners next ${set(cs.learnersNext)}`;
  return s;
}
