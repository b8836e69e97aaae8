// Bookkeeping for ReadIndex requests on the leader (etcd's readOnly). With ReadOnlyOption.Safe a
// request waits until a quorum acknowledges a heartbeat that carries the request's context, which
// proves that no newer leader existed when the read index was taken.
import { assert } from './errors.js';
import type { Message } from './types.js';

export interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  /** Voters that acknowledged the heartbeat carrying this request's context. */
  readonly acks: Map<number, boolean>;
}

/** Pending reads are bounded: beyond this, new requests are refused rather than queued. */
export const MAX_PENDING_READS = 4096;

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  /** Request contexts in arrival order. Invariant: same keys as `pending`. */
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Records a read request at the leader's current commit index. Returns false when full. */
  addRequest(index: number, m: Message): boolean {
    const ctx = contextKey(m.entries[0]?.data);
    if (this.pending.has(ctx)) return true;
    if (this.queue.length >= MAX_PENDING_READS) return false;
    this.pending.set(ctx, { req: m, index, acks: new Map() });
    this.queue.push(ctx);
    return true;
  }

  /** Records a heartbeat ack carrying `context`; returns the acks so far, or null if unknown. */
  recvAck(id: number, context: Uint8Array): Map<number, boolean> | null {
    const rs = this.pending.get(contextKey(context));
    if (rs === undefined) return null;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /**
   * Removes and returns every request up to and including the one with `context`: a quorum that
   * acknowledged a later heartbeat also vouches for the earlier requests.
   */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const i = this.queue.indexOf(key);
    if (i < 0) return [];
    const done = this.queue.slice(0, i + 1);
    this.queue = this.queue.slice(i + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      assert(rs !== undefined, `read index queue and pending map disagree on ${k}`);
      this.pending.delete(k);
      out.push(rs);
    }
    return out;
  }

  /** The context of the most recent pending request, to piggyback on heartbeats. */
  lastPendingRequestCtx(): Uint8Array | null {
    const last = this.queue[this.queue.length - 1];
    if (last === undefined) return null;
    const rs = this.pending.get(last);
    assert(rs !== undefined, 'read index queue and pending map disagree');
    return rs.req.entries[0]?.data ?? new Uint8Array(0);
  }

  /** Drops all pending requests (on a change of leadership; clients retry). */
  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}

function contextKey(ctx: Uint8Array | undefined): string {
  if (ctx === undefined) return '';
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += (ctx[i] as number).toString(16).padStart(2, '0');
  return s;
}
