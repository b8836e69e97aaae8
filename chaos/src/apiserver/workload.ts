// The apiserver suite's writers: clients that create, update (with a resourceVersion precondition) and
// delete ConfigMaps in one namespace through the LB, each retrying a failed request once. Every
// attempt of a create, update or delete is recorded in the history (chaos/README.md's format):
//   invoke  {f: create|update|delete, key: <name>, value: <data value> | {expect: <rv>, new: <value>}}
//   ok      value {status, applied}, revision = the resulting object's resourceVersion (applied writes)
//   info    no answer, or a 5xx/429: it may or may not have happened;  fail: it never left (no LB)
// A 409 (stale resourceVersion, or create of an existing name) and a 404 (update or delete of a
// missing name) are expected answers: recorded as ok with applied false. Every failed attempt of any
// request (reads too) goes to `failures`, which checker (3) sets against the nemesis events.
import { Prng } from '../lin/prng.js';
import type { HistoryRecorder } from '../store/recorder.js';
import { KubeClient, type KubeReply, KubeRequestError, type KubeTls } from './client.js';

export interface AttemptFailure {
  readonly client: number;
  /** ns since the run started. */
  readonly timeNs: number;
  readonly what: string;
  readonly error: string;
}

export interface WriterOptions {
  readonly port: number;
  readonly tls: KubeTls;
  readonly namespace: string;
  readonly keys: readonly string[];
  readonly seed: number;
  readonly clients: number;
  readonly ratePerClient: number;
  readonly history: HistoryRecorder;
  readonly failures: AttemptFailure[];
  readonly signal: AbortSignal;
  readonly attemptTimeoutMs: number;
  /** Pause before the one retry: long enough for the LB to notice a dead apiserver. */
  readonly retryDelayMs: number;
}

/** Failed attempts kept (beyond: counted only), so that a broken run cannot exhaust memory. */
const FAILURES_MAX = 100_000;

export function configMapPath(ns: string, name?: string): string {
  return `/api/v1/namespaces/${ns}/configmaps${name === undefined ? '' : `/${name}`}`;
}

export function configMap(ns: string, name: string, value: string, rv?: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, ...(rv === undefined ? {} : { resourceVersion: rv }) },
    data: { v: value },
  };
}

/** Whether an HTTP answer is a failure of the request (retried), not an outcome. */
export function failedStatus(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

function rvOf(body: unknown): string | undefined {
  const rv = (body as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Writer {
  private readonly rng: Prng;
  private readonly client: KubeClient;
  /** The resourceVersion this client last saw per name (what an update expects). */
  private readonly known = new Map<string, string>();
  private n = 0;

  constructor(
    private readonly id: number,
    private readonly o: WriterOptions,
  ) {
    this.rng = new Prng((o.seed * 31 + id * 7919) >>> 0);
    this.client = new KubeClient(o.port, o.tls, o.attemptTimeoutMs);
  }

  private noteFailure(what: string, error: string): void {
    if (this.o.failures.length >= FAILURES_MAX) return;
    this.o.failures.push({ client: this.id, timeNs: this.o.history.nowNs(), what, error });
  }

  /** One attempt, recorded when `record` names the history op; returns the answer or undefined. */
  private async attempt(
    method: string,
    path: string,
    body: unknown,
    record: { f: string; key: string; value: unknown } | undefined,
  ): Promise<KubeReply | undefined> {
    const h = this.o.history;
    if (record !== undefined) h.invoke(this.id, record.f, record.key, record.value);
    let reply: KubeReply | undefined;
    let error = '';
    let sent = true;
    try {
      reply = await this.client.send(method, path, body);
      if (failedStatus(reply.status)) error = `HTTP ${reply.status}`;
    } catch (e) {
      error = (e as Error).message;
      sent = !(e instanceof KubeRequestError) || e.sent;
    }
    if (error !== '') {
      this.noteFailure(`${method} ${path}`, error);
      if (record !== undefined) h.complete(this.id, sent ? 'info' : 'fail', { error });
      return undefined;
    }
    const r = reply as KubeReply;
    if (record !== undefined) {
      const applied = r.status === 200 || r.status === 201;
      const rv = method === 'DELETE' ? undefined : rvOf(r.body);
      h.complete(
        this.id,
        'ok',
        { status: r.status, applied },
        applied && rv !== undefined ? { revision: Number(rv) } : {},
      );
    }
    return r;
  }

  /** An attempt and, if it failed, one retry after the delay. */
  private async withRetry(
    method: string,
    path: string,
    body: unknown,
    record: { f: string; key: string; value: unknown } | undefined,
  ): Promise<KubeReply | undefined> {
    const first = await this.attempt(method, path, body, record);
    if (first !== undefined || this.o.signal.aborted) return first;
    await sleep(this.o.retryDelayMs);
    return this.attempt(method, path, body, record);
  }

  private async step(): Promise<void> {
    const ns = this.o.namespace;
    const key = this.o.keys[this.rng.below(this.o.keys.length)] as string;
    const value = `c${this.id}-${this.n++}`;
    const rv = this.known.get(key);
    if (this.rng.below(100) < 15) {
      const r = await this.withRetry('DELETE', configMapPath(ns, key), undefined, {
        f: 'delete',
        key,
        value: null,
      });
      if (r !== undefined) this.known.delete(key);
      return;
    }
    if (rv === undefined) {
      const r = await this.withRetry('POST', configMapPath(ns), configMap(ns, key, value), {
        f: 'create',
        key,
        value,
      });
      if (r?.status === 201) this.known.set(key, rvOf(r.body) ?? '');
      else if (r?.status === 409) await this.refresh(key);
      return;
    }
    const r = await this.withRetry('PUT', configMapPath(ns, key), configMap(ns, key, value, rv), {
      f: 'update',
      key,
      value: { expect: rv, new: value },
    });
    if (r?.status === 200) this.known.set(key, rvOf(r.body) ?? '');
    else if (r?.status === 404) this.known.delete(key);
    else if (r?.status === 409 && this.rng.below(2) === 0) await this.refresh(key);
  }

  /** Reads the name's current resourceVersion (not recorded: reads change nothing). */
  private async refresh(key: string): Promise<void> {
    const r = await this.withRetry('GET', configMapPath(this.o.namespace, key), undefined, undefined);
    const rv = r?.status === 200 ? rvOf(r.body) : undefined;
    if (rv !== undefined) this.known.set(key, rv);
    else if (r?.status === 404) this.known.delete(key);
  }

  async run(): Promise<void> {
    const periodMs = 1000 / this.o.ratePerClient;
    try {
      // Bounded by the signal; the cap guards against a clock that does not move.
      for (let i = 0; i < 10_000_000 && !this.o.signal.aborted; i++) {
        const t0 = Date.now();
        await this.step();
        const rest = periodMs * (0.5 + this.rng.below(1000) / 1000) - (Date.now() - t0);
        if (rest > 0) await sleep(rest);
      }
    } finally {
      this.client.close();
    }
  }
}

/** Runs the writers until the signal; resolves when every one has finished its last operation. */
export async function runWriters(o: WriterOptions): Promise<void> {
  if (!(o.clients > 0 && o.ratePerClient > 0 && o.keys.length > 0))
    throw new Error('assertion failed: writers');
  await Promise.all(Array.from({ length: o.clients }, (_, i) => new Writer(i, o).run()));
}
