// The invariant checker. The simulator reports what each node persists, sends, applies and reads;
// the checker keeps just enough global knowledge to judge every observation in O(1) amortized time:
// the leader of each term, (index, term) -> (payload, previous term) for Log Matching, the global
// committed log (term, payload identity, state-machine hash per index), and pending reads.
// A broken invariant throws InvariantViolation; the first one is also kept in `violation`.
import {
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  MessageType,
  type ReadState,
  type Snapshot,
  StateType,
} from '@keelson/raft';
import { decodeReadContext, entryIdentity } from './state_machine.js';

export type Invariant =
  | 'ElectionSafety'
  | 'LeaderAppendOnly'
  | 'LogMatching'
  | 'LeaderCompleteness'
  | 'StateMachineSafety'
  | 'Durability'
  | 'ReadIndex'
  | 'ConfigAgreement'
  | 'ReadyContract'
  | 'CoreException'
  | 'Liveness';

export interface Violation {
  readonly invariant: Invariant;
  readonly step: number;
  /** The node the violation was observed on (0 when it concerns the cluster). */
  readonly node: number;
  readonly message: string;
  /** Extra context, such as the top of a core exception's stack. */
  readonly detail?: string;
}

export class InvariantViolation extends Error {
  readonly violation: Violation;
  constructor(v: Violation) {
    super(`${v.invariant} violated at step ${v.step}${v.node ? ` on node ${v.node}` : ''}: ${v.message}`);
    this.name = 'InvariantViolation';
    this.violation = v;
  }
}

/** The durable log as the checker reads it; MemoryStorage is one. */
export interface DurableLog {
  firstIndex(): number;
  lastIndex(): number;
  term(i: number): number;
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[];
  snapshot(): Snapshot;
  hardState(): HardState;
}

/** Terms stay below this so that (index, term) fits in one safe integer key. */
const TERM_LIMIT = 1 << 20;
const key = (index: number, term: number): number => index * TERM_LIMIT + term;

const UNKNOWN = -1;

/** Message types only a leader sends: each one names its sender the leader of its term. */
const LEADER_ONLY = new Set<MessageType>([
  MessageType.App,
  MessageType.Heartbeat,
  MessageType.Snap,
  MessageType.TimeoutNow,
]);

interface NodeView {
  readonly id: number;
  log: DurableLog;
  role: StateType;
  /** The node's term as of its latest Ready (persisted or not). */
  term: number;
  /** The commit index of the last hard state the node persisted. */
  durableCommit: number;
  /** The term the node leads, or 0 when it is not leader. */
  leaderTerm: number;
  /** Leader Completeness: commit observations scanned so far, and the best index they require. */
  lcCursor: number;
  lcRequired: number;
  applied: number;
  /** Set by beginReady: the term this node led throughout the current Ready (0 when it did not). */
  leaderThroughout: number;
}

interface PendingRead {
  readonly node: number;
  readonly issuedStep: number;
  /** The highest commit index any node had when the read was issued. */
  readonly minIndex: number;
}

export interface CheckerStats {
  /** Individual invariant checks performed. */
  checks: number;
  /** Distinct (term, leader) pairs seen. */
  elections: number;
}

export function confKey(cs: ConfState): string {
  const s = (a: readonly number[]): string => [...a].sort((x, y) => x - y).join(',');
  return `v=${s(cs.voters)} l=${s(cs.learners)} o=${s(cs.votersOutgoing)} n=${s(cs.learnersNext)}${cs.autoLeave ? ' auto' : ''}`;
}

function hasMajority(ids: readonly number[], holds: (id: number) => boolean): boolean {
  if (ids.length === 0) return true;
  let n = 0;
  for (const id of ids) if (holds(id)) n++;
  return n > ids.length / 2;
}

export class Checker {
  step = 0;
  violation: Violation | null = null;
  readonly stats: CheckerStats = { checks: 0, elections: 0 };

  private readonly nodes = new Map<number, NodeView>();
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly logIdent = new Map<number, number>();
  private readonly logPrevTerm = new Map<number, number>();
  // The global committed log, dense from index 0: term, payload identity and the state-machine
  // hash after applying it (UNKNOWN until some node applies it or restores a snapshot there).
  private readonly cTerm: number[] = [0];
  private readonly cIdent: number[] = [UNKNOWN];
  private readonly cHash: number[] = [UNKNOWN];
  // Commit observations: each time the global commit index grows, the index and the term of the
  // node that reported it (an upper bound on the term in which the entry was committed).
  private readonly obsIndex: number[] = [];
  private readonly obsTerm: number[] = [];
  private readonly confAtIndex = new Map<number, string>();
  private readonly reads = new Map<number, PendingRead>();

  /** The highest index known to be committed. */
  get commitIndex(): number {
    return this.cTerm.length - 1;
  }

  committedTerm(i: number): number | undefined {
    return i < this.cTerm.length ? this.cTerm[i] : undefined;
  }

  /**
   * Seeds the committed log with the bootstrap snapshot every initial node starts from: index
   * `index`, term `term`, state-machine hash `hash`.
   */
  bootstrap(index: number, term: number, hash: number): void {
    for (let i = this.cTerm.length; i <= index; i++) {
      this.cTerm.push(i === index ? term : 0);
      this.cIdent.push(UNKNOWN);
      this.cHash.push(i === index ? hash : UNKNOWN);
    }
  }

  /** Registers a node (or re-registers it after a restart) with its durable log. */
  addNode(id: number, log: DurableLog, appliedIndex: number, appliedHash: number): void {
    const hs = log.hardState();
    const existing = this.nodes.get(id);
    const v: NodeView = existing ?? {
      id,
      log,
      role: StateType.Follower,
      term: 0,
      durableCommit: 0,
      leaderTerm: 0,
      lcCursor: 0,
      lcRequired: 0,
      applied: 0,
      leaderThroughout: 0,
    };
    if (existing !== undefined) {
      this.stats.checks++;
      if (hs.commit < existing.durableCommit) {
        this.fail(
          'Durability',
          id,
          `restart lost the commit index: ${hs.commit} < ${existing.durableCommit}`,
        );
      }
      // The committed entry at the durable commit index must still be on disk (or in the snapshot);
      // Log Matching then vouches for everything before it.
      if (hs.commit > 0 && hs.commit <= this.commitIndex && !this.holds(log, hs.commit)) {
        this.fail('Durability', id, `after a restart the disk no longer holds committed entry ${hs.commit}`);
      }
    }
    v.log = log;
    v.role = StateType.Follower;
    v.term = hs.term;
    v.durableCommit = hs.commit;
    v.leaderTerm = 0;
    v.leaderThroughout = 0;
    v.applied = appliedIndex;
    this.nodes.set(id, v);
    if (appliedIndex > 0) this.checkStateHash(id, appliedIndex, appliedHash, 'restart');
  }

  /** A crash: the node's volatile state is gone; its pending reads will never be answered. */
  crashNode(id: number): void {
    const v = this.node(id);
    v.role = StateType.Follower;
    v.leaderTerm = 0;
    for (const [rid, r] of this.reads) if (r.node === id) this.reads.delete(rid);
  }

  // ---- Ready observations, in the order the simulator handles a Ready ----

  /** Called first for every Ready: role and term changes, Election Safety, Leader Append-Only setup. */
  beginReady(id: number, softRole: StateType | null, hs: HardState | null): void {
    const v = this.node(id);
    const term = hs !== null ? hs.term : v.term;
    const role = softRole ?? v.role;
    v.leaderThroughout =
      v.role === StateType.Leader && role === StateType.Leader && term === v.term ? v.leaderTerm : 0;
    if (hs !== null && hs.term < v.term)
      this.fail('Durability', id, `term went back from ${v.term} to ${hs.term}`);
    v.term = term;
    v.role = role;
    if (role === StateType.Leader) this.observeLeader(id, term);
    else v.leaderTerm = 0;
  }

  /** Before a Ready's snapshot is written to the node's storage. */
  beforeSnapshotPersist(id: number, snap: Snapshot): void {
    const v = this.node(id);
    const { index, term } = snap.metadata;
    this.stats.checks++;
    if (v.leaderThroughout !== 0) {
      this.fail(
        'LeaderAppendOnly',
        id,
        `leader of term ${v.leaderThroughout} installs a snapshot at ${index}`,
      );
    }
    if (index < v.durableCommit) {
      this.fail(
        'Durability',
        id,
        `snapshot at ${index} would roll back the durable commit index ${v.durableCommit}`,
      );
    }
    const known = this.committedTerm(index);
    if (known !== undefined && known !== term) {
      this.fail(
        'StateMachineSafety',
        id,
        `snapshot at ${index} has term ${term}, committed term is ${known}`,
      );
    }
  }

  /** Before a Ready's entries are appended to the node's storage (which still holds the old log). */
  beforeEntriesPersist(id: number, entries: readonly Entry[]): void {
    const v = this.node(id);
    const first = entries[0];
    if (first === undefined) return;
    const last = v.log.lastIndex();
    this.stats.checks++;
    if (first.index > last + 1) {
      this.fail(
        'ReadyContract',
        id,
        `entries start at ${first.index}, leaving a gap after the last index ${last}`,
      );
    }
    if (v.leaderThroughout !== 0 && first.index !== last + 1) {
      this.fail(
        'LeaderAppendOnly',
        id,
        `leader of term ${v.leaderThroughout} rewrites its log from index ${first.index} (last index ${last})`,
      );
    }
    let prevTerm = this.safeTerm(v.log, first.index - 1);
    for (const e of entries) {
      this.checkPersistedEntry(v, e, prevTerm);
      prevTerm = e.term;
    }
  }

  private checkPersistedEntry(v: NodeView, e: Entry, prevTerm: number): void {
    this.stats.checks++;
    if (v.leaderThroughout !== 0 && e.term !== v.leaderThroughout) {
      this.fail(
        'LeaderAppendOnly',
        v.id,
        `leader of term ${v.leaderThroughout} appends an entry of term ${e.term}`,
      );
    }
    if (e.term >= TERM_LIMIT)
      this.fail('ReadyContract', v.id, `term ${e.term} is beyond the checker's limit`);
    const ct = this.committedTerm(e.index);
    if (ct !== undefined && ct !== e.term) {
      // A lagging node may hold a stale, uncommitted entry where the cluster committed another; it
      // must never replace the committed entry once it holds it or knows the index is committed.
      if (e.index <= v.durableCommit) {
        this.fail(
          'Durability',
          v.id,
          `overwrites entry ${e.index} below its own commit index ${v.durableCommit}`,
        );
      }
      if (this.safeTerm(v.log, e.index) === ct) {
        this.fail(
          'Durability',
          v.id,
          `truncates committed entry ${e.index} (term ${ct}) for one of term ${e.term}`,
        );
      }
    }
    if (prevTerm !== UNKNOWN && e.term < prevTerm) {
      this.fail(
        'LogMatching',
        v.id,
        `entry ${e.index} has term ${e.term} below its predecessor's ${prevTerm}`,
      );
    }
    const k = key(e.index, e.term);
    const ident = entryIdentity(e);
    const seen = this.logIdent.get(k);
    if (seen === undefined) {
      this.logIdent.set(k, ident);
      if (prevTerm !== UNKNOWN) this.logPrevTerm.set(k, prevTerm);
      return;
    }
    if (seen !== ident) {
      this.fail('LogMatching', v.id, `two different entries at index ${e.index} term ${e.term}`);
    }
    const seenPrev = this.logPrevTerm.get(k);
    if (prevTerm !== UNKNOWN && seenPrev !== undefined && seenPrev !== prevTerm) {
      this.fail(
        'LogMatching',
        v.id,
        `entry ${e.index} term ${e.term} follows term ${prevTerm} here but term ${seenPrev} elsewhere`,
      );
    }
    if (seenPrev === undefined && prevTerm !== UNKNOWN) this.logPrevTerm.set(k, prevTerm);
  }

  /**
   * After the whole Ready is durable: learn commits, check the commit index against the log, Leader
   * Completeness for leaders, and that what a leader commits is durable on a quorum of `conf`.
   */
  afterPersist(id: number, hs: HardState | null, conf: ConfState): void {
    const v = this.node(id);
    const oldCommit = v.durableCommit;
    if (hs !== null && hs.commit !== oldCommit) this.persistCommit(v, hs);
    if (v.role === StateType.Leader && v.leaderTerm !== 0) {
      this.checkLeaderCompleteness(v);
      if (hs !== null && hs.commit > oldCommit) this.checkQuorumDurable(v, hs.commit, conf);
    }
  }

  private persistCommit(v: NodeView, hs: HardState): void {
    this.stats.checks++;
    if (hs.commit < v.durableCommit) {
      this.fail('Durability', v.id, `commit index went back from ${v.durableCommit} to ${hs.commit}`);
    }
    const snapIndex = v.log.snapshot().metadata.index;
    if (hs.commit > Math.max(v.log.lastIndex(), snapIndex)) {
      this.fail(
        'ReadyContract',
        v.id,
        `commit index ${hs.commit} is beyond the durable log (${v.log.lastIndex()})`,
      );
    }
    this.learnCommitted(v, v.durableCommit, hs.commit, hs.term);
    v.durableCommit = hs.commit;
  }

  /** Learns (from, to] as committed from v's durable log, checking it against what is known. */
  private learnCommitted(v: NodeView, from: number, to: number, term: number): void {
    const lo = Math.max(from + 1, v.log.firstIndex());
    if (lo <= to) {
      const ents = v.log.entries(lo, to + 1, Number.POSITIVE_INFINITY);
      for (const e of ents) this.learnEntry(v.id, e.index, e.term, entryIdentity(e));
    }
    if (to > this.obsIndexMax()) {
      this.obsIndex.push(to);
      this.obsTerm.push(term);
    }
  }

  private obsIndexMax(): number {
    const n = this.obsIndex.length;
    return n === 0 ? 0 : (this.obsIndex[n - 1] as number);
  }

  private learnEntry(id: number, index: number, term: number, ident: number): void {
    this.stats.checks++;
    if (index < this.cTerm.length) {
      if (this.cTerm[index] !== term) {
        this.fail(
          'StateMachineSafety',
          id,
          `committed entry ${index} has term ${term} here but ${this.cTerm[index]} elsewhere`,
        );
      }
      const known = this.cIdent[index] as number;
      if (known === UNKNOWN) this.cIdent[index] = ident;
      else if (known !== ident)
        this.fail('StateMachineSafety', id, `committed entry ${index} has two payloads`);
      return;
    }
    if (index !== this.cTerm.length) {
      // A gap means an index below was committed without anyone holding it: only a snapshot covers
      // that, and snapshots extend the log through learnSnapshotCommit.
      this.fail(
        'Durability',
        id,
        `entry ${index} committed but entries from ${this.cTerm.length} are unknown`,
      );
    }
    this.cTerm.push(term);
    this.cIdent.push(ident);
    this.cHash.push(UNKNOWN);
  }

  private checkLeaderCompleteness(v: NodeView): void {
    // Entries committed in a term below the leader's must be in its log. Scan the commit
    // observations the leader has not seen yet for the highest one made in an earlier term.
    const T = v.leaderTerm;
    for (let k = v.lcCursor; k < this.obsIndex.length; k++) {
      if ((this.obsTerm[k] as number) < T) v.lcRequired = Math.max(v.lcRequired, this.obsIndex[k] as number);
    }
    v.lcCursor = this.obsIndex.length;
    const c = v.lcRequired;
    this.stats.checks++;
    if (c !== 0 && !this.holds(v.log, c)) {
      this.fail(
        'LeaderCompleteness',
        v.id,
        `leader of term ${T} lacks committed entry ${c} (term ${this.cTerm[c]}); its log ends at ${v.log.lastIndex()}`,
      );
    }
  }

  private checkQuorumDurable(v: NodeView, c: number, conf: ConfState): void {
    this.stats.checks++;
    const holds = (nid: number): boolean => {
      const n = this.nodes.get(nid);
      return n !== undefined && this.holds(n.log, c);
    };
    if (!hasMajority(conf.voters, holds) || !hasMajority(conf.votersOutgoing, holds)) {
      this.fail(
        'Durability',
        v.id,
        `leader committed ${c} but it is durable on no quorum of ${confKey(conf)}`,
      );
    }
  }

  /** Whether `log` durably holds committed entry c (in its entries, or covered by its snapshot). */
  private holds(log: DurableLog, c: number): boolean {
    if (c <= log.snapshot().metadata.index || c < log.firstIndex()) return true;
    if (c > log.lastIndex()) return false;
    return log.term(c) === this.cTerm[c];
  }

  // ---- network ----

  /** Every message sent; leader-only messages prove who led their term. */
  onSend(m: Message): void {
    if (LEADER_ONLY.has(m.type)) this.observeLeaderTerm(m.from, m.term);
  }

  private observeLeader(id: number, term: number): void {
    const v = this.node(id);
    if (v.leaderTerm !== term) {
      v.leaderTerm = term;
      v.lcCursor = 0;
      v.lcRequired = 0;
      // Start from the latest observation made in an earlier term; later ones are scanned as they come.
      for (let k = this.obsIndex.length - 1; k >= 0; k--) {
        if ((this.obsTerm[k] as number) < term) {
          v.lcRequired = this.obsIndex[k] as number;
          break;
        }
      }
      v.lcCursor = this.obsIndex.length;
    }
    this.observeLeaderTerm(id, term);
  }

  private observeLeaderTerm(id: number, term: number): void {
    this.stats.checks++;
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, id);
      this.stats.elections++;
    } else if (known !== id) {
      this.fail('ElectionSafety', id, `nodes ${known} and ${id} both lead term ${term}`);
    }
  }

  leaderOf(term: number): number | undefined {
    return this.leaderOfTerm.get(term);
  }

  // ---- applying ----

  /** A committed entry applied to node id's state machine; `hashAfter` is the state's hash after it. */
  onApply(id: number, index: number, term: number, ident: number, hashAfter: number): void {
    const v = this.node(id);
    this.stats.checks++;
    if (index !== v.applied + 1) {
      this.fail('StateMachineSafety', id, `applies entry ${index} right after ${v.applied}`);
    }
    if (index > v.durableCommit) {
      this.fail(
        'ReadyContract',
        id,
        `applies entry ${index} beyond its durable commit index ${v.durableCommit}`,
      );
    }
    v.applied = index;
    if (index >= this.cTerm.length) {
      this.fail('StateMachineSafety', id, `applies entry ${index} that no node reported committed`);
    }
    if (this.cTerm[index] !== term) {
      this.fail(
        'StateMachineSafety',
        id,
        `applies entry ${index} of term ${term}; committed term is ${this.cTerm[index]}`,
      );
    }
    const known = this.cIdent[index] as number;
    if (known === UNKNOWN) this.cIdent[index] = ident;
    else if (known !== ident) this.fail('StateMachineSafety', id, `applies a different payload at ${index}`);
    this.checkStateHash(id, index, hashAfter, 'apply');
  }

  /** A snapshot restored into node id's state machine. */
  onRestore(id: number, index: number, term: number, hash: number): void {
    const v = this.node(id);
    this.stats.checks++;
    if (index < v.applied)
      this.fail('StateMachineSafety', id, `snapshot ${index} rolls back applied ${v.applied}`);
    if (index > this.commitIndex) {
      // Snapshots are taken only of applied state, and applying needs a persisted commit index,
      // which the checker learned: an unknown index means the snapshot came from nowhere.
      this.fail(
        'StateMachineSafety',
        id,
        `restores a snapshot at ${index} beyond the known commit ${this.commitIndex}`,
      );
    }
    if (this.cTerm[index] !== term) {
      this.fail(
        'StateMachineSafety',
        id,
        `snapshot at ${index} has term ${term}; committed term is ${this.cTerm[index]}`,
      );
    }
    v.applied = index;
    this.checkStateHash(id, index, hash, 'snapshot');
  }

  private checkStateHash(id: number, index: number, hash: number, what: string): void {
    this.stats.checks++;
    if (index >= this.cHash.length) {
      this.fail(
        'StateMachineSafety',
        id,
        `${what} state at ${index} is beyond the known commit ${this.commitIndex}`,
      );
    }
    const known = this.cHash[index] as number;
    if (known === UNKNOWN) this.cHash[index] = hash;
    else if (known !== hash) {
      this.fail('StateMachineSafety', id, `${what}: state machine at ${index} differs from another node's`);
    }
  }

  /** The result of applying a configuration change at `index`: every node must compute the same. */
  onConfApplied(id: number, index: number, cs: ConfState): void {
    this.stats.checks++;
    const k = confKey(cs);
    const known = this.confAtIndex.get(index);
    if (known === undefined) this.confAtIndex.set(index, k);
    else if (known !== k) {
      this.fail('ConfigAgreement', id, `conf change at ${index} gives ${k} here but ${known} elsewhere`);
    }
  }

  // ---- reads ----

  /** A ReadIndex request issued on node id with a unique read id. */
  onReadIssued(id: number, readId: number): void {
    this.reads.set(readId, { node: id, issuedStep: this.step, minIndex: this.commitIndex });
  }

  /** A ReadState handed out by node id; returns the read id it answers, or 0 if unknown. */
  onReadState(id: number, rs: ReadState): number {
    const readId = decodeReadContext(rs.requestCtx);
    const r = this.reads.get(readId);
    if (r === undefined) return 0;
    this.stats.checks++;
    if (rs.index < r.minIndex) {
      this.fail(
        'ReadIndex',
        id,
        `read ${readId} (issued at step ${r.issuedStep}) got index ${rs.index}, but ${r.minIndex} was committed before it began`,
      );
    }
    return readId;
  }

  /** The read was served (the node applied up to its index); it needs no further tracking. */
  readServed(readId: number): void {
    this.reads.delete(readId);
  }

  get pendingReads(): number {
    return this.reads.size;
  }

  // ---- helpers ----

  private node(id: number): NodeView {
    const v = this.nodes.get(id);
    if (v === undefined) throw new Error(`checker: unknown node ${id}`);
    return v;
  }

  private safeTerm(log: DurableLog, i: number): number {
    if (i < log.firstIndex() - 1 || i > log.lastIndex()) return UNKNOWN;
    return log.term(i);
  }

  /** Records a violation found outside the checker (liveness, core exceptions). */
  report(invariant: Invariant, node: number, message: string, detail?: string): never {
    return this.fail(invariant, node, message, detail);
  }

  private fail(invariant: Invariant, node: number, message: string, detail?: string): never {
    const v: Violation =
      detail === undefined
        ? { invariant, step: this.step, node, message }
        : { invariant, step: this.step, node, message, detail };
    if (this.violation === null) this.violation = v;
    throw new InvariantViolation(v);
  }
}
