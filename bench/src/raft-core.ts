// Benchmark of the Raft core alone: a 3-node cluster in one thread with instant storage
// (MemoryStorage) and an instant network (messages handed straight to the recipient).
// Reports entries committed per second and bytes allocated per committed entry. It measures;
// it asserts nothing. Run: `npm run bench:raft` (add `-- --json` for machine-readable output).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStorage, type Message, RawNode, SeededRand, StateType } from '@keelson/raft';

interface BenchNode {
  node: RawNode;
  storage: MemoryStorage;
  applied: number;
}

class InstantCluster {
  readonly nodes: BenchNode[] = [];
  private inbox: Message[] = [];
  committedEntries = 0;

  constructor(size: number) {
    const voters = Array.from({ length: size }, (_, i) => i + 1);
    for (const id of voters) {
      const storage = new MemoryStorage();
      storage.applySnapshot({
        data: new Uint8Array(0),
        metadata: {
          index: 1,
          term: 1,
          confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        },
      });
      const node = new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage, rand: new SeededRand(id) });
      this.nodes.push({ node, storage, applied: 1 });
    }
    this.leader().node.campaign();
    this.pump();
    if (this.leader().node.state !== StateType.Leader) throw new Error('bench cluster elected no leader');
  }

  leader(): BenchNode {
    return this.nodes[0] as BenchNode;
  }

  /** Handles Readies and delivers messages until the cluster is quiet (bounded). */
  pump(): void {
    for (let round = 0; round < 10_000; round++) {
      let busy = false;
      for (const n of this.nodes) {
        if (!n.node.hasReady()) continue;
        busy = true;
        const rd = n.node.ready();
        if (rd.snapshot !== null) n.storage.applySnapshot(rd.snapshot);
        if (rd.entries.length > 0) n.storage.append(rd.entries);
        if (rd.hardState !== null) n.storage.setHardState(rd.hardState);
        for (const m of rd.messages) this.inbox.push(m);
        const last = rd.committedEntries[rd.committedEntries.length - 1];
        if (last !== undefined) {
          if (n === this.leader()) this.committedEntries += rd.committedEntries.length;
          n.applied = last.index;
        }
        n.node.advance();
      }
      const batch = this.inbox;
      this.inbox = [];
      for (const m of batch) {
        busy = true;
        (this.nodes[m.to - 1] as BenchNode).node.step(m);
      }
      if (!busy) return;
    }
    throw new Error('bench cluster did not settle');
  }

  /** Keeps memory bounded the way a server would: snapshot and compact every so often. */
  compact(): void {
    for (const n of this.nodes) {
      const keep = 1000;
      if (n.applied - n.storage.firstIndex() > 10_000) {
        n.storage.createSnapshot(n.applied, n.node.status().config, new Uint8Array(0));
        n.storage.compact(n.applied - keep);
      }
    }
  }
}

interface Result {
  batch: number;
  payloadBytes: number;
  entries: number;
  seconds: number;
  entriesPerSec: number;
  bytesAllocatedPerEntry: number | null;
}

function runThroughput(
  batch: number,
  payloadBytes: number,
  seconds: number,
): Omit<Result, 'bytesAllocatedPerEntry'> {
  const c = new InstantCluster(3);
  const payload = new Uint8Array(payloadBytes);
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  const startCommitted = c.committedEntries;
  let rounds = 0;
  while (process.hrtime.bigint() < deadline) {
    for (let i = 0; i < batch; i++) c.leader().node.propose(payload);
    c.pump();
    if (++rounds % 64 === 0) c.compact();
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const entries = c.committedEntries - startCommitted;
  return { batch, payloadBytes, entries, seconds: elapsed, entriesPerSec: entries / elapsed };
}

/**
 * Bytes allocated per committed entry, measured as the heap growth over a window in which no
 * garbage collection ran (so nothing was freed). Needs --expose-gc and a large young generation.
 */
async function measureAllocation(batch: number, payloadBytes: number): Promise<number | null> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return null;
  const c = new InstantCluster(3);
  const payload = new Uint8Array(payloadBytes);
  for (let i = 0; i < 200; i++) {
    for (let j = 0; j < batch; j++) c.leader().node.propose(payload);
    c.pump();
  }
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const samples: number[] = [];
  for (let attempt = 0; attempt < 20 && samples.length < 5; attempt++) {
    gc();
    // GC performance entries are delivered asynchronously: let the forced one arrive first.
    await sleep(50);
    gcs = 0;
    const before = process.memoryUsage().heapUsed;
    const committedBefore = c.committedEntries;
    for (let i = 0; i < 50; i++) {
      for (let j = 0; j < batch; j++) c.leader().node.propose(payload);
      c.pump();
    }
    const after = process.memoryUsage().heapUsed;
    const committed = c.committedEntries - committedBefore;
    await sleep(50);
    if (gcs === 0 && committed > 0) samples.push((after - before) / committed);
    c.compact();
  }
  obs.disconnect();
  if (samples.length === 0) return null;
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] as number;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const results: Result[] = [];
  for (const [batch, payloadBytes] of [
    [1, 128],
    [16, 128],
    [64, 128],
    [256, 128],
    [64, 1024],
  ] as const) {
    const t = runThroughput(batch, payloadBytes, seconds);
    const bytesAllocatedPerEntry = await measureAllocation(batch, payloadBytes);
    const r = { ...t, bytesAllocatedPerEntry };
    results.push(r);
    if (!json) {
      const alloc =
        bytesAllocatedPerEntry === null
          ? 'n/a (run with --expose-gc)'
          : `${Math.round(bytesAllocatedPerEntry)} B`;
      console.log(
        `batch ${String(batch).padStart(3)} x ${String(payloadBytes).padStart(4)} B: ${Math.round(r.entriesPerSec).toLocaleString('en-US').padStart(9)} entries/s committed, allocated per entry ${alloc}`,
      );
    }
  }
  const report = {
    bench: 'raft-core',
    cluster: 3,
    node: process.version,
    date: new Date().toISOString(),
    results,
  };
  const out = join(import.meta.dirname, '..', 'results', 'raft-core.json');
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (json) console.log(JSON.stringify(report));
  else console.log(`wrote ${out}`);
}

await main();
