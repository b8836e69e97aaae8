// Starting a member: open and verify the data dir, bootstrap a new cluster or join an existing one,
// restore the Raft log and the state machine, then start the peer transport, the Raft loop, and the
// client listeners (gRPC and HTTP on the same port, like etcd).
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type ConfState,
  emptyConfState,
  MemoryStorage,
  type Logger as RaftLogger,
  RawNode,
  SeededRand,
  type Snapshot,
} from '@keelson/raft';
import type pino from 'pino';
import { EtcdClient } from '../client.js';
import type { MemberConfig } from '../config.js';
import { EtcdError } from '../errors.js';
import { listenClientUrls } from '../grpc/listen.js';
import { createEtcdGrpcServer } from '../grpc/server.js';
import { createHttpHandler, StoreMetrics } from '../metrics.js';
import {
  type BatchOp,
  DataDirError,
  Disk,
  type DiskMeta,
  encodeValue,
  FORMAT,
  K,
  type LoadedState,
} from '../storage/disk.js';
import { PeerTransport } from '../transport/index.js';
import { FaultInjector } from './faults.js';
import { computeClusterId, computeMemberId, idHex } from './ids.js';
import { ETCD_VERSION, StoreMember } from './member.js';
import { RaftLoop } from './raft_loop.js';
import { StateMachine } from './state.js';

export interface RunningMember {
  readonly member: StoreMember;
  readonly memberId: number;
  readonly clusterId: number;
  clientPorts(): number[];
  peerPorts(): number[];
  stop(): Promise<void>;
  /** Resolves when the member stopped by itself (removed from the cluster, fatal error). */
  readonly done: Promise<{ code: number; reason: string }>;
}

interface Identity {
  readonly meta: DiskMeta;
  readonly state: StateMachine;
  readonly storage: MemoryStorage;
  /** Raft's applied index (the snapshot index) and the state machine's. */
  readonly raftApplied: { index: number; term: number; confState: ConfState };
  readonly stateApplied: number;
  /** Peers to connect to before the state machine knows them (a joining member's). */
  readonly initialPeers: ReadonlyArray<{ ID: number; peerURLs: string[] }>;
}

export async function startMember(config: MemberConfig, logger: pino.Logger): Promise<RunningMember> {
  mkdirSync(config.dataDir, { recursive: true });
  const disk = await Disk.open(config.dataDir);
  let id: Identity;
  try {
    const loaded = await disk.load();
    id = loaded === null ? await bootstrap(config, disk, logger) : restore(config, loaded);
    if (loaded !== null && loaded.walTornBytes > 0) {
      logger.warn(
        { bytes: loaded.walTornBytes },
        'cut off a torn last WAL record (a write interrupted by a crash)',
      );
    }
  } catch (e) {
    await disk.close().catch(() => {});
    throw e;
  }
  return run(config, disk, id, logger);
}

/** A data dir written for another member or another cluster is refused, never reused. */
function restore(config: MemberConfig, s: LoadedState): Identity {
  if (s.meta.name !== config.name) {
    throw new DataDirError(
      config.dataDir,
      `belongs to member "${s.meta.name}", not to --name "${config.name}"`,
    );
  }
  if (config.initialClusterState === 'new' && config.initialCluster.some((m) => m.name === config.name)) {
    const expected = expectedClusterId(config);
    if (expected !== s.meta.clusterId && s.meta.token === config.initialClusterToken) {
      throw new DataDirError(
        config.dataDir,
        `belongs to cluster ${idHex(s.meta.clusterId)}, but --initial-cluster describes cluster ${idHex(expected)}`,
      );
    }
    if (s.meta.token !== config.initialClusterToken) {
      throw new DataDirError(
        config.dataDir,
        `belongs to cluster token "${s.meta.token}", not --initial-cluster-token "${config.initialClusterToken}"`,
      );
    }
  }
  const storage = new MemoryStorage();
  const snapMeta = s.snapMeta;
  if (snapMeta !== null) storage.applySnapshot({ data: new Uint8Array(0), metadata: snapMeta });
  const snapIndex = snapMeta?.index ?? 0;
  storage.append(s.entries.filter((e) => e.index > snapIndex));
  // Commit-only hard states are never written (see RaftLoop.persistOps), so the stored commit may lag:
  // everything applied or snapshotted was committed, and those entries are on disk.
  const applied = Math.min(s.applied?.index ?? 0, storage.lastIndex());
  storage.setHardState({ ...s.hardState, commit: Math.max(s.hardState.commit, applied, snapIndex) });
  return {
    meta: s.meta,
    state: StateMachine.load(s.stateRecords),
    storage,
    raftApplied: {
      index: snapIndex,
      term: snapMeta?.term ?? 0,
      confState: snapMeta?.confState ?? emptyConfState(),
    },
    stateApplied: s.applied?.index ?? 0,
    initialPeers: [],
  };
}

function expectedClusterId(config: MemberConfig): number {
  return computeClusterId(
    config.initialCluster.map((m) => computeMemberId(m.peerUrls, config.initialClusterToken)),
  );
}

async function bootstrap(config: MemberConfig, disk: Disk, log: pino.Logger): Promise<Identity> {
  return config.initialClusterState === 'new' ? bootstrapNew(config, disk) : joinExisting(config, disk, log);
}

/** Every member of a new cluster starts from the same snapshot at index 1 holding the configuration. */
async function bootstrapNew(config: MemberConfig, disk: Disk): Promise<Identity> {
  const token = config.initialClusterToken;
  const members = config.initialCluster.map((m) => ({
    ID: computeMemberId(m.peerUrls, token),
    name: m.name,
    peerURLs: m.peerUrls,
    clientURLs: [] as string[],
    isLearner: false,
  }));
  const self = members.find((m) => m.name === config.name);
  if (self === undefined)
    throw new DataDirError(config.dataDir, `--name ${config.name} is not in --initial-cluster`);
  const clusterId = computeClusterId(members.map((m) => m.ID));
  const meta: DiskMeta = { format: FORMAT, clusterId, memberId: self.ID, name: config.name, token };
  const state = new StateMachine();
  for (const m of members) state.setMember(m);
  const confState: ConfState = { ...emptyConfState(), voters: members.map((m) => m.ID) };
  const snapMeta = { index: 1, term: 1, confState };
  await disk.initialise(meta);
  const ops = state.takeChanges();
  ops.push({ type: 'put', key: K.snapMeta, value: encodeValue(snapMeta) });
  ops.push({ type: 'put', key: K.applied, value: encodeValue(snapMeta) });
  await disk.write(ops, true);
  await disk.resetLog(1, 1, { term: 1, vote: 0, commit: 1 });
  const storage = new MemoryStorage();
  storage.applySnapshot({ data: new Uint8Array(0), metadata: snapMeta });
  storage.setHardState({ term: 1, vote: 0, commit: 1 });
  return { meta, state, storage, raftApplied: snapMeta, stateApplied: 1, initialPeers: [] };
}

/** A member added with `member add` learns its id and the cluster from a running peer (etcd does the same). */
async function joinExisting(config: MemberConfig, disk: Disk, log: pino.Logger): Promise<Identity> {
  const peers = config.initialCluster.filter((m) => m.name !== config.name).flatMap((m) => m.peerUrls);
  let lastError = 'no peer in --initial-cluster other than this member';
  for (let attempt = 0; attempt < 20; attempt++) {
    for (const url of peers) {
      try {
        const res = await fetch(new URL('/members', url), { signal: AbortSignal.timeout(2000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const body = (await res.json()) as {
          clusterId: string;
          members: Array<{ ID: string; peerURLs: string[] }>;
        };
        const own = body.members.find((m) =>
          m.peerURLs.some((u) => config.initialAdvertisePeerUrls.includes(u)),
        );
        if (own === undefined) {
          throw new DataDirError(
            config.dataDir,
            `cluster at ${url} has no member with peer URLs ${config.initialAdvertisePeerUrls.join(',')}; run "etcdctl member add" first`,
          );
        }
        const meta: DiskMeta = {
          format: FORMAT,
          clusterId: Number(body.clusterId),
          memberId: Number(own.ID),
          name: config.name,
          token: config.initialClusterToken,
        };
        await disk.initialise(meta);
        log.info({ peer: url, memberId: idHex(meta.memberId) }, 'joining existing cluster');
        return {
          meta,
          state: new StateMachine(),
          storage: new MemoryStorage(),
          raftApplied: { index: 0, term: 0, confState: emptyConfState() },
          stateApplied: 0,
          initialPeers: body.members.map((m) => ({ ID: Number(m.ID), peerURLs: m.peerURLs })),
        };
      } catch (e) {
        if (e instanceof DataDirError) throw e;
        lastError = `${url}: ${(e as Error).message}`;
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new DataDirError(config.dataDir, `cannot join the existing cluster: ${lastError}`);
}

function raftLogger(log: pino.Logger): RaftLogger {
  return {
    debug: (msg, f) => log.debug(f ?? {}, msg),
    info: (msg, f) => log.info(f ?? {}, msg),
    warn: (msg, f) => log.warn(f ?? {}, msg),
    error: (msg, f) => log.error(f ?? {}, msg),
  };
}

async function run(config: MemberConfig, disk: Disk, id: Identity, log: pino.Logger): Promise<RunningMember> {
  const { memberId, clusterId } = id.meta;
  log.info(
    { memberId: idHex(memberId), clusterId: idHex(clusterId), dataDir: config.dataDir },
    'starting member',
  );
  const metrics = new StoreMetrics();
  const raw = new RawNode({
    id: memberId,
    electionTick: Math.max(2, Math.round(config.electionTimeoutMs / config.heartbeatIntervalMs)),
    heartbeatTick: 1,
    storage: id.storage,
    applied: id.raftApplied.index,
    checkQuorum: true,
    preVote: true,
    rand: new SeededRand(Math.floor(Math.random() * 2 ** 32)),
    logger: raftLogger(log.child({ component: 'raft' })),
  });
  let resolveDone!: (v: { code: number; reason: string }) => void;
  const done = new Promise<{ code: number; reason: string }>((r) => {
    resolveDone = r;
  });
  const leaderClients = new Map<string, EtcdClient>();
  const member: StoreMember = new StoreMember(
    {
      clusterId,
      memberId,
      name: config.name,
      token: id.meta.token,
      clientUrls: config.advertiseClientUrls,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      electionTimeoutMs: config.electionTimeoutMs,
      quotaBackendBytes: config.quotaBackendBytes,
      maxTxnOps: config.maxTxnOps,
      requestTimeoutMs: 5000 + 2 * config.electionTimeoutMs,
    },
    id.state,
    {
      forwardToLeader: async (call) => {
        const leader = member.state.members.get(member.leader());
        const ep = leader?.clientURLs[0];
        if (ep === undefined) throw new EtcdError('NoLeader');
        let c = leaderClients.get(ep);
        if (c === undefined) {
          // One client per leader endpoint, reused; a handful at most over the member's life.
          if (leaderClients.size >= 16) {
            for (const old of leaderClients.values()) old.close();
            leaderClients.clear();
          }
          c = new EtcdClient({ endpoints: [ep] });
          leaderClients.set(ep, c);
        }
        try {
          return await call(c);
        } catch (e) {
          if (e instanceof EtcdError) throw e;
          const details = String((e as { details?: string }).details ?? (e as Error).message);
          if (details.includes('requested lease not found')) throw new EtcdError('LeaseNotFound');
          if (details.includes('can only promote a learner member which is in sync')) {
            throw new EtcdError('LearnerNotReady');
          }
          if (details.includes('can only promote a learner member')) throw new EtcdError('MemberNotLearner');
          if (details.includes('member not found')) throw new EtcdError('MemberNotFound');
          throw new EtcdError('TimeoutDueToConnectionLost', `forwarding to the leader at ${ep}: ${details}`);
        }
      },
      onMembersChanged: (members) => {
        for (const m of members) if (m.ID !== memberId) transport.setPeer(m.ID, m.peerURLs);
        for (const pid of knownPeers) if (!members.some((m) => m.ID === pid)) transport.removePeer(pid);
        knownPeers = members.filter((m) => m.ID !== memberId).map((m) => m.ID);
      },
      onRemoved: () => {
        setTimeout(
          () => resolveDone({ code: 0, reason: 'the member has been permanently removed from the cluster' }),
          1000,
        );
      },
      onLeaderChange: (lead, isLeader) => {
        metrics.hasLeader.set(lead === 0 ? 0 : 1);
        metrics.isLeader.set(isLeader ? 1 : 0);
      },
      dbSizeBytes: () => member.state.mvcc.sizeBytes(),
      defragment: () => disk.compactRange(),
    },
    log,
  );
  let knownPeers: number[] = [];
  const transport = new PeerTransport({
    memberId,
    clusterId,
    listenUrls: config.listenPeerUrls,
    logger: log.child({ component: 'transport' }),
    onMessages: (msgs) => {
      for (const m of msgs) {
        loop.notePeerMessage(m);
        try {
          raw.step(m);
        } catch (e) {
          log.warn({ err: (e as Error).message, type: m.type, from: m.from }, 'dropped a peer message');
        }
      }
      loop.sendHeartbeatsNow();
      loop.schedule();
    },
    onUnreachable: (peer) => {
      raw.reportUnreachable(peer);
      loop.schedule();
    },
    onSnapshotStatus: (peer, ok) => {
      raw.reportSnapshot(peer, ok);
      loop.schedule();
    },
    httpHandler: (req, res) => servePeerHttp(req, res, member, clusterId),
    onPeerDown: (peer) => member.onPeerDown(peer),
    onRemoved: (byPeer) => {
      log.warn({ peer: idHex(byPeer) }, 'a peer says this member was removed from the cluster; stopping');
      resolveDone({ code: 0, reason: 'the member has been permanently removed from the cluster' });
    },
  });
  // Chaos: the fault-injection API exists only with --enable-fault-injection (member/faults.ts).
  const faults = config.enableFaultInjection
    ? new FaultInjector(
        { setTransportFaults: (f) => transport.setFaults(f) },
        log.child({ component: 'faults' }),
      )
    : null;
  const loop: RaftLoop = new RaftLoop(
    raw,
    id.storage,
    disk,
    id.raftApplied,
    id.stateApplied,
    {
      send: (msgs) => {
        transport.send(msgs);
        transport.flushNow();
      },
      onSoftState: (ss) => member.onSoftState(ss),
      onHardState: (term) => member.onHardState(term),
      onReadState: (ctx, index) => member.reads.onReadState(ctx, index),
      applyNormal: (e) => member.applyNormal(e),
      applyConfChange: (e, cc, cs, replay) => member.applyConfChange(e, cc, cs, replay),
      installSnapshot: async (snap: Snapshot) => {
        const sm = StateMachine.fromDump(snap.data);
        member.replaceState(sm);
        const ops: BatchOp[] = (await disk.keysUnder(Buffer.from('s/'))).map((key) => ({ type: 'del', key }));
        for (const op of sm.allRecords()) ops.push(op);
        sm.takeChanges();
        return ops;
      },
      takeStateChanges: () => member.state.takeChanges(),
      dumpState: () => member.state.dump(),
      afterApply: (applied) => member.afterApply(applied),
      onFatal: (e) => {
        log.fatal({ err: e.message, stack: e.stack }, 'raft loop failed; stopping the member');
        resolveDone({ code: 1, reason: e.message });
      },
      observeCommitNotice: (outcome) => metrics.commitNotices.inc({ outcome }),
      observeFsync: (s, inline) => {
        metrics.walFsyncDuration.observe(s);
        if (inline) metrics.walInlineWrites.inc();
      },
      observeApply: (s) => metrics.backendCommitDuration.observe(s),
      ...(faults === null ? {} : { crashPoint: (p) => faults.hit(p) }),
    },
    { snapshotCount: config.snapshotCount, snapshotCatchUpEntries: config.snapshotCatchUpEntries },
    log.child({ component: 'raft-loop' }),
  );
  member.attach(loop);
  member.onHardState(id.storage.initialState().hardState.term);
  const peers = [...id.state.members.values(), ...id.initialPeers].filter((m) => m.ID !== memberId);
  for (const m of peers) transport.setPeer(m.ID, m.peerURLs);
  knownPeers = peers.map((m) => m.ID);
  await transport.start();
  member.start();
  loop.schedule();
  let failedSeen = 0;
  let changesSeen = 0;
  metrics.quotaBackendBytes.set(config.quotaBackendBytes);
  const sizeTimer = setInterval(() => {
    const dbSizeBytes = member.state.mvcc.sizeBytes();
    const st = raw.status();
    metrics.dbTotalSizeBytes.set(dbSizeBytes);
    metrics.dbTotalSizeInUseBytes.set(dbSizeBytes);
    metrics.watcherTotal.set(member.hub.count());
    metrics.raftTerm.set(st.hardState.term);
    metrics.proposalsCommitted.set(st.hardState.commit);
    metrics.proposalsApplied.set(loop.applied.index);
    metrics.proposalsPending.set(member.pendingProposals());
    metrics.proposalsFailed.inc(member.proposalsFailed - failedSeen);
    failedSeen = member.proposalsFailed;
    metrics.leaderChangesSeen.inc(member.leaderChanges - changesSeen);
    changesSeen = member.leaderChanges;
  }, 1000);
  const grpc = createEtcdGrpcServer(member, {
    maxRequestBytes: config.maxRequestBytes,
    logger: log.child({ component: 'grpc' }),
  });
  const baseHttp = createHttpHandler({
    metrics,
    health: () => member.health(1000),
    version: () => ({ etcdserver: ETCD_VERSION, etcdcluster: '3.4.0' }),
  });
  // Chaos: /debug/faults is served on the client port only with --enable-fault-injection.
  const http: typeof baseHttp =
    faults === null ? baseHttp : (req, res) => faults.serveHttp(req, res) || baseHttp(req, res);
  const grpcLog = log.child({ component: 'grpc' });
  const clients = await listenClientUrls(config.listenClientUrls, grpc, http, grpcLog);
  const extra =
    config.listenMetricsUrls.length > 0
      ? await listenClientUrls(config.listenMetricsUrls, grpc, http, grpcLog)
      : null;
  log.info({ clientPorts: clients.ports, peerPorts: transport.ports() }, 'member is serving');
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(sizeTimer);
      await clients.close();
      await extra?.close();
      await member.stop();
      await transport.stop();
      for (const c of leaderClients.values()) c.close();
      await disk.close();
      log.info('member stopped');
    })();
    return stopping;
  };
  return {
    member,
    memberId,
    clusterId,
    clientPorts: () => clients.ports,
    peerPorts: () => transport.ports(),
    stop,
    done,
  };
}

/** Peer-port HTTP: GET /members lets a new member learn its id and the cluster (etcd's /members). */
function servePeerHttp(
  req: IncomingMessage,
  res: ServerResponse,
  member: StoreMember,
  clusterId: number,
): boolean {
  if (req.method !== 'GET' || req.url !== '/members') return false;
  const members = [...member.state.members.values()].map((m) => ({ ...m, ID: String(m.ID) }));
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ clusterId: String(clusterId), members }));
  return true;
}
