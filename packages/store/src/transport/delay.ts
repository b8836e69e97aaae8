// Delayed delivery for fault injection (setFaults({ delayMs })). One FIFO for all peers: due times
// never decrease along it, so delivery order is arrival order even when the delay changes.

import { assert } from '@keelson/raft';

interface Pending<T> {
  readonly dueMs: number;
  readonly item: T;
}

export class DelayQueue<T> {
  private readonly fifo: Pending<T>[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly maxPending: number,
    private readonly deliver: (item: T) => void,
  ) {
    assert(maxPending > 0, 'DelayQueue needs room for one item');
  }

  pending(): number {
    return this.fifo.length - this.head;
  }

  /** Queues `item` for delivery after delayMs; false (dropped) when the queue is full. */
  push(item: T, delayMs: number): boolean {
    if (this.pending() >= this.maxPending) return false;
    const tail = this.fifo[this.fifo.length - 1];
    const dueMs = Math.max(Date.now() + delayMs, tail?.dueMs ?? 0);
    this.fifo.push({ dueMs, item });
    if (this.timer === null) this.arm();
    return true;
  }

  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.fifo.length = 0;
    this.head = 0;
  }

  private arm(): void {
    const next = this.fifo[this.head];
    if (next === undefined) {
      this.fifo.length = 0;
      this.head = 0;
      return;
    }
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.dueMs - Date.now()));
  }

  private fire(): void {
    this.timer = null;
    const nowMs = Date.now();
    // Bounded by the queue length; items pushed by deliver() are due later than nowMs or append after.
    for (let n = this.pending(); n > 0; n--) {
      const next = this.fifo[this.head]!;
      if (next.dueMs > nowMs) break;
      this.head++;
      this.deliver(next.item);
    }
    // Drop delivered items from the front, so a queue that never empties does not grow forever.
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo.splice(0, this.head);
      this.head = 0;
    }
    if (this.timer === null) this.arm(); // deliver() may have armed it already through push().
  }
}
