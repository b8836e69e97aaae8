// Proves that the WAL replays exactly what was made durable — entries with suffix overwrites, log
// resets, hard states — across reopens, segment rollovers, released segments and torn last writes,
// and that damage which is not a torn last write is refused.
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Entry, EntryType, type HardState } from '@keelson/raft';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { INLINE_WRITE_MAX_BYTES, Wal, WalCorruptError } from '../src/storage/wal.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keelson-wal-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function entry(term: number, index: number, data = `v${index}`): Entry {
  return { term, index, type: EntryType.Normal, data: Buffer.from(data) };
}

function summary(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${e.index}@${e.term}:${Buffer.from(e.data).toString()}`);
}

function lastSegment(dir: string): string {
  const names = readdirSync(dir).sort();
  return join(dir, names[names.length - 1]!);
}

describe('Wal', () => {
  // Proves entries, overwritten suffixes, resets and the latest hard state read back after a reopen.
  it('replays entries, suffix overwrites, resets and hard states', async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir);
    await wal.reset(1, 1, { term: 1, vote: 0, commit: 1 });
    await wal.save([entry(1, 2), entry(1, 3), entry(1, 4)], { term: 1, vote: 2, commit: 2 });
    await wal.save([entry(2, 3, 'new3')], { term: 2, vote: 3, commit: 3 });
    await wal.save([], { term: 3, vote: 0, commit: 3 });
    await wal.close();
    const { wal: again, contents } = await Wal.open(dir);
    await again.close();
    expect(summary(contents.entries)).toEqual(['2@1:v2', '3@2:new3']);
    expect(contents.hardState).toEqual({ term: 3, vote: 0, commit: 3 });
    expect(contents.reset).toEqual({ index: 1, term: 1 });
    expect(contents.tornBytes).toBe(0);
  });

  // Proves an inline save is on disk when save() returns, before anything is awaited (it is written
  // on the calling thread), and that a record too large for an inline write, or one that starts a new
  // segment, is written on the thread pool instead and reads back all the same.
  it('writes small records inline and the rest on the thread pool', async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir, { segmentBytes: 4 * INLINE_WRITE_MAX_BYTES });
    const hs = { term: 1, vote: 1, commit: 0 };
    const pending = wal.save([entry(1, 1, 'inline-marker')], hs, true);
    expect(readFileSync(lastSegment(dir)).includes(Buffer.from('inline-marker'))).toBe(true);
    expect(await pending).toBe(true);
    // Not asked for: the thread pool.
    expect(await wal.save([entry(1, 2)], null)).toBe(false);
    // Too large for an inline write.
    const big = 'x'.repeat(INLINE_WRITE_MAX_BYTES);
    expect(await wal.save([entry(1, 3, big)], null, true)).toBe(false);
    // Small inline records until one starts a new segment: that one goes to the pool, the next is
    // inline again.
    const segments = readdirSync(dir).length;
    const inlineSeen: boolean[] = [];
    let index = 4;
    for (; index < 200 && readdirSync(dir).length === segments; index++) {
      inlineSeen.push(await wal.save([entry(1, index, 'y'.repeat(4096))], null, true));
    }
    expect(readdirSync(dir).length).toBe(segments + 1);
    expect(inlineSeen.slice(0, -1).every((b) => b)).toBe(true);
    expect(inlineSeen[inlineSeen.length - 1]).toBe(false);
    expect(await wal.save([entry(1, index)], null, true)).toBe(true);
    await wal.close();
    const { wal: again, contents } = await Wal.open(dir);
    await again.close();
    expect(contents.entries.map((e) => e.index)).toEqual(Array.from({ length: index }, (_, i) => i + 1));
    expect(Buffer.from(contents.entries[2]!.data).toString()).toBe(big);
    expect(contents.hardState).toEqual(hs);
  });

  // Proves a write cut short by a crash (a partial last record followed by zeros) is dropped, and the
  // WAL then goes on being written and read normally.
  it('cuts off a torn last record and keeps working', async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir);
    await wal.save([entry(1, 1), entry(1, 2)], { term: 1, vote: 1, commit: 1 });
    await wal.close();
    // A record header claiming 2,000 bytes, 100 of them written, the rest never reached the disk.
    const path = lastSegment(dir);
    const b = readFileSync(path);
    let end = 0;
    while (end + 8 <= b.length && b.readUInt32BE(end) !== 0) end += 8 + b.readUInt32BE(end);
    const torn = Buffer.alloc(8 + 2000);
    torn.writeUInt32BE(2000, 0);
    torn.writeUInt32BE(12345, 4);
    torn.fill(7, 8, 108);
    b.set(torn.subarray(0, Math.min(torn.length, b.length - end)), end);
    writeFileSync(path, b);
    const { wal: w2, contents } = await Wal.open(dir);
    expect(summary(contents.entries)).toEqual(['1@1:v1', '2@1:v2']);
    expect(contents.tornBytes).toBeGreaterThan(0);
    await w2.save([entry(1, 3)], null);
    await w2.close();
    const { wal: w3, contents: c3 } = await Wal.open(dir);
    await w3.close();
    expect(summary(c3.entries)).toEqual(['1@1:v1', '2@1:v2', '3@1:v3']);
    expect(c3.tornBytes).toBe(0);
  });

  // Proves a damaged record that is followed by intact data is corruption, not a torn write.
  it('refuses a damaged record in the middle', async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir);
    for (let i = 1; i <= 5; i++) await wal.save([entry(1, i)], null);
    await wal.close();
    const path = lastSegment(dir);
    const b = readFileSync(path);
    b[b.indexOf('v2')] = 'X'.charCodeAt(0);
    writeFileSync(path, b);
    await expect(Wal.open(dir)).rejects.toThrow(WalCorruptError);
  });

  // Proves garbage appended after a closed (non-last) segment's data is refused.
  it('refuses trailing garbage in an older segment', async () => {
    const dir = tempDir();
    const { wal } = await Wal.open(dir, { segmentBytes: 300 });
    for (let i = 1; i <= 20; i++) await wal.save([entry(1, i, 'x'.repeat(40))], null);
    await wal.close();
    const first = join(dir, readdirSync(dir).sort()[0]!);
    appendFileSync(first, Buffer.from([0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4]));
    await expect(Wal.open(dir)).rejects.toThrow(/checksum/);
  });

  // Proves the WAL against a plain model of the log: any sequence of saves (with overwrites), resets,
  // releases, torn writes and reopens reads back as the model says. Seed: WAL_FC_SEED.
  it('matches a model of the log (property)', async () => {
    const seed = process.env.WAL_FC_SEED === undefined ? undefined : Number(process.env.WAL_FC_SEED);
    const op = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          t: fc.constant('save' as const),
          back: fc.nat(3),
          n: fc.nat(4),
          hs: fc.boolean(),
          inline: fc.boolean(),
        }),
      },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('reset' as const), ahead: fc.nat(5) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('release' as const), back: fc.nat(6) }) },
      {
        weight: 1,
        arbitrary: fc.record({ t: fc.constant('torn' as const), len: fc.integer({ min: 9, max: 400 }) }),
      },
      { weight: 2, arbitrary: fc.constant({ t: 'reopen' as const }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 80 }),
        fc.integer({ min: 200, max: 2000 }),
        async (ops, segmentBytes) => {
          const dir = tempDir();
          let { wal } = await Wal.open(dir, { segmentBytes });
          let log: Entry[] = [];
          let base = 0;
          let hs: HardState | null = null;
          let reset: { index: number; term: number } | null = null;
          let released = 0;
          let term = 1;
          const last = () => log[log.length - 1]?.index ?? base;
          try {
            for (const o of ops) {
              if (o.t === 'save') {
                const from = Math.max(base + 1, released + 1, last() + 1 - o.back);
                term++;
                const entries = Array.from({ length: o.n }, (_, i) =>
                  entry(term, from + i, `t${term}i${from + i}`),
                );
                const h =
                  o.hs || entries.length === 0 ? { term, vote: 1, commit: Math.max(base, released) } : null;
                await wal.save(entries, h, o.inline);
                if (entries.length > 0) log = [...log.filter((e) => e.index < from), ...entries];
                if (h !== null) hs = h;
              } else if (o.t === 'reset') {
                term++;
                base = last() + o.ahead;
                reset = { index: base, term };
                await wal.reset(base, term, null);
                log = [];
              } else if (o.t === 'release') {
                const upTo = Math.max(released, last() - o.back);
                await wal.release(upTo);
                released = upTo;
              } else {
                if (o.t === 'torn') {
                  await wal.close();
                  // A crash mid-write: a header and part of a record land, the rest stays zero.
                  const path = lastSegment(dir);
                  const b = readFileSync(path);
                  let end = 0;
                  while (end + 8 <= b.length && b.readUInt32BE(end) !== 0) end += 8 + b.readUInt32BE(end);
                  const room = Math.max(0, b.length - end);
                  const torn = Buffer.alloc(Math.min(room, 8 + o.len));
                  if (torn.length >= 8) {
                    torn.writeUInt32BE(o.len + 1100, 0);
                    torn.writeUInt32BE(1, 4);
                    torn.fill(0xaa, 8);
                    b.set(torn, end);
                    writeFileSync(path, b);
                  }
                } else {
                  await wal.close();
                }
                const opened = await Wal.open(dir, { segmentBytes });
                wal = opened.wal;
                const got = opened.contents;
                // Released entries may be gone; everything after the release point must be there.
                const want = log.filter((e) => e.index > released);
                const gotAfter = got.entries.filter((e) => e.index > released);
                expect(summary(gotAfter)).toEqual(summary(want));
                expect(summary(got.entries)).toEqual(summary(log.slice(log.length - got.entries.length)));
                expect(got.hardState).toEqual(hs);
                expect(got.reset).toEqual(reset);
              }
            }
          } finally {
            await wal.close();
          }
        },
      ),
      { numRuns: 150, seed, verbose: 1 },
    );
  }, 120_000);
});
