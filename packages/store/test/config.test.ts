import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_QUOTA_BACKEND_BYTES,
  defaultMemberConfig,
  formatInitialCluster,
  loadMemberConfig,
  type MemberConfig,
  memberConfigFromOptions,
  parseInitialCluster,
  STORE_FLAGS,
  validateMemberConfig,
} from '../src/config.js';

/** A valid single-member configuration on loopback, as flags; tests override one thing each. */
const base = {
  name: 'm1',
  listenClientUrls: 'http://127.0.0.1:12379',
  advertiseClientUrls: 'http://127.0.0.1:12379',
  listenPeerUrls: 'http://127.0.0.1:12380',
  initialAdvertisePeerUrls: 'http://127.0.0.1:12380',
  initialCluster: 'm1=http://127.0.0.1:12380',
};

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const hrefs = (urls: readonly URL[]): string[] => urls.map((u) => u.href);

describe('defaults', () => {
  // Proves the defaults are etcd 3.4's (checked against `etcd --help` of 3.4.23).
  it('matches etcd 3.4', () => {
    const d = defaultMemberConfig();
    expect(d.name).toBe('default');
    expect(d.dataDir).toBe('default.etcd');
    expect(hrefs(d.listenClientUrls)).toEqual(['http://localhost:2379/']);
    expect(d.advertiseClientUrls).toEqual(['http://localhost:2379']);
    expect(hrefs(d.listenPeerUrls)).toEqual(['http://localhost:2380/']);
    expect(d.initialAdvertisePeerUrls).toEqual(['http://localhost:2380']);
    expect(d.listenMetricsUrls).toEqual([]);
    expect(d.initialCluster).toEqual([{ name: 'default', peerUrls: ['http://localhost:2380'] }]);
    expect(d.initialClusterState).toBe('new');
    expect(d.initialClusterToken).toBe('etcd-cluster');
    expect([d.heartbeatIntervalMs, d.electionTimeoutMs]).toEqual([100, 1000]);
    expect([d.snapshotCount, d.snapshotCatchUpEntries]).toEqual([100_000, 5000]);
    expect(d.quotaBackendBytes).toBe(2 * 1024 ** 3);
    expect(d.maxRequestBytes).toBe(1_572_864);
    expect(d.maxTxnOps).toBe(128);
    expect(d.logLevel).toBe('info');
    expect(d.enableFaultInjection).toBe(false);
  });

  // Proves that no flags at all give exactly the defaults, and that the defaults validate.
  it('are what an empty command line gives', () => {
    const c = memberConfigFromOptions({});
    const d = defaultMemberConfig();
    expect({
      ...c,
      listenClientUrls: hrefs(c.listenClientUrls),
      listenPeerUrls: hrefs(c.listenPeerUrls),
    }).toEqual({
      ...d,
      listenClientUrls: hrefs(d.listenClientUrls),
      listenPeerUrls: hrefs(d.listenPeerUrls),
    });
    expect(() => validateMemberConfig(d)).not.toThrow();
  });

  // Proves --name alone moves the data dir and the one-member initial cluster with it, as in etcd.
  it('derives data dir and initial cluster from --name', () => {
    const c = memberConfigFromOptions({ name: 's7' });
    expect(c.dataDir).toBe('s7.etcd');
    expect(c.initialCluster).toEqual([{ name: 's7', peerUrls: ['http://localhost:2380'] }]);
  });

  // Proves --quota-backend-bytes=0 means etcd's 2 GiB default.
  it('treats a zero quota as the default', () => {
    expect(memberConfigFromOptions({ ...base, quotaBackendBytes: '0' }).quotaBackendBytes).toBe(
      DEFAULT_QUOTA_BACKEND_BYTES,
    );
  });
});

describe('flags', () => {
  // Proves STORE_FLAGS uses etcd's flag names and ETCD_* variable names, and commander's option keys.
  it('has etcd names', () => {
    const names = STORE_FLAGS.map((f) => f.flag);
    expect(names).toEqual(
      expect.arrayContaining([
        'name',
        'data-dir',
        'listen-client-urls',
        'advertise-client-urls',
        'listen-peer-urls',
        'initial-advertise-peer-urls',
        'listen-metrics-urls',
        'initial-cluster',
        'initial-cluster-state',
        'initial-cluster-token',
        'heartbeat-interval',
        'election-timeout',
        'snapshot-count',
        'snapshot-catchup-entries',
        'quota-backend-bytes',
        'max-request-bytes',
        'max-txn-ops',
        'log-level',
        'enable-fault-injection',
      ]),
    );
    expect(names).toHaveLength(19);
    const dataDir = STORE_FLAGS.find((f) => f.flag === 'data-dir');
    expect(dataDir).toMatchObject({ key: 'dataDir', env: 'ETCD_DATA_DIR' });
    const catchup = STORE_FLAGS.find((f) => f.flag === 'snapshot-catchup-entries');
    expect(catchup).toMatchObject({ key: 'snapshotCatchupEntries', env: 'ETCD_SNAPSHOT_CATCHUP_ENTRIES' });
  });

  // Proves every flag is parsed into its typed field.
  it('parses every flag', () => {
    const c = memberConfigFromOptions({
      ...base,
      dataDir: '/var/lib/m1',
      listenMetricsUrls: 'http://127.0.0.1:12381,http://[::1]:12381',
      initialClusterState: 'existing',
      initialClusterToken: 'tok',
      heartbeatInterval: '50',
      electionTimeout: '250',
      snapshotCount: '1000',
      snapshotCatchupEntries: '10',
      quotaBackendBytes: '1048576',
      maxRequestBytes: '4096',
      maxTxnOps: '16',
      logLevel: 'debug',
      enableFaultInjection: true,
    });
    expect(c.name).toBe('m1');
    expect(c.dataDir).toBe('/var/lib/m1');
    expect(hrefs(c.listenClientUrls)).toEqual(['http://127.0.0.1:12379/']);
    expect(hrefs(c.listenMetricsUrls)).toEqual(['http://127.0.0.1:12381/', 'http://[::1]:12381/']);
    expect(c.initialClusterState).toBe('existing');
    expect(c.initialClusterToken).toBe('tok');
    expect([c.heartbeatIntervalMs, c.electionTimeoutMs, c.snapshotCount, c.snapshotCatchUpEntries]).toEqual([
      50, 250, 1000, 10,
    ]);
    expect([c.quotaBackendBytes, c.maxRequestBytes, c.maxTxnOps]).toEqual([1_048_576, 4096, 16]);
    expect(c.logLevel).toBe('debug');
    expect(c.enableFaultInjection).toBe(true);
  });

  // Proves values may arrive as numbers, booleans or arrays (as programmatic callers pass them).
  it('accepts non-string option values', () => {
    const c = memberConfigFromOptions({
      ...base,
      advertiseClientUrls: ['http://127.0.0.1:12379', 'http://localhost:12379'],
      heartbeatInterval: 20,
      electionTimeout: 200,
      enableFaultInjection: 'false',
    });
    expect(c.advertiseClientUrls).toEqual(['http://127.0.0.1:12379', 'http://localhost:12379']);
    expect(c.heartbeatIntervalMs).toBe(20);
    expect(c.enableFaultInjection).toBe(false);
  });

  // Proves a negative quota is accepted as "no quota" (etcd's meaning) with a warning.
  it('accepts a negative quota with a warning', () => {
    const { config, warnings } = loadMemberConfig({ ...base, quotaBackendBytes: '-1' });
    expect(config.quotaBackendBytes).toBe(-1);
    expect(warnings).toContain('disabled backend quota');
  });
});

describe('initial cluster', () => {
  // Proves a name repeated in --initial-cluster gives that member several peer URLs, in order.
  it('groups several URLs per member', () => {
    const text = 'a=http://10.0.0.1:2380,b=http://10.0.0.2:2380,a=https://a.example:2380';
    const members = parseInitialCluster(text);
    expect(members).toEqual([
      { name: 'a', peerUrls: ['http://10.0.0.1:2380', 'https://a.example:2380'] },
      { name: 'b', peerUrls: ['http://10.0.0.2:2380'] },
    ]);
    expect(parseInitialCluster(formatInitialCluster(members))).toEqual(members);
    expect(parseInitialCluster('')).toEqual([]);
  });

  // Proves a member with several peer URLs validates when it advertises the same set in any order.
  it('matches several advertised peer URLs regardless of order', () => {
    const c = memberConfigFromOptions({
      ...base,
      listenPeerUrls: 'http://127.0.0.1:12380,http://127.0.0.1:12382',
      initialAdvertisePeerUrls: 'http://127.0.0.1:12382,http://127.0.0.1:12380',
      initialCluster: 'm1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380,m1=http://127.0.0.1:12382',
    });
    expect(c.initialCluster).toEqual([
      { name: 'm1', peerUrls: ['http://127.0.0.1:12380', 'http://127.0.0.1:12382'] },
      { name: 'm2', peerUrls: ['http://127.0.0.1:22380'] },
    ]);
  });
});

describe('environment variables', () => {
  // Proves ETCD_* variables set what their flags set when the flags are absent.
  it('are read like flags', () => {
    const { config, warnings } = loadMemberConfig(
      {},
      {
        ETCD_NAME: 'e1',
        ETCD_DATA_DIR: '/data/e1',
        ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:12379',
        ETCD_ADVERTISE_CLIENT_URLS: 'http://127.0.0.1:12379',
        ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://127.0.0.1:12380',
        ETCD_INITIAL_CLUSTER: 'e1=http://127.0.0.1:12380',
        ETCD_HEARTBEAT_INTERVAL: '200',
        ETCD_ELECTION_TIMEOUT: '2000',
        ETCD_ENABLE_FAULT_INJECTION: 'true',
        ETCD_LOG_LEVEL: 'warn',
        PATH: '/usr/bin',
        ETCDCTL_API: '3',
      },
    );
    expect(config.name).toBe('e1');
    expect(config.dataDir).toBe('/data/e1');
    expect(hrefs(config.listenClientUrls)).toEqual(['http://127.0.0.1:12379/']);
    expect([config.heartbeatIntervalMs, config.electionTimeoutMs]).toEqual([200, 2000]);
    expect(config.enableFaultInjection).toBe(true);
    expect(config.logLevel).toBe('warn');
    expect(warnings).toEqual(['fault injection is enabled: never do this in production']);
  });

  // Proves a flag wins over its variable (with a warning), and unknown ETCD_* variables are reported.
  it('lose to flags and unknown ones are reported', () => {
    const { config, warnings } = loadMemberConfig(base, {
      ETCD_NAME: 'other',
      ETCD_AUTO_COMPACTION_RETENTION: '1h',
    });
    expect(config.name).toBe('m1');
    expect(warnings).toContain('recognized environment variable ETCD_NAME, but unused: shadowed by flag');
    expect(warnings).toContain('unrecognized environment variable ETCD_AUTO_COMPACTION_RETENTION=1h');
  });

  // Proves a bad variable's error names the variable, not a flag.
  it('name themselves in errors', () => {
    const e = errorOf(() => memberConfigFromOptions({}, { ETCD_HEARTBEAT_INTERVAL: 'abc' }));
    expect(e.message).toBe('invalid value "abc" for ETCD_HEARTBEAT_INTERVAL: parse error');
    expect(e.flag).toBe('heartbeat-interval');
  });

  // Proves ETCD_LISTEN_CLIENT_URLS counts as setting the flag explicitly (advertise is then required).
  it('count as explicitly set', () => {
    const e = errorOf(() =>
      memberConfigFromOptions({}, { ETCD_LISTEN_CLIENT_URLS: 'http://127.0.0.1:12379' }),
    );
    expect(e.message).toBe('--advertise-client-urls is required when --listen-client-urls is set explicitly');
  });
});

describe('validation errors', () => {
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    [
      'heartbeat zero',
      { heartbeatInterval: '0' },
      'heartbeat-interval',
      '--heartbeat-interval must be >0 (set to 0ms)',
    ],
    [
      'election below 5x heartbeat',
      { heartbeatInterval: '100', electionTimeout: '400' },
      'election-timeout',
      '--election-timeout[400ms] should be at least as 5 times as --heartbeat-interval[100ms]',
    ],
    [
      'election too long',
      { electionTimeout: '50001' },
      'election-timeout',
      '--election-timeout[50001ms] is too long, and should be set less than 50000ms',
    ],
    [
      'listen without advertise',
      { advertiseClientUrls: undefined },
      'advertise-client-urls',
      '--advertise-client-urls is required when --listen-client-urls is set explicitly',
    ],
    [
      'scheme',
      { listenClientUrls: 'ftp://127.0.0.1:1' },
      'listen-client-urls',
      'invalid value "ftp://127.0.0.1:1" for flag --listen-client-urls: URL scheme must be http or https: ftp://127.0.0.1:1',
    ],
    [
      'no scheme',
      { listenPeerUrls: '127.0.0.1:12380' },
      'listen-peer-urls',
      'invalid value "127.0.0.1:12380" for flag --listen-peer-urls: URL scheme must be http or https: 127.0.0.1:12380',
    ],
    [
      'path',
      { listenClientUrls: 'http://127.0.0.1:12379/foo' },
      'listen-client-urls',
      'invalid value "http://127.0.0.1:12379/foo" for flag --listen-client-urls: URL must not contain a path: http://127.0.0.1:12379/foo',
    ],
    [
      'no port',
      { listenClientUrls: 'http://127.0.0.1' },
      'listen-client-urls',
      'invalid value "http://127.0.0.1" for flag --listen-client-urls: URL address does not have the form "host:port": http://127.0.0.1',
    ],
    [
      'port out of range',
      { advertiseClientUrls: 'http://127.0.0.1:70000' },
      'advertise-client-urls',
      'invalid value "http://127.0.0.1:70000" for flag --advertise-client-urls: URL address does not have the form "host:port": http://127.0.0.1:70000',
    ],
    [
      'hostname to bind',
      { listenPeerUrls: 'http://example.com:12380' },
      'listen-peer-urls',
      'expected IP in URL for binding (http://example.com:12380)',
    ],
    [
      'empty host to bind',
      { listenClientUrls: 'http://:12379' },
      'listen-client-urls',
      'invalid value "http://:12379" for flag --listen-client-urls: expected IP in URL for binding (http://:12379)',
    ],
    [
      'TLS listener',
      { listenMetricsUrls: 'https://127.0.0.1:12381' },
      'listen-metrics-urls',
      '--listen-metrics-urls=https://127.0.0.1:12381: Keelson does not serve TLS yet; use an http:// URL (behind a TLS proxy if needed)',
    ],
    [
      'empty advertise host',
      { advertiseClientUrls: 'http://:12379' },
      'advertise-client-urls',
      '--advertise-client-urls "http://:12379" must be "host:port" (unexpected empty host (http://:12379))',
    ],
    [
      'no client listener',
      { listenClientUrls: '' },
      'listen-client-urls',
      '--listen-client-urls must not be empty',
    ],
    [
      'name not in cluster',
      { initialCluster: 'other=http://127.0.0.1:12380' },
      'initial-cluster',
      `couldn't find local name "m1" in the initial cluster configuration`,
    ],
    [
      'advertise differs',
      { initialCluster: 'm1=http://127.0.0.1:12381' },
      'initial-advertise-peer-urls',
      '--initial-cluster has m1=http://127.0.0.1:12381 but missing from --initial-advertise-peer-urls=http://127.0.0.1:12380 (resolved urls: "http://127.0.0.1:12380" != "http://127.0.0.1:12381")',
    ],
    [
      'advertise count differs',
      { initialCluster: 'm1=http://127.0.0.1:12380,m1=http://127.0.0.1:12381' },
      'initial-advertise-peer-urls',
      '--initial-cluster has m1=http://127.0.0.1:12380,m1=http://127.0.0.1:12381 but missing from --initial-advertise-peer-urls=http://127.0.0.1:12380 (len(["http://127.0.0.1:12380"]) != len(["http://127.0.0.1:12380" "http://127.0.0.1:12381"]))',
    ],
    [
      'duplicate peer URL',
      { initialCluster: 'm1=http://127.0.0.1:12380,m2=http://127.0.0.1:12380' },
      'initial-cluster',
      'initial cluster m1=http://127.0.0.1:12380,m2=http://127.0.0.1:12380 has duplicate url',
    ],
    [
      'cluster entry without =',
      { initialCluster: 'm1=http://127.0.0.1:12380,m2' },
      'initial-cluster',
      'invalid value "m1=http://127.0.0.1:12380,m2" for flag --initial-cluster: "m2" is not of the form name=peer-url',
    ],
    [
      'cluster entry with a bad URL',
      { initialCluster: 'm1=http://127.0.0.1:12380,m2=' },
      'initial-cluster',
      'invalid value "m1=http://127.0.0.1:12380,m2=" for flag --initial-cluster: URL scheme must be http or https: ',
    ],
    [
      'cluster state',
      { initialClusterState: 'bogus' },
      'initial-cluster-state',
      'invalid value "bogus" for flag --initial-cluster-state: valid values are "new", "existing"',
    ],
    [
      'log level',
      { logLevel: 'trace' },
      'log-level',
      'invalid value "trace" for flag --log-level: valid values are "debug", "info", "warn", "error"',
    ],
    [
      'integer',
      { snapshotCount: 'abc' },
      'snapshot-count',
      'invalid value "abc" for flag --snapshot-count: parse error',
    ],
    [
      'negative integer',
      { heartbeatInterval: '-5' },
      'heartbeat-interval',
      'invalid value "-5" for flag --heartbeat-interval: parse error',
    ],
    [
      'boolean',
      { enableFaultInjection: 'yes' },
      'enable-fault-injection',
      'invalid value "yes" for flag --enable-fault-injection: parse error',
    ],
    [
      'zero snapshot count',
      { snapshotCount: '0' },
      'snapshot-count',
      '--snapshot-count must be >0 (set to 0)',
    ],
    [
      'zero catch-up entries',
      { snapshotCatchupEntries: '0' },
      'snapshot-catchup-entries',
      '--snapshot-catchup-entries must be >0 (set to 0)',
    ],
    [
      'zero request size',
      { maxRequestBytes: '0' },
      'max-request-bytes',
      '--max-request-bytes must be >0 (set to 0)',
    ],
    ['zero txn ops', { maxTxnOps: '0' }, 'max-txn-ops', '--max-txn-ops must be >0 (set to 0)'],
    ['empty data dir', { dataDir: '' }, 'data-dir', '--data-dir must not be empty'],
  ];
  for (const [what, override, flagName, message] of cases) {
    // Proves each bad configuration is refused with etcd's message (or a clear one) naming the flag.
    it(`refuses: ${what}`, () => {
      const e = errorOf(() => memberConfigFromOptions({ ...base, ...override }));
      expect(e.message).toBe(message);
      expect(e.flag).toBe(flagName);
      expect(e.code).toBe('CONFIG_INVALID');
    });
  }

  // Proves election timeout equal to 5x the heartbeat is accepted (etcd's check is strict).
  it('accepts an election timeout of exactly 5 heartbeats', () => {
    expect(
      memberConfigFromOptions({ ...base, heartbeatInterval: '100', electionTimeout: '500' })
        .electionTimeoutMs,
    ).toBe(500);
  });

  // Proves an existing-cluster member needs its name in --initial-cluster but not matching URLs.
  it('checks advertised peer URLs only for a new cluster', () => {
    const c = memberConfigFromOptions({
      ...base,
      initialClusterState: 'existing',
      initialCluster: 'm1=http://127.0.0.1:19999,m2=http://127.0.0.1:22380',
    });
    expect(c.initialClusterState).toBe('existing');
    const e = errorOf(() =>
      memberConfigFromOptions({
        ...base,
        initialClusterState: 'existing',
        initialCluster: 'm2=http://127.0.0.1:22380',
      }),
    );
    expect(e.message).toBe(`couldn't find local name "m1" in the initial cluster configuration`);
  });

  // Proves localhost and IPv6 literals may be bound, as in etcd.
  it('binds localhost and IP literals', () => {
    const c = memberConfigFromOptions({
      ...base,
      listenClientUrls: 'http://localhost:12379,http://[::1]:12379,http://0.0.0.0:12389',
    });
    expect(c.listenClientUrls.map((u) => u.host)).toEqual([
      'localhost:12379',
      '[::1]:12379',
      '0.0.0.0:12389',
    ]);
  });

  // Proves validateMemberConfig checks a configuration built in code, not only parsed flags.
  it('validates configurations built in code', () => {
    const c: MemberConfig = { ...defaultMemberConfig(), heartbeatIntervalMs: 300 };
    expect(errorOf(() => validateMemberConfig(c)).message).toBe(
      '--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[300ms]',
    );
    const bind: MemberConfig = {
      ...defaultMemberConfig(),
      listenPeerUrls: [new URL('http://example.com:2380')],
    };
    expect(errorOf(() => validateMemberConfig(bind)).message).toBe(
      'expected IP in URL for binding (http://example.com:2380)',
    );
  });
});

describe('warnings', () => {
  // Proves etcd's startup warnings for a large quota and a large request limit.
  it('warns about large limits', () => {
    const { warnings } = loadMemberConfig({
      ...base,
      quotaBackendBytes: '10000000000',
      maxRequestBytes: '20000000',
    });
    expect(warnings).toEqual([
      'backend quota 10000000000 exceeds maximum recommended quota 8589934592',
      'MaxRequestBytes 20000000 exceeds maximum recommended size 10485760',
    ]);
  });
});
