// One store member: the etcd v3 API (StoreBackend) on top of the Raft loop and the state machine.
// Writes are proposed through Raft and answered when applied on this member (a follower forwards the
// proposal to the leader inside Raft and waits for the entry to come back to it); linearizable reads
// wait for a ReadIndex round; serializable reads are served from local state at once.
import { createHash, randomInt } from 'node:crypto';
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  type Entry,
  RaftError,
  type SoftState,
  StateType,
} from '@keelson/raft';
import type pino from 'pino';
import type { StoreBackend, WatchHandle, WatchSink } from '../api/backend.js';
import type * as T from '../api/types.js';
import type { EtcdClient } from '../client.js';
import { EtcdError } from '../errors.js';
import { validateDeleteRange, validatePut, validateRange, validateTxn } from '../mvcc/validate.js';
import { WatchHub } from '../mvcc/watch.js';
import { decodeValue, encodeValue } from '../storage/disk.js';
import { computeMemberId } from './ids.js';
import { Lessor } from './lessor.js';
import type { RaftLoop } from './raft_loop.js';
import { ReadBarrier } from './reads.js';
import { LEASE_TTL_MAX_SECONDS, type Op, type Proposal, type StateMachine } from './state.js';

export { ETCD_SERVER_VERSION as ETCD_VERSION } from '../metrics.js';

import { ETCD_SERVER_VERSION as ETCD_VERSION } from '../metrics.js';

export interface MemberSettings {
  readonly clusterId: number;
  readonly memberId: number;
  readonly name: string;
  readonly token: string;
  readonly clientUrls: readonly string[];
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly quotaBackendBytes: number;
  readonly maxTxnOps: number;
  readonly requestTimeoutMs: number;
}

interface Waiter {
  resolve(r: { revision: number; body: Record<string, unknown> }): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** The apply index a waiter needs, and how to wake it. */
interface AppliedWaiter {
  readonly index: number;
  resolve(): void;
}

/** Proposals sent to Raft as one message at most (bounded so one append stays well under 1 MiB-ish). */
const PROPOSAL_BATCH_MAX = 512;

/** Upper bound on proposals waiting for their apply, per member. */
const PENDING_PROPOSALS_MAX = 50_000;
/** Campaigns a member makes after its leader's process is gone, before leaving it to the election timeout. */
const LEADER_LOSS_CAMPAIGNS_MAX = 3;

export interface MemberHooks {
  /** Forwards a lease keep-alive / time-to-live to the leader's client URL. */
  forwardToLeader<R>(call: (leader: EtcdClient) => Promise<R>): Promise<R>;
  onMembersChanged(members: readonly T.Member[]): void;
  onRemoved(): void;
  onLeaderChange(lead: number, isLeader: boolean): void;
  dbSizeBytes(): number;
  defragment(): Promise<void>;
}

export class StoreMember implements StoreBackend {
  private loop!: RaftLoop;
  private sm: StateMachine;
  hub: WatchHub;
  private readonly waiters = new Map<number, Waiter>();
  private appliedWaiters: AppliedWaiter[] = [];
  private readonly epoch = randomInt(1, 2 ** 31);
  private seq = 0;
  private batch: Array<{ seq: number; data: Buffer; deadlineMs: number }> = [];
  private batchScheduled: NodeJS.Immediate | null = null;
  private lead = 0;
  private raftState = StateType.Follower;
  readonly reads: ReadBarrier;
  readonly lessor: Lessor;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  leaderChanges = 0;
  proposalsFailed = 0;

  constructor(
    readonly settings: MemberSettings,
    sm: StateMachine,
    private readonly hooks: MemberHooks,
    private readonly log: pino.Logger,
  ) {
    this.sm = sm;
    this.hub = new WatchHub(sm.mvcc, { progressIntervalMs: 10 * 60 * 1000 });
    this.wantEventsWhenWatched(sm);
    const retryMs = Math.max(200, settings.heartbeatIntervalMs * 3);
    this.reads = new ReadBarrier(
      {
        issue: (ctx) => {
          try {
            this.loop.raw.readIndex(ctx);
            this.loop.schedule();
          } catch (e) {
            // No leader yet: the barrier re-issues the request after retryMs.
            if (!(e instanceof RaftError && e.code === 'ProposalDropped')) throw e;
          }
        },
        waitApplied: (index) => this.waitApplied(index),
        now: () => Date.now(),
      },
      settings.requestTimeoutMs,
      retryMs,
    );
    this.lessor = new Lessor({
      now: () => Date.now(),
      proposeRevoke: (id) => this.propose({ op: 'leaseRevoke', id }).then(() => {}),
    });
  }

  attach(loop: RaftLoop): void {
    this.loop = loop;
  }

  start(): void {
    this.timers.push(
      setInterval(() => {
        this.loop.raw.tick();
        this.loop.sendHeartbeatsNow();
        this.loop.schedule();
      }, this.settings.heartbeatIntervalMs),
    );
    this.timers.push(
      setInterval(() => {
        this.reads.tick();
        this.lessor.check();
      }, 100),
    );
    this.publishSelf();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const e = new EtcdError('Stopped');
    this.reads.failAll(e);
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiters.clear();
    this.loop.stop();
    await this.loop.idle();
  }

  pendingProposals(): number {
    return this.waiters.size;
  }

  get state(): StateMachine {
    return this.sm;
  }

  isLeader(): boolean {
    return this.raftState === StateType.Leader;
  }

  leader(): number {
    return this.lead;
  }

  // ---- Raft loop hooks ----

  onSoftState(ss: SoftState): void {
    const wasLeader = this.isLeader();
    if (ss.lead !== this.lead) {
      this.leaderChanges++;
      this.log.info({ leader: ss.lead.toString(16), term: this.term() }, 'leader changed');
    }
    this.lead = ss.lead;
    this.raftState = ss.raftState;
    if (this.isLeader() && !wasLeader) this.lessor.promote(this.sm.leases.values());
    if (!this.isLeader() && wasLeader) this.lessor.demote();
    this.hooks.onLeaderChange(this.lead, this.isLeader());
  }

  applyNormal(e: Entry): void {
    const p = decodeProposal(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
    const r = this.sm.apply(p.o);
    // Also without events (none wanted: no synced watcher), so the hub knows the revision.
    if (r.ok && r.events !== undefined) this.hub.notify(r.events, r.revision);
    if (r.ok && p.o.op === 'leaseGrant') this.lessor.granted(p.o.id, p.o.ttl);
    if (p.o.op === 'leaseRevoke') this.lessor.revoked(p.o.id);
    const [member, epoch, seq] = p.rid;
    if (member !== this.settings.memberId || epoch !== this.epoch) return;
    const w = this.waiters.get(seq);
    if (w === undefined) return;
    this.waiters.delete(seq);
    clearTimeout(w.timer);
    if (r.ok) w.resolve({ revision: r.revision, body: r.body });
    else w.reject(r.error);
  }

  applyConfChange(_e: Entry, cc: ConfChange, _cs: ConfState, replay: boolean): void {
    const ctx = cc.context.length > 0 ? decodeValue<ConfContext>(Buffer.from(cc.context)) : null;
    if (!replay) {
      for (const c of cc.changes) this.applyMemberChange(c, ctx);
    }
    this.hooks.onMembersChanged([...this.sm.members.values()]);
    if (ctx !== null && ctx.rid[0] === this.settings.memberId && ctx.rid[1] === this.epoch) {
      const w = this.waiters.get(ctx.rid[2]);
      if (w !== undefined) {
        this.waiters.delete(ctx.rid[2]);
        clearTimeout(w.timer);
        w.resolve({ revision: this.sm.mvcc.revision, body: {} });
      }
    }
    if (cc.changes.some((c) => c.type === ConfChangeType.RemoveNode && c.nodeId === this.settings.memberId)) {
      this.log.warn('this member has been permanently removed from the cluster; stopping');
      this.hooks.onRemoved();
    }
  }

  private applyMemberChange(c: ConfChangeSingle, ctx: ConfContext | null): void {
    if (c.type === ConfChangeType.RemoveNode) {
      this.sm.removeMember(c.nodeId);
      return;
    }
    const existing = this.sm.members.get(c.nodeId);
    const learner = c.type === ConfChangeType.AddLearnerNode;
    if (existing !== undefined) {
      this.sm.setMember({ ...existing, isLearner: learner });
    } else if (ctx?.member !== undefined && ctx.member.ID === c.nodeId) {
      this.sm.setMember({ ...ctx.member, isLearner: learner });
    }
  }

  /**
   * The leader's process is gone (its connection closed and its port refuses us). Rather than wait a
   * whole election timeout, campaign now (RawNode.campaignNow: a forced vote that skips the leader
   * lease, as a transfer does). Safety is Raft's as ever: the vote needs an up-to-date log and a majority.
   * A random delay of up to two heartbeats keeps the survivors from splitting the vote.
   */
  onPeerDown(peer: number): void {
    if (peer !== this.lead || this.isLeader() || this.stopped) return;
    const self = this.sm.members.get(this.settings.memberId);
    if (self === undefined || self.isLearner) return;
    this.campaignAfterLeaderLoss(peer, 1);
  }

  /**
   * Campaigns after a random delay of up to two heartbeats. Two survivors that campaign within one
   * message round trip of each other split the vote (each votes for itself); rather than leave that to
   * the election timeout (1–2 s), a member that still knows no leader tries again, a bounded number of
   * times, each after a new random delay, so that one of them soon goes first.
   */
  private campaignAfterLeaderLoss(peer: number, attempt: number): void {
    const delayMs = randomInt(0, 2 * this.settings.heartbeatIntervalMs + 1);
    setTimeout(() => {
      // Skip if a new leader is known. With no leader (another survivor's campaign is under way) still
      // campaign: that survivor may lose for a shorter log, and this one must then not wait a timeout.
      if (this.stopped || this.isLeader() || (this.lead !== peer && this.lead !== 0)) return;
      this.log.warn(
        { leader: peer.toString(16), delayMs, attempt },
        'leader process is gone; campaigning now',
      );
      this.loop.raw.campaignNow();
      this.loop.schedule();
      if (attempt >= LEADER_LOSS_CAMPAIGNS_MAX) return;
      // A vote round takes one round trip; by two heartbeats it has been won or split.
      setTimeout(() => {
        if (this.stopped || this.isLeader() || this.lead !== 0) return;
        this.campaignAfterLeaderLoss(peer, attempt + 1);
      }, 2 * this.settings.heartbeatIntervalMs);
    }, delayMs);
  }

  afterApply(applied: number): void {
    if (this.appliedWaiters.length === 0) return;
    const ready = this.appliedWaiters.filter((w) => w.index <= applied);
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > applied);
    for (const w of ready) w.resolve();
  }

  /** Writes build watch events only while some watcher takes them from the hub (Mvcc.eventsWanted). */
  private wantEventsWhenWatched(sm: StateMachine): void {
    sm.mvcc.eventsWanted = () => this.hub.hasSyncedWatchers();
  }

  /** A snapshot from the leader replaced the state machine: watchers start over on the new one. */
  replaceState(sm: StateMachine): void {
    this.sm = sm;
    this.wantEventsWhenWatched(sm);
    this.hub.setHistory(sm.mvcc);
    if (this.isLeader()) this.lessor.promote(sm.leases.values());
    this.hooks.onMembersChanged([...sm.members.values()]);
  }

  // ---- helpers ----

  /** The current term, kept from each Ready's hard state (status() copies the whole progress map). */
  private currentTerm = 0;

  onHardState(term: number): void {
    this.currentTerm = term;
  }

  private term(): number {
    return this.currentTerm;
  }

  header(revision?: number): T.ResponseHeader {
    return {
      cluster_id: this.settings.clusterId,
      member_id: this.settings.memberId,
      revision: revision ?? this.sm.mvcc.revision,
      raft_term: this.term(),
    };
  }

  private waitApplied(index: number): Promise<void> {
    if (this.loop.applied.index >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  /** Proposes an op and resolves with its apply result on this member. */
  propose(o: Op): Promise<{ revision: number; body: Record<string, unknown> }> {
    if (this.stopped) return Promise.reject(new EtcdError('Stopped'));
    if (this.waiters.size >= PENDING_PROPOSALS_MAX) return Promise.reject(new EtcdError('TooManyRequests'));
    const seq = ++this.seq;
    const p: Proposal = { rid: [this.settings.memberId, this.epoch, seq], o };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(seq);
        this.proposalsFailed++;
        reject(new EtcdError(this.lead === 0 ? 'TimeoutDueToLeaderFail' : 'Timeout'));
      }, this.settings.requestTimeoutMs);
      this.waiters.set(seq, { resolve, reject, timer });
      this.submit(seq, encodeProposal(p), Date.now() + this.settings.requestTimeoutMs);
    });
  }

  /** Hands the proposal to Raft; without a leader it retries until one is known or time runs out. */
  /**
   * Queues the proposal; all proposals made in one event-loop turn go to Raft as ONE MsgProp, so the
   * leader broadcasts one append per follower per batch instead of one per request (and followers
   * answer once per batch). Without a leader the batch is retried until the requests' deadlines.
   */
  private submit(seq: number, data: Buffer, deadlineMs: number): void {
    if (!this.waiters.has(seq)) return;
    this.batch.push({ seq, data, deadlineMs });
    if (this.batch.length >= PROPOSAL_BATCH_MAX) {
      this.flushProposals();
      return;
    }
    this.batchScheduled ??= setImmediate(() => this.flushProposals());
  }

  private flushProposals(): void {
    if (this.batchScheduled !== null) clearImmediate(this.batchScheduled);
    this.batchScheduled = null;
    const batch = this.batch.filter((p) => this.waiters.has(p.seq));
    this.batch = [];
    if (batch.length === 0 || this.stopped) return;
    try {
      this.loop.raw.proposeMany(batch.map((p) => p.data));
      this.loop.runNow();
    } catch (e) {
      if (!(e instanceof RaftError && e.code === 'ProposalDropped')) throw e;
      this.retryLater(batch);
    }
  }

  private retryLater(batch: ReadonlyArray<{ seq: number; data: Buffer; deadlineMs: number }>): void {
    const now = Date.now();
    for (const p of batch) {
      if (now + this.settings.heartbeatIntervalMs < p.deadlineMs) {
        setTimeout(() => this.submit(p.seq, p.data, p.deadlineMs), this.settings.heartbeatIntervalMs);
        continue;
      }
      const w = this.waiters.get(p.seq);
      this.waiters.delete(p.seq);
      if (w !== undefined) {
        clearTimeout(w.timer);
        this.proposalsFailed++;
        w.reject(new EtcdError('NoLeader'));
      }
    }
  }

  private proposeConfChange(changes: ConfChangeSingle[], member?: T.Member): Promise<void> {
    const seq = ++this.seq;
    const ctx: ConfContext = {
      rid: [this.settings.memberId, this.epoch, seq],
      ...(member ? { member } : {}),
    };
    const cc: ConfChange = { transition: ConfChangeTransition.Auto, changes, context: encodeValue(ctx) };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(seq);
        reject(new EtcdError('Timeout'));
      }, this.settings.requestTimeoutMs);
      this.waiters.set(seq, { resolve: () => resolve(), reject, timer });
      try {
        this.loop.raw.proposeConfChange(cc);
        this.loop.schedule();
      } catch (e) {
        this.waiters.delete(seq);
        clearTimeout(timer);
        reject(
          e instanceof RaftError ? new EtcdError(this.lead === 0 ? 'NoLeader' : 'Unhealthy', e.message) : e,
        );
      }
    });
  }

  private checkQuota(extraBytes: number): void {
    if (this.sm.hasNoSpaceAlarm()) throw new EtcdError('NoSpace');
    if (this.hooks.dbSizeBytes() + extraBytes <= this.settings.quotaBackendBytes) return;
    this.log.warn({ quota: this.settings.quotaBackendBytes }, 'backend quota exceeded; raising NOSPACE');
    this.propose({
      op: 'alarm',
      action: 'ACTIVATE',
      memberID: this.settings.memberId,
      alarm: 'NOSPACE',
    }).catch(() => {});
    throw new EtcdError('NoSpace');
  }

  private async linearizable(serializable: boolean): Promise<void> {
    if (!serializable) await this.reads.wait();
  }

  /** Publishes this member's name and client URLs through Raft (etcd's publish), retrying until applied. */
  private publishSelf(): void {
    const attempt = (left: number): void => {
      if (this.stopped || left === 0) return;
      const m = this.sm.members.get(this.settings.memberId);
      if (
        m !== undefined &&
        m.name === this.settings.name &&
        sameUrls(m.clientURLs, this.settings.clientUrls)
      )
        return;
      this.propose({
        op: 'memberAttr',
        id: this.settings.memberId,
        name: this.settings.name,
        clientURLs: [...this.settings.clientUrls],
      }).then(
        () => this.log.info('published member attributes'),
        () => setTimeout(() => attempt(left - 1), 500),
      );
    };
    attempt(1000);
  }

  // ---- KV ----

  async range(req: T.RangeRequest): Promise<T.RangeResponse> {
    validateRange(req);
    await this.linearizable(req.serializable);
    const r = this.sm.mvcc.range(req);
    return { header: this.header(r.revision), kvs: r.kvs, more: r.more, count: r.count };
  }

  async put(req: T.PutRequest): Promise<T.PutResponse> {
    validatePut(req);
    this.checkQuota(req.key.length + req.value.length);
    const r = await this.propose({ op: 'put', req });
    return { header: this.header(r.revision), prev_kv: (r.body.prev_kv as T.KeyValue | null) ?? null };
  }

  async deleteRange(req: T.DeleteRangeRequest): Promise<T.DeleteRangeResponse> {
    validateDeleteRange(req);
    const r = await this.propose({ op: 'del', req });
    return {
      header: this.header(r.revision),
      deleted: r.body.deleted as number,
      prev_kvs: (r.body.prev_kvs as T.KeyValue[]) ?? [],
    };
  }

  async txn(req: T.TxnRequest): Promise<T.TxnResponse> {
    validateTxn(req, this.settings.maxTxnOps);
    if (isReadOnlyTxn(req)) {
      // etcd serves a read-only txn as a read: linearizable unless every range is serializable.
      await this.linearizable(false);
      const r = this.sm.mvcc.txn(req, { leaseExists: (id) => this.sm.leases.has(id) });
      return { header: this.header(r.revision), succeeded: r.succeeded, responses: r.responses };
    }
    this.checkQuota(0);
    const r = await this.propose({ op: 'txn', req });
    return {
      header: this.header(r.revision),
      succeeded: r.body.succeeded as boolean,
      responses: r.body.responses as T.ResponseOp[],
    };
  }

  async compact(req: T.CompactionRequest): Promise<T.CompactionResponse> {
    const r = await this.propose({ op: 'compact', req });
    return { header: this.header(r.revision) };
  }

  watch(req: T.WatchCreateRequest, sink: WatchSink): WatchHandle {
    return this.hub.watch(req, sink);
  }

  // ---- Lease ----

  async leaseGrant(req: { TTL: number; ID: number }): Promise<{
    header: T.ResponseHeader;
    ID: number;
    TTL: number;
    error: string;
  }> {
    if (req.TTL > LEASE_TTL_MAX_SECONDS) throw new EtcdError('LeaseTTLTooLarge');
    this.checkQuota(0);
    const id = req.ID !== 0 ? req.ID : randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
    const minTtl = Math.ceil((1.5 * this.settings.electionTimeoutMs) / 1000);
    const ttl = Math.max(req.TTL, minTtl);
    const r = await this.propose({ op: 'leaseGrant', id, ttl });
    return { header: this.header(r.revision), ID: id, TTL: ttl, error: '' };
  }

  async leaseRevoke(req: { ID: number }): Promise<{ header: T.ResponseHeader }> {
    const r = await this.propose({ op: 'leaseRevoke', id: req.ID });
    return { header: this.header(r.revision) };
  }

  async leaseKeepAlive(req: { ID: number }): Promise<{ header: T.ResponseHeader; ID: number; TTL: number }> {
    if (!this.isLeader()) {
      const r = await this.hooks.forwardToLeader((ep) => forwardKeepAlive(ep, req.ID));
      return { header: this.header(), ID: req.ID, TTL: r };
    }
    const l = this.sm.leases.get(req.ID);
    if (l === undefined || !this.lessor.renew(req.ID, l.ttl)) throw new EtcdError('LeaseNotFound');
    return { header: this.header(), ID: req.ID, TTL: l.ttl };
  }

  async leaseTimeToLive(req: { ID: number; keys: boolean }): Promise<{
    header: T.ResponseHeader;
    ID: number;
    TTL: number;
    grantedTTL: number;
    keys: Buffer[];
  }> {
    await this.linearizable(false);
    const l = this.sm.leases.get(req.ID);
    const keys = req.keys && l !== undefined ? this.sm.mvcc.leaseKeys(req.ID) : [];
    if (l === undefined) return { header: this.header(), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
    const ttl = this.isLeader()
      ? this.lessor.remainingSeconds(req.ID)
      : await this.hooks.forwardToLeader((ep) => forwardTimeToLive(ep, req.ID));
    return { header: this.header(), ID: req.ID, TTL: ttl, grantedTTL: l.ttl, keys };
  }

  async leaseLeases(): Promise<{ header: T.ResponseHeader; leases: T.LeaseStatus[] }> {
    await this.linearizable(false);
    return { header: this.header(), leases: [...this.sm.leases.keys()].map((ID) => ({ ID })) };
  }

  // ---- Cluster ----

  private membersList(): T.Member[] {
    return [...this.sm.members.values()].sort((a, b) => a.ID - b.ID);
  }

  async memberAdd(req: { peerURLs: string[]; isLearner: boolean }): Promise<{
    header: T.ResponseHeader;
    member: T.Member;
    members: T.Member[];
  }> {
    if (req.peerURLs.length === 0 || !req.peerURLs.every(validUrl)) throw new EtcdError('MemberBadURLs');
    for (const m of this.sm.members.values()) {
      if (m.peerURLs.some((u) => req.peerURLs.includes(u))) throw new EtcdError('PeerURLExist');
    }
    const id = computeMemberId(req.peerURLs, this.settings.token, Date.now());
    if (this.sm.members.has(id) || this.sm.removed.has(id)) throw new EtcdError('MemberExist');
    const member: T.Member = {
      ID: id,
      name: '',
      peerURLs: req.peerURLs,
      clientURLs: [],
      isLearner: req.isLearner,
    };
    const type = req.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
    await this.proposeConfChange([{ type, nodeId: id }], member);
    return { header: this.header(), member, members: this.membersList() };
  }

  async memberRemove(req: { ID: number }): Promise<{ header: T.ResponseHeader; members: T.Member[] }> {
    if (!this.sm.members.has(req.ID)) throw new EtcdError('MemberNotFound');
    await this.proposeConfChange([{ type: ConfChangeType.RemoveNode, nodeId: req.ID }]);
    return { header: this.header(), members: this.membersList() };
  }

  async memberUpdate(req: { ID: number; peerURLs: string[] }): Promise<{
    header: T.ResponseHeader;
    members: T.Member[];
  }> {
    if (!this.sm.members.has(req.ID)) throw new EtcdError('MemberNotFound');
    if (req.peerURLs.length === 0 || !req.peerURLs.every(validUrl)) throw new EtcdError('MemberBadURLs');
    await this.propose({ op: 'memberPeers', id: req.ID, peerURLs: req.peerURLs });
    return { header: this.header(), members: this.membersList() };
  }

  async memberList(): Promise<{ header: T.ResponseHeader; members: T.Member[] }> {
    return { header: this.header(), members: this.membersList() };
  }

  async memberPromote(req: { ID: number }): Promise<{ header: T.ResponseHeader; members: T.Member[] }> {
    const m = this.sm.members.get(req.ID);
    if (m === undefined) throw new EtcdError('MemberNotFound');
    if (!m.isLearner) throw new EtcdError('MemberNotLearner');
    if (!this.isLeader()) {
      // Only the leader knows how far the learner got; etcd forwards promote to it as well.
      await this.hooks.forwardToLeader((c) => c.memberPromote(String(req.ID)));
      await this.linearizable(false);
      return { header: this.header(), members: this.membersList() };
    }
    const st = this.loop.raw.status();
    const pr = st.progress.get(req.ID);
    // etcd: a learner is ready once its match index is within 90% of the leader's.
    if (pr === undefined || pr.match < st.hardState.commit * 0.9) throw new EtcdError('LearnerNotReady');
    await this.proposeConfChange([{ type: ConfChangeType.AddNode, nodeId: req.ID }]);
    return { header: this.header(), members: this.membersList() };
  }

  // ---- Maintenance ----

  async alarm(req: { action: T.AlarmAction; memberID: number; alarm: T.AlarmType }): Promise<{
    header: T.ResponseHeader;
    alarms: T.AlarmMember[];
  }> {
    if (req.action === 'GET') {
      const alarms = this.sm.alarms.filter(
        (a) =>
          (req.memberID === 0 || a.memberID === req.memberID) &&
          (req.alarm === 'NONE' || a.alarm === req.alarm),
      );
      return { header: this.header(), alarms };
    }
    const before = this.sm.alarms;
    await this.propose({ op: 'alarm', action: req.action, memberID: req.memberID, alarm: req.alarm });
    const changed =
      req.action === 'DEACTIVATE' ? before.filter((a) => !this.sm.alarms.includes(a)) : this.sm.alarms;
    return { header: this.header(), alarms: changed };
  }

  async status(): Promise<T.StatusResponse> {
    const st = this.loop.raw.status();
    const size = this.hooks.dbSizeBytes();
    return {
      header: this.header(),
      version: ETCD_VERSION,
      dbSize: size,
      leader: this.lead,
      raftIndex: st.hardState.commit,
      raftTerm: st.hardState.term,
      raftAppliedIndex: this.loop.applied.index,
      errors: this.sm.alarms.map((a) => `memberID:${a.memberID} alarm:${a.alarm} `),
      dbSizeInUse: this.sm.mvcc.sizeBytes(),
      isLearner: this.sm.members.get(this.settings.memberId)?.isLearner ?? false,
    };
  }

  async defragment(): Promise<{ header: T.ResponseHeader }> {
    await this.hooks.defragment();
    return { header: this.header() };
  }

  async hash(): Promise<{ header: T.ResponseHeader; hash: number }> {
    return { header: this.header(), hash: this.sm.mvcc.hashKV(0).hash };
  }

  async hashKV(req: { revision: number }): Promise<{
    header: T.ResponseHeader;
    hash: number;
    compact_revision: number;
  }> {
    const r = this.sm.mvcc.hashKV(req.revision);
    return { header: this.header(), hash: r.hash, compact_revision: r.compactRevision };
  }

  /**
   * The state as one stream, in etcd's framing: the body padded to a multiple of 512 bytes (etcd's
   * is a bbolt file of 512-byte-aligned pages), then its SHA-256, which etcdctl snapshot save checks.
   * The body is Keelson's own snapshot format, not a bbolt file.
   */
  snapshot(): AsyncIterable<Buffer> & { sizeBytes: number } {
    const dump = Buffer.from(this.sm.dump());
    const padded = Buffer.alloc(Math.ceil(dump.length / 512) * 512);
    dump.copy(padded);
    const data = Buffer.concat([padded, createHash('sha256').update(padded).digest()]);
    const chunkBytes = 1024 * 1024;
    return {
      sizeBytes: data.length,
      async *[Symbol.asyncIterator]() {
        for (let off = 0; off < data.length; off += chunkBytes) yield data.subarray(off, off + chunkBytes);
      },
    };
  }

  async moveLeader(req: { targetID: number }): Promise<{ header: T.ResponseHeader }> {
    if (!this.isLeader()) throw new EtcdError('NotLeader');
    if (!this.sm.members.has(req.targetID) || this.sm.members.get(req.targetID)?.isLearner) {
      throw new EtcdError('BadLeaderTransferee');
    }
    this.loop.raw.transferLeader(req.targetID);
    this.loop.schedule();
    const deadline = Date.now() + this.settings.requestTimeoutMs;
    while (this.lead !== req.targetID) {
      if (Date.now() > deadline) throw new EtcdError('Timeout');
      await new Promise((r) => setTimeout(r, this.settings.heartbeatIntervalMs));
    }
    return { header: this.header() };
  }

  /** For /health: a leader, no alarm, and a linearizable read that completes. */
  async health(timeoutMs: number): Promise<{ health: boolean; reason: string }> {
    if (this.sm.alarms.length > 0)
      return { health: false, reason: `ALARM ${this.sm.alarms.map((a) => a.alarm).join(',')}` };
    if (this.lead === 0) return { health: false, reason: 'RAFT NO LEADER' };
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('timeout')), timeoutMs),
    );
    try {
      await Promise.race([this.reads.wait(), timeout]);
      return { health: true, reason: '' };
    } catch (e) {
      return { health: false, reason: `QGET ERROR: ${(e as Error).message}` };
    }
  }
}

// ---------------------------------------------------------------- proposal entries
//
// A Raft entry's payload is a Proposal. Puts and single deletes, the hot kinds, use a fixed binary
// layout (a msgpackr map with string keys cost ~2 us to encode and decode per write); every other
// kind is msgpackr. The binary form starts with 0xc1, which msgpack reserves as "never used", so it
// cannot be mistaken for msgpackr's output (a map, 0x8X) and entries written by older builds, which
// are all msgpackr, still decode when a WAL is replayed.
//
//   [0] 0xc1  [1] kind (1 put, 2 delete-range)  [2] flags  [3..11) member id, float64 LE
//   [11..15) epoch, uint32 LE  [15..23) seq, float64 LE
//   put:    [23..31) lease, float64 LE  [31..35) key length, uint32 LE  key  value (the rest)
//   delete: [23..27) key length, uint32 LE  key  range_end (the rest)
// Put flags: 1 prev_kv, 2 ignore_value, 4 ignore_lease. Delete flags: 1 prev_kv.

const PROPOSAL_TAG = 0xc1;
const KIND_PUT = 1;
const KIND_DEL = 2;
const RID_END = 23;
const PUT_KEY_AT = RID_END + 8 + 4;
const DEL_KEY_AT = RID_END + 4;
const UINT32_MAX = 0xffffffff;

/** The entry payload for a proposal: binary for a put or delete-range, msgpackr otherwise. */
export function encodeProposal(p: Proposal): Buffer {
  const [member, epoch, seq] = p.rid;
  // Anything the fixed layout could not carry exactly goes the general way.
  if (typeof member !== 'number' || typeof seq !== 'number' || epoch >>> 0 !== epoch) return encodeValue(p);
  const o = p.o;
  if (o.op === 'put') {
    const r = o.req;
    if (
      !(r.key instanceof Uint8Array && r.value instanceof Uint8Array) ||
      typeof r.lease !== 'number' ||
      typeof r.prev_kv !== 'boolean' ||
      typeof r.ignore_value !== 'boolean' ||
      typeof r.ignore_lease !== 'boolean' ||
      r.key.length > UINT32_MAX
    ) {
      return encodeValue(p);
    }
    const b = Buffer.allocUnsafe(PUT_KEY_AT + r.key.length + r.value.length);
    const flags = (r.prev_kv ? 1 : 0) | (r.ignore_value ? 2 : 0) | (r.ignore_lease ? 4 : 0);
    writeRid(b, KIND_PUT, flags, member, epoch, seq);
    b.writeDoubleLE(r.lease, RID_END);
    b.writeUInt32LE(r.key.length, RID_END + 8);
    b.set(r.key, PUT_KEY_AT);
    b.set(r.value, PUT_KEY_AT + r.key.length);
    return b;
  }
  if (o.op === 'del') {
    const r = o.req;
    if (
      !(r.key instanceof Uint8Array && r.range_end instanceof Uint8Array) ||
      typeof r.prev_kv !== 'boolean' ||
      r.key.length > UINT32_MAX
    ) {
      return encodeValue(p);
    }
    const b = Buffer.allocUnsafe(DEL_KEY_AT + r.key.length + r.range_end.length);
    writeRid(b, KIND_DEL, r.prev_kv ? 1 : 0, member, epoch, seq);
    b.writeUInt32LE(r.key.length, RID_END);
    b.set(r.key, DEL_KEY_AT);
    b.set(r.range_end, DEL_KEY_AT + r.key.length);
    return b;
  }
  return encodeValue(p);
}

function writeRid(b: Buffer, kind: number, flags: number, member: number, epoch: number, seq: number): void {
  b[0] = PROPOSAL_TAG;
  b[1] = kind;
  b[2] = flags;
  b.writeDoubleLE(member, 3);
  b.writeUInt32LE(epoch, 11);
  b.writeDoubleLE(seq, 15);
}

/** Decodes an entry payload of either form. Keys and values are views into `data`. */
export function decodeProposal(data: Buffer): Proposal {
  if (data.length === 0 || data[0] !== PROPOSAL_TAG) return decodeValue<Proposal>(data);
  if (data.length < RID_END)
    throw new Error(`corrupt proposal entry: ${data.length} bytes, header needs ${RID_END}`);
  const kind = data[1];
  const flags = data[2] as number;
  const rid = [data.readDoubleLE(3), data.readUInt32LE(11), data.readDoubleLE(15)] as const;
  if (kind === KIND_PUT) {
    if (data.length < PUT_KEY_AT) throw new Error(`corrupt put proposal: ${data.length} bytes`);
    const keyEnd = PUT_KEY_AT + data.readUInt32LE(RID_END + 8);
    if (keyEnd > data.length) throw new Error('corrupt put proposal: key runs past the end');
    const req: T.PutRequest = {
      key: data.subarray(PUT_KEY_AT, keyEnd),
      value: data.subarray(keyEnd),
      lease: data.readDoubleLE(RID_END),
      prev_kv: (flags & 1) !== 0,
      ignore_value: (flags & 2) !== 0,
      ignore_lease: (flags & 4) !== 0,
    };
    return { rid, o: { op: 'put', req } };
  }
  if (kind === KIND_DEL) {
    if (data.length < DEL_KEY_AT) throw new Error(`corrupt delete proposal: ${data.length} bytes`);
    const keyEnd = DEL_KEY_AT + data.readUInt32LE(RID_END);
    if (keyEnd > data.length) throw new Error('corrupt delete proposal: key runs past the end');
    const req: T.DeleteRangeRequest = {
      key: data.subarray(DEL_KEY_AT, keyEnd),
      range_end: data.subarray(keyEnd),
      prev_kv: (flags & 1) !== 0,
    };
    return { rid, o: { op: 'del', req } };
  }
  throw new Error(`corrupt proposal entry: unknown kind ${String(kind)}`);
}

interface ConfContext {
  readonly rid: readonly [number, number, number];
  readonly member?: T.Member;
}

function isReadOnlyTxn(req: T.TxnRequest): boolean {
  const ro = (ops: T.RequestOp[]): boolean =>
    ops.every((op) => (op.request_range ? true : op.request_txn ? isReadOnlyTxn(op.request_txn) : false));
  return ro(req.success) && ro(req.failure);
}

function validUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.port !== '';
  } catch {
    return false;
  }
}

function sameUrls(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}

async function forwardKeepAlive(c: EtcdClient, id: number): Promise<number> {
  const r = await c.leaseKeepAliveOnce(String(id));
  if (r.TTL <= 0) throw new EtcdError('LeaseNotFound');
  return r.TTL;
}

async function forwardTimeToLive(c: EtcdClient, id: number): Promise<number> {
  return (await c.leaseTimeToLive(String(id), { keys: false })).TTL;
}
