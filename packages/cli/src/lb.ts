// `keelson lb`: a TCP load balancer in front of the apiservers (TLS passes through), with active
// health checks, round-robin or least-connections, draining on SIGTERM, and an admin port.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LbConfig, LoadBalancer } from '@keelson/lb';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Io } from './io.js';

interface LbOpts {
  listen: string;
  backend: string[];
  balance: 'roundrobin' | 'leastconn';
  healthPath: string;
  healthScheme: 'https' | 'http';
  healthCaFile?: string;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  fall: number;
  rise: number;
  drainTimeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
  adminListen: string;
  haproxyConfig?: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addLbCommand(program: Command, io: Io, setExit: (code: number) => void): Command {
  return program
    .command('lb')
    .description(
      'TCP load balancer for apiservers: TLS passthrough, active /readyz checks, draining on SIGTERM',
    )
    .requiredOption('--listen <host:port>', 'where clients connect (port 0: a free port)')
    .option('--backend <host:port>', 'an apiserver (repeat for each)', collect, [])
    .addOption(
      new Option('--balance <mode>', 'how backends are chosen')
        .choices(['roundrobin', 'leastconn'])
        .default('roundrobin'),
    )
    .option('--health-path <path>', 'the path health checks GET; only status 200 is healthy', '/readyz')
    .addOption(
      new Option('--health-scheme <scheme>', 'health checks over https or http')
        .choices(['https', 'http'])
        .default('https'),
    )
    .option(
      '--health-ca-file <pem>',
      'verify HTTPS checks against this CA bundle; without it checks do not verify certificates ' +
        "(like HAProxy's check-ssl verify none; clients still verify the apiserver end to end)",
    )
    .option('--health-interval-ms <ms>', 'time between checks of each backend', integer(50, 3_600_000), 500)
    .option('--health-timeout-ms <ms>', 'a check not answered by then fails', integer(10, 600_000), 1000)
    .option('--fall <n>', 'consecutive failed checks that take a backend out of rotation', integer(1, 100), 2)
    .option('--rise <n>', 'consecutive good checks that put it back', integer(1, 100), 2)
    .option(
      '--drain-timeout-ms <ms>',
      'on SIGTERM, how long open connections may go on before they are cut',
      integer(0, 3_600_000),
      30_000,
    )
    .option(
      '--connect-timeout-ms <ms>',
      'a backend not accepting by then is skipped for the next',
      integer(10, 600_000),
      5_000,
    )
    .option(
      '--idle-timeout-ms <ms>',
      'close connections idle this long (0: never; watches idle for long)',
      integer(0, 86_400_000),
      3_600_000,
    )
    .option(
      '--max-connections <n>',
      'client connections at once; more are refused',
      integer(1, 1_000_000),
      4_096,
    )
    .option('--admin-listen <host:port>', 'admin port: /healthz, /backends, /metrics', '127.0.0.1:0')
    .option('--haproxy-config', 'print the equivalent haproxy.cfg and exit')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .addHelpText(
      'after',
      '\nA backend failing --fall checks in a row leaves the rotation: within about\n' +
        'fall × interval (+ timeout if checks hang), one second with the defaults. Connections it\n' +
        'already has are left to finish. On SIGTERM the balancer stops accepting, lets open\n' +
        'connections go on for up to --drain-timeout-ms, then cuts them and exits 0.',
    )
    .action(async (opts: LbOpts) => setExit(await runLb(opts, io)));
}

async function runLb(opts: LbOpts, io: Io): Promise<number> {
  const lb = await import('@keelson/lb');
  let config: LbConfig;
  try {
    const caFile = opts.healthCaFile === undefined ? undefined : resolve(opts.healthCaFile);
    config = lb.resolveConfig({
      listen: lb.parseHostPort(opts.listen, true),
      backends: opts.backend.map((b) => lb.parseHostPort(b)),
      balance: opts.balance,
      healthPath: opts.healthPath,
      healthScheme: opts.healthScheme,
      healthCaFile: caFile,
      healthCaPem: caFile === undefined ? undefined : readFileSync(caFile, 'utf8'),
      healthIntervalMs: opts.healthIntervalMs,
      healthTimeoutMs: opts.healthTimeoutMs,
      fall: opts.fall,
      rise: opts.rise,
      drainTimeoutMs: opts.drainTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs,
      idleTimeoutMs: opts.idleTimeoutMs,
      maxConnections: opts.maxConnections,
      admin: lb.parseHostPort(opts.adminListen, true),
    });
  } catch (err) {
    io.err(`keelson lb: ${(err as Error).message}`);
    return 2;
  }
  if (opts.haproxyConfig === true) {
    io.out(lb.renderHaproxyConfig(config).trimEnd());
    return 0;
  }
  return serve(lb, config, opts.logLevel, io);
}

async function serve(
  lb: typeof import('@keelson/lb'),
  config: LbConfig,
  logLevel: LbOpts['logLevel'],
  io: Io,
): Promise<number> {
  let running: LoadBalancer;
  try {
    running = await lb.startLoadBalancer({ config, logger: lb.createLbLogger(logLevel) });
  } catch (err) {
    io.err(`keelson lb: ${(err as Error).message}`);
    return 1;
  }
  // Listen for signals before announcing the ports: whoever reads the line may signal at once.
  const signalled = new Promise<NodeJS.Signals>((done) => {
    process.once('SIGTERM', () => done('SIGTERM'));
    process.once('SIGINT', () => done('SIGINT'));
  });
  // Ports chosen by the OS (0) are announced on stdout so that scripts and tests can find them.
  io.out(JSON.stringify({ listen: running.listenAddress, admin: running.adminAddress }));
  const signal = await signalled;
  io.err(`keelson lb: ${signal}, draining for up to ${config.drainTimeoutMs} ms`);
  const result = await running.close();
  io.err(
    `keelson lb: drained (${result.drainedConnections} connections ended, ${result.cutConnections} cut)`,
  );
  // Everything is closed; exit even if a socket teardown lingers (the timer alone keeps nothing alive).
  setTimeout(() => process.exit(0), 500).unref();
  return 0;
}
