// Simulated clients: proposals with unique ids and ReadIndex reads with unique contexts, sent to
// the leader or to any running node (followers forward). In the liveness phase a client makes a
// fixed number of proposals that it retries (with fresh ids) until each is applied on a quorum.
import { RaftError, StateType } from '@keelson/raft';
import { type Cluster, describeConf, Ev } from './cluster.js';
import type { SimNode } from './node.js';
import { encodeProposal, encodeReadContext, isProposalIdentity } from './state_machine.js';

/** A liveness-phase proposal: every attempt has its own id; any one of them landing is enough. */
interface LiveProposal {
  readonly attempts: number[];
  lastSubmitStep: number;
  /** The index at which an attempt was applied first (0 until then). */
  index: number;
}

/** Liveness-phase proposals made right after the heal. */
export const LIVENESS_PROPOSALS = 5;

export class Client {
  private nextProposalId = 1;
  private nextReadId = 1;
  private readonly live: LiveProposal[] = [];
  private readonly attemptOf = new Map<number, LiveProposal>();

  constructor(private readonly c: Cluster) {
    c.onApply = (_n, index, ident) => {
      if (!isProposalIdentity(ident)) return;
      const lp = this.attemptOf.get(ident);
      if (lp !== undefined && lp.index === 0) lp.index = index;
    };
  }

  private get rand() {
    return this.c.rands.client;
  }

  /** How many operations happen this step for a rate in thousandths per step. */
  private count(ratePermille: number): number {
    if (ratePermille <= 0) return 0;
    return Math.floor(ratePermille / 1000) + (this.rand.intn(1000) < ratePermille % 1000 ? 1 : 0);
  }

  /** Picks the node a client talks to: usually the leader, otherwise any running node. */
  private target(): SimNode | null {
    const running = this.c.runningNodes();
    if (running.length === 0) return null;
    const leader = this.c.leader();
    if (leader !== null && this.rand.intn(10) < 7) return leader;
    return this.rand.pick(running);
  }

  /** Background load of proposals and reads at the spec's rates. */
  step(): void {
    for (let k = this.count(this.c.spec.proposalPermille); k > 0; k--) this.propose();
    for (let k = this.count(this.c.spec.readPermille); k > 0; k--) this.read();
  }

  /** Proposes a fresh id; returns the id if the node accepted it, 0 if refused or nobody runs. */
  private propose(): number {
    const n = this.target();
    if (n === null || n.raw === null) return 0;
    const id = this.nextProposalId++;
    const { c } = this;
    c.stats.proposals++;
    try {
      n.raw.propose(encodeProposal(id));
    } catch (err) {
      if (!(err instanceof RaftError && err.code === 'ProposalDropped')) c.coreError(n.id, 'propose', err);
      c.stats.proposalsRefused++;
      c.trace.event(Ev.Propose, n.id, id, 0);
      if (c.trace.keep) c.line(`n${n.id} refused proposal ${id}: ${(err as Error).message}`);
      return 0;
    }
    c.trace.event(Ev.Propose, n.id, id, 1);
    if (c.trace.keep) c.line(`n${n.id} propose ${id}`);
    return id;
  }

  private read(): void {
    const n = this.target();
    if (n === null || n.raw === null) return;
    const readId = this.nextReadId++;
    const { c } = this;
    c.stats.reads++;
    // The read begins now: it must reflect everything committed before this instant.
    c.checker.onReadIssued(n.id, readId);
    c.trace.event(Ev.Read, n.id, readId);
    if (c.trace.keep) c.line(`n${n.id} read ${readId} (committed so far: ${c.checker.commitIndex})`);
    try {
      n.raw.readIndex(encodeReadContext(readId));
    } catch (err) {
      if (!(err instanceof RaftError && err.code === 'ProposalDropped')) c.coreError(n.id, 'readIndex', err);
      c.stats.readsRefused++;
      c.checker.readServed(readId);
    }
  }

  // ---- liveness ----

  startLiveness(): void {
    for (let k = 0; k < LIVENESS_PROPOSALS; k++)
      this.live.push({ attempts: [], lastSubmitStep: -1, index: 0 });
  }

  /** Submits (or re-submits) every liveness proposal that is not applied yet. */
  livenessStep(): void {
    const retryAfterSteps = 3 * this.c.spec.electionTick;
    for (const lp of this.live) {
      if (lp.index !== 0) continue;
      if (lp.lastSubmitStep >= 0 && this.c.now - lp.lastSubmitStep < retryAfterSteps) continue;
      const id = this.propose();
      if (id === 0) continue;
      lp.attempts.push(id);
      lp.lastSubmitStep = this.c.now;
      this.attemptOf.set(id, lp);
    }
  }

  /** Whether a leader exists and every liveness proposal is applied on a quorum of its config. */
  livenessSatisfied(): boolean {
    const leader = this.c.leader();
    if (leader === null) return false;
    const { voters, votersOutgoing } = leader.conf;
    for (const lp of this.live) {
      if (lp.index === 0) return false;
      const holds = (id: number): boolean => (this.c.nodes.get(id)?.sm.appliedIndex ?? 0) >= lp.index;
      if (!majorityHolds(voters, holds) || !majorityHolds(votersOutgoing, holds)) return false;
    }
    return true;
  }

  /** What is still missing, for the violation message. */
  livenessReport(): string {
    const leader = this.c.leader();
    const pending = this.live.filter((lp) => lp.index === 0).length;
    const applied = this.live.map((lp) => lp.index).filter((i) => i > 0);
    const who = leader === null ? 'no leader' : `leader ${leader.id} (term ${leader.raw?.term})`;
    const nodes: string[] = [];
    for (const n of this.c.nodes.values()) {
      if (n.retired) continue;
      const raw = n.raw;
      const state = raw === null ? 'down' : `${StateType[raw.state]} t${raw.term} commit ${raw.committed}`;
      nodes.push(
        `n${n.id} ${state} last ${n.storage.lastIndex()} applied ${n.sm.appliedIndex} ${describeConf(n.conf)}`,
      );
    }
    return (
      `${who}; ${pending} of ${this.live.length} post-heal proposals never applied; applied at [${applied.join(', ')}]; ` +
      nodes.join('; ')
    );
  }
}

function majorityHolds(ids: readonly number[], holds: (id: number) => boolean): boolean {
  if (ids.length === 0) return true;
  let n = 0;
  for (const id of ids) if (holds(id)) n++;
  return n > ids.length / 2;
}
