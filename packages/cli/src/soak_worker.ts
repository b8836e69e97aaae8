// A soak worker thread: runs schedules k = index, index + jobs, ... and reports each to the parent.
import { parentPort, workerData } from 'node:worker_threads';
import { runSimulation, type ScheduleSpec, soakSpec } from '@keelson/raft-sim';

export interface SoakWorkerData {
  readonly start: number;
  readonly seeds: number;
  readonly jobs: number;
  readonly index: number;
  readonly overrides: Partial<ScheduleSpec>;
}

export type SoakWorkerMessage =
  | { readonly type: 'run'; readonly k: number; readonly stats: import('@keelson/raft-sim').SimStats }
  | { readonly type: 'fail'; readonly k: number; readonly seedString: string }
  | { readonly type: 'done' };

const data = workerData as SoakWorkerData;
const port = parentPort;
if (port === null) throw new Error('soak_worker must run as a worker thread');
for (let k = data.index; k < data.seeds; k += data.jobs) {
  const r = runSimulation(soakSpec(data, k));
  port.postMessage({ type: 'run', k, stats: r.stats } satisfies SoakWorkerMessage);
  if (!r.ok) {
    port.postMessage({ type: 'fail', k, seedString: r.seedString } satisfies SoakWorkerMessage);
    break;
  }
}
port.postMessage({ type: 'done' } satisfies SoakWorkerMessage);
