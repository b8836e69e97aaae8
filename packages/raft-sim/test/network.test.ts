import { type Message, MessageType, message, SeededRand } from '@keelson/raft';
import { linkKey, makePartition, Network, PartitionKind } from '@keelson/raft-sim';
import { describe, expect, it } from 'vitest';

// Unit tests of the simulated network and the partition shapes the fault scheduler uses.

const msg = (from: number, to: number, index = 0): Message =>
  message({ type: MessageType.App, from, to, index });
const calm = { dropPermille: 0, dupPermille: 0, maxDelaySteps: 0 };
const all = (): boolean => true;
const ignore = (): void => {};

describe('Network', () => {
  // Proves a calm network delivers every message exactly once, in the step it was sent.
  it('delivers everything once without faults', () => {
    const net = new Network(new SeededRand(1), calm);
    for (let i = 0; i < 50; i++) expect(net.send(msg(1, 2, i), 0)).toBe('sent');
    const got = net.takeDue(0, all, ignore);
    expect(got.map((m) => m.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(net.takeDue(0, all, ignore)).toEqual([]);
  });

  // Proves drops happen at roughly the configured rate, and always at 100%.
  it('drops at the configured rate', () => {
    const net = new Network(new SeededRand(2), { ...calm, dropPermille: 300 });
    let dropped = 0;
    for (let i = 0; i < 2000; i++) if (net.send(msg(1, 2), 0) === 'dropped') dropped++;
    expect(dropped).toBeGreaterThan(480);
    expect(dropped).toBeLessThan(720);
    const lossy = new Network(new SeededRand(2), { ...calm, dropPermille: 1000 });
    expect(lossy.send(msg(1, 2), 0)).toBe('dropped');
    expect(lossy.inFlight).toBe(0);
  });

  // Proves duplication delivers a message twice.
  it('duplicates', () => {
    const net = new Network(new SeededRand(3), { ...calm, dupPermille: 1000 });
    expect(net.send(msg(1, 2, 7), 0)).toBe('duplicated');
    expect(net.takeDue(0, all, ignore).map((m) => m.index)).toEqual([7, 7]);
  });

  // Proves delays stay within maxDelaySteps and reorder messages.
  it('delays within the bound and reorders', () => {
    const net = new Network(new SeededRand(4), { ...calm, maxDelaySteps: 3 });
    for (let i = 0; i < 200; i++) net.send(msg(1, 2, i), 10);
    const order: number[] = [];
    for (let step = 10; step <= 13; step++)
      for (const m of net.takeDue(step, all, ignore)) order.push(m.index);
    expect(order).toHaveLength(200);
    expect(net.inFlight).toBe(0);
    expect(order).not.toEqual([...order].sort((a, b) => a - b));
    const early = new Network(new SeededRand(4), { ...calm, maxDelaySteps: 3 });
    early.send(msg(1, 2), 10);
    expect(early.takeDue(9, all, ignore)).toEqual([]);
  });

  // Proves messages to a node that cannot receive (paused) are held, not lost.
  it('holds messages for a node that cannot receive', () => {
    const net = new Network(new SeededRand(5), calm);
    net.send(msg(1, 2), 0);
    expect(net.takeDue(0, (id) => id !== 2, ignore)).toEqual([]);
    expect(net.takeDue(5, all, ignore)).toHaveLength(1);
  });

  // Proves a partition cuts new messages at send time and in-flight ones at delivery time.
  it('cuts links at send and at delivery', () => {
    const net = new Network(new SeededRand(6), { ...calm, maxDelaySteps: 0 });
    net.send(msg(1, 2), 0);
    const p = makePartition(PartitionKind.IsolateLeader, [1, 2, 3], 1, new SeededRand(1))!;
    net.setPartition(p);
    expect(net.send(msg(1, 3), 0)).toBe('cut');
    expect(net.send(msg(2, 3), 0)).toBe('sent');
    const cut: Message[] = [];
    const got = net.takeDue(0, all, (m) => cut.push(m));
    expect(got.map((m) => [m.from, m.to])).toEqual([[2, 3]]);
    expect(cut.map((m) => [m.from, m.to])).toEqual([[1, 2]]);
  });

  // Proves the same seed gives the same delivery order.
  it('is deterministic', () => {
    const order = (seed: number): number[] => {
      const net = new Network(new SeededRand(seed), {
        dropPermille: 100,
        dupPermille: 100,
        maxDelaySteps: 2,
      });
      for (let i = 0; i < 100; i++) net.send(msg(1, 2, i), 0);
      const out: number[] = [];
      for (let s = 0; s <= 2; s++) for (const m of net.takeDue(s, all, ignore)) out.push(m.index);
      return out;
    };
    expect(order(9)).toEqual(order(9));
    expect(order(9)).not.toEqual(order(10));
  });
});

describe('partitions', () => {
  const ids = [1, 2, 3, 4, 5];
  const cut = (p: { cut: ReadonlySet<number> }, a: number, b: number): boolean => p.cut.has(linkKey(a, b));

  /** Every pair of nodes is either cut in the given directions or connected. */
  function expectCutExactly(p: { cut: ReadonlySet<number> }, isCut: (a: number, b: number) => boolean): void {
    for (const a of ids)
      for (const b of ids) if (a !== b) expect(cut(p, a, b), `${a}->${b}`).toBe(isCut(a, b));
  }

  // Proves a symmetric partition splits all nodes into two non-empty groups cut both ways.
  it('symmetric', () => {
    for (let seed = 0; seed < 20; seed++) {
      const p = makePartition(PartitionKind.Symmetric, ids, 0, new SeededRand(seed))!;
      const [a, b] = p.groups as [number[], number[]];
      expect(a.length).toBeGreaterThan(0);
      expect(b.length).toBeGreaterThan(0);
      expect([...a, ...b].sort()).toEqual(ids);
      expectCutExactly(p, (x, y) => a.includes(x) !== a.includes(y));
    }
  });

  // Proves an asymmetric partition cuts only one direction between its groups.
  it('asymmetric', () => {
    for (let seed = 0; seed < 20; seed++) {
      const p = makePartition(PartitionKind.Asymmetric, ids, 0, new SeededRand(seed))!;
      const [a] = p.groups as [number[], number[]];
      expectCutExactly(p, (x, y) => a.includes(x) && !a.includes(y));
    }
  });

  // Proves isolate-leader cuts exactly the leader off, in both directions.
  it('isolate leader', () => {
    const p = makePartition(PartitionKind.IsolateLeader, ids, 3, new SeededRand(1))!;
    expectCutExactly(p, (x, y) => (x === 3) !== (y === 3));
  });

  // Proves majority/minority makes a strict majority group and puts the leader on either side.
  it('majority and minority', () => {
    const sides = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const p = makePartition(PartitionKind.MajorityMinority, ids, 2, new SeededRand(seed))!;
      const [major, minor] = p.groups as [number[], number[]];
      expect(major).toHaveLength(3);
      expect(minor).toHaveLength(2);
      sides.add(major.includes(2) ? 'majority' : 'minority');
      expectCutExactly(p, (x, y) => major.includes(x) !== major.includes(y));
    }
    expect(sides).toEqual(new Set(['majority', 'minority']));
  });

  // Proves a bridge partition cuts the two halves apart while both still reach the bridge node.
  it('bridge', () => {
    for (let seed = 0; seed < 20; seed++) {
      const p = makePartition(PartitionKind.Bridge, ids, 0, new SeededRand(seed))!;
      const [a, b] = p.groups as [number[], number[]];
      expect([p.bridge, ...a, ...b].sort()).toEqual(ids);
      expectCutExactly(p, (x, y) => (a.includes(x) && b.includes(y)) || (b.includes(x) && a.includes(y)));
    }
    expect(makePartition(PartitionKind.Bridge, [1, 2], 0, new SeededRand(1))).toBeNull();
  });
});
