// Benchmark of pod creates through the HA front: a 3-member Keelson store, two `keelson apiserver`
// processes sharing one CA, and `keelson lb` in front of them. N closed-loop clients each POST a small
// pod over HTTPS with the admin client certificate (what kubectl and controllers do), on keep-alive
// connections, and the run reports creates/s, latency percentiles, errors by HTTP status (or socket
// error code), and how the creates split over the two apiservers (their apiserver_request_total, and
// the LB's connection counts per backend). A "direct" row sends the same load to one apiserver without
// the LB, for comparison. Reports figures; asserts nothing but its own bookkeeping.
//
// The LB balances TCP connections, not requests: with keep-alive, every request of a connection goes
// to the apiserver that connection was given, so one client puts every create on one apiserver.
//
//   node bench/dist/apiserver-creates.js [--clients 64,1] [--duration 10] [--warmup 2] [--prime 3]
//        [--targets lb,direct] [--balance roundrobin|leastconn] [--json] [--out-dir DIR]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchCluster, sleep, waitFor } from './clusters.js';
import { LatencyHistogram, type LatencyPercentilesMs } from './histogram.js';
import {
  type KeelsonChild,
  KeelsonStartError,
  spawnKeelson as spawnKeelsonProcess,
} from './keelson-process.js';

export type CreatesTarget = 'lb' | 'direct';
export type CreatesBalance = 'roundrobin' | 'leastconn';

export interface ApiserverCreatesOptions {
  /** One row per value (and target): concurrent closed-loop clients. */
  clients: number[];
  /** Measured seconds per row, after the warm-up. */
  durationS: number;
  /** Seconds per row whose creates are made but not measured (connections, caches). */
  warmupS: number;
  /**
   * Seconds of unreported creates before the first row, through the LB when there is one (so both
   * apiservers), so that the first row does not pay for the processes' cold JIT and the others not.
   */
  primeS: number;
  /** 'lb': through `keelson lb`; 'direct': to the first apiserver's secure port. */
  targets: CreatesTarget[];
  balance: CreatesBalance;
}

export interface ApiserverCreatesRow {
  target: CreatesTarget;
  clients: number;
  /** Creates answered 201 within the measured window. */
  creates: number;
  createsPerS: number;
  /** Of the measured 201s, from send to the whole response read. */
  latencyMs: LatencyPercentilesMs;
  /** Failed creates over the whole row (warm-up included) by HTTP status, or socket error code. */
  errors: Record<string, number>;
  /** Creates answered 201 over the whole row, warm-up and the tail past the window included. */
  created: number;
  /** Pods a LIST of the row's namespace returned afterwards: equals `created` when none was lost. */
  listed: number;
  /** Pod creates answered 201 by each apiserver during the row (from its apiserver_request_total). */
  perApiserver: number[];
  /** Connections the LB gave each backend during the row (empty for the direct target). */
  lbConnections: number[];
}

export interface ApiserverCreatesResult {
  options: ApiserverCreatesOptions;
  /** How the clients reached the apiservers, in words, for the report. */
  transport: string;
  rows: ApiserverCreatesRow[];
}

type Log = (line: string) => void;

export class CreatesBenchError extends Error {
  constructor(
    readonly code: 'BAD_USAGE' | 'START_FAILED' | 'REQUEST_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'CreatesBenchError';
  }
}

const startTimeoutMs = 30_000;
const requestTimeoutMs = 30_000;
/** A failed create is retried after this pause, so that a refusing server is not hammered in a spin. */
const errorPauseMs = 20;
const clientsMax = 4_096;
const durationSMax = 3_600;
/** No client makes more creates than this in a row (the deadline ends it far sooner). */
const createsPerClientMax = 10_000_000;

type Child = KeelsonChild;

/** Spawns `keelson <args>`; a start failure is this bench's START_FAILED. */
async function spawnKeelson(args: string[], prefix: string): Promise<{ child: Child; line: string }> {
  try {
    return await spawnKeelsonProcess(args, prefix);
  } catch (err) {
    if (err instanceof KeelsonStartError) throw new CreatesBenchError('START_FAILED', err.message);
    throw err;
  }
}

interface Apiserver extends Child {
  securePort: number;
  insecurePort: number;
}

/**
 * A `keelson apiserver` with RBAC, its secure port on loopback, and the insecure port only for
 * /metrics. Both apiservers share `certDir`, so the second reuses the first one's CA, serving
 * certificate and admin client certificate; they are started one after the other for that reason.
 */
async function startApiserver(endpoints: string[], certDir: string): Promise<Apiserver> {
  const { child, line } = await spawnKeelson(
    [
      'apiserver',
      `--etcd-servers=${endpoints.map((e) => `http://${e}`).join(',')}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--insecure-port=0',
      `--cert-dir=${certDir}`,
      '--shutdown-delay-duration=0',
      '--log-level=warn',
    ],
    '{"securePort"',
  );
  const ports = JSON.parse(line) as { securePort: number; insecurePort: number };
  return { ...child, securePort: ports.securePort, insecurePort: ports.insecurePort };
}

interface Lb extends Child {
  port: number;
  adminUrl: string;
}

async function startLb(apiservers: Apiserver[], caFile: string, balance: CreatesBalance): Promise<Lb> {
  const { child, line } = await spawnKeelson(
    [
      'lb',
      '--listen=127.0.0.1:0',
      ...apiservers.map((a) => `--backend=127.0.0.1:${a.securePort}`),
      `--balance=${balance}`,
      '--health-scheme=https',
      `--health-ca-file=${caFile}`,
      '--admin-listen=127.0.0.1:0',
      '--drain-timeout-ms=1000',
      '--log-level=warn',
    ],
    '{"listen"',
  );
  const announced = JSON.parse(line) as { listen: string; admin: string };
  const port = Number(announced.listen.split(':').pop());
  const lb = { ...child, port, adminUrl: `http://${announced.admin}` };
  // Backends start healthy before their first check; wait for checks that really passed.
  await waitFor(
    'the LB to see every apiserver healthy',
    async () => (await lbBackends(lb.adminUrl)).every((b) => b.healthy && b.lastCheck?.ok === true),
    startTimeoutMs,
  );
  return lb;
}

interface LbBackend {
  name: string;
  healthy: boolean;
  totalConnections: number;
  lastCheck: { ok: boolean } | null;
}

async function lbBackends(adminUrl: string): Promise<LbBackend[]> {
  const res = await fetch(`${adminUrl}/backends`);
  return (await res.json()) as LbBackend[];
}

/** Pod creates answered 201 so far by the apiserver, from its Prometheus text. */
async function podCreates(a: Apiserver): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${a.insecurePort}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    if (line.includes('verb="POST"') && line.includes('resource="pods"') && line.includes('code="201"'))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** The admin credentials the apiservers wrote into their shared cert dir (as in admin.kubeconfig). */
function adminAgent(certDir: string, maxSockets: number): Agent {
  return new Agent({
    keepAlive: true,
    maxSockets,
    ca: readFileSync(join(certDir, 'ca.crt')),
    cert: readFileSync(join(certDir, 'admin.crt')),
    key: readFileSync(join(certDir, 'admin.key')),
  });
}

interface Reply {
  status: number;
  body: string;
}

/** One HTTPS request on `agent`; rejects on socket errors and timeouts, resolves on any status. */
function send(agent: Agent, port: number, method: string, path: string, body?: unknown): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        timeout: requestTimeoutMs,
        headers: {
          Accept: 'application/json',
          ...(payload === undefined
            ? {}
            : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('request timed out'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}

async function mustSend(agent: Agent, port: number, method: string, path: string, body?: unknown) {
  const reply = await send(agent, port, method, path, body);
  if (reply.status >= 300)
    throw new CreatesBenchError(
      'REQUEST_FAILED',
      `${method} ${path}: ${reply.status} ${reply.body.slice(0, 300)}`,
    );
  return JSON.parse(reply.body) as Record<string, unknown>;
}

/** A small pod as a Deployment's ReplicaSet would create it: one container, labels, requests. */
export function benchPod(name: string, client: number) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      labels: { app: 'bench-creates', 'pod-template-hash': '5d4f8b7c9', client: String(client) },
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.9',
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
        },
      ],
      restartPolicy: 'Always',
    },
  };
}

interface RowWindow {
  measureFromMs: number;
  endMs: number;
}

interface RowTally {
  histogram: LatencyHistogram;
  created: number;
  errors: Record<string, number>;
}

/** One closed-loop client: its next create is sent when the previous one has been answered. */
async function clientLoop(
  agent: Agent,
  port: number,
  ns: string,
  client: number,
  w: RowWindow,
  t: RowTally,
): Promise<void> {
  const path = `/api/v1/namespaces/${ns}/pods`;
  for (let seq = 0; performance.now() < w.endMs; seq++) {
    if (seq >= createsPerClientMax) throw new Error(`assertion failed: client ${client} made ${seq} creates`);
    const sentMs = performance.now();
    let code: string;
    try {
      code = String((await send(agent, port, 'POST', path, benchPod(`c${client}-${seq}`, client))).status);
    } catch (err) {
      code = String((err as { code?: unknown }).code ?? 'ERROR');
    }
    const doneMs = performance.now();
    if (code === '201') {
      t.created++;
      if (doneMs >= w.measureFromMs && doneMs <= w.endMs) t.histogram.recordMs(doneMs - sentMs);
      continue;
    }
    t.errors[code] = (t.errors[code] ?? 0) + 1;
    await sleep(errorPauseMs);
  }
}

interface Stack {
  certDir: string;
  apiservers: Apiserver[];
  lb: Lb | undefined;
}

function targetPort(stack: Stack, target: CreatesTarget): number {
  if (target === 'direct') return (stack.apiservers[0] as Apiserver).securePort;
  if (stack.lb === undefined) throw new Error('assertion failed: the lb target needs a running LB');
  return stack.lb.port;
}

async function runRow(
  stack: Stack,
  target: CreatesTarget,
  clients: number,
  ns: string,
  timing: { warmupS: number; durationS: number },
): Promise<ApiserverCreatesRow> {
  const o = timing;
  const port = targetPort(stack, target);
  const agent = adminAgent(stack.certDir, clients);
  try {
    const creates0 = await Promise.all(stack.apiservers.map(podCreates));
    const conns0 = stack.lb === undefined ? [] : await lbBackends(stack.lb.adminUrl);
    await mustSend(agent, port, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
    const t: RowTally = { histogram: new LatencyHistogram(), created: 0, errors: {} };
    const startMs = performance.now();
    const w = {
      measureFromMs: startMs + o.warmupS * 1000,
      endMs: startMs + (o.warmupS + o.durationS) * 1000,
    };
    await Promise.all(Array.from({ length: clients }, (_, i) => clientLoop(agent, port, ns, i, w, t)));
    const creates1 = await Promise.all(stack.apiservers.map(podCreates));
    const conns1 = stack.lb === undefined ? [] : await lbBackends(stack.lb.adminUrl);
    const list = await mustSend(agent, port, 'GET', `/api/v1/namespaces/${ns}/pods`);
    const creates = t.histogram.count;
    return {
      target,
      clients,
      creates,
      createsPerS: creates / o.durationS,
      latencyMs: t.histogram.percentilesMs(),
      errors: t.errors,
      created: t.created,
      listed: (list.items as unknown[] | undefined)?.length ?? 0,
      perApiserver: creates1.map((n, i) => n - (creates0[i] ?? 0)),
      lbConnections:
        target === 'lb' ? conns1.map((b, i) => b.totalConnections - (conns0[i]?.totalConnections ?? 0)) : [],
    };
  } finally {
    agent.destroy();
  }
}

export function validateCreatesOptions(o: ApiserverCreatesOptions): void {
  const bad = (what: string): never => {
    throw new CreatesBenchError('BAD_USAGE', what);
  };
  if (o.clients.length === 0) bad('give at least one --clients value');
  for (const c of o.clients)
    if (!Number.isInteger(c) || c < 1 || c > clientsMax) bad(`--clients must be 1..${clientsMax}, got ${c}`);
  if (!(o.durationS > 0 && o.durationS <= durationSMax)) bad(`--duration must be in (0, ${durationSMax}] s`);
  if (!(o.warmupS >= 0 && o.warmupS <= durationSMax)) bad(`--warmup must be in [0, ${durationSMax}] s`);
  if (!(o.primeS >= 0 && o.primeS <= durationSMax)) bad(`--prime must be in [0, ${durationSMax}] s`);
  if (o.targets.length === 0) bad('give at least one --targets value');
  for (const t of o.targets)
    if (t !== 'lb' && t !== 'direct') bad(`--targets takes lb and direct, not "${t}"`);
  if (o.balance !== 'roundrobin' && o.balance !== 'leastconn')
    bad(`--balance must be roundrobin or leastconn, not "${o.balance}"`);
}

async function startStack(endpoints: string[], o: ApiserverCreatesOptions, stack: Stack, log: Log) {
  for (let i = 0; i < 2; i++) stack.apiservers.push(await startApiserver(endpoints, stack.certDir));
  log(`apiservers on :${stack.apiservers.map((a) => a.securePort).join(' and :')}`);
  if (o.targets.includes('lb')) {
    stack.lb = await startLb(stack.apiservers, join(stack.certDir, 'ca.crt'), o.balance);
    log(`keelson lb on :${stack.lb.port} (${o.balance}), both backends healthy`);
  }
}

/** The unreported warm-up of every process before the first row (see primeS). */
async function prime(stack: Stack, o: ApiserverCreatesOptions, log: Log): Promise<void> {
  if (o.primeS === 0) return;
  const target = stack.lb === undefined ? 'direct' : 'lb';
  const clients = Math.max(2, Math.min(16, Math.max(...o.clients)));
  const row = await runRow(stack, target, clients, 'bench-creates-prime', {
    warmupS: 0,
    durationS: o.primeS,
  });
  log(`primed: ${row.created} creates in ${o.primeS} s (${target}, ${clients} clients), not reported`);
}

export async function runApiserverCreates(
  o: ApiserverCreatesOptions,
  log: Log = () => {},
): Promise<ApiserverCreatesResult> {
  validateCreatesOptions(o);
  const cluster = await launchCluster({ impl: 'keelson', size: 3 });
  const stack: Stack = {
    certDir: mkdtempSync(join(tmpdir(), 'keelson-bench-creates-')),
    apiservers: [],
    lb: undefined,
  };
  try {
    log(`3-member store on ${cluster.endpoints.join(', ')}`);
    await startStack(cluster.endpoints, o, stack, log);
    await prime(stack, o, log);
    const rows: ApiserverCreatesRow[] = [];
    for (const target of o.targets) {
      for (const clients of o.clients) {
        const ns = `bench-creates-${rows.length}-${target}-${clients}`;
        log(`${target}, ${clients} clients: ${o.warmupS} s warm-up + ${o.durationS} s into ${ns}`);
        const row = await runRow(stack, target, clients, ns, o);
        log(`  ${row.createsPerS.toFixed(0)} creates/s, p99 ${row.latencyMs.p99.toFixed(1)} ms`);
        rows.push(row);
      }
    }
    return { options: o, transport: transportNote(o), rows };
  } finally {
    await stack.lb?.stop();
    await Promise.all(stack.apiservers.map((a) => a.stop()));
    await cluster.stop();
    rmSync(stack.certDir, { recursive: true, force: true });
  }
}

function transportNote(o: ApiserverCreatesOptions): string {
  return (
    'HTTPS with the admin client certificate (system:masters, RBAC on), keep-alive connections; ' +
    `"lb" goes through keelson lb (${o.balance}, TLS passed through) to 2 apiservers, ` +
    '"direct" to the first apiserver alone'
  );
}

const fixed = (n: number): string => n.toFixed(1);

export function formatApiserverCreates(r: ApiserverCreatesResult): string {
  const o = r.options;
  const head = [
    `Pod creates, ${o.durationS} s measured after ${o.warmupS} s warm-up per row (and ${o.primeS} s ` +
      'of unreported creates before the first row); 3-member Keelson store.',
    `Transport: ${r.transport}.`,
    '',
    '| target | clients | creates/s | p50 ms | p90 ms | p99 ms | max ms | errors | creates per apiserver | LB conns per backend | listed = created |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const rows = r.rows.map((row) => {
    const p = row.latencyMs;
    const errors = Object.entries(row.errors).map(([code, n]) => `${code}×${n}`);
    return (
      `| ${row.target} | ${row.clients} | ${row.createsPerS.toFixed(0)} | ${fixed(p.p50)} | ${fixed(p.p90)} | ` +
      `${fixed(p.p99)} | ${fixed(p.max)} | ${errors.join(' ') || '0'} | ${row.perApiserver.join(' / ')} | ` +
      `${row.lbConnections.join(' / ') || '–'} | ${row.listed === row.created ? 'yes' : 'NO'} (${row.listed}) |`
    );
  });
  return [...head, ...rows].join('\n');
}

export interface CreatesCliArgs {
  options: ApiserverCreatesOptions;
  json: boolean;
  outDir: string | undefined;
}

const usage =
  'usage: apiserver-creates [--clients 64,1] [--duration 10] [--warmup 2] [--prime 3] [--targets lb,direct] ' +
  '[--balance roundrobin|leastconn] [--json] [--out-dir DIR]';

export function parseApiserverCreatesArgs(argv: string[]): CreatesCliArgs {
  const o: ApiserverCreatesOptions = {
    clients: [64, 1],
    durationS: 10,
    warmupS: 2,
    primeS: 3,
    targets: ['lb', 'direct'],
    balance: 'roundrobin',
  };
  let json = false;
  let outDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    if (name === '--json') {
      json = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new CreatesBenchError('BAD_USAGE', `${name} needs a value; ${usage}`);
    if (name === '--clients') o.clients = value.split(',').map(Number);
    else if (name === '--duration') o.durationS = Number(value);
    else if (name === '--warmup') o.warmupS = Number(value);
    else if (name === '--prime') o.primeS = Number(value);
    else if (name === '--targets') o.targets = value.split(',') as CreatesTarget[];
    else if (name === '--balance') o.balance = value as CreatesBalance;
    else if (name === '--out-dir') outDir = value;
    else throw new CreatesBenchError('BAD_USAGE', `unknown flag ${name}; ${usage}`);
  }
  validateCreatesOptions(o);
  return { options: o, json, outDir };
}

function writeReport(dir: string, table: string, result: ApiserverCreatesResult): string {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date()
    .toISOString()
    .replace(/:/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const path = join(dir, `apiserver-creates-${stamp}.md`);
  const json = JSON.stringify(result, null, 2);
  writeFileSync(path, `# apiserver creates through the LB\n\n${table}\n\n\`\`\`json\n${json}\n\`\`\`\n`);
  return path;
}

async function main(): Promise<void> {
  const startedMs = performance.now();
  const log: Log = (line) =>
    process.stderr.write(`[${((performance.now() - startedMs) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
  const args = parseApiserverCreatesArgs(process.argv.slice(2));
  const result = await runApiserverCreates(args.options, log);
  const table = formatApiserverCreates(result);
  process.stdout.write(args.json ? `${JSON.stringify(result, null, 2)}\n` : `${table}\n`);
  if (args.outDir !== undefined) log(`wrote ${writeReport(args.outDir, table, result)}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      const usageError = err instanceof CreatesBenchError && err.code === 'BAD_USAGE';
      process.stderr.write(
        `bench:apiserver-creates failed: ${err instanceof Error ? (usageError ? err.message : err.stack) : String(err)}\n`,
      );
      process.exit(usageError ? 2 : 1);
    },
  );
}
