// Choosing a backend for a new connection. Pure: the pool passes each backend's health and active
// connection count, the previous cursor and the backends this connection already failed to reach.

export type BalanceModeName = 'roundrobin' | 'leastconn';

export interface Candidate {
  readonly healthy: boolean;
  readonly activeConnections: number;
}

export interface Pick {
  readonly index: number;
  /** Where the next pick starts looking, so that ties rotate instead of piling onto the first. */
  readonly cursor: number;
}

/**
 * Round-robin takes the first eligible backend at or after the cursor; least-connections takes the
 * eligible backend with the fewest active connections, ties going to the first at or after the
 * cursor. Eligible: healthy and not excluded. Undefined when none is eligible.
 */
export function pickBackend(
  candidates: readonly Candidate[],
  mode: BalanceModeName,
  cursor: number,
  exclude: ReadonlySet<number>,
): Pick | undefined {
  const n = candidates.length;
  let best: number | undefined;
  for (let step = 0; step < n; step++) {
    const i = (((cursor + step) % n) + n) % n;
    const c = candidates[i] as Candidate;
    if (!c.healthy || exclude.has(i)) continue;
    if (mode === 'roundrobin') return { index: i, cursor: (i + 1) % n };
    const bestActive = best === undefined ? Infinity : (candidates[best] as Candidate).activeConnections;
    if (c.activeConnections < bestActive) best = i;
  }
  return best === undefined ? undefined : { index: best, cursor: (best + 1) % n };
}
