// Linearizable reads through Raft's ReadIndex, batched: every read that arrives while one ReadIndex
// request is in flight waits for the next one, so one heartbeat round serves many reads (etcd's
// linearizableReadLoop). A read is served once the member has applied up to the returned index.
import { randomBytes } from 'node:crypto';
import { EtcdError } from '../errors.js';

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
  deadlineMs: number;
}

interface InFlight {
  readonly ctx: string;
  readonly waiters: Waiter[];
  issuedMs: number;
}

export interface ReadIndexHost {
  /** Asks Raft for a read index; the answer comes back through onReadState. */
  issue(ctx: Uint8Array): void;
  /** Resolves once the state machine has applied `index`. */
  waitApplied(index: number): Promise<void>;
  now(): number;
}

/** Upper bound on reads waiting for one ReadIndex round; beyond it, callers get "too many requests". */
const WAITERS_MAX = 100_000;

export class ReadBarrier {
  private queued: Waiter[] = [];
  private inFlight: InFlight | null = null;
  private seq = 0;
  private issueScheduled = false;
  private readonly prefix = randomBytes(8).toString('hex');

  constructor(
    private readonly host: ReadIndexHost,
    private readonly timeoutMs: number,
    /** How long one ReadIndex may stay unanswered before it is re-issued (leader change, lost message). */
    private readonly retryMs: number,
  ) {}

  /** Resolves when a read served now would be linearizable. */
  wait(): Promise<void> {
    if (this.queued.length + (this.inFlight?.waiters.length ?? 0) >= WAITERS_MAX) {
      return Promise.reject(new EtcdError('TooManyRequests'));
    }
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ resolve, reject, deadlineMs: this.host.now() + this.timeoutMs });
      this.scheduleIssue();
    });
  }

  /**
   * Issues the next ReadIndex at the end of this event-loop turn rather than at once, so that every
   * read that arrived in the turn (one socket read carries many HTTP/2 streams) shares one heartbeat
   * round instead of the first read taking a round of its own.
   */
  private scheduleIssue(): void {
    if (this.inFlight !== null || this.issueScheduled) return;
    this.issueScheduled = true;
    setImmediate(() => {
      this.issueScheduled = false;
      if (this.inFlight === null && this.queued.length > 0) this.issueNext();
    });
  }

  /** Raft answered a ReadIndex request. */
  onReadState(ctx: Uint8Array, index: number): void {
    const f = this.inFlight;
    if (f === null || Buffer.from(ctx).toString('latin1') !== f.ctx) return;
    this.inFlight = null;
    const waiters = f.waiters;
    let settled = false;
    // Bounded: if the apply never reaches the index in time (a stuck apply), the reads fail with
    // etcd's timeout instead of waiting forever.
    const deadline = Math.min(...waiters.map((w) => w.deadlineMs));
    const timer = setTimeout(
      () => {
        if (settled) return;
        settled = true;
        for (const w of waiters) w.reject(new EtcdError('Timeout'));
      },
      Math.max(0, deadline - this.host.now()),
    );
    this.host.waitApplied(index).then(
      () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const w of waiters) w.resolve();
      },
      (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const w of waiters) w.reject(e);
      },
    );
    if (this.queued.length > 0) this.issueNext();
  }

  /** Called periodically: re-issues a lost request and fails reads past their deadline. */
  tick(): void {
    const now = this.host.now();
    const expired = (w: Waiter) => w.deadlineMs <= now;
    const timeout = new EtcdError('Timeout');
    for (const w of this.queued.filter(expired)) w.reject(timeout);
    this.queued = this.queued.filter((w) => !expired(w));
    const f = this.inFlight;
    if (f === null) return;
    for (const w of f.waiters.filter(expired)) w.reject(timeout);
    const alive = f.waiters.filter((w) => !expired(w));
    if (alive.length === 0) {
      this.inFlight = null;
      if (this.queued.length > 0) this.issueNext();
      return;
    }
    if (now - f.issuedMs >= this.retryMs) {
      // The request or its answer was lost (no leader, leader change): ask again for all of them.
      this.inFlight = null;
      this.queued = [...alive, ...this.queued];
      this.issueNext();
    }
  }

  /** Fails every waiting read (the member is stopping). */
  failAll(e: Error): void {
    for (const w of this.queued) w.reject(e);
    for (const w of this.inFlight?.waiters ?? []) w.reject(e);
    this.queued = [];
    this.inFlight = null;
  }

  private issueNext(): void {
    const ctx = `${this.prefix}:${this.seq++}`;
    this.inFlight = { ctx, waiters: this.queued, issuedMs: this.host.now() };
    this.queued = [];
    this.host.issue(Buffer.from(ctx, 'latin1'));
  }
}
