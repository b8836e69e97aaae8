// The ObjectStorage compliance suite: every backend (Keelson's store, etcd 3.4) runs the same tests.
import type { KubeObject } from '@keelson/api';
import {
  CompactedError,
  ExtrasConflictError,
  KeyExistsError,
  ModRevisionMismatchError,
  type ObjectStorage,
  type StorageWatchEvent,
} from '@keelson/apiserver';
import { expect, it } from 'vitest';

function cm(name: string, data: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns' }, data };
}

interface Collected {
  events: StorageWatchEvent[];
  progress: number[];
  closed: { err: Error | undefined } | undefined;
}

function collector(): Collected & {
  sink: {
    events(e: StorageWatchEvent[]): void;
    progress(r: number): void;
    closed(e: Error | undefined): void;
  };
} {
  const c: Collected = { events: [], progress: [], closed: undefined };
  return {
    ...c,
    get events() {
      return c.events;
    },
    get progress() {
      return c.progress;
    },
    get closed() {
      return c.closed;
    },
    sink: {
      events: (e) => c.events.push(...e),
      progress: (r) => c.progress.push(r),
      closed: (err) => {
        c.closed = { err };
      },
    },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Registers the suite; `storage()` returns the backend under test, `prefix` isolates runs. */
export function storageCompliance(
  storage: () => ObjectStorage,
  compact: (rev: number) => Promise<void>,
): void {
  let n = 0;
  const base = () => `/registry/configmaps/t${process.pid}-${++n}/`;

  it('create then get returns the object with its mod revision as resourceVersion', async () => {
    // Proves create stores JSON and get reads it back with resourceVersion = mod_revision.
    const p = base();
    const created = await storage().create(`${p}a`, cm('a', { k: 'v' }));
    expect(created.modRevision).toBeGreaterThan(0);
    expect(created.obj.metadata?.resourceVersion).toBe(String(created.modRevision));
    const got = await storage().get(`${p}a`);
    expect(got?.modRevision).toBe(created.modRevision);
    expect(got?.obj.data).toEqual({ k: 'v' });
    expect(await storage().get(`${p}missing`)).toBeUndefined();
  });

  it('create of an existing key fails with KeyExistsError', async () => {
    // Proves the create txn compares mod_revision == 0.
    const p = base();
    await storage().create(`${p}a`, cm('a'));
    await expect(storage().create(`${p}a`, cm('a'))).rejects.toBeInstanceOf(KeyExistsError);
  });

  it('update with a stale mod revision fails carrying the current state', async () => {
    // Proves optimistic concurrency: the txn's failure branch returns the current object.
    const p = base();
    const c = await storage().create(`${p}a`, cm('a', { v: '1' }));
    const u = await storage().update(`${p}a`, cm('a', { v: '2' }), c.modRevision);
    expect(u.modRevision).toBeGreaterThan(c.modRevision);
    const err = await storage()
      .update(`${p}a`, cm('a', { v: '3' }), c.modRevision)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModRevisionMismatchError);
    expect((err as ModRevisionMismatchError).current?.modRevision).toBe(u.modRevision);
    expect((err as ModRevisionMismatchError).current?.obj.data).toEqual({ v: '2' });
  });

  it('update and delete of a missing key fail with no current state', async () => {
    // Proves a mismatch on a deleted key reports current = undefined (the REST layer's 404).
    const p = base();
    const err = await storage()
      .update(`${p}gone`, cm('gone'), 5)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModRevisionMismatchError);
    expect((err as ModRevisionMismatchError).current).toBeUndefined();
    await expect(storage().delete(`${p}gone`, 5)).rejects.toBeInstanceOf(ModRevisionMismatchError);
  });

  it('delete returns the last state with the deletion revision', async () => {
    // Proves delete is guarded and hands back what was deleted.
    const p = base();
    const c = await storage().create(`${p}a`, cm('a', { v: '1' }));
    await expect(storage().delete(`${p}a`, c.modRevision + 100)).rejects.toBeInstanceOf(
      ModRevisionMismatchError,
    );
    const d = await storage().delete(`${p}a`, c.modRevision);
    expect(d.modRevision).toBeGreaterThan(c.modRevision);
    expect(d.obj.data).toEqual({ v: '1' });
    expect(await storage().get(`${p}a`)).toBeUndefined();
  });

  it('extras commit atomically and a failed extra compare is ExtrasConflictError', async () => {
    // Proves admission extras (quota charges) share the write's txn.
    const p = base();
    const quota = `${p}quota`;
    await storage().create(`${p}a`, cm('a'), {
      compares: [{ key: quota, modRevision: 0 }],
      puts: [{ key: quota, value: '1' }],
    });
    expect((await storage().get(`${p}a`))?.obj.metadata?.name).toBe('a');
    const err = await storage()
      .create(`${p}b`, cm('b'), {
        compares: [{ key: quota, modRevision: 0 }],
        puts: [{ key: quota, value: '2' }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtrasConflictError);
    expect(await storage().get(`${p}b`)).toBeUndefined();
  });

  it('lists pages consistently at the first page’s revision', async () => {
    // Proves limit/continue: pages read one snapshot even while writes go on.
    const p = base();
    for (const name of ['a', 'b', 'c', 'd', 'e']) await storage().create(`${p}${name}`, cm(name));
    const first = await storage().list(p, { limit: 2 });
    expect(first.items.map((s) => s.obj.metadata?.name)).toEqual(['a', 'b']);
    expect(first.remainingItemCount).toBe(3);
    expect(first.continueToken).toBeDefined();
    await storage().create(`${p}bb`, cm('bb'));
    const second = await storage().list(p, { limit: 2, continueToken: first.continueToken as string });
    expect(second.revision).toBe(first.revision);
    expect(second.items.map((s) => s.obj.metadata?.name)).toEqual(['c', 'd']);
    const third = await storage().list(p, { limit: 2, continueToken: second.continueToken as string });
    expect(third.items.map((s) => s.obj.metadata?.name)).toEqual(['e']);
    expect(third.continueToken).toBeUndefined();
    const all = await storage().list(p, { limit: 0 });
    expect(all.items).toHaveLength(6);
    expect(all.revision).toBeGreaterThan(first.revision);
  });

  it('watch delivers ADDED, MODIFIED and DELETED from a revision, DELETED carrying the last state', async () => {
    // Proves watch from rev+1 with prev_kv and the event types the REST layer needs.
    const p = base();
    const start = await storage().currentRevision();
    const c = collector();
    const w = storage().watch(p, start, c.sink);
    try {
      const a = await storage().create(`${p}a`, cm('a', { v: '1' }));
      const u = await storage().update(`${p}a`, cm('a', { v: '2' }), a.modRevision);
      const d = await storage().delete(`${p}a`, u.modRevision);
      await until('three events', () => c.events.length >= 3);
      expect(c.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
      expect(c.events.map((e) => e.revision)).toEqual([a.modRevision, u.modRevision, d.modRevision]);
      const del = c.events[2] as StorageWatchEvent;
      expect(del.obj.data).toEqual({ v: '2' });
      expect(del.obj.metadata?.resourceVersion).toBe(String(d.modRevision));
    } finally {
      w.cancel();
    }
  });

  it('watch started before now replays history, and reports progress on request', async () => {
    // Proves resumable watches and progress notifications (bookmarks ride on them).
    const p = base();
    const a = await storage().create(`${p}a`, cm('a'));
    const c = collector();
    const w = storage().watch(p, a.modRevision - 1, c.sink);
    try {
      await until('the replayed create', () => c.events.length >= 1);
      expect(c.events[0]?.type).toBe('ADDED');
      await until('a progress notification', () => c.progress.length >= 1, 15_000);
      expect(c.progress[0]).toBeGreaterThanOrEqual(a.modRevision);
    } finally {
      w.cancel();
    }
    expect(c.closed?.err).toBeUndefined();
  });

  it('compacted revisions: list at them fails and watches from them close with CompactedError', async () => {
    // Proves 410 Gone can be decided: both reads and watches report compaction.
    const p = base();
    const a = await storage().create(`${p}a`, cm('a'));
    await storage().update(`${p}a`, cm('a', { v: '2' }), a.modRevision);
    const now = await storage().currentRevision();
    await compact(now);
    await expect(storage().list(p, { limit: 0, revision: a.modRevision })).rejects.toBeInstanceOf(
      CompactedError,
    );
    const c = collector();
    storage().watch(p, a.modRevision - 1, c.sink);
    await until('the watch to close', () => c.closed !== undefined);
    expect(c.closed?.err).toBeInstanceOf(CompactedError);
  });

  it('ping and currentRevision answer', async () => {
    // Proves /readyz's probe and the revision read.
    expect(await storage().ping()).toBe(true);
    expect(await storage().currentRevision()).toBeGreaterThan(0);
  });
}
