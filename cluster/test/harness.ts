// Plumbing shared by the cluster tests: a free block of ports for `cluster up`, and the last-resort kill
// of a test's own cluster that checks each PID's command line before signalling it.
import { createServer } from 'node:net';
import {
  clusterPaths,
  isComponentProcess,
  PORT_SPAN,
  planComponents,
  readLayout,
  readPidFile,
} from '@keelson/cluster';

/** A base port with all PORT_SPAN ports after it free right now (random, retried a bounded number of times). */
export async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+): there, the cluster's own outgoing connections could
    // take a port of a component that is down for a moment and make its restart fail.
    const base = 20_000 + Math.floor(Math.random() * (32_768 - 20_000 - PORT_SPAN));
    const ports = Array.from({ length: PORT_SPAN }, (_, i) => base + i);
    const free = await Promise.all(ports.map(portFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free block of ports found');
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

/** Kills (SIGKILL) whatever of the cluster in `clusterDir` is still running: a test's last resort. */
export function killLeftovers(clusterDir: string, pidsSeen: Iterable<number>): void {
  const layout = readLayout(clusterDir);
  const plans = layout === undefined ? [] : planComponents(clusterPaths(clusterDir), layout);
  for (const plan of plans) {
    const pids = [readPidFile(plan.pidFile), ...pidsSeen].filter((p): p is number => p !== null);
    for (const pid of pids) if (isComponentProcess(pid, plan)) process.kill(pid, 'SIGKILL');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
