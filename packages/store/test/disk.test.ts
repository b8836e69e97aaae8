// Proves that a member's data dir (WAL + state database) round-trips the Raft log, hard state and
// state records, and that a corrupted, inconsistent or foreign data dir is refused with an error
// naming the problem instead of starting empty.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType } from '@keelson/raft';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DataDirError,
  Disk,
  encodeValue,
  FORMAT,
  K,
  LEVEL_TUNING,
  seal,
  sealInPlace,
} from '../src/storage/disk.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'keelson-disk-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const META = { format: FORMAT, clusterId: 7, memberId: 3, name: 'n1', token: 't' };

async function writeSample(dir: string, entries = 5): Promise<void> {
  const disk = await Disk.open(dir);
  await disk.initialise(META);
  const ops = [];
  ops.push({
    type: 'put' as const,
    key: K.snapMeta,
    value: encodeValue({ index: 1, term: 1, confState: { voters: [3] } }),
  });
  ops.push({ type: 'put' as const, key: Buffer.from('s/m/x'), value: Buffer.from('state-record') });
  // A value encoded with its CRC slot reserved (as MVCC records are) takes the in-place path.
  const sealed = Buffer.from('....sealed-record');
  ops.push({ type: 'put' as const, key: Buffer.from('s/m/y'), value: sealed.subarray(4), sealed });
  await disk.write(ops, true);
  await disk.resetLog(1, 1, { term: 1, vote: 0, commit: 1 });
  const log = [];
  for (let i = 2; i < 2 + entries; i++) log.push(entry(1, i, `e${i}`));
  await disk.appendLog(log, { term: 1, vote: 3, commit: 4 });
  await disk.close();
}

const put = (k: string, v: string) => ({ type: 'put' as const, key: Buffer.from(k), value: Buffer.from(v) });
const del = (k: string) => ({ type: 'del' as const, key: Buffer.from(k) });

/** The state records of the data dir, reopened, as [key, value] strings. */
async function stateRecordsOf(dir: string): Promise<string[][]> {
  const reopened = await Disk.open(dir);
  const s = await reopened.load();
  await reopened.close();
  return s!.stateRecords.map(([k, v]) => [k.toString(), v.toString()]);
}

function entry(term: number, index: number, data: string) {
  return { term, index, type: EntryType.Normal, data: Buffer.from(data) };
}

describe('Disk', () => {
  // Proves a written member database loads back with the same log, hard state and state records.
  it('round-trips the log, hard state and state records', async () => {
    const dir = tempDir();
    await writeSample(dir);
    const disk = await Disk.open(dir);
    const s = await disk.load();
    await disk.close();
    expect(s).not.toBeNull();
    expect(s!.meta).toEqual(META);
    expect(s!.entries.map((e) => e.index)).toEqual([2, 3, 4, 5, 6]);
    expect(Buffer.from(s!.entries[1]!.data).toString()).toBe('e3');
    expect(s!.hardState).toEqual({ term: 1, vote: 3, commit: 4 });
    expect(s!.stateRecords.map(([k, v]) => [k.toString(), v.toString()])).toEqual([
      ['s/m/x', 'state-record'],
      ['s/m/y', 'sealed-record'],
    ]);
  });

  // Proves the database opens with LEVEL_TUNING's memtable: 12 MiB of state writes stay in memory (with
  // LevelDB's 4 MiB default the second full memtable waits for the first to become a table file), and
  // all of it reads back after a reopen replays LevelDB's own log.
  it("keeps LevelDB's memtable at LEVEL_TUNING's size and replays it after a reopen", async () => {
    expect(LEVEL_TUNING.writeBufferSize).toBeGreaterThan(12 * 1024 * 1024);
    const dir = tempDir();
    await writeSample(dir);
    const disk = await Disk.open(dir);
    const tables = () => readdirSync(Disk.dbPath(dir)).filter((f) => f.endsWith('.ldb'));
    // Opening turned the sample's replayed log into a table; no new one may appear below.
    const before = tables();
    const values = new Map<string, Buffer>();
    for (let batch = 0; batch < 12; batch++) {
      const ops = [];
      for (let i = 0; i < 256; i++) {
        const key = `s/m/big/${String(batch * 256 + i).padStart(6, '0')}`;
        const value = randomBytes(4096);
        values.set(key, value);
        ops.push({ type: 'put' as const, key: Buffer.from(key), value });
      }
      await disk.write(ops, false);
    }
    expect(tables()).toEqual(before);
    await disk.close();
    const reopened = await Disk.open(dir);
    const s = await reopened.load();
    await reopened.close();
    const big = s!.stateRecords.filter(([k]) => k.toString().startsWith('s/m/big/'));
    expect(big.length).toBe(values.size);
    for (const [k, v] of big) expect(v.equals(values.get(k.toString())!)).toBe(true);
  });

  // Proves concurrent and successive batches land with their puts and deletes.
  it('applies puts and deletes of overlapping and successive writes', async () => {
    const dir = tempDir();
    await writeSample(dir);
    const disk = await Disk.open(dir);
    await Promise.all([
      disk.write([put('s/m/a', '1'), put('s/m/b', '2'), del('s/m/x')], false),
      disk.write([put('s/m/c', '3')], false),
    ]);
    await disk.write([del('s/m/a'), put('s/m/d', '4')], false);
    await disk.write([put('s/m/e', '5')], true);
    await disk.close();
    expect(await stateRecordsOf(dir)).toEqual([
      ['s/m/b', '2'],
      ['s/m/c', '3'],
      ['s/m/d', '4'],
      ['s/m/e', '5'],
      ['s/m/y', 'sealed-record'],
    ]);
  });

  // Proves staged writes land in order: ops staged while a batch is being written go into the other
  // native batch and land after it; each batch is cleared for reuse; the staged ops' JS buffers may be
  // changed once staged (they were copied); one write at a time; no staging on a closed database.
  it('writes staged ops in order, staging into the other batch while one is written', async () => {
    const dir = tempDir();
    await writeSample(dir);
    const disk = await Disk.open(dir);
    const reused = put('s/m/r', 'first');
    disk.stage([put('s/m/a', '1'), put('s/m/b', '1'), reused, del('s/m/x')]);
    reused.value.write('xxxxx'); // copied when staged: this change is not written
    expect(disk.staged).toBe(4);
    const first = disk.writeStaged(false);
    expect(disk.staged).toBe(0);
    await expect(disk.writeStaged(false)).rejects.toThrow(/in flight/);
    disk.stage([put('s/m/b', '2'), del('s/m/a')]);
    expect(disk.staged).toBe(2);
    await first;
    await disk.writeStaged(false);
    await disk.writeStaged(true); // nothing staged: nothing to do
    // The first batch, cleared and reused, carries only what was staged after it was written.
    disk.stage([put('s/m/c', '3')]);
    await disk.writeStaged(true);
    await disk.close();
    expect(() => disk.stage([put('s/m/d', '4')])).toThrow(
      /cannot stage state writes: the database is closed/,
    );
    expect(await stateRecordsOf(dir)).toEqual([
      ['s/m/b', '2'],
      ['s/m/c', '3'],
      ['s/m/r', 'first'],
      ['s/m/y', 'sealed-record'],
    ]);
  });

  // Proves sealing in place stores exactly the bytes seal() does, and rejects a misplaced slot.
  it('seals in place byte-identically to seal()', () => {
    const value = Buffer.from('some record bytes');
    const sealed = Buffer.alloc(4 + value.length);
    value.copy(sealed, 4);
    expect(sealInPlace(sealed, sealed.subarray(4))).toEqual(seal(value));
    expect(() => sealInPlace(sealed, sealed.subarray(3))).toThrow(/4-byte slot/);
    expect(() => sealInPlace(Buffer.alloc(4 + value.length), value)).toThrow(/4-byte slot/);
  });

  // Proves a fresh data dir loads as "never initialised" rather than failing.
  it('reports a fresh data dir as empty', async () => {
    const disk = await Disk.open(tempDir());
    expect(await disk.load()).toBeNull();
    await disk.close();
  });

  // Proves flipped bytes inside the LevelDB files are detected by the per-record checksums, for
  // records sealed by copy and in place alike.
  it.each(['state-record', 'sealed-record'])(
    'refuses a database whose %s was corrupted on disk',
    async (text) => {
      const dir = tempDir();
      await writeSample(dir, 50);
      const dbDir = Disk.dbPath(dir);
      let corrupted = 0;
      for (const f of readdirSync(dbDir).filter((f) => f.endsWith('.log') || f.endsWith('.ldb'))) {
        const path = join(dbDir, f);
        const b = readFileSync(path);
        const at = b.indexOf(text);
        if (at < 0) continue;
        b[at] = 'X'.charCodeAt(0);
        writeFileSync(path, b);
        corrupted++;
      }
      expect(corrupted).toBeGreaterThan(0);
      const err = await Disk.open(dir).then(
        async (disk) => {
          try {
            await disk.load();
            return null;
          } catch (e) {
            return e as Error;
          } finally {
            await disk.close();
          }
        },
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(DataDirError);
      expect(err!.message).toContain(dir);
      expect(err!.message).toMatch(/checksum|corrupt/i);
    },
  );

  // Proves flipped bytes inside a WAL record are detected by its checksum and refused (not cut off).
  it('refuses a WAL whose records were corrupted on disk', async () => {
    const dir = tempDir();
    await writeSample(dir, 50);
    const walDir = Disk.walPath(dir);
    let corrupted = 0;
    for (const f of readdirSync(walDir)) {
      const path = join(walDir, f);
      const b = readFileSync(path);
      const at = b.indexOf('e3');
      if (at < 0) continue;
      b[at] = 'X'.charCodeAt(0);
      writeFileSync(path, b);
      corrupted++;
    }
    expect(corrupted).toBe(1);
    const err = await Disk.open(dir).then(
      async (d) => {
        await d.close();
        return null;
      },
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(DataDirError);
    expect(err!.message).toContain(dir);
    expect(err!.message).toMatch(/checksum/);
  });

  // Proves a WAL whose entries skip an index (lost entries) is refused rather than replayed.
  it('refuses a Raft log with a gap', async () => {
    const dir = tempDir();
    await writeSample(dir);
    const disk = await Disk.open(dir);
    await disk.appendLog([entry(1, 9, 'e9')], null);
    await disk.close();
    await expect(Disk.open(dir)).rejects.toThrow(/gap in the log: entry 9 after 6/);
  });

  // Proves a state database without its WAL (or the reverse) is refused, not started with half a member.
  it('refuses a data dir missing its WAL or its database', async () => {
    const noWal = tempDir();
    await writeSample(noWal);
    rmSync(Disk.walPath(noWal), { recursive: true });
    await expect(Disk.open(noWal)).rejects.toThrow(/Raft log .* is missing/);

    const noDb = tempDir();
    await writeSample(noDb);
    rmSync(Disk.dbPath(noDb), { recursive: true });
    await expect(Disk.open(noDb)).rejects.toThrow(/holds a Raft log but .* is missing/);
  });

  // Proves that a snapshot installed in the state database whose WAL reset record was lost (a crash in
  // between) drops the WAL's entries of the replaced log instead of grafting them onto the snapshot.
  it('drops WAL entries that do not continue the state snapshot', async () => {
    const dir = tempDir();
    await writeSample(dir);
    const disk = await Disk.open(dir);
    await disk.write(
      [
        {
          type: 'put',
          key: K.snapMeta,
          value: encodeValue({ index: 4, term: 3, confState: { voters: [3] } }),
        },
      ],
      true,
    );
    await disk.close();
    const again = await Disk.open(dir);
    const s = await again.load();
    await again.close();
    expect(s!.snapMeta!.index).toBe(4);
    expect(s!.entries).toEqual([]);
    expect(s!.hardState.commit).toBe(4);

    // The same snapshot with its reset record in the WAL keeps the entries written after it.
    const ok = await Disk.open(dir);
    await ok.load();
    await ok.resetLog(4, 3, null);
    await ok.appendLog([entry(3, 5, 'after')], { term: 3, vote: 3, commit: 5 });
    await ok.close();
    const last = await Disk.open(dir);
    const s2 = await last.load();
    await last.close();
    expect(s2!.entries.map((e) => [e.index, Buffer.from(e.data).toString()])).toEqual([[5, 'after']]);
  });

  // Proves an etcd data dir and a half-deleted database are refused with a message naming them.
  it('refuses foreign and damaged data dirs', async () => {
    const etcdDir = tempDir();
    mkdirSync(join(etcdDir, 'member', 'wal'), { recursive: true });
    await expect(Disk.open(etcdDir)).rejects.toThrow(/etcd data dir/);

    const damaged = tempDir();
    await writeSample(damaged);
    rmSync(join(Disk.dbPath(damaged), 'CURRENT'));
    await expect(Disk.open(damaged)).rejects.toThrow(/no CURRENT file/);

    const noMeta = tempDir();
    const disk = await Disk.open(noMeta);
    await disk.write([{ type: 'put', key: Buffer.from('s/m/x'), value: Buffer.from('v') }], true);
    await expect(disk.load()).rejects.toThrow(/no Keelson metadata/);
    await disk.close();
  });
});
