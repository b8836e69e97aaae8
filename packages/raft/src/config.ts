// Configuration of one Raft node. Defaults follow etcd's raft config where etcd sets one.
import { RaftError } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import type { Rand } from './rand.js';
import type { Storage } from './storage.js';

export enum ReadOnlyOption {
  /** Confirm leadership with a heartbeat round to a quorum before answering (linearizable). */
  Safe = 0,
  /** Trust the leader lease (needs CheckQuorum and bounded clock drift); no round trip. */
  LeaseBased = 1,
}

export interface Config {
  /** This node's id; never 0. */
  readonly id: number;
  /** Ticks without hearing from a leader before a follower campaigns; randomized in [e, 2e). */
  readonly electionTick: number;
  /** Ticks between leader heartbeats; must be less than electionTick. */
  readonly heartbeatTick: number;
  /** The node's durable state; the caller appends to it what each Ready says to persist. */
  readonly storage: Storage;
  /** The last applied index; set on restart so that committed entries are not applied twice. */
  readonly applied?: number;
  /** Upper bound on the byte size of the entries in one append message (batching). */
  readonly maxSizePerMsgBytes?: number;
  /** Upper bound on the byte size of the committed entries handed out in one Ready. */
  readonly maxCommittedSizePerReadyBytes?: number;
  /** Upper bound on the byte size of the uncommitted tail of the leader's log; 0 means unbounded. */
  readonly maxUncommittedEntriesSizeBytes?: number;
  /** Upper bound on append messages in flight to one follower in Replicate state. */
  readonly maxInflightMsgs?: number;
  /** Upper bound on bytes in flight to one follower; 0 means unbounded. */
  readonly maxInflightBytes?: number;
  readonly checkQuorum?: boolean;
  readonly preVote?: boolean;
  readonly readOnlyOption?: ReadOnlyOption;
  /** When set, followers refuse proposals with "not leader; leader is X" instead of forwarding. */
  readonly disableProposalForwarding?: boolean;
  /** A leader removed from the configuration steps down once the removal is applied. */
  readonly stepDownOnRemoval?: boolean;
  /** Election-timeout jitter comes from here; inject a seeded generator for reproducible runs. */
  readonly rand: Rand;
  readonly logger?: Logger;
}

export interface ResolvedConfig extends Required<Omit<Config, 'logger'>> {
  readonly logger: Logger;
}

export const DEFAULTS = {
  maxSizePerMsgBytes: 1024 * 1024,
  maxCommittedSizePerReadyBytes: 4 * 1024 * 1024,
  maxUncommittedEntriesSizeBytes: 64 * 1024 * 1024,
  maxInflightMsgs: 512,
  maxInflightBytes: 0,
} as const;

/** Fills in defaults and rejects configurations that cannot work. */
export function resolveConfig(c: Config): ResolvedConfig {
  const bad = (why: string): RaftError => new RaftError('InvalidCall', `invalid raft config: ${why}`);
  if (!Number.isSafeInteger(c.id) || c.id <= 0) throw bad('id must be a positive integer');
  if (!(c.heartbeatTick > 0)) throw bad('heartbeatTick must be greater than 0');
  if (!(c.electionTick > c.heartbeatTick)) throw bad('electionTick must be greater than heartbeatTick');
  const maxInflightMsgs = c.maxInflightMsgs ?? DEFAULTS.maxInflightMsgs;
  if (!(maxInflightMsgs > 0)) throw bad('maxInflightMsgs must be greater than 0');
  const readOnlyOption = c.readOnlyOption ?? ReadOnlyOption.Safe;
  if (readOnlyOption === ReadOnlyOption.LeaseBased && !c.checkQuorum) {
    throw bad('checkQuorum must be enabled when readOnlyOption is LeaseBased');
  }
  return {
    id: c.id,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    storage: c.storage,
    applied: c.applied ?? 0,
    maxSizePerMsgBytes: c.maxSizePerMsgBytes ?? DEFAULTS.maxSizePerMsgBytes,
    maxCommittedSizePerReadyBytes: c.maxCommittedSizePerReadyBytes ?? DEFAULTS.maxCommittedSizePerReadyBytes,
    maxUncommittedEntriesSizeBytes:
      c.maxUncommittedEntriesSizeBytes ?? DEFAULTS.maxUncommittedEntriesSizeBytes,
    maxInflightMsgs,
    maxInflightBytes: c.maxInflightBytes ?? DEFAULTS.maxInflightBytes,
    checkQuorum: c.checkQuorum ?? true,
    preVote: c.preVote ?? true,
    readOnlyOption,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    stepDownOnRemoval: c.stepDownOnRemoval ?? true,
    rand: c.rand,
    logger: c.logger ?? silentLogger,
  };
}
