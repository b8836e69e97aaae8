// The data types of the Raft core, modelled on etcd-io/raft's raftpb. Node ids are positive
// integers below 2^53 (0 means "none"); indexes and terms are non-negative integers.

/** The id that means "no node" (no leader, no vote). */
export const NONE = 0;

export enum EntryType {
  Normal = 0,
  ConfChange = 1,
}

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Application payload; for ConfChange entries the encoded ConfChange (see confchange/codec). */
  readonly data: Uint8Array;
}

/** What a node must persist before it sends the messages of the same Ready. */
export interface HardState {
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
}

/**
 * The membership configuration. When `votersOutgoing` is non-empty the cluster is in a joint
 * configuration (C_old,new): decisions need a majority of `voters` and of `votersOutgoing`.
 * `learnersNext` are voters of the outgoing config that become learners when the joint config is left.
 */
export interface ConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  readonly votersOutgoing: readonly number[];
  readonly learnersNext: readonly number[];
  /** Leave the joint config automatically once the entering change is committed. */
  readonly autoLeave: boolean;
}

export interface SnapshotMetadata {
  readonly confState: ConfState;
  readonly index: number;
  readonly term: number;
}

export interface Snapshot {
  readonly data: Uint8Array;
  readonly metadata: SnapshotMetadata;
}

export enum MessageType {
  /** Local: the node's election timer fired. */
  Hup = 0,
  /** Local: the leader's heartbeat timer fired. */
  Beat = 1,
  /** Local (or forwarded from a follower): append these entries to the log. */
  Prop = 2,
  App = 3,
  AppResp = 4,
  Vote = 5,
  VoteResp = 6,
  Snap = 7,
  Heartbeat = 8,
  HeartbeatResp = 9,
  /** Local: the snapshot sent to `from` failed (reject=true) or finished. */
  SnapStatus = 10,
  /** Local: the transport cannot reach `from`. */
  Unreachable = 11,
  /** Local or forwarded: transfer leadership to `from`. */
  TransferLeader = 12,
  /** From the leader to the transferee: start an election now, ignoring the lease. */
  TimeoutNow = 13,
  /** Local or forwarded: linearizable read request; `entries[0].data` carries the request context. */
  ReadIndex = 14,
  ReadIndexResp = 15,
  PreVote = 16,
  PreVoteResp = 17,
  /** Local: the leader checks that it heard from a quorum within the election timeout. */
  CheckQuorum = 18,
}

export interface Message {
  readonly type: MessageType;
  readonly to: number;
  readonly from: number;
  readonly term: number;
  /** For App: the term of the entry at `index` (the entry preceding `entries`). For votes: last log term. */
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot: Snapshot | null;
  readonly reject: boolean;
  readonly rejectHint: number;
  /** Opaque context: ReadIndex request ids, campaign-transfer markers. */
  readonly context: Uint8Array;
}

export enum StateType {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}

/** Volatile state, useful for logging and observation; never needs persisting. */
export interface SoftState {
  readonly lead: number;
  readonly raftState: StateType;
}

/** The answer to a ReadIndex request: once applied >= index, a read of the state machine is linearizable. */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearnerNode = 3,
}

export enum ConfChangeTransition {
  /** One simple change uses no joint state; several use a joint config left automatically. */
  Auto = 0,
  /** Use a joint config and leave it automatically once committed. */
  JointImplicit = 1,
  /** Use a joint config and stay in it until an empty ConfChange is proposed. */
  JointExplicit = 2,
}

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: number;
}

/** A membership change. An empty `changes` list with a joint config active means "leave joint". */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  readonly context: Uint8Array;
}

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}

export function isEmptySnapshot(snap: Snapshot | null): boolean {
  return snap === null || snap.metadata.index === 0;
}

const NO_ENTRIES: readonly Entry[] = Object.freeze([]);

/**
 * Builds a message with every field defaulted; only the fields given differ. Every message is
 * built here with the same field order, so all messages share one hidden class and the hot paths
 * that read them stay monomorphic (spreading differently shaped objects made them megamorphic).
 */
export function message(f: Partial<Message> & Pick<Message, 'type'>, from = f.from, term = f.term): Message {
  return {
    type: f.type,
    to: f.to ?? NONE,
    from: from ?? NONE,
    term: term ?? 0,
    logTerm: f.logTerm ?? 0,
    index: f.index ?? 0,
    entries: f.entries ?? NO_ENTRIES,
    commit: f.commit ?? 0,
    snapshot: f.snapshot ?? null,
    reject: f.reject ?? false,
    rejectHint: f.rejectHint ?? 0,
    context: f.context ?? EMPTY_BYTES,
  };
}

/** Messages that originate on the local node and never travel the network. */
export function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.Hup ||
    t === MessageType.Beat ||
    t === MessageType.Unreachable ||
    t === MessageType.SnapStatus ||
    t === MessageType.CheckQuorum
  );
}

/** Responses to a request; a node answers these only if it still cares. */
export function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.Unreachable ||
    t === MessageType.PreVoteResp
  );
}

/** The response type that answers a vote request of type `t`. */
export function voteRespMsgType(t: MessageType): MessageType {
  if (t === MessageType.Vote) return MessageType.VoteResp;
  if (t === MessageType.PreVote) return MessageType.PreVoteResp;
  throw new Error(`not a vote message: ${MessageType[t]}`);
}

/** Approximate encoded size of an entry, used for batching limits and the uncommitted-size bound. */
export function entrySizeBytes(e: Entry): number {
  return e.data.byteLength + 24;
}

/** The payload size counted against the uncommitted-log bound (etcd counts data only). */
export function payloadSizeBytes(e: Entry): number {
  return e.data.byteLength;
}
