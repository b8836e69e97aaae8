// Lease expiry, decided by the leader alone (etcd's lessor). Followers hold the lease table (it is
// replicated state) but no expiry clock. A new leader starts every lease's clock afresh at its full
// TTL, so a lease never expires early because of a leader change; expired leases are revoked by a
// proposal through Raft, so every member deletes the attached keys at the same revision.

export interface LessorHost {
  now(): number;
  /** Proposes revocation of an expired lease; resolves or rejects when applied. */
  proposeRevoke(id: number): Promise<void>;
}

/** At most this many revocations are proposed per check, so an expiry storm cannot flood Raft. */
const REVOKES_PER_CHECK_MAX = 500;
/** A revocation that did not apply within this time is proposed again. */
const REVOKE_RETRY_MS = 3000;

export class Lessor {
  private expiryMs = new Map<number, number>();
  private revoking = new Map<number, number>();
  private primary = false;

  constructor(private readonly host: LessorHost) {}

  isPrimary(): boolean {
    return this.primary;
  }

  /** This member became leader: every lease gets its full TTL from now. */
  promote(leases: Iterable<{ id: number; ttl: number }>): void {
    this.primary = true;
    const now = this.host.now();
    this.expiryMs.clear();
    this.revoking.clear();
    for (const l of leases) this.expiryMs.set(l.id, now + l.ttl * 1000);
  }

  demote(): void {
    this.primary = false;
    this.expiryMs.clear();
    this.revoking.clear();
  }

  /** A grant was applied. */
  granted(id: number, ttl: number): void {
    if (this.primary) this.expiryMs.set(id, this.host.now() + ttl * 1000);
  }

  revoked(id: number): void {
    this.expiryMs.delete(id);
    this.revoking.delete(id);
  }

  /** Renews a lease on the leader; returns false when the lease is unknown or already expired. */
  renew(id: number, ttl: number): boolean {
    const exp = this.expiryMs.get(id);
    if (exp === undefined || exp <= this.host.now()) return false;
    this.expiryMs.set(id, this.host.now() + ttl * 1000);
    return true;
  }

  /** Remaining seconds (rounded up, like etcd), or -1 for an unknown or expired lease. */
  remainingSeconds(id: number): number {
    const exp = this.expiryMs.get(id);
    if (exp === undefined) return -1;
    const ms = exp - this.host.now();
    return ms <= 0 ? -1 : Math.ceil(ms / 1000);
  }

  /** Proposes revocation of expired leases (bounded per call). */
  check(): void {
    if (!this.primary) return;
    const now = this.host.now();
    let proposed = 0;
    for (const [id, exp] of this.expiryMs) {
      if (proposed >= REVOKES_PER_CHECK_MAX) break;
      if (exp > now) continue;
      const since = this.revoking.get(id);
      if (since !== undefined && now - since < REVOKE_RETRY_MS) continue;
      this.revoking.set(id, now);
      proposed++;
      this.host.proposeRevoke(id).catch(() => {
        // Not applied (leader change, timeout): the next check retries after REVOKE_RETRY_MS.
      });
    }
  }
}
