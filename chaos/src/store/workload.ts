// The store suite's client workloads: concurrent kv clients (get, put, delete, txn compare-and-swap on a
// small key set) and a set workload (unique adds, one key per element, and a final read), each recorded
// in the history format. Every client is paced, so the total rate is about clients × ratePerClient.
import { cmp, EtcdClient, op } from '@keelson/store';
import { Prng } from '../lin/prng.js';
import { sleep } from './cluster.js';
import { definitelyNotApplied, errorText, type HistoryRecorder } from './recorder.js';

export const KV_PREFIX = 'kv/';
export const SET_PREFIX = 'set/';
export const SET_NAME = 'set';

export interface KvWorkloadOptions {
  readonly endpoints: readonly string[];
  readonly seed: number;
  readonly clients: number;
  readonly keys: number;
  readonly ratePerClient: number;
  readonly history: HistoryRecorder;
  readonly signal: AbortSignal;
  /** Called with each error (for progress: errors per second). */
  readonly onError?: (text: string) => void;
}

/** Client deadlines: short, so that a paused or partitioned member costs a client little time. */
export const REQUEST_TIMEOUT_MS = 2500;
export const DIAL_TIMEOUT_MS = 1000;

/** A client that starts at member `start` and moves to the next one when one is unavailable. */
export function rotatingClient(endpoints: readonly string[], start: number): EtcdClient {
  const n = endpoints.length;
  const order = Array.from({ length: n }, (_, k) => endpoints[(start + k) % n] as string);
  return new EtcdClient({
    endpoints: order,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    dialTimeoutMs: DIAL_TIMEOUT_MS,
  });
}

export function kvKey(k: number): string {
  return `${KV_PREFIX}k${k}`;
}

/** Runs the kv clients until the signal aborts; resolves when all have finished their last operation. */
export async function runKvWorkload(o: KvWorkloadOptions): Promise<void> {
  await Promise.all(Array.from({ length: o.clients }, (_, i) => kvClient(o, i)));
}

async function paced(startMs: number, n: number, ratePerS: number, signal: AbortSignal): Promise<void> {
  const dueMs = startMs + (n * 1000) / ratePerS;
  const waitMs = dueMs - performance.now();
  if (waitMs > 0 && !signal.aborted) await sleep(Math.min(waitMs, 1000));
}

async function kvClient(o: KvWorkloadOptions, i: number): Promise<void> {
  const rng = new Prng((o.seed * 7919 + i * 104_729) >>> 0);
  const client = rotatingClient(o.endpoints, i);
  // The last value this client saw per key: what its compare-and-swaps expect, so that some succeed.
  const seen = new Map<string, string | null>();
  const t0 = performance.now();
  try {
    // Bounded by the signal; the counter also numbers the values this client writes.
    for (let n = 0; !o.signal.aborted; n++) {
      await paced(t0, n, o.ratePerClient, o.signal);
      if (o.signal.aborted) break;
      const key = kvKey(rng.below(o.keys));
      const value = `c${i}-${n}`;
      const dice = rng.below(100);
      if (dice < 40) await doGet(o, client, i, key, seen);
      else if (dice < 70) await doPut(o, client, i, key, value, seen);
      else if (dice < 80) await doDelete(o, client, i, key, seen);
      else await doTxn(o, client, i, key, value, seen, rng);
    }
  } finally {
    client.close();
  }
}

function fail(o: KvWorkloadOptions, i: number, e: unknown, read: boolean): void {
  o.onError?.(errorText(e));
  // A read has no effect: whatever happened to it, it can be dropped.
  o.history.complete(i, read || definitelyNotApplied(e) ? 'fail' : 'info');
}

async function doGet(
  o: KvWorkloadOptions,
  c: EtcdClient,
  i: number,
  key: string,
  seen: Map<string, string | null>,
): Promise<void> {
  o.history.invoke(i, 'get', key, null);
  try {
    const r = await c.get(key);
    const kv = r.kvs[0];
    if (kv === undefined) {
      seen.set(key, null);
      o.history.complete(i, 'ok', null);
    } else {
      const v = kv.value.toString('utf8');
      seen.set(key, v);
      o.history.complete(i, 'ok', v, { revision: kv.mod_revision, version: kv.version });
    }
  } catch (e) {
    fail(o, i, e, true);
  }
}

async function doPut(
  o: KvWorkloadOptions,
  c: EtcdClient,
  i: number,
  key: string,
  value: string,
  seen: Map<string, string | null>,
): Promise<void> {
  o.history.invoke(i, 'put', key, value);
  try {
    const r = await c.put(key, value);
    seen.set(key, value);
    o.history.complete(i, 'ok', null, { revision: r.header.revision });
  } catch (e) {
    fail(o, i, e, false);
  }
}

async function doDelete(
  o: KvWorkloadOptions,
  c: EtcdClient,
  i: number,
  key: string,
  seen: Map<string, string | null>,
): Promise<void> {
  o.history.invoke(i, 'delete', key, null);
  try {
    const r = await c.delete(key);
    seen.set(key, null);
    o.history.complete(i, 'ok', r.deleted, { revision: r.header.revision });
  } catch (e) {
    fail(o, i, e, false);
  }
}

async function doTxn(
  o: KvWorkloadOptions,
  c: EtcdClient,
  i: number,
  key: string,
  value: string,
  seen: Map<string, string | null>,
  rng: Prng,
): Promise<void> {
  // Mostly what this client saw last (likely to succeed), sometimes "absent".
  const expect = rng.chance(200) ? null : (seen.get(key) ?? null);
  o.history.invoke(i, 'txn', key, { expect, new: value });
  try {
    const compare = expect === null ? cmp.version(key, '=', 0) : cmp.value(key, '=', expect);
    const r = await c.txn({ compare: [compare], success: [op.put(key, value)] });
    if (r.succeeded) seen.set(key, value);
    o.history.complete(i, 'ok', { succeeded: r.succeeded }, { revision: r.header.revision });
  } catch (e) {
    fail(o, i, e, false);
  }
}

// ---- set workload ----

export interface SetWorkloadOptions {
  readonly endpoints: readonly string[];
  readonly seed: number;
  readonly clients: number;
  readonly ratePerClient: number;
  /** Process numbers start here (kept apart from the kv clients'). */
  readonly processBase: number;
  readonly history: HistoryRecorder;
  readonly signal: AbortSignal;
  readonly onError?: (text: string) => void;
}

/** Adds unique elements ("s<client>-<n>"), each as its own key under set/; an add is a put. */
export async function runSetWorkload(o: SetWorkloadOptions): Promise<void> {
  await Promise.all(
    Array.from({ length: o.clients }, async (_, k) => {
      const p = o.processBase + k;
      const client = rotatingClient(o.endpoints, k + 1);
      const t0 = performance.now();
      try {
        for (let n = 0; !o.signal.aborted; n++) {
          await paced(t0, n, o.ratePerClient, o.signal);
          if (o.signal.aborted) break;
          const element = `s${k}-${n}`;
          o.history.invoke(p, 'add', SET_NAME, element);
          try {
            await client.put(`${SET_PREFIX}${element}`, element);
            o.history.complete(p, 'ok');
          } catch (e) {
            o.onError?.(errorText(e));
            o.history.complete(p, definitelyNotApplied(e) ? 'fail' : 'info');
          }
        }
      } finally {
        client.close();
      }
    }),
  );
}

/** The final read of the set: every element (the value of each key under set/), retried a few times. */
export async function readSet(endpoints: readonly string[]): Promise<string[]> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    const client = rotatingClient(endpoints, attempt);
    try {
      const r = await client.get(SET_PREFIX, { prefix: true });
      return r.kvs.map((kv) => kv.value.toString('utf8'));
    } catch (e) {
      lastError = e;
      await sleep(500);
    } finally {
      client.close();
    }
  }
  throw new Error(`final read of the set failed: ${errorText(lastError)}`);
}
