// How much a major GC has to do for the MVCC history: writes N revisions into an in-process Mvcc,
// then prints heapUsed and the wall time of forced full GCs, then the same after a compaction.
// A figure, not a test (bench/results/soak-2026-11-30T1150Z.md: ~2 s GC marking stalls at 2.2M
// revisions cost a leader).
//   node --expose-gc bench/dist/mvcc-heap.js [--revisions 1000000] [--keys 10000] [--value-bytes 256]
//        [--impl <path to an mvcc store.js>]   (default: packages/store/dist/mvcc/store.js)
// --impl lets the same script measure an older build of the store for before/after figures.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

/** The part of Mvcc this script drives (kept structural so any build of it can be loaded). */
interface MvccLike {
  readonly revision: number;
  put(req: unknown, ctx: { leaseExists(id: number): boolean }): unknown;
  compact(rev: number): void;
  takeChanges(): unknown[];
}
type MvccClass = new (prefix: Buffer) => MvccLike;

const GC_RUNS = 3;
const TAKE_CHANGES_EVERY = 1000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function forcedGcMs(gc: () => void): number[] {
  const times: number[] = [];
  for (let i = 0; i < GC_RUNS; i++) {
    const t0 = performance.now();
    gc();
    times.push(performance.now() - t0);
  }
  return times;
}

function putRequest(key: Buffer, value: Buffer): unknown {
  return { key, value, lease: 0, prev_kv: false, ignore_value: false, ignore_lease: false };
}

async function main(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  const revisions = Number(arg('revisions', '1000000'));
  const keys = Number(arg('keys', '10000'));
  const valueBytes = Number(arg('value-bytes', '256'));
  const impl = arg('impl', new URL('../../packages/store/dist/mvcc/store.js', import.meta.url).pathname);
  const { Mvcc } = (await import(pathToFileURL(impl).href)) as { Mvcc: MvccClass };

  gc();
  const base = process.memoryUsage();
  const m = new Mvcc(Buffer.from('m/'));
  const ctx = { leaseExists: () => false };
  const keyBufs = Array.from({ length: keys }, (_, i) => Buffer.from(`/registry/bench/key-${i}`));
  const t0 = performance.now();
  for (let i = 0; i < revisions; i++) {
    // A fresh value per put, as a decoded request would carry.
    const value = Buffer.alloc(valueBytes, i % 251);
    m.put(putRequest(keyBufs[i % keys] as Buffer, value), ctx);
    if (i % TAKE_CHANGES_EVERY === 0) m.takeChanges();
  }
  m.takeChanges();
  const writeMs = performance.now() - t0;
  const gcMs = forcedGcMs(gc);
  const after = process.memoryUsage();
  // Compacting all but the last `keys` revisions drops nearly everything: the new log rebuilds.
  const t1 = performance.now();
  m.compact(m.revision - keys);
  m.takeChanges();
  const compactMs = performance.now() - t1;
  const gcAfterCompactMs = forcedGcMs(gc);
  const compacted = process.memoryUsage();
  const out = {
    impl,
    revisions,
    keys,
    valueBytes,
    writeSeconds: +(writeMs / 1000).toFixed(2),
    heapUsedGrowth: mib(after.heapUsed - base.heapUsed),
    externalGrowth: mib(after.external - base.external),
    rss: mib(after.rss),
    fullGcMs: gcMs.map((t) => +t.toFixed(1)),
    compactMs: +compactMs.toFixed(1),
    heapUsedGrowthAfterCompact: mib(compacted.heapUsed - base.heapUsed),
    externalGrowthAfterCompact: mib(compacted.external - base.external),
    fullGcMsAfterCompact: gcAfterCompactMs.map((t) => +t.toFixed(1)),
    revision: m.revision,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
