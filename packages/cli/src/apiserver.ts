// `keelson apiserver`: the Kubernetes apiserver over the etcd v3 API, with kube-apiserver's flags.
import { isIP } from 'node:net';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Io } from './io.js';

interface ApiserverOpts {
  etcdServers: string;
  etcdPrefix: string;
  bindAddress: string;
  securePort: number;
  insecurePort?: number;
  port?: number;
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  clientCaFile?: string;
  certDir: string;
  tokenAuthFile?: string;
  serviceAccountKeyFile: string[];
  serviceAccountSigningKeyFile?: string;
  serviceAccountIssuer: string;
  anonymousAuth: string;
  authorizationMode: string;
  serviceClusterIpRange: string;
  serviceNodePortRange: string;
  enableAdmissionPlugins?: string;
  disableAdmissionPlugins?: string;
  logLevel: string;
  watchCache: string;
  defaultWatchCacheSize: number;
  watchCacheSizes: string[];
  shutdownDelayDuration: number;
  shutdownTimeout: number;
  goawayChance: number;
  minRequestTimeout: number;
  advertiseAddress?: string;
  endpointReconcilerType: 'lease' | 'none';
  endpointReconcilerLeaseTtl: number;
}

const durationUnitsMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration as kube's flags take them ("2s", "500ms", "1m30s"); milliseconds. */
function duration(value: string): number {
  if (value === '0') return 0;
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const rebuilt = parts.map((m) => m[0]).join('');
  if (parts.length === 0 || rebuilt !== value)
    throw new InvalidArgumentError(`expected a duration such as 2s, 500ms or 1m30s, got "${value}"`);
  return parts.reduce((ms, m) => ms + Number(m[1]) * (durationUnitsMs[m[2] as string] ?? 0), 0);
}

function goawayChance(value: string): number {
  const n = Number(value);
  // kube-apiserver's own bound: a higher chance would reconnect clients too often.
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 0.02)
    throw new InvalidArgumentError(`--goaway-chance must be from 0 to 0.02, got "${value}"`);
  return n;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected whole seconds ≥ 1, got "${value}"`);
  return n;
}

function ipAddress(value: string): string {
  if (isIP(value) === 0) throw new InvalidArgumentError(`expected an IP address, got "${value}"`);
  // As kube: clients cannot be sent to "any address".
  if (value === '0.0.0.0' || value === '::')
    throw new InvalidArgumentError(`--advertise-address must be a routable address, not ${value}`);
  return value;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new InvalidArgumentError(`expected a port from 0 to 65535, got "${value}"`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function boolFlag(name: string, value: string): boolean {
  if (value === 'true' || value === '') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError(`--${name} takes true or false, not "${value}"`);
}

export function addApiserverCommand(program: Command, io: Io, setExit: (code: number) => void): Command {
  return program
    .command('apiserver')
    .description('run the Kubernetes apiserver on a Keelson store or etcd (kube-apiserver flags)')
    .option('--etcd-servers <urls>', 'comma-separated etcd v3 endpoints', 'http://127.0.0.1:2379')
    .option('--etcd-prefix <prefix>', 'key prefix of every object in the store', '/registry')
    .option('--bind-address <ip>', 'the address the secure port listens on', '0.0.0.0')
    .option('--secure-port <port>', 'the HTTPS port (0: a free port)', port, 6443)
    .option(
      '--insecure-port <port>',
      'a plain-HTTP port on 127.0.0.1 without authentication, for loopback tests only',
      port,
    )
    .addOption(new Option('--port <port>', 'alias of --insecure-port').argParser(port))
    .option(
      '--tls-cert-file <path>',
      'serving certificate (PEM); generated from the cluster CA in --cert-dir when absent',
    )
    .option('--tls-private-key-file <path>', 'serving key (PEM)')
    .option('--client-ca-file <path>', 'CA bundle for client certificates')
    .option('--cert-dir <path>', 'where generated certificates and keys are kept', '/var/run/kubernetes')
    .option('--token-auth-file <path>', 'static bearer tokens (token,user,uid,"group1,group2")')
    .option(
      '--service-account-key-file <path>',
      'keys that verify service-account tokens (repeatable)',
      collect,
      [],
    )
    .option('--service-account-signing-key-file <path>', 'the key that signs service-account tokens')
    .option(
      '--service-account-issuer <url>',
      'the iss claim of service-account tokens',
      'https://kubernetes.default.svc.cluster.local',
    )
    .option(
      '--anonymous-auth <bool>',
      'serve requests without credentials as system:anonymous (RBAC decides); false: 401, except health and /version',
      'false',
    )
    .option('--authorization-mode <modes>', 'RBAC or AlwaysAllow', 'RBAC')
    .option(
      '--service-cluster-ip-range <cidr>',
      'ClusterIPs of services come from this range',
      '10.96.0.0/12',
    )
    .option('--service-node-port-range <range>', 'NodePorts come from this range', '30000-32767')
    .option('--enable-admission-plugins <names>', 'admission plugins to enable besides the defaults')
    .option('--disable-admission-plugins <names>', 'admission plugins to disable')
    .addOption(
      new Option(
        '--shutdown-delay-duration <duration>',
        'on SIGTERM, how long /readyz fails while requests are still served, so that load balancers ' +
          'take this apiserver out before it stops accepting (more than their fall × interval)',
      )
        .argParser(duration)
        .default(2_000, '2s'),
    )
    .addOption(
      new Option(
        '--shutdown-timeout <duration>',
        'after the delay, how long in-flight requests may go on before they are cut',
      )
        .argParser(duration)
        .default(60_000, '60s'),
    )
    .option(
      '--goaway-chance <probability>',
      'the chance (0 to 0.02) that a response closes its connection, so that clients reconnect ' +
        'through the load balancer and spread over apiservers',
      goawayChance,
      0,
    )
    .option(
      '--min-request-timeout <seconds>',
      'a watch without timeoutSeconds ends after a random time from this to twice this',
      positiveSeconds,
      1800,
    )
    .option(
      '--advertise-address <ip>',
      'the IP the kubernetes Service’s endpoints give for this apiserver (default: --bind-address, ' +
        'or 127.0.0.1 when that is 0.0.0.0)',
      ipAddress,
    )
    .addOption(
      new Option(
        '--endpoint-reconciler-type <type>',
        'lease: keep the kubernetes Service’s endpoints to the apiservers whose master lease is live; ' +
          'none: leave them alone',
      )
        .choices(['lease', 'none'])
        .default('lease'),
    )
    .option(
      '--endpoint-reconciler-lease-ttl <seconds>',
      'how long a master lease outlives its apiserver (renewed every two thirds of it); kube uses 15',
      positiveSeconds,
      15,
    )
    .option(
      '--watch-cache <bool>',
      'serve lists and watches from an in-memory cache fed by one store watch per resource',
      'true',
    )
    .option(
      '--default-watch-cache-size <n>',
      'events kept per resource for watches that resume from a recent resourceVersion',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0 || n > 1_000_000)
          throw new InvalidArgumentError(`expected an integer from 0 to 1000000, got "${v}"`);
        return n;
      },
      1000,
    )
    .option(
      '--watch-cache-sizes <resource#size>',
      'per-resource cache sizes, e.g. pods#5000 (repeatable, or comma-separated)',
      collect,
      [] as string[],
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .action(async (opts: ApiserverOpts) => setExit(await runApiserver(opts, io)));
}

async function runApiserver(opts: ApiserverOpts, io: Io): Promise<number> {
  // Loaded only when asked for: the apiserver pulls in gRPC, which other commands do not need.
  const { defaultFlags, startApiServer } = await import('@keelson/apiserver');
  const modes = list(opts.authorizationMode);
  for (const m of modes) {
    if (m !== 'RBAC' && m !== 'AlwaysAllow') {
      io.err(`--authorization-mode: unsupported mode "${m}" (RBAC or AlwaysAllow)`);
      return 2;
    }
  }
  const flags = {
    ...defaultFlags(),
    etcdServers: list(opts.etcdServers),
    etcdPrefix: opts.etcdPrefix.replace(/\/+$/, ''),
    bindAddress: opts.bindAddress,
    securePort: opts.securePort,
    insecurePort: opts.insecurePort ?? opts.port,
    tlsCertFile: opts.tlsCertFile,
    tlsPrivateKeyFile: opts.tlsPrivateKeyFile,
    clientCaFile: opts.clientCaFile,
    certDir: opts.certDir,
    tokenAuthFile: opts.tokenAuthFile,
    serviceAccountKeyFiles: opts.serviceAccountKeyFile,
    serviceAccountSigningKeyFile: opts.serviceAccountSigningKeyFile,
    serviceAccountIssuer: opts.serviceAccountIssuer,
    anonymousAuth: boolFlag('anonymous-auth', opts.anonymousAuth),
    authorizationModes: modes as ('RBAC' | 'AlwaysAllow')[],
    serviceClusterIpRange: opts.serviceClusterIpRange,
    serviceNodePortRange: opts.serviceNodePortRange,
    enableAdmissionPlugins: list(opts.enableAdmissionPlugins),
    disableAdmissionPlugins: list(opts.disableAdmissionPlugins),
    logLevel: opts.logLevel,
    watchCache: boolFlag('watch-cache', opts.watchCache),
    defaultWatchCacheSize: opts.defaultWatchCacheSize,
    watchCacheSizes: opts.watchCacheSizes.flatMap((v) => list(v)),
    advertiseAddress: opts.advertiseAddress,
    endpointReconcilerType: opts.endpointReconcilerType,
    endpointReconcilerLeaseTtlSeconds: opts.endpointReconcilerLeaseTtl,
  };
  let running: Awaited<ReturnType<typeof startApiServer>>;
  try {
    running = await startApiServer(flags);
  } catch (err) {
    io.err(`keelson apiserver: ${(err as Error).message}`);
    return 1;
  }
  running.server.configureLifecycle({
    shutdownDelayMs: opts.shutdownDelayDuration,
    shutdownTimeoutMs: opts.shutdownTimeout,
    goawayChance: opts.goawayChance,
    minRequestTimeoutSeconds: opts.minRequestTimeout,
  });
  // Listen for signals before announcing: whoever reads the announcement may signal at once, and
  // a SIGTERM before the listener exists would kill the process without a graceful shutdown.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // Ports chosen by the OS (0) are announced on stdout so that scripts and tests can find them.
  io.out(
    JSON.stringify({
      securePort: running.server.securePort,
      insecurePort: running.server.insecurePort,
      kubeconfig: running.kubeconfig,
    }),
  );
  const signal = await signalled;
  io.err(
    `keelson apiserver: ${signal}, shutting down gracefully (readyz fails for ` +
      `${opts.shutdownDelayDuration} ms first); a second signal exits at once`,
  );
  // As kube-apiserver: a second signal during the graceful shutdown exits at once.
  const now = (s: NodeJS.Signals): void => {
    io.err(`keelson apiserver: ${s} during shutdown, exiting at once`);
    process.exit(1);
  };
  process.once('SIGTERM', now);
  process.once('SIGINT', now);
  const result = await running.server.shutdown();
  io.err(
    `keelson apiserver: stopped in ${result.durationMs} ms (${result.watchesEnded} watches ended, ` +
      `${result.requestsLeft} requests cut)`,
  );
  await running.stop();
  // Everything is closed; gRPC may still hold sockets it tears down lazily. Like `keelson store`,
  // do not wait for them (the timer does not keep the process alive by itself).
  setTimeout(() => process.exit(0), 500).unref();
  return 0;
}

export type { Command };
