// Size accounting for batches of entries. Batching limits bound how much one message or one Ready
// carries; they are soft in one direction only: a batch always makes progress by one entry.
import { type Entry, entrySizeBytes, payloadSizeBytes } from './types.js';

/** Sum of entrySizeBytes over ents. */
export function entriesSizeBytes(ents: readonly Entry[]): number {
  let sizeBytes = 0;
  for (const e of ents) sizeBytes += entrySizeBytes(e);
  return sizeBytes;
}

/** Sum of payloadSizeBytes over ents (the measure of the leader's uncommitted-log bound). */
export function payloadsSizeBytes(ents: readonly Entry[]): number {
  let sizeBytes = 0;
  for (const e of ents) sizeBytes += payloadSizeBytes(e);
  return sizeBytes;
}

/** Whether a size bound is "no limit": Infinity, or any bound no log can reach. */
export function isUnlimitedBytes(maxSizeBytes: number): boolean {
  return maxSizeBytes >= Number.MAX_SAFE_INTEGER;
}

/**
 * How many leading entries of ents[start, end) fit in budgetBytes in total; may be 0. Callers that
 * combine several sources (storage, then the unstable log) use it to spend one budget across them.
 */
export function countWithinBytes(
  ents: readonly Entry[],
  start: number,
  end: number,
  budgetBytes: number,
): number {
  if (isUnlimitedBytes(budgetBytes)) return end - start; // Skip the sizing loop entirely.
  let sizeBytes = 0;
  let i = start;
  for (; i < end; i++) {
    sizeBytes += entrySizeBytes(ents[i]!);
    if (sizeBytes > budgetBytes) break;
  }
  return i - start;
}

/**
 * How many leading entries of ents[start, end) make up a batch of at most maxSizeBytes, but at
 * least one when the range is non-empty, so that one oversized entry can still be replicated.
 */
export function limitSizeCount(
  ents: readonly Entry[],
  start: number,
  end: number,
  maxSizeBytes: number,
): number {
  if (end <= start) return 0;
  return Math.max(1, countWithinBytes(ents, start, end, maxSizeBytes));
}

/**
 * The longest prefix of ents whose total entrySizeBytes is at most maxSizeBytes, but always at
 * least one entry when ents is non-empty. Returns a fresh array, never ents itself.
 */
export function limitSize(ents: readonly Entry[], maxSizeBytes: number): Entry[] {
  return ents.slice(0, limitSizeCount(ents, 0, ents.length, maxSizeBytes));
}
