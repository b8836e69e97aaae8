// Nemeses of the apiserver suite, seeded and replayable: one fault at a time on the processes of a
// `keelson cluster up` cluster, each followed by a heal (a restart with `up` on the same dir, which
// restarts only what is not running, or SIGCONT) and a wait until every component is healthy again.
import { Prng } from '../lin/prng.js';
import type { ApiCluster } from './cluster.js';

export const API_NEMESES = [
  'kill-apiserver',
  'pause-apiserver',
  'term-apiserver',
  'kill-store-leader',
  'kill-store-follower',
] as const;
export type ApiNemesis = (typeof API_NEMESES)[number];

/** Expands a --nemesis list for the apiserver suite ("all" or names of API_NEMESES). */
export function parseApiNemeses(spec: string): ApiNemesis[] {
  const out: ApiNemesis[] = [];
  for (const item of spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (item === 'all') out.push(...API_NEMESES);
    else if ((API_NEMESES as readonly string[]).includes(item)) out.push(item as ApiNemesis);
    else throw new Error(`unknown apiserver nemesis "${item}"; known: ${API_NEMESES.join(', ')}, all`);
  }
  if (out.length === 0) throw new Error('no nemesis given');
  return [...new Set(out)];
}

/** One fault from start to healed; times in ns since the run started (the history's clock). */
export interface ApiNemesisEvent {
  readonly index: number;
  readonly nemesis: ApiNemesis;
  readonly target: string;
  readonly startNs: number;
  /** When the cluster was healthy again (undefined: it never was). */
  healedNs: number | undefined;
  readonly notes: string[];
}

export interface ApiNemesisOptions {
  readonly seed: number;
  readonly nemeses: readonly ApiNemesis[];
  /** No fault starts after this (performance.now() ms). */
  readonly untilMs: number;
  readonly nowNs: () => number;
  readonly signal: AbortSignal;
  readonly onEvent?: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A SIGTERM'd apiserver has this long to finish (drain) before it is killed. */
const TERM_WAIT_MS = 15_000;

export class ApiNemesisRunner {
  readonly events: ApiNemesisEvent[] = [];
  current: string | null = null;
  private readonly rng: Prng;

  constructor(
    private readonly cluster: ApiCluster,
    private readonly o: ApiNemesisOptions,
  ) {
    if (o.nemeses.length === 0) throw new Error('assertion failed: no nemesis');
    this.rng = new Prng((o.seed ^ 0xa91) >>> 0);
  }

  private pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('assertion failed: pick from nothing');
    return xs[this.rng.below(xs.length)] as T;
  }

  /** Every nemesis in a seeded order before any repeats. */
  private order(): ApiNemesis[] {
    const xs = [...this.o.nemeses];
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.rng.below(i + 1);
      [xs[i], xs[j]] = [xs[j] as ApiNemesis, xs[i] as ApiNemesis];
    }
    return xs;
  }

  async run(): Promise<void> {
    const order = this.order();
    await sleep(1000);
    for (let n = 0; n < 10_000; n++) {
      if (performance.now() >= this.o.untilMs || this.o.signal.aborted) break;
      const nemesis = order[n % order.length] as ApiNemesis;
      this.current = nemesis;
      const target = await this.target(nemesis);
      const e: ApiNemesisEvent = {
        index: n,
        nemesis,
        target,
        startNs: this.o.nowNs(),
        healedNs: undefined,
        notes: [],
      };
      this.events.push(e);
      this.o.onEvent?.(`start ${nemesis} ${target}`);
      try {
        await this.runOne(e);
        await this.cluster.up();
        e.healedNs = this.o.nowNs();
        this.o.onEvent?.(`healed ${nemesis} ${target}`);
      } catch (err) {
        e.notes.push(`heal failed: ${(err as Error).message}`);
        this.o.onEvent?.(`heal of ${nemesis} ${target} failed: ${(err as Error).message}`);
      }
      this.current = null;
      await sleep(500 + this.rng.below(1000));
    }
  }

  private async target(nemesis: ApiNemesis): Promise<string> {
    if (nemesis.endsWith('apiserver')) return this.pick(this.cluster.names('apiserver'));
    const leader = await this.cluster.storeLeader();
    const stores = this.cluster.names('store');
    if (nemesis === 'kill-store-leader' && leader !== null) return leader;
    return this.pick(stores.filter((s) => s !== leader));
  }

  private holdMs(): number {
    return 1000 + this.rng.below(1500);
  }

  private async runOne(e: ApiNemesisEvent): Promise<void> {
    const c = this.cluster;
    if (e.nemesis === 'pause-apiserver') {
      if (c.signal(e.target, 'SIGSTOP') === null) e.notes.push('not running');
      await sleep(this.holdMs());
      c.signal(e.target, 'SIGCONT');
      return;
    }
    if (e.nemesis === 'term-apiserver') {
      if (c.signal(e.target, 'SIGTERM') === null) e.notes.push('not running');
      if (!(await c.waitGone(e.target, TERM_WAIT_MS))) {
        e.notes.push(`still running ${TERM_WAIT_MS} ms after SIGTERM: killed`);
        c.signal(e.target, 'SIGKILL');
        await c.waitGone(e.target, 5000);
      }
      await sleep(this.holdMs());
      return;
    }
    // kill-apiserver, kill-store-leader, kill-store-follower
    if (c.signal(e.target, 'SIGKILL') === null) e.notes.push('not running');
    await c.waitGone(e.target, 5000);
    await sleep(this.holdMs());
  }
}

export function formatApiNemesisEvent(e: ApiNemesisEvent): string {
  const s = (ns: number | undefined): string => (ns === undefined ? '-' : `${(ns / 1e9).toFixed(3)}s`);
  return `${s(e.startNs).padStart(9)} .. ${s(e.healedNs).padStart(9)}  ${e.nemesis} ${e.target}${e.notes.length > 0 ? `  (${e.notes.join('; ')})` : ''}`;
}
