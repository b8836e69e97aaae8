// Joint quorums (C_old,new), modelled on etcd-io/raft: a decision needs a majority of the incoming
// voters and, while a membership change is in flight, also of the outgoing voters.
import { type AckedIndexer, MajorityConfig, VoteResult } from './majority.js';

export class JointConfig {
  readonly incoming: MajorityConfig;
  /** Empty unless a joint configuration is active. */
  readonly outgoing: MajorityConfig;

  constructor(
    incoming: MajorityConfig = new MajorityConfig(),
    outgoing: MajorityConfig = new MajorityConfig(),
  ) {
    this.incoming = incoming;
    this.outgoing = outgoing;
  }

  /** Every voter of either half (a fresh set). */
  ids(): Set<number> {
    const ids = new Set<number>(this.incoming.ids);
    for (const id of this.outgoing.ids) ids.add(id);
    return ids;
  }

  /** An index is committed only when both halves committed it; an empty half never holds it back. */
  committedIndex(l: AckedIndexer): number {
    return Math.min(this.incoming.committedIndex(l), this.outgoing.committedIndex(l));
  }

  /** Won only when both halves won; Lost as soon as either half lost; Pending otherwise. */
  voteResult(votes: ReadonlyMap<number, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    if (r1 === VoteResult.Lost || r2 === VoteResult.Lost) return VoteResult.Lost;
    return VoteResult.Pending;
  }

  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  toString(): string {
    return this.isJoint() ? `${this.incoming}&&${this.outgoing}` : this.incoming.toString();
  }
}
