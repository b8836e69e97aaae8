import { crc32 } from 'node:zlib';
import { EntryType, type Message, MessageType, message } from '@keelson/raft';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { freePort } from '../../../test/util/ports.js';
import { decodeBatch, decodeSnapshotAck, encodeSnapshotHeader } from '../src/transport/codec.js';
import { PeerTransport, type TransportTuning } from '../src/transport/index.js';
import { handshakeHeaders } from '../src/transport/options.js';

// Small timings so that reconnects and timeouts happen within a test's budget.
const FAST: Partial<TransportTuning> = {
  backoffMinMs: 20,
  backoffMaxMs: 200,
  connectTimeoutMs: 1000,
  pingIntervalMs: 500,
  snapshotIdleTimeoutMs: 2000,
};
const CLUSTER = 0xc1;

interface Node {
  readonly id: number;
  readonly t: PeerTransport;
  readonly url: string;
  readonly port: number;
  readonly received: Message[];
  readonly unreachable: number[];
  readonly snapStatus: Array<[number, boolean]>;
  readonly logs: string[];
}

const started: PeerTransport[] = [];
const fakeServers: WebSocketServer[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
  await Promise.all(fakeServers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

interface NodeOptions {
  port?: number;
  clusterId?: number;
  maxQueuedMessagesPerPeer?: number;
  tuning?: Partial<TransportTuning>;
}

async function startNode(id: number, o: NodeOptions = {}): Promise<Node> {
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) });
  const n = {
    id,
    received: [] as Message[],
    unreachable: [] as number[],
    snapStatus: [] as Array<[number, boolean]>,
    logs,
  };
  const t = new PeerTransport({
    memberId: id,
    clusterId: o.clusterId ?? CLUSTER,
    listenUrls: [new URL(`http://127.0.0.1:${o.port ?? 0}`)],
    logger,
    onMessages: (msgs) => n.received.push(...msgs),
    onUnreachable: (peer) => n.unreachable.push(peer),
    onSnapshotStatus: (peer, ok) => n.snapStatus.push([peer, ok]),
    maxQueuedMessagesPerPeer: o.maxQueuedMessagesPerPeer,
    tuning: { ...FAST, ...o.tuning },
  });
  started.push(t);
  await t.start();
  const port = t.ports()[0]!;
  return { ...n, t, port, url: `http://127.0.0.1:${port}` };
}

async function stopNode(n: Node): Promise<void> {
  await n.t.stop();
  started.splice(started.indexOf(n.t), 1);
}

function mesh(nodes: readonly Node[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.t.setPeer(b.id, [b.url]);
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

async function waitConnected(nodes: readonly Node[]): Promise<void> {
  await waitFor(
    () => nodes.every((a) => nodes.every((b) => a === b || a.t.isActive(b.id))),
    'all links to connect',
  );
}

/** A free loopback port: bound, then released. */

function app(from: number, to: number, index: number): Message {
  const data = Buffer.alloc(16 + (index % 64), index & 0xff);
  return message({
    type: MessageType.App,
    from,
    to,
    term: 3,
    logTerm: 3,
    index,
    commit: index,
    entries: [
      { term: 3, index: index + 1, type: EntryType.Normal, data: new Uint8Array(data) },
      { term: 3, index: index + 2, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) },
    ],
    context: new Uint8Array([index & 0xff, 7]),
  });
}

const heartbeat = (from: number, to: number, commit: number) =>
  message({ type: MessageType.Heartbeat, from, to, term: 3, commit });

function snapMsg(from: number, to: number, data: Uint8Array): Message {
  return message({
    type: MessageType.Snap,
    from,
    to,
    term: 3,
    snapshot: {
      data,
      metadata: {
        index: 1000,
        term: 3,
        confState: {
          voters: [1, 2, 3],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
    },
  });
}

/** Opens a raw /raft/snapshot socket to `n` as member `from`, as a broken or hostile sender would. */
async function rawSnapshotSocket(n: Node, from: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${n.port}/raft/snapshot`, {
    headers: handshakeHeaders(from, n.id, CLUSTER),
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

function nextAck(ws: WebSocket): Promise<{ ok: boolean; reason: string }> {
  return new Promise((resolve) => ws.once('message', (d: Buffer) => resolve(decodeSnapshotAck(d))));
}

describe('PeerTransport', () => {
  it('delivers batches between three members in order, with byte fields intact', async () => {
    // Proves every message arrives, per-peer order holds, and entries/context come back as the same bytes.
    const nodes = await Promise.all([1, 2, 3].map((id) => startNode(id)));
    mesh(nodes);
    await waitConnected(nodes);
    const perPeer = 600;
    for (let round = 0; round < perPeer / 50; round++) {
      for (const a of nodes) {
        const batch: Message[] = [];
        for (const b of nodes) {
          if (a === b) continue;
          for (let i = 0; i < 50; i++) batch.push(app(a.id, b.id, round * 50 + i));
        }
        a.t.send(batch);
      }
      await tick();
    }
    await waitFor(() => nodes.every((n) => n.received.length === 2 * perPeer), 'all messages');
    for (const n of nodes) {
      for (const a of nodes) {
        if (a === n) continue;
        const got = n.received.filter((m) => m.from === a.id);
        expect(got.map((m) => m.index)).toEqual([...Array(perPeer).keys()]);
        for (const m of got) {
          const want = app(a.id, n.id, m.index);
          expect(m.to).toBe(n.id);
          expect(m.entries[0]!.data).toBeInstanceOf(Uint8Array);
          expect(Buffer.from(m.entries[0]!.data).equals(Buffer.from(want.entries[0]!.data))).toBe(true);
          expect(Buffer.from(m.entries[1]!.data).equals(Buffer.from(want.entries[1]!.data))).toBe(true);
          expect(m.entries[1]!.type).toBe(EntryType.ConfChange);
          expect(Buffer.from(m.context).equals(Buffer.from(want.context))).toBe(true);
        }
      }
    }
    const s = nodes[0]!.t.stats();
    expect(s.sentMessages).toBe(2 * perPeer);
    expect(s.receivedMessages).toBe(2 * perPeer);
    expect(s.droppedMessages).toBe(0);
    // One frame per peer per flush: far fewer frames than messages.
    expect(s.sentBytes).toBeGreaterThan(0);
    expect(s.peers.every((p) => p.connected && p.inboundConnected)).toBe(true);
  });

  it('reconnects to a peer restarted on the same port, and traffic resumes', async () => {
    // Proves the reconnect loop survives a peer's restart and the link carries messages again.
    const a = await startNode(1);
    let b = await startNode(2);
    mesh([a, b]);
    await waitConnected([a, b]);
    const port = b.port;
    await stopNode(b);
    await waitFor(() => !a.t.isActive(2), 'a to notice b is gone');
    expect(a.t.activeSince(2)).toBeNull();
    a.t.send([heartbeat(1, 2, 1)]);
    await waitFor(() => a.unreachable.includes(2), 'onUnreachable(2)');

    b = await startNode(2, { port });
    b.t.setPeer(1, [a.url]);
    await waitFor(() => a.t.isActive(2), 'a to reconnect to b');
    expect(a.t.activeSince(2)).toBeGreaterThan(0);
    a.t.send([heartbeat(1, 2, 2)]);
    await waitFor(() => b.received.length === 1, 'b to receive after restart');
    expect(b.received[0]!.commit).toBe(2);
    // A forwarded message keeps its original sender (here the transferee of a leader transfer).
    a.t.send([message({ type: MessageType.TransferLeader, from: 3, to: 2, term: 3 })]);
    await waitFor(() => b.received.length === 2, 'b to receive the forwarded message');
    expect(b.received[1]!.from).toBe(3);
  });

  it('sends appends on one stream and everything else on another, so a stuck append stream does not hold up heartbeats', async () => {
    // Proves the etcd-style split: MsgApp frames arrive on /raft/stream, heartbeats and votes on
    // /raft/stream/message, and heartbeats keep flowing while the append stream is not being read.
    const fake = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    fakeServers.push(fake);
    await new Promise((r) => fake.once('listening', r));
    const byPath = new Map<string, Message[]>();
    const sockets = new Map<string, WebSocket>();
    fake.on('connection', (ws, req) => {
      const path = req.url ?? '';
      sockets.set(path, ws);
      ws.on('message', (data: Buffer) =>
        byPath.set(path, [...(byPath.get(path) ?? []), ...decodeBatch(data)]),
      );
    });
    const a = await startNode(1);
    a.t.setPeer(2, [`http://127.0.0.1:${(fake.address() as { port: number }).port}`]);
    await waitFor(() => a.t.isActive(2), 'a to connect both streams');
    expect([...sockets.keys()].sort()).toEqual(['/raft/stream', '/raft/stream/message']);
    const app = message({
      type: MessageType.App,
      from: 1,
      to: 2,
      term: 1,
      entries: [{ term: 1, index: 1, type: EntryType.Normal, data: new Uint8Array(8) }],
    });
    a.t.send([app, heartbeat(1, 2, 1), message({ type: MessageType.Vote, from: 1, to: 2, term: 2 })]);
    await waitFor(() => (byPath.get('/raft/stream/message')?.length ?? 0) === 2, 'heartbeat and vote');
    await waitFor(() => (byPath.get('/raft/stream')?.length ?? 0) === 1, 'the append');
    expect(byPath.get('/raft/stream')!.map((m) => m.type)).toEqual([MessageType.App]);
    expect(byPath.get('/raft/stream/message')!.map((m) => m.type)).toEqual([
      MessageType.Heartbeat,
      MessageType.Vote,
    ]);
    // The append stream stops being read (a follower busy with a huge append); heartbeats still arrive.
    sockets.get('/raft/stream')!.pause();
    a.t.send([app, heartbeat(1, 2, 2)]);
    await waitFor(() => (byPath.get('/raft/stream/message')?.length ?? 0) === 3, 'the next heartbeat');
    expect(byPath.get('/raft/stream/message')![2]!.commit).toBe(2);
    // A paused socket would never see the close: end them here so the fake server can close.
    for (const ws of sockets.values()) ws.terminate();
  });

  it('declares a peer that stops answering pings dead and dials it again', async () => {
    // Proves a half-open socket (peer alive at TCP level but silent) is detected within a few ping intervals.
    const fake = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    fakeServers.push(fake);
    await new Promise((r) => fake.once('listening', r));
    let connections = 0;
    fake.on('connection', () => connections++);
    const a = await startNode(1, { tuning: { pingIntervalMs: 100 } });
    a.t.setPeer(2, [`http://127.0.0.1:${(fake.address() as { port: number }).port}`]);
    await waitFor(() => a.t.isActive(2), 'a to connect');
    // Two streams (appends and messages) connect at first; both must give up and redial.
    await waitFor(() => connections >= 4, 'a to give up on the silent sockets and redial', 5000);
    expect(a.logs.some((l) => l.includes('stopped answering pings'))).toBe(true);
  });

  it('drops messages to a down peer and reports it unreachable once per flush', async () => {
    // Proves a send to a down peer neither throws nor queues, and onUnreachable fires once per flush, not per message.
    const a = await startNode(1);
    a.t.setPeer(9, [`http://127.0.0.1:${await freePort()}`]);
    a.t.send(Array.from({ length: 10 }, (_, i) => heartbeat(1, 9, i)));
    a.t.send([heartbeat(1, 9, 10)]);
    await tick();
    await tick();
    expect(a.unreachable).toEqual([9]);
    a.t.send([heartbeat(1, 9, 11)]);
    await tick();
    await tick();
    expect(a.unreachable).toEqual([9, 9]);
    expect(a.t.stats().droppedMessages).toBe(12);
    expect(a.t.isActive(9)).toBe(false);
    // Unknown peers are ignored like etcd does: dropped, not reported.
    a.t.send([heartbeat(1, 77, 0)]);
    await tick();
    expect(a.unreachable).toEqual([9, 9]);
  });

  it('streams a 20 MiB snapshot on its own socket while heartbeats keep flowing', async () => {
    // Proves a big MsgSnap arrives intact, does not hold up the stream socket, and reports ok=true.
    const a = await startNode(1);
    const b = await startNode(2);
    mesh([a, b]);
    await waitConnected([a, b]);
    const data = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    data[data.length - 1] = 0x5a;
    const startMs = Date.now();
    let beats = 0;
    const hb = setInterval(() => a.t.send([heartbeat(1, 2, ++beats)]), 2);
    try {
      a.t.send([snapMsg(1, 2, data)]);
      await waitFor(() => a.snapStatus.length === 1, 'snapshot status', 20_000);
    } finally {
      clearInterval(hb);
    }
    expect(a.snapStatus).toEqual([[2, true]]);
    const snap = b.received.find((m) => m.type === MessageType.Snap)!;
    expect(snap.snapshot!.data).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(snap.snapshot!.data).equals(Buffer.from(data))).toBe(true);
    expect(snap.snapshot!.metadata.index).toBe(1000);
    expect(snap.snapshot!.metadata.confState.voters).toEqual([1, 2, 3]);
    // Heartbeats reached b while the snapshot was on its way, not all after it.
    const snapAt = b.received.indexOf(snap);
    const beatsBefore = b.received.slice(0, snapAt).filter((m) => m.type === MessageType.Heartbeat);
    expect(beatsBefore.length).toBeGreaterThanOrEqual(3);
    expect(beatsBefore.map((m) => m.commit)).toEqual(beatsBefore.map((_, i) => i + 1));
    expect(a.t.stats().snapshotsSent).toBe(1);
    expect(b.t.stats().snapshotsReceived).toBe(1);
    a.logs.push(
      `transfer took ${Date.now() - startMs} ms with ${beatsBefore.length} heartbeats delivered meanwhile`,
    );
  });

  it('refuses a snapshot whose checksum or size does not match, and delivers nothing', async () => {
    // Proves the receiver verifies what it got before handing a snapshot to Raft.
    const b = await startNode(2);
    b.t.setPeer(1, ['http://127.0.0.1:1']);
    const data = Buffer.alloc(3 * 1024 * 1024, 7);
    const header = (crc: number, sizeBytes = data.length) =>
      encodeSnapshotHeader({ message: snapMsg(1, 2, data), sizeBytes, crc32: crc });

    const bad = await rawSnapshotSocket(b, 1);
    const badAck = nextAck(bad);
    bad.send(header((crc32(data) ^ 1) >>> 0));
    bad.send(data.subarray(0, 1024 * 1024));
    bad.send(data.subarray(1024 * 1024));
    expect(await badAck).toEqual({ ok: false, reason: expect.stringContaining('checksum mismatch') });

    const long = await rawSnapshotSocket(b, 1);
    const longAck = nextAck(long);
    long.send(header(crc32(data), 1000));
    long.send(data.subarray(0, 2000));
    expect(await longAck).toEqual({ ok: false, reason: expect.stringContaining('more data than') });

    const huge = await rawSnapshotSocket(b, 1);
    const hugeAck = nextAck(huge);
    huge.send(header(0, 16 * 1024 ** 3));
    expect(await hugeAck).toEqual({ ok: false, reason: expect.stringContaining('exceeds the limit') });

    expect(b.received).toEqual([]);
    expect(b.t.stats().snapshotsRejected).toBe(3);
  });

  it('reports a snapshot as failed when the receiver aborts or refuses it', async () => {
    // Proves onSnapshotStatus(ok=false) fires for a transfer cut off midway and for a negative ack.
    const behaviour: Array<'close' | 'nack'> = ['close', 'nack'];
    const fake = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    fakeServers.push(fake);
    await new Promise((r) => fake.once('listening', r));
    fake.on('connection', (ws, req) => {
      if (req.url !== '/raft/snapshot') return; // The stream socket: accept and ignore.
      const how = behaviour.shift();
      ws.once('message', () => {
        if (how === 'close') ws.terminate();
        else ws.send(Buffer.from([0x92, 0xc2, 0xa3, 0x62, 0x61, 0x64])); // msgpack [false, 'bad']
      });
    });
    const a = await startNode(1);
    a.t.setPeer(2, [`http://127.0.0.1:${(fake.address() as { port: number }).port}`]);
    await waitFor(() => a.t.isActive(2), 'a to connect to the fake peer');
    a.t.send([snapMsg(1, 2, new Uint8Array(4 * 1024 * 1024))]);
    await waitFor(() => a.snapStatus.length === 1, 'status of the aborted transfer');
    a.t.send([snapMsg(1, 2, new Uint8Array(4 * 1024 * 1024))]);
    await waitFor(() => a.snapStatus.length === 2, 'status of the refused transfer');
    expect(a.snapStatus).toEqual([
      [2, false],
      [2, false],
    ]);
    expect(a.t.stats().snapshotsFailed).toBe(2);
    // To a peer that is not connected the snapshot fails fast, never silently.
    a.t.setPeer(3, [`http://127.0.0.1:${await freePort()}`]);
    a.t.send([snapMsg(1, 3, new Uint8Array(10))]);
    await waitFor(() => a.snapStatus.length === 3, 'status of a snapshot to a down peer');
    expect(a.snapStatus[2]).toEqual([3, false]);
  });

  it('refuses a member of another cluster and a dial for another member id, logging why on both sides', async () => {
    // Proves a foreign cluster's member can never talk to us, and both ends say so in their logs.
    const a = await startNode(1);
    const b = await startNode(2, { clusterId: 0xf0 });
    const c = await startNode(3);
    mesh([a, b]);
    a.t.setPeer(4, [c.url]); // c is member 3, not 4.
    c.t.setPeer(1, [a.url]);
    await waitFor(
      () => a.logs.filter((l) => l.includes('cannot connect to peer') && l.includes('refused')).length >= 3,
      'a to log the refusals',
    );
    expect(b.logs.some((l) => l.includes('cluster id mismatch'))).toBe(true);
    expect(a.logs.some((l) => l.includes('HTTP 412') && l.includes('cluster id mismatch'))).toBe(true);
    expect(c.logs.some((l) => l.includes('member id mismatch'))).toBe(true);
    expect(a.logs.some((l) => l.includes('HTTP 412') && l.includes('member id mismatch'))).toBe(true);
    expect(a.t.isActive(2)).toBe(false);
    expect(a.t.isActive(4)).toBe(false);
    a.t.send([heartbeat(1, 2, 1)]);
    b.t.send([heartbeat(2, 1, 1)]);
    await new Promise((r) => setTimeout(r, 100));
    expect(a.received).toEqual([]);
    expect(b.received).toEqual([]);
    // A member we never heard of gets 404, a removed one 410.
    const d = await startNode(5);
    d.t.setPeer(3, [c.url]);
    await waitFor(() => d.logs.some((l) => l.includes('HTTP 404')), 'd to be refused as unknown');
    c.t.setPeer(5, [d.url]);
    await waitFor(() => d.t.isActive(3), 'd to connect once c knows it');
    c.t.removePeer(5);
    await waitFor(() => d.logs.some((l) => l.includes('HTTP 410')), 'd to be refused as removed');
  });

  it('bounds the queue: 100k messages to a down peer, and 100k in one turn to a live one', async () => {
    // Proves memory stays bounded and the drop count is exact when a peer cannot keep up or is down.
    const a = await startNode(1, { maxQueuedMessagesPerPeer: 4096 });
    const b = await startNode(2);
    mesh([a, b]);
    a.t.setPeer(9, [`http://127.0.0.1:${await freePort()}`]);
    await waitConnected([a, b]);
    const memBefore = process.memoryUsage();
    let maxQueued = 0;
    for (let i = 0; i < 100_000; i++) {
      // Each message carries its own 1 KiB, so keeping them would cost ~100 MiB.
      a.t.send([
        message({ type: MessageType.Heartbeat, from: 1, to: 9, commit: i, context: new Uint8Array(1024) }),
      ]);
      if (i % 1000 === 0) maxQueued = Math.max(maxQueued, ...a.t.stats().peers.map((p) => p.queuedMessages));
    }
    await tick();
    await tick();
    const memAfter = process.memoryUsage();
    const grownBytes =
      memAfter.heapUsed + memAfter.arrayBuffers - (memBefore.heapUsed + memBefore.arrayBuffers);
    expect(grownBytes).toBeLessThan(64 * 1024 * 1024);
    expect(maxQueued).toBe(0);
    expect(a.t.stats().droppedMessages).toBe(100_000);
    expect(a.unreachable).toEqual([9]);

    for (let i = 0; i < 100_000; i++) a.t.send([heartbeat(1, 2, i)]);
    expect(a.t.stats().peers.find((p) => p.id === 2)!.queuedMessages).toBe(4096);
    await waitFor(() => b.received.length === 4096, 'the queued messages to arrive');
    expect(b.received.map((m) => m.commit)).toEqual([...Array(4096).keys()]);
    expect(a.t.stats().droppedMessages).toBe(100_000 + 100_000 - 4096);
    expect(a.unreachable).toEqual([9, 2]);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.received.length).toBe(4096);
  });

  it('applies injected faults: dropTo, dropFrom, and an order-preserving delay', async () => {
    // Proves the chaos hook drops and delays as told and nothing else.
    const a = await startNode(1);
    const b = await startNode(2);
    mesh([a, b]);
    await waitConnected([a, b]);
    a.t.setFaults({ dropTo: new Set([2]) });
    a.t.send([heartbeat(1, 2, 1)]);
    a.t.send([snapMsg(1, 2, new Uint8Array(8))]);
    await waitFor(() => a.snapStatus.length === 1, 'the dropped snapshot to be reported');
    expect(a.snapStatus).toEqual([[2, false]]);
    a.t.setFaults(null);
    b.t.setFaults({ dropFrom: new Set([1]) });
    a.t.send([heartbeat(1, 2, 2)]);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.received).toEqual([]);
    b.t.setFaults({ delayMs: 150 });
    const sentMs = Date.now();
    a.t.send([heartbeat(1, 2, 3)]);
    await new Promise((r) => setTimeout(r, 50)); // Long enough to reach b, well short of the delay.
    expect(b.received).toEqual([]);
    b.t.setFaults(null); // Later frames must still wait behind the delayed one.
    a.t.send([heartbeat(1, 2, 4)]);
    await waitFor(() => b.received.length === 2, 'delayed delivery');
    expect(Date.now() - sentMs).toBeGreaterThanOrEqual(140);
    expect(b.received.map((m) => m.commit)).toEqual([3, 4]);
    expect(a.t.stats().faultDroppedMessages).toBe(2);
    expect(b.t.stats().faultDroppedMessages).toBe(1);
  });

  it('serves other routes through httpHandler and stops cleanly', async () => {
    // Proves the peer port shares HTTP with the member's routes, and stop() frees the port.
    const logger = pino({ level: 'silent' });
    const t = new PeerTransport({
      memberId: 1,
      clusterId: CLUSTER,
      listenUrls: [new URL('http://127.0.0.1:0')],
      logger,
      onMessages: () => {},
      onUnreachable: () => {},
      onSnapshotStatus: () => {},
      httpHandler: (req, res) => {
        if (req.url !== '/members') return false;
        res.end('[]');
        return true;
      },
    });
    started.push(t);
    await t.start();
    const base = `http://127.0.0.1:${t.ports()[0]}`;
    expect(await (await fetch(`${base}/members`)).text()).toBe('[]');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/raft/stream`)).status).toBe(426);
    await t.stop();
    await expect(fetch(`${base}/members`)).rejects.toThrow();
  });
});
