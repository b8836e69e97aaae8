// The Raft Ready loop of one member: ticks, steps and proposals go into the RawNode; each Ready is
// persisted (one WAL record and one fdatasync for all its entries and hard state: group commit), then
// its messages are sent, then its committed entries are applied (their state written behind the loop,
// in one atomic batch with the applied index; those already durable here are applied while the write is
// in flight), then the node advances. Only one Ready is in progress at a time; everything arriving meanwhile batches into
// the next one.
import {
  type ConfChange,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  type RawNode,
  type Ready,
  type Snapshot,
  type SoftState,
  StateType,
} from '@keelson/raft';
import type pino from 'pino';
import { type AppliedState, type BatchOp, type Disk, encodeValue, K } from '../storage/disk.js';
import {
  COMMIT_NOTICE_EAGER_MS,
  COMMIT_NOTICE_HOLD_MS,
  CommitNoticeHold,
  type CommitNoticeOutcome,
} from './commit_notice.js';
import type { CrashPoint } from './faults.js';

/** A sync write slower than this is logged: it delays heartbeats and may cost an election. */
const SLOW_SYNC_WARN_MS = 300;

/**
 * A Ready with at most this many new entries is written inline, on the event loop (Wal.save): nothing
 * queued up behind the previous write, so the member is lightly loaded and a lone request would
 * otherwise wait for two thread hand-offs. Under load entries batch up, and the write goes to the
 * thread pool while the loop goes on serving the network.
 */
const INLINE_WRITE_MAX_ENTRIES = 1;
/**
 * ... unless the last log write took longer than this: a slow disk must not stall the event loop
 * (heartbeats, reads). A disk that stalls during an inline write still holds the loop up for that one
 * write; the next one goes to the thread pool, as every write does until one is fast again.
 */
const INLINE_WRITE_SLOW_MS = 2;

/** Staged state writes (ops in native memory) beyond which the Ready loop waits for the disk. */
const STAGED_OPS_MAX = 200_000;

/**
 * The state database is written in batches at most this far apart (etcd's backend batch interval).
 * Fewer, larger writes leave the disk to the WAL's fdatasyncs: on ext4 an fdatasync also flushes the
 * dirty pages that other writes left behind.
 */
const BACKEND_BATCH_INTERVAL_MS = 100;
/** ... or as soon as this many ops are queued (etcd's backend batch limit). */
const BACKEND_BATCH_LIMIT_OPS = 10_000;

export interface RaftLoopHooks {
  /** Sends messages to peers (MsgSnap already carries the full state). */
  send(msgs: Message[]): void;
  /** Role or leader changed. */
  onSoftState(ss: SoftState): void;
  /** A new hard state was persisted (term for response headers). */
  onHardState(term: number): void;
  onReadState(ctx: Uint8Array, index: number): void;
  /** Applies a normal entry's payload (skipped for entries the state machine already holds). */
  applyNormal(e: Entry): void;
  /** Applies a conf change to the state machine (members) after Raft applied it; cs is the new config. */
  applyConfChange(e: Entry, cc: ConfChange, cs: ConfState, skipState: boolean): void;
  /** Installs a snapshot received from the leader; returns the ops that rewrite the state records. */
  installSnapshot(snap: Snapshot): Promise<BatchOp[]>;
  /** The state machine's level operations accumulated since the last call. */
  takeStateChanges(): BatchOp[];
  /** The whole state as snapshot bytes (for a follower that needs a snapshot). */
  dumpState(): Uint8Array;
  /** Called after each applied batch has been written. */
  afterApply(applied: number): void;
  onFatal(e: Error): void;
  /** A log write (one record and its sync) took this long; `inline` if made on the event loop. */
  observeFsync(seconds: number, inline: boolean): void;
  observeApply(seconds: number): void;
  /** What became of a leader's commit-only append (commit_notice.ts). */
  observeCommitNotice?(outcome: CommitNoticeOutcome): void;
  /** Chaos: called at each crash point around a sync (set only with --enable-fault-injection). */
  crashPoint?(point: CrashPoint): void;
}

export interface RaftLoopOptions {
  readonly snapshotCount: number;
  readonly snapshotCatchUpEntries: number;
}

export class RaftLoop {
  private running = false;
  private failed = false;
  /** The staged batch (Disk.stage) must be synced (a snapshot marker); then these run (WAL segments released). */
  private stagedSync = false;
  private stagedAfter: Array<() => Promise<void>> = [];
  private flushing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private leader = false;
  private scheduled = false;
  private stopped = false;
  /** How long the last log write took (inline writes are taken only after fast ones). */
  private lastLogWriteMs = 0;
  applied: AppliedState;
  /** Entries up to this index are already in the state machine (restart: applied > snapshot index). */
  private stateApplied: number;
  /** A leader's commit-only appends wait here for a later append to replace them. */
  private readonly commitNotices: CommitNoticeHold;

  constructor(
    readonly raw: RawNode,
    readonly storage: MemoryStorage,
    private readonly disk: Disk,
    applied: AppliedState,
    stateApplied: number,
    private readonly hooks: RaftLoopHooks,
    private readonly opts: RaftLoopOptions,
    private readonly log: pino.Logger,
  ) {
    this.applied = applied;
    this.stateApplied = stateApplied;
    this.commitNotices = new CommitNoticeHold({
      holdMs: COMMIT_NOTICE_HOLD_MS,
      eagerMs: COMMIT_NOTICE_EAGER_MS,
      now: () => performance.now(),
      send: (msgs) => {
        if (!this.stopped) this.hooks.send(msgs);
      },
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as NodeJS.Timeout),
      observe: (outcome) => this.hooks.observeCommitNotice?.(outcome),
    });
  }

  /** A message from a peer is about to be stepped (a follower's forwarded proposal or read is noted). */
  notePeerMessage(m: Message): void {
    this.commitNotices.notePeerMessage(m);
  }

  /** Something changed in the RawNode: process its Ready soon (batched with whatever else arrives). */
  schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  /**
   * Processes the Ready in this turn when the loop is idle: for a batch of proposals, which is itself
   * already the product of a turn's batching (one event-loop turn less on every write).
   */
  runNow(): void {
    if (this.running || this.stopped) return;
    void this.run();
  }

  /**
   * While a Ready is being persisted (a slow disk can take a second or more), heartbeats and their
   * responses go out at once instead of waiting for the next Ready: otherwise a slow fsync on the
   * leader starves its followers of heartbeats and they elect someone else (etcd warns "leader failed
   * to send out heartbeat on time" in the same spot). Call after ticks and received messages.
   */
  sendHeartbeatsNow(): void {
    if (!this.running || this.stopped) return;
    const hb = this.raw.takeHeartbeats();
    if (hb.length > 0) this.hooks.send(hb);
  }

  stop(): void {
    this.stopped = true;
    this.commitNotices.clear();
  }

  /** Resolves when no Ready is being processed (for a clean stop). */
  async idle(): Promise<void> {
    for (let i = 0; i < 500 && this.running; i++) await new Promise((r) => setTimeout(r, 10));
    await this.drain();
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      // Bounded so that timers and I/O get a turn even under a flood of proposals.
      for (let round = 0; round < 64 && !this.stopped && this.raw.hasReady(); round++) {
        const rd = this.raw.ready();
        await this.handle(rd);
        if (this.stopped) return;
        this.raw.advance();
      }
    } catch (e) {
      this.stopped = true;
      this.hooks.onFatal(e as Error);
      return;
    } finally {
      this.running = false;
    }
    if (this.raw.hasReady()) this.schedule();
  }

  private async handle(rd: Ready): Promise<void> {
    if (rd.softState !== null) {
      this.hooks.onSoftState(rd.softState);
      this.leader = rd.softState.raftState === StateType.Leader;
      if (!this.leader) this.commitNotices.clear();
    }
    for (const rs of rd.readStates) this.hooks.onReadState(rs.requestCtx, rs.index);
    // A snapshot from the leader rewrites the state records: every older write must land first.
    if (rd.snapshot !== null) await this.drain();
    const durable = rd.mustSync || rd.snapshot !== null;
    // A leader may send before its own write is durable (Raft thesis 10.2.1; etcd does the same). The
    // acks can only surface as committed entries or commit indexes in a later Ready, and the next Ready
    // is produced only after this one's fsync, so nothing is applied or announced as committed before
    // the leader's own copy is on disk. A Ready that needs no sync has nothing to wait for either.
    const sendFirst = (this.leader && rd.snapshot === null) || !durable;
    if (sendFirst && rd.messages.length > 0) this.sendMessages(rd.messages);
    // Committed entries this member already holds on disk (all of them on a leader, whose earlier Readies
    // were persisted before this one was made; on a follower, those not in this Ready's entries) are
    // applied while this Ready's write is in flight, as etcd applies in parallel with its WAL save.
    // Otherwise every answer under load would wait for the next batch's write as well as its own. A
    // follower whose write is made inline has nothing in flight to overlap: it acks first (the leader
    // waits on that ack) and applies after.
    const inline = durable && rd.snapshot === null && this.inlineWrite(rd);
    const early = rd.snapshot === null && (this.leader || !inline) ? this.durableCommitted(rd) : 0;
    let persisting: Promise<void> | null = null;
    if (durable) {
      const t0 = performance.now();
      persisting = this.persist(rd, inline).then((wroteInline) => {
        const tookMs = performance.now() - t0;
        this.lastLogWriteMs = tookMs;
        this.hooks.observeFsync(tookMs / 1000, wroteInline);
        // etcd's "took too long" warning: a slow disk holds up everything, heartbeats included.
        if (tookMs > SLOW_SYNC_WARN_MS)
          this.log.warn({ tookMs: Math.round(tookMs), entries: rd.entries.length }, 'slow sync write');
      });
      // Awaited below; this only keeps a failure during the early apply from going unhandled.
      persisting.catch(() => {});
    }
    if (early > 0) this.applyCommitted(rd.committedEntries.slice(0, early));
    if (persisting !== null) await persisting;
    this.updateStorage(rd);
    if (!sendFirst && rd.messages.length > 0) this.sendMessages(rd.messages);
    if (rd.committedEntries.length > early) this.applyCommitted(rd.committedEntries.slice(early));
    this.maybeSnapshot();
    // Backpressure: a disk that cannot keep up with the applies slows the loop down, within a bound.
    if (this.disk.staged > STAGED_OPS_MAX) await this.drain();
  }

  /**
   * Applied state goes to disk behind the Ready loop, many Readies per batch (as etcd commits its
   * backend every 100 ms rather than per apply). No sync is needed: entries are durable in the log,
   * and the applied index moves with the state in the same batch, so a crash that loses a batch
   * replays the same entries on restart. The ops are staged into the disk's next batch at once
   * (Disk.stage: copied out of the JS heap) and batches are written in order, one in flight at a time,
   * so a snapshot marker or a compaction enqueued after an apply lands after it: the log is never cut
   * beyond what the disk holds. These batches never touch keys the Ready loop's sync writes touch
   * (hard state, new entries): LevelDB orders concurrent batches arbitrarily.
   */
  private enqueueWrite(ops: readonly BatchOp[], then?: { sync: true; after: () => Promise<void> }): void {
    this.disk.stage(ops);
    if (then !== undefined) {
      this.stagedSync = true;
      this.stagedAfter.push(then.after);
    }
    this.scheduleFlush();
  }

  /** Starts a flush now (a sync request, a full batch) or when the batch interval is up. */
  private scheduleFlush(): void {
    if (this.flushing !== null || this.disk.staged === 0) return;
    if (this.stagedSync || this.disk.staged >= BACKEND_BATCH_LIMIT_OPS || this.stopped) {
      this.flushNow();
      return;
    }
    this.flushTimer ??= setTimeout(() => this.flushNow(), BACKEND_BATCH_INTERVAL_MS);
  }

  private flushNow(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.flushing ??= this.flushWrites();
  }

  /** Writes one batch: everything staged so far. Whatever is staged meanwhile waits for the next one. */
  private async flushWrites(): Promise<void> {
    try {
      if (this.disk.staged === 0 || this.failed) return;
      const sync = this.stagedSync;
      const after = this.stagedAfter;
      this.stagedSync = false;
      this.stagedAfter = [];
      const t0 = performance.now();
      // Chaos crash points: a synced batch is a local snapshot's marker, every batch an apply write.
      this.hooks.crashPoint?.('before-apply-write');
      if (sync) this.hooks.crashPoint?.('before-snapshot');
      await this.disk.writeStaged(sync);
      this.hooks.crashPoint?.('after-apply-write');
      if (sync) this.hooks.crashPoint?.('after-snapshot');
      this.hooks.observeApply((performance.now() - t0) / 1000);
      for (const f of after) await f();
    } catch (e) {
      this.failed = true;
      this.stopped = true;
      this.hooks.onFatal(e as Error);
    } finally {
      this.flushing = null;
    }
    if (!this.failed) this.scheduleFlush();
  }

  /** Resolves when every enqueued write is on disk (before a snapshot install, and on stop). */
  async drain(): Promise<void> {
    for (let i = 0; i < 10_000 && !this.failed; i++) {
      if (this.flushing !== null) await this.flushing;
      else if (this.disk.staged > 0) this.flushNow();
      else return;
    }
  }

  /**
   * Makes a Ready's snapshot, entries and hard state durable: one WAL record and one fdatasync (group
   * commit); a small one inline on a lightly loaded member (INLINE_WRITE_MAX_ENTRIES). A hard state
   * that only moved commit needs no sync and is not written at all; a restart recovers commit from
   * the applied index (see start.ts). An installed snapshot is written to the state database (synced)
   * before the WAL records the log reset.
   */
  private async persist(rd: Ready, inline: boolean): Promise<boolean> {
    const hs = rd.hardState;
    if (rd.snapshot === null) {
      this.hooks.crashPoint?.('before-log-sync'); // chaos
      const wroteInline = await this.disk.appendLog(rd.entries, hs, inline);
      this.hooks.crashPoint?.('after-log-sync'); // chaos
      return wroteInline;
    }
    const m = rd.snapshot.metadata;
    const ops = await this.snapshotOps(rd.snapshot);
    this.hooks.crashPoint?.('before-snapshot'); // chaos: an installed snapshot
    await this.disk.write(ops, true);
    await this.disk.resetLog(m.index, m.term, rd.entries.length === 0 ? hs : null);
    this.hooks.crashPoint?.('after-snapshot'); // chaos
    if (rd.entries.length > 0) await this.disk.appendLog(rd.entries, hs);
    return false;
  }

  /** Whether a Ready's log write is asked to be made inline (INLINE_WRITE_MAX_ENTRIES). */
  private inlineWrite(rd: Ready): boolean {
    return rd.entries.length <= INLINE_WRITE_MAX_ENTRIES && this.lastLogWriteMs <= INLINE_WRITE_SLOW_MS;
  }

  private updateStorage(rd: Ready): void {
    if (rd.snapshot !== null) this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.hardState !== null) {
      this.storage.setHardState(rd.hardState);
      this.hooks.onHardState(rd.hardState.term);
    }
  }

  private async snapshotOps(snap: Snapshot): Promise<BatchOp[]> {
    const ops: BatchOp[] = [];
    for (const op of await this.hooks.installSnapshot(snap)) ops.push(op);
    const m = snap.metadata;
    ops.push({ type: 'put', key: K.snapMeta, value: encodeValue(m) });
    this.applied = { index: m.index, term: m.term, confState: m.confState };
    this.stateApplied = m.index;
    ops.push({ type: 'put', key: K.applied, value: encodeValue(this.applied) });
    this.log.info({ index: m.index, term: m.term }, 'installed snapshot from leader');
    return ops;
  }

  private sendMessages(msgs: readonly Message[]): void {
    const out = this.commitNotices.filter(msgs);
    if (out.length > 0) this.hooks.send(this.withFullSnapshots(out));
  }

  /**
   * Raft asks for the snapshot in storage, which holds only metadata; like etcd's merged snapshot,
   * send the whole current state instead, at the applied index with its configuration.
   */
  private withFullSnapshots(msgs: readonly Message[]): Message[] {
    let full: Snapshot | null = null;
    return msgs.map((m) => {
      if (m.type !== MessageType.Snap) return m;
      full ??= {
        data: this.hooks.dumpState(),
        metadata: { index: this.applied.index, term: this.applied.term, confState: this.applied.confState },
      };
      return { ...m, snapshot: full };
    });
  }

  /**
   * How many of the Ready's committed entries (a prefix) are already durable in this member's log: at
   * or below the last persisted index and not rewritten by the Ready's own entries.
   */
  private durableCommitted(rd: Ready): number {
    const persisted = Math.min(
      this.storage.lastIndex(),
      (rd.entries[0]?.index ?? Number.POSITIVE_INFINITY) - 1,
    );
    let n = 0;
    // Bounded by the Ready's committed entries.
    while (n < rd.committedEntries.length && (rd.committedEntries[n] as Entry).index <= persisted) n++;
    return n;
  }

  /** Applies committed entries, queues their state write and tells the member (answers, reads). */
  private applyCommitted(entries: readonly Entry[]): void {
    const ops = this.apply(entries);
    if (ops.length > 0) this.enqueueWrite(ops);
    this.hooks.afterApply(this.applied.index);
  }

  /** Applies committed entries to the state machine in memory; returns the ops that persist it. */
  private apply(entries: readonly Entry[]): BatchOp[] {
    let { confState, term, index } = this.applied;
    for (const e of entries) {
      // After a restart Raft replays from the snapshot index; the state machine already holds the
      // entries up to stateApplied, but Raft must still see every conf change again.
      const replay = e.index <= this.stateApplied;
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        confState = this.raw.applyConfChange(cc);
        this.hooks.applyConfChange(e, cc, confState, replay);
      } else if (!replay && e.data.length > 0) {
        this.hooks.applyNormal(e);
      }
      index = e.index;
      term = e.term;
    }
    this.applied = { index, term, confState };
    if (index <= this.stateApplied) return [];
    this.stateApplied = index;
    const ops = this.hooks.takeStateChanges();
    ops.push({ type: 'put', key: K.applied, value: encodeValue(this.applied) });
    return ops;
  }

  /** etcd's --snapshot-count: mark a snapshot and compact the log so it never grows without bound. */
  private maybeSnapshot(): void {
    const snapIndex = this.storage.snapshot().metadata.index;
    if (this.applied.index - snapIndex < this.opts.snapshotCount) return;
    const a = this.applied;
    this.storage.createSnapshot(a.index, a.confState, new Uint8Array(0));
    const ops: BatchOp[] = [
      {
        type: 'put',
        key: K.snapMeta,
        value: encodeValue({ index: a.index, term: a.term, confState: a.confState }),
      },
    ];
    const compactTo = a.index - this.opts.snapshotCatchUpEntries;
    if (compactTo >= this.storage.firstIndex()) this.storage.compact(compactTo);
    // WAL segments go only once the state that covers them is synced (a crash could lose it otherwise).
    this.enqueueWrite(ops, {
      sync: true,
      after: async () => {
        const released = await this.disk.releaseLog(compactTo).catch((e: Error) => {
          this.log.warn({ err: e.message }, 'could not delete old WAL segments');
          return 0;
        });
        this.log.info(
          { index: a.index, compactedTo: compactTo, walSegmentsReleased: released },
          'snapshot taken, log compacted',
        );
      },
    });
  }
}

export type { AppliedState };
export { MemoryStorage };
