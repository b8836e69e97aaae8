// Latency percentiles from an HDR histogram (hdr-histogram-js): constant memory and constant-time
// recording however many operations a run makes, with a bounded relative error (3 significant digits),
// which sorting every sample would not give at millions of operations.
import * as hdr from 'hdr-histogram-js';

export interface LatencyPercentilesMs {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Slower than this is recorded as this: a single call never waits longer in the bench (its deadline). */
const latencyUsMax = 10 * 60 * 1_000_000;

/** Latencies recorded in whole microseconds, read back in milliseconds. */
export class LatencyHistogram {
  private readonly h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: latencyUsMax,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });

  get count(): number {
    return this.h.totalCount;
  }

  /** Records one latency; sub-microsecond ones count as 1 µs (the histogram's resolution). */
  recordMs(latencyMs: number): void {
    if (!(latencyMs >= 0)) throw new Error(`assertion failed: latency ${latencyMs} ms is not >= 0`);
    const us = Math.min(latencyUsMax, Math.max(1, Math.round(latencyMs * 1000)));
    this.h.recordValue(us);
  }

  /**
   * The value at `percentile` (0-100) in ms; 0 when nothing was recorded. The histogram answers with the
   * top of the value's bucket, which can lie just above the largest value recorded: clamp it to that.
   */
  atPercentileMs(percentile: number): number {
    if (this.h.totalCount === 0) return 0;
    return Math.min(this.h.getValueAtPercentile(percentile), this.h.maxValue) / 1000;
  }

  percentilesMs(): LatencyPercentilesMs {
    if (this.h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const out = {
      p50: this.atPercentileMs(50),
      p90: this.atPercentileMs(90),
      p99: this.atPercentileMs(99),
      p999: this.atPercentileMs(99.9),
      max: this.h.maxValue / 1000,
    };
    if (!(out.p50 <= out.p90 && out.p90 <= out.p99 && out.p99 <= out.p999 && out.p999 <= out.max)) {
      throw new Error(`assertion failed: percentiles out of order ${JSON.stringify(out)}`);
    }
    return out;
  }
}
