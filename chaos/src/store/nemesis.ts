// Nemeses for the store suite: a seeded schedule of faults on a ChaosCluster. Each fault starts, holds
// for a while, and heals; the next starts only after the cluster has a leader again, and everything is
// healed before the final reads. Every action is logged with its time since the start of the run.
import { Prng } from '../lin/prng.js';
import { type ChaosCluster, sleep } from './cluster.js';

/** Each nemesis and its variants; `--nemesis kind` enables all of a kind's variants, `kind:variant` one. */
export const NEMESES = {
  kill: ['any', 'leader'],
  pause: ['leader', 'follower'],
  partition: ['isolate-one', 'isolate-leader', 'majority-minority', 'bridge', 'ring'],
  delay: ['all'],
  loss: ['all'],
  membership: ['remove-readd', 'learner-promote'],
  crash: [
    'before-log-sync',
    'after-log-sync',
    'before-apply-write',
    'after-apply-write',
    'before-snapshot',
    'after-snapshot',
  ],
} as const satisfies Record<string, readonly string[]>;

export type NemesisKind = keyof typeof NEMESES;
export const NEMESIS_KINDS = Object.keys(NEMESES) as NemesisKind[];

/** "kind:variant", e.g. "partition:ring". */
export type NemesisVariant = string;

export function allVariants(): NemesisVariant[] {
  return NEMESIS_KINDS.flatMap((k) => NEMESES[k].map((v) => `${k}:${v}`));
}

/** Expands a --nemesis list ("kill,partition:ring"); throws with the known names on a bad one. */
export function parseNemeses(spec: string): NemesisVariant[] {
  const out: NemesisVariant[] = [];
  for (const item of spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (item === 'all') {
      out.push(...allVariants());
      continue;
    }
    const [kind, variant] = item.split(':') as [string, string | undefined];
    const variants = (NEMESES as Record<string, readonly string[]>)[kind];
    if (variants === undefined) {
      throw new Error(`unknown nemesis "${kind}"; known: ${NEMESIS_KINDS.join(', ')}, all`);
    }
    if (variant !== undefined && !variants.includes(variant)) {
      throw new Error(`unknown variant "${variant}" of nemesis ${kind}; known: ${variants.join(', ')}`);
    }
    for (const v of variant === undefined ? variants : [variant]) out.push(`${kind}:${v}`);
  }
  if (out.length === 0) throw new Error('no nemesis given');
  return [...new Set(out)];
}

export interface NemesisEvent {
  readonly timeMs: number;
  readonly variant: string;
  readonly phase: 'start' | 'heal' | 'note';
  readonly detail: string;
}

export interface NemesisOptions {
  readonly seed: number;
  readonly variants: readonly NemesisVariant[];
  /** No fault starts after this (Date.now() ms). */
  readonly untilMs: number;
  /** The run's start (Date.now() ms), for event times. */
  readonly startMs: number;
  readonly onEvent?: (e: NemesisEvent) => void;
  /** Stops the schedule early (the run was interrupted). */
  readonly signal?: AbortSignal;
}

/** How long a cluster may take to agree on a leader after a heal before the run notes it. */
const RECOVERY_MS_MAX = 20_000;
/** How long an armed crash point may take to be reached (snapshots come every few seconds). */
const CRASH_WAIT_MS = 8000;

export class Nemesis {
  readonly events: NemesisEvent[] = [];
  /** The variant in force, or null (for progress lines). */
  current: string | null = null;
  /** Variants that ran (started and healed). */
  readonly covered = new Set<string>();
  /** Heals after which the cluster had no leader within RECOVERY_MS_MAX. */
  unrecovered = 0;
  private readonly rng: Prng;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly opts: NemesisOptions,
  ) {
    this.rng = new Prng(opts.seed ^ 0x5eed);
  }

  private log(variant: string, phase: NemesisEvent['phase'], detail: string): void {
    const e = { timeMs: Date.now() - this.opts.startMs, variant, phase, detail };
    this.events.push(e);
    this.opts.onEvent?.(e);
  }

  private pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('assertion failed: pick from nothing');
    return xs[this.rng.below(xs.length)] as T;
  }

  /** A seeded Fisher-Yates shuffle. */
  private shuffle<T>(input: readonly T[]): T[] {
    const xs = [...input];
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.rng.below(i + 1);
      [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
    }
    return xs;
  }

  /** Variants in a seeded order, cycled: every enabled variant runs before any repeats. */
  private order(): string[] {
    return this.shuffle(this.opts.variants);
  }

  /** Runs faults until untilMs, then heals everything. */
  async run(): Promise<void> {
    const order = this.order();
    // Let the workload get going first, so that the first fault meets traffic.
    await sleep(1000);
    // Bounded by time; the counter only guards against a schedule that never waits.
    for (let n = 0; n < 10_000; n++) {
      if (Date.now() >= this.opts.untilMs || this.opts.signal?.aborted) break;
      const variant = order[n % order.length] as string;
      this.current = variant;
      try {
        await this.runOne(variant);
        this.covered.add(variant);
      } catch (e) {
        this.log(variant, 'note', `failed: ${(e as Error).message}`);
      }
      this.current = null;
      await this.healAll();
      await this.awaitRecovery(variant);
      await sleep(500 + this.rng.below(1000));
    }
    await this.healAll();
  }

  private holdMs(): number {
    return 1500 + this.rng.below(1500);
  }

  private async runOne(variant: string): Promise<void> {
    const [kind, v] = variant.split(':') as [NemesisKind, string];
    switch (kind) {
      case 'kill':
        return this.kill(variant, v === 'leader');
      case 'pause':
        return this.pause(variant, v === 'leader');
      case 'partition':
        return this.partition(variant, v);
      case 'delay':
        return this.messageFaults(variant, { delayMs: 100 + this.rng.below(300) });
      case 'loss':
        return this.messageFaults(variant, { lossRate: (10 + this.rng.below(30)) / 100 });
      case 'membership':
        return this.membership(variant, v === 'learner-promote');
      case 'crash':
        return this.crash(variant, v);
      default:
        throw new Error(`assertion failed: unknown nemesis ${variant}`);
    }
  }

  private async target(leader: boolean): Promise<number> {
    const l = await this.cluster.waitForLeader(RECOVERY_MS_MAX);
    if (leader) return l;
    return this.pick(this.cluster.running().map((m) => m.index));
  }

  private async follower(): Promise<number> {
    const l = await this.cluster.waitForLeader(RECOVERY_MS_MAX);
    return this.pick(
      this.cluster
        .running()
        .map((m) => m.index)
        .filter((i) => i !== l),
    );
  }

  private async kill(variant: string, leader: boolean): Promise<void> {
    const i = await this.target(leader);
    await this.cluster.kill(i);
    this.log(variant, 'start', `kill -9 ${this.cluster.member(i).name}`);
    await sleep(this.holdMs());
    this.cluster.spawn(i);
    this.log(variant, 'heal', `restarted ${this.cluster.member(i).name}`);
  }

  private async pause(variant: string, leader: boolean): Promise<void> {
    const i = leader ? await this.target(true) : await this.follower();
    this.cluster.pause(i);
    this.log(variant, 'start', `SIGSTOP ${this.cluster.member(i).name}`);
    // Longer than the election timeout, so that the others elect (or at least try to).
    await sleep(2 * this.cluster.electionMs + this.rng.below(2 * this.cluster.electionMs));
    this.cluster.resume(i);
    this.log(variant, 'heal', `SIGCONT ${this.cluster.member(i).name}`);
  }

  /** `cut[i]` = the members i must not hear from; realised with dropFrom at i and dropTo at the sender. */
  private async applyCuts(variant: string, cut: Map<number, Set<number>>): Promise<void> {
    const c = this.cluster;
    const dropTo = new Map<number, Set<number>>();
    for (const [to, froms] of cut) {
      for (const from of froms) {
        const s = dropTo.get(from) ?? new Set<number>();
        s.add(to);
        dropTo.set(from, s);
      }
    }
    const idOf = (i: number): string => {
      const id = c.member(i).id;
      if (id === null) throw new Error(`assertion failed: ${c.member(i).name} has no id`);
      return id;
    };
    const parts: string[] = [];
    for (const m of c.members) {
      const from = [...(cut.get(m.index) ?? [])];
      const to = [...(dropTo.get(m.index) ?? [])];
      if (from.length + to.length === 0) continue;
      await c.setFaults(m.index, { dropFrom: from.map(idOf), dropTo: to.map(idOf) });
      parts.push(`${m.name} hears nothing from ${from.map((j) => c.member(j).name).join('+') || '-'}`);
    }
    this.log(variant, 'start', parts.join('; '));
  }

  private async partition(variant: string, v: string): Promise<void> {
    const c = this.cluster;
    const leader = await c.waitForLeader(RECOVERY_MS_MAX);
    const all = c.members.filter((m) => m.status === 'running').map((m) => m.index);
    const shuffled = this.shuffle(all);
    const cut = new Map<number, Set<number>>();
    const cutBoth = (a: readonly number[], b: readonly number[]): void => {
      for (const x of a)
        for (const y of b) {
          if (x === y) continue;
          (cut.get(x) ?? cut.set(x, new Set()).get(x))?.add(y);
          (cut.get(y) ?? cut.set(y, new Set()).get(y))?.add(x);
        }
    };
    if (v === 'isolate-one' || v === 'isolate-leader') {
      const lone = v === 'isolate-leader' ? leader : this.pick(all);
      cutBoth(
        [lone],
        all.filter((i) => i !== lone),
      );
    } else if (v === 'majority-minority') {
      const minority = shuffled.slice(0, Math.floor(all.length / 2));
      cutBoth(
        minority,
        shuffled.filter((i) => !minority.includes(i)),
      );
    } else if (v === 'bridge') {
      // The first member talks to both sides; the sides cannot talk to each other.
      const rest = shuffled.slice(1);
      const half = Math.ceil(rest.length / 2);
      cutBoth(rest.slice(0, half), rest.slice(half));
    } else if (v === 'ring') {
      // Each member hears itself and the next floor(n/2) around a ring: a majority, never the same one.
      const n = shuffled.length;
      for (let k = 0; k < n; k++) {
        const hears = new Set<number>();
        for (let d = 0; d <= Math.floor(n / 2); d++) hears.add(shuffled[(k + d) % n] as number);
        const me = shuffled[k] as number;
        cut.set(me, new Set(shuffled.filter((j) => !hears.has(j))));
      }
    }
    await this.applyCuts(variant, cut);
    await sleep(this.holdMs());
    await this.clearFaults(variant);
  }

  private async clearFaults(variant: string): Promise<void> {
    for (const m of this.cluster.running()) await this.cluster.clearFaults(m.index);
    this.log(variant, 'heal', 'faults cleared on every member');
  }

  private async messageFaults(variant: string, faults: Record<string, number>): Promise<void> {
    for (const m of this.cluster.running()) await this.cluster.setFaults(m.index, faults);
    this.log(variant, 'start', `all members: ${JSON.stringify(faults)}`);
    await sleep(this.holdMs());
    await this.clearFaults(variant);
  }

  private async membership(variant: string, learner: boolean): Promise<void> {
    const c = this.cluster;
    const l = await c.waitForLeader(RECOVERY_MS_MAX);
    // Any member, the leader included (it steps down after removing itself).
    const i = this.rng.chance(300) ? l : this.pick(c.running().map((m) => m.index));
    const name = c.member(i).name;
    await c.removeMember(i);
    this.log(variant, 'start', `removed ${name}`);
    await sleep(1000);
    await c.waitForLeader(RECOVERY_MS_MAX);
    await c.addMember(i, learner);
    this.log(variant, 'note', `re-added ${name}${learner ? ' as a learner' : ''} with a fresh data dir`);
    if (learner) {
      await c.promote(i, 15_000);
      this.log(variant, 'note', `promoted ${name}`);
    }
    await c.waitServing(i, 15_000);
    this.log(variant, 'heal', `${name} serves again`);
  }

  private async crash(variant: string, point: string): Promise<void> {
    const c = this.cluster;
    const i = this.pick(c.running().map((m) => m.index));
    const name = c.member(i).name;
    const crashAfter = 1 + this.rng.below(3);
    await c.setFaults(i, { crashAt: point, crashAfter });
    this.log(variant, 'start', `${name}: crash at ${point} (hit ${crashAfter})`);
    if (await c.waitExit(i, CRASH_WAIT_MS)) {
      this.log(variant, 'note', `${name} crashed (${c.member(i).lastExit ?? '?'})`);
    } else {
      await c.clearFaults(i);
      this.log(variant, 'note', `${name} did not reach ${point} within ${CRASH_WAIT_MS} ms`);
      throw new Error(`crash point ${point} not reached`);
    }
    await sleep(500);
    await c.restart(i);
    this.log(variant, 'heal', `restarted ${name}`);
  }

  /** Undoes whatever is in force: resumes, restarts, clears faults (bounded: one pass per member). */
  async healAll(): Promise<void> {
    const c = this.cluster;
    for (const m of c.members) {
      if (m.status !== 'removed') continue;
      // A membership change that failed half-way: add the member back.
      try {
        await c.waitForLeader(RECOVERY_MS_MAX);
        await c.addMember(m.index, false);
        this.log('heal', 'note', `re-added ${m.name} after a failed membership change`);
      } catch (e) {
        this.log('heal', 'note', `could not re-add ${m.name}: ${(e as Error).message}`);
      }
    }
    for (const m of c.members) {
      if (m.status === 'paused') c.resume(m.index);
      if (m.status === 'stopped') c.spawn(m.index);
    }
    for (const m of c.members) {
      if (m.status !== 'running') continue;
      // A member just restarted may not listen yet; a few tries.
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await c.clearFaults(m.index);
          break;
        } catch {
          await sleep(250);
        }
      }
    }
  }

  private async awaitRecovery(variant: string): Promise<void> {
    try {
      await this.cluster.waitForLeader(RECOVERY_MS_MAX);
    } catch {
      this.unrecovered++;
      this.log(variant, 'note', `no leader within ${RECOVERY_MS_MAX} ms of the heal`);
    }
  }
}

/** One nemesis event as a line of nemesis.log. */
export function formatNemesisEvent(e: NemesisEvent): string {
  return `${(e.timeMs / 1000).toFixed(3).padStart(8)}s ${e.phase.padEnd(5)} ${e.variant} ${e.detail}`;
}
