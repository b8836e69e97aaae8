// Exponential reconnect backoff with jitter, so that members that lost a peer at the same moment
// do not all dial it again in lockstep.

import { assert } from '@keelson/raft';

export class Backoff {
  private attempts = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    assert(minMs > 0 && maxMs >= minMs, `backoff bounds ${minMs}..${maxMs} ms are not valid`);
  }

  /** The delay before the next attempt: min·2^n capped at max, then scaled into [50%, 100%]. */
  nextDelayMs(): number {
    // The exponent is capped so that 2^n stays finite however long a peer stays down.
    const exponent = Math.min(this.attempts, 30);
    this.attempts++;
    const ceilingMs = Math.min(this.maxMs, this.minMs * 2 ** exponent);
    const delayMs = Math.round(ceilingMs * (0.5 + 0.5 * this.random()));
    assert(delayMs >= 0 && delayMs <= this.maxMs, `backoff delay ${delayMs} ms out of bounds`);
    return delayMs;
  }

  reset(): void {
    this.attempts = 0;
  }
}
