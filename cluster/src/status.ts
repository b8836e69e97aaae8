// `keelson cluster status`: every component with its role, PID, address and health, probed now.
import { readFileSync } from 'node:fs';
import { type ComponentKind, type ComponentPlan, clusterPaths, planComponents } from './components.js';
import { loadLayoutOrThrow } from './down.js';
import { probeComponent, storeIsLeader } from './health.js';
import type { ClusterLayout } from './layout.js';
import { serverUrl } from './pki.js';
import { runningPid } from './procs.js';

export type ComponentRole = 'leader' | 'follower' | 'member' | 'apiserver' | 'lb';
export type ComponentHealth = 'healthy' | 'unhealthy' | 'stopped';

export interface ComponentStatus {
  readonly name: string;
  readonly kind: ComponentKind;
  /** Store members: leader or follower (member when it does not answer). */
  readonly role: ComponentRole;
  /** The recorded PID when that process is running and is this component. */
  readonly pid: number | null;
  readonly address: string;
  readonly health: ComponentHealth;
  readonly detail: string;
}

export interface ClusterStatus {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfig: string;
  /** The name of the store member that says it leads, or null. */
  readonly storeLeader: string | null;
  /** Every component healthy. */
  readonly healthy: boolean;
  readonly components: readonly ComponentStatus[];
}

export async function clusterStatus(opts: { readonly dir: string }): Promise<ClusterStatus> {
  const paths = clusterPaths(opts.dir);
  const layout = loadLayoutOrThrow(paths);
  let caPem = '';
  try {
    caPem = readFileSync(paths.caCert, 'utf8');
  } catch {
    // Without the CA the apiservers' probes fail, and say so.
  }
  const plans = planComponents(paths, layout);
  const components = await Promise.all(plans.map((p) => componentStatus(p, layout, caPem)));
  const leader = components.find((c) => c.role === 'leader');
  return {
    dir: paths.dir,
    server: serverUrl(layout),
    kubeconfig: paths.kubeconfig,
    storeLeader: leader?.name ?? null,
    healthy: components.every((c) => c.health === 'healthy'),
    components,
  };
}

async function componentStatus(
  plan: ComponentPlan,
  layout: ClusterLayout,
  caPem: string,
): Promise<ComponentStatus> {
  const pid = runningPid(plan);
  const probe = await probeComponent(plan, layout, caPem);
  const health: ComponentHealth = probe.healthy ? 'healthy' : pid === null ? 'stopped' : 'unhealthy';
  return {
    name: plan.name,
    kind: plan.kind,
    role: await roleOf(plan),
    pid,
    address: plan.address,
    health,
    detail: probe.healthy || pid !== null ? probe.detail : '',
  };
}

async function roleOf(plan: ComponentPlan): Promise<ComponentRole> {
  if (plan.kind !== 'store') return plan.kind;
  const leads = await storeIsLeader(plan.ports[0] ?? 0);
  return leads === null ? 'member' : leads ? 'leader' : 'follower';
}

/** The status as a table a person reads. */
export function formatStatusTable(status: ClusterStatus): string[] {
  const header = ['COMPONENT', 'ROLE', 'PID', 'ADDRESS', 'HEALTH'];
  const rows = status.components.map((c) => [
    c.name,
    c.role,
    c.pid === null ? '-' : String(c.pid),
    c.address,
    c.detail === '' ? c.health : `${c.health} (${c.detail})`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [
    line(header),
    ...rows.map(line),
    '',
    `store leader: ${status.storeLeader ?? 'none'}    server: ${status.server}    kubeconfig: ${status.kubeconfig}`,
  ];
}
