// A tiny synchronous cluster for scenario tests of the core: every node's storage is a
// MemoryStorage, messages go through an explicit mailbox the test controls, and Ready handling
// follows the contract (persist, then send, then apply, then advance).
import {
  type Config,
  decodeConfChange,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  type MessageType,
  RaftError,
  RawNode,
  SeededRand,
  type Snapshot,
  StateType,
} from '@keelson/raft';

export interface TestNode {
  id: number;
  node: RawNode;
  storage: MemoryStorage;
  applied: Entry[];
  readStates: { index: number; ctx: string }[];
}

export type Filter = (m: Message) => boolean;

export class Cluster {
  nodes = new Map<number, TestNode>();
  mailbox: Message[] = [];
  /** Messages for which a filter returns false are dropped. */
  filters: Filter[] = [];
  delivered: Message[] = [];
  private seed = 1;

  constructor(
    ids: number[],
    readonly opts: Partial<Config> = {},
  ) {
    for (const id of ids) this.add(id, bootstrapStorage(ids));
  }

  add(id: number, storage: MemoryStorage, applied = 0): TestNode {
    const node = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      applied,
      rand: new SeededRand(this.seed++),
      ...this.opts,
    });
    const n: TestNode = { id, node, storage, applied: [], readStates: [] };
    this.nodes.set(id, n);
    return n;
  }

  get(id: number): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Processes every node's Ready and delivers messages until the cluster is quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const n of this.nodes.values()) {
        if (n.node.hasReady()) {
          busy = true;
          this.handleReady(n);
        }
      }
      const batch = this.mailbox;
      this.mailbox = [];
      for (const m of batch) {
        busy = true;
        this.deliver(m);
      }
      if (!busy) return;
    }
    throw new Error('cluster did not stabilize');
  }

  handleReady(n: TestNode): void {
    const rd = n.node.ready();
    if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) n.storage.append(rd.entries);
    if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.mailbox.push(m);
    if (rd.snapshot !== null) n.applied = [];
    for (const e of rd.committedEntries) {
      n.applied.push(e);
      if (e.type === EntryType.ConfChange) {
        const cs = n.node.applyConfChange(decodeConfChange(e.data));
        // Like etcd's server, keep the latest snapshot's configuration current, so that a member
        // added now can be caught up by a snapshot that includes it.
        n.storage.createSnapshot(e.index, cs, new Uint8Array(0));
      }
    }
    for (const rs of rd.readStates)
      n.readStates.push({ index: rs.index, ctx: new TextDecoder().decode(rs.requestCtx) });
    n.node.advance();
  }

  deliver(m: Message): void {
    if (!this.filters.every((f) => f(m))) return;
    const to = this.nodes.get(m.to);
    if (to === undefined) return;
    this.delivered.push(m);
    try {
      to.node.step(m);
    } catch (err) {
      // A removed member may still answer; its responses are expected to be refused.
      if (!(err instanceof RaftError && err.code === 'StepPeerNotFound')) throw err;
    }
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.node.tick();
      this.stabilize();
    }
  }

  /** Campaigns on `id` and settles; returns the node. */
  elect(id: number): TestNode {
    this.get(id).node.campaign();
    this.stabilize();
    return this.get(id);
  }

  leaders(): number[] {
    return [...this.nodes.values()].filter((n) => n.node.state === StateType.Leader).map((n) => n.id);
  }

  /** Cuts all traffic between the two groups (both directions). */
  partition(a: number[], b: number[]): void {
    this.filters.push(
      (m) => !((a.includes(m.from) && b.includes(m.to)) || (b.includes(m.from) && a.includes(m.to))),
    );
  }

  heal(): void {
    this.filters = [];
  }

  appliedData(id: number): string[] {
    return this.get(id)
      .applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0)
      .map((e) => new TextDecoder().decode(e.data));
  }

  sentOfType(t: MessageType): Message[] {
    return this.delivered.filter((m) => m.type === t);
  }
}

export function bootstrapStorage(voters: number[], learners: number[] = []): MemoryStorage {
  const s = new MemoryStorage();
  const snap: Snapshot = {
    data: new Uint8Array(0),
    metadata: {
      index: 1,
      term: 1,
      confState: { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false },
    },
  };
  s.applySnapshot(snap);
  return s;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
