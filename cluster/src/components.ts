// Where everything of a cluster lives under its directory, and how each component is started: the
// exact `keelson` arguments, the ports it needs, and the arguments that identify its process.
import { join, resolve } from 'node:path';
import { assert } from './errors.js';
import type { ClusterLayout } from './layout.js';

export type ComponentKind = 'store' | 'apiserver' | 'lb';

export interface ClusterPaths {
  readonly dir: string;
  readonly layout: string;
  readonly pki: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly saKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly kubeconfig: string;
  readonly logs: string;
  readonly pids: string;
  readonly storeData: string;
}

export function clusterPaths(dir: string): ClusterPaths {
  const root = resolve(dir);
  const pki = join(root, 'pki');
  return {
    dir: root,
    layout: join(root, 'cluster.json'),
    pki,
    caCert: join(pki, 'ca.crt'),
    caKey: join(pki, 'ca.key'),
    saKey: join(pki, 'sa.key'),
    adminCert: join(pki, 'admin.crt'),
    adminKey: join(pki, 'admin.key'),
    kubeconfig: join(root, 'kubeconfig'),
    logs: join(root, 'logs'),
    pids: join(root, 'pids'),
    storeData: join(root, 'store'),
  };
}

/** One process of the cluster. */
export interface ComponentPlan {
  /** Unique in the cluster: store-1, apiserver-2, lb. Also the log and pid file names. */
  readonly name: string;
  readonly kind: ComponentKind;
  /** What a client connects to (shown by status). */
  readonly address: string;
  /** Ports it listens on: all must be free before it is started. */
  readonly ports: readonly number[];
  /** Arguments after `node <main.js>`. */
  readonly args: readonly string[];
  /**
   * Runs of arguments that only this component of this cluster has: a PID is signalled only when
   * /proc/<pid>/cmdline contains every one of them, so a recycled PID is never killed.
   */
  readonly identity: readonly (readonly string[])[];
  readonly logFile: string;
  readonly pidFile: string;
  /** Store members: the data directory. */
  readonly dataDir?: string;
}

const host = '127.0.0.1';
/** SANs of every apiserver's serving certificate (kubeadm's, for the loopback cluster). */
export const SERVING_HOSTS = [
  '127.0.0.1',
  'localhost',
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
];
/** How long the LB waits for open connections on SIGTERM; below `down`'s grace before SIGKILL. */
export const LB_DRAIN_TIMEOUT_MS = 5000;

export function servingCertPaths(paths: ClusterPaths, apiserver: string): { cert: string; key: string } {
  return { cert: join(paths.pki, `${apiserver}.crt`), key: join(paths.pki, `${apiserver}.key`) };
}

/** Every component, in start order: store members, apiservers, the LB. */
export function planComponents(paths: ClusterPaths, layout: ClusterLayout): ComponentPlan[] {
  assert(layout.stores.length > 0 && layout.apiservers.length > 0, 'a cluster has a store and an apiserver');
  const plans = [...planStores(paths, layout), ...planApiservers(paths, layout), planLb(paths, layout)];
  assert(new Set(plans.map((p) => p.name)).size === plans.length, 'component names are unique');
  return plans;
}

function files(paths: ClusterPaths, name: string): { logFile: string; pidFile: string } {
  return { logFile: join(paths.logs, `${name}.log`), pidFile: join(paths.pids, `${name}.pid`) };
}

function storeUrls(layout: ClusterLayout): { clientUrls: string[]; initialCluster: string } {
  return {
    clientUrls: layout.stores.map((s) => `http://${host}:${s.clientPort}`),
    initialCluster: layout.stores.map((s) => `${s.name}=http://${host}:${s.peerPort}`).join(','),
  };
}

function planStores(paths: ClusterPaths, layout: ClusterLayout): ComponentPlan[] {
  const { initialCluster } = storeUrls(layout);
  return layout.stores.map((s) => {
    const clientUrl = `http://${host}:${s.clientPort}`;
    const peerUrl = `http://${host}:${s.peerPort}`;
    const dataDir = join(paths.storeData, s.name);
    // A restarted member recovers its membership from its data directory and ignores the
    // --initial-cluster* flags; `up` refuses to start a member of a bootstrapped cluster without data.
    const args = [
      'store',
      ...['--name', s.name, '--data-dir', dataDir],
      ...['--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl],
      ...['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl],
      ...['--initial-cluster', initialCluster, '--initial-cluster-token', layout.clusterToken],
      ...['--initial-cluster-state', 'new'],
    ];
    return {
      name: s.name,
      kind: 'store' as const,
      address: clientUrl,
      ports: [s.clientPort, s.peerPort],
      args,
      identity: [['store'], ['--data-dir', dataDir]],
      ...files(paths, s.name),
      dataDir,
    };
  });
}

function planApiservers(paths: ClusterPaths, layout: ClusterLayout): ComponentPlan[] {
  const { clientUrls } = storeUrls(layout);
  return layout.apiservers.map((a) => {
    const serving = servingCertPaths(paths, a.name);
    const args = [
      'apiserver',
      ...['--etcd-servers', clientUrls.join(',')],
      ...['--bind-address', host, '--secure-port', String(a.securePort)],
      ...['--tls-cert-file', serving.cert, '--tls-private-key-file', serving.key],
      ...['--client-ca-file', paths.caCert, '--cert-dir', paths.pki],
      // Every apiserver signs with, and accepts, the one shared key: a token one issues, all accept.
      ...['--service-account-key-file', paths.saKey, '--service-account-signing-key-file', paths.saKey],
      ...['--authorization-mode', 'RBAC'],
    ];
    return {
      name: a.name,
      kind: 'apiserver' as const,
      address: `https://${host}:${a.securePort}`,
      ports: [a.securePort],
      args,
      identity: [['apiserver'], ['--tls-cert-file', serving.cert]],
      ...files(paths, a.name),
    };
  });
}

function planLb(paths: ClusterPaths, layout: ClusterLayout): ComponentPlan {
  const admin = `${host}:${layout.lb.adminPort}`;
  const args = [
    'lb',
    ...['--listen', `${host}:${layout.lb.port}`],
    ...layout.apiservers.flatMap((a) => ['--backend', `${host}:${a.securePort}`]),
    ...['--health-scheme', 'https', '--health-path', '/readyz', '--health-ca-file', paths.caCert],
    ...['--drain-timeout-ms', String(LB_DRAIN_TIMEOUT_MS)],
    ...['--admin-listen', admin],
  ];
  return {
    name: 'lb',
    kind: 'lb',
    address: `https://${host}:${layout.lb.port}`,
    ports: [layout.lb.port, layout.lb.adminPort],
    args,
    identity: [['lb'], ['--health-ca-file', paths.caCert], ['--admin-listen', admin]],
    ...files(paths, 'lb'),
  };
}
