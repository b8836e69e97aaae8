// The pure parts: backend choice and the health state machine against brute-force references,
// configuration parsing and validation, and the HAProxy configuration text.
import {
  type Candidate,
  formatHostPort,
  initialHealth,
  LbError,
  observeCheck,
  observeRefusal,
  parseHostPort,
  pickBackend,
  renderHaproxyConfig,
  resolveConfig,
} from '@keelson/lb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** A replayable seed: FC_SEED pins it; a failure prints it through fast-check's report. */
const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
const fcOptions = { seed, numRuns: 300 };

const candidates = fc.array(
  fc.record({ healthy: fc.boolean(), activeConnections: fc.integer({ min: 0, max: 5 }) }),
  { minLength: 1, maxLength: 7 },
);

function eligible(cs: readonly Candidate[], exclude: ReadonlySet<number>): number[] {
  return cs.flatMap((c, i) => (c.healthy && !exclude.has(i) ? [i] : []));
}

describe('pickBackend', () => {
  it('picks only eligible backends', () => {
    // Proves a pick is always an eligible backend (healthy, not excluded), and undefined iff none is.
    fc.assert(
      fc.property(
        candidates,
        fc.constantFrom('roundrobin' as const, 'leastconn' as const),
        fc.nat(20),
        fc.uniqueArray(fc.nat(6)),
        (cs, mode, cursor, ex) => {
          const exclude = new Set(ex);
          const ok = eligible(cs, exclude);
          const p = pickBackend(cs, mode, cursor, exclude);
          if (ok.length === 0) return p === undefined;
          return p !== undefined && ok.includes(p.index) && p.cursor === (p.index + 1) % cs.length;
        },
      ),
      fcOptions,
    );
  });

  it('least-connections matches a sorting reference', () => {
    // Proves least-connections picks a backend with the minimum count, the first such from the cursor.
    fc.assert(
      fc.property(candidates, fc.nat(20), (cs, cursor) => {
        const ok = eligible(cs, new Set());
        const p = pickBackend(cs, 'leastconn', cursor, new Set());
        if (ok.length === 0) return p === undefined;
        const min = Math.min(...ok.map((i) => (cs[i] as Candidate).activeConnections));
        const order = ok
          .slice()
          .sort(
            (a, b) =>
              ((((a - cursor) % cs.length) + cs.length) % cs.length) -
              ((((b - cursor) % cs.length) + cs.length) % cs.length),
          );
        const expected = order.find((i) => (cs[i] as Candidate).activeConnections === min);
        return p?.index === expected;
      }),
      fcOptions,
    );
  });

  it('round-robin visits every healthy backend in turn', () => {
    // Proves round-robin over k healthy backends visits each exactly once in any k consecutive picks.
    fc.assert(
      fc.property(candidates, fc.nat(20), (cs, start) => {
        const ok = eligible(cs, new Set());
        let cursor = start;
        const seen: number[] = [];
        for (let i = 0; i < ok.length; i++) {
          const p = pickBackend(cs, 'roundrobin', cursor, new Set());
          if (p === undefined) return false;
          seen.push(p.index);
          cursor = p.cursor;
        }
        return new Set(seen).size === ok.length;
      }),
      fcOptions,
    );
  });
});

describe('observeCheck', () => {
  it('matches a history-based reference', () => {
    // Proves the state machine matches a reference that looks at the whole history: after a first
    // check, a backend is down iff (the last `fall` checks failed, or the very first check failed)
    // and no run of `rise` successes came after that.
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        (history, rise, fall) => {
          let s = initialHealth();
          for (const ok of history) s = observeCheck(s, ok, rise, fall);
          return s.healthy === referenceHealthy(history, rise, fall);
        },
      ),
      fcOptions,
    );
  });

  it('needs fall failures and rise successes', () => {
    // Proves with fall 2 one failed check does not take an up backend down, two do; rise 2 likewise.
    let s = observeCheck(initialHealth(), true, 2, 2);
    s = observeCheck(s, false, 2, 2);
    expect(s.healthy).toBe(true);
    s = observeCheck(s, false, 2, 2);
    expect(s.healthy).toBe(false);
    s = observeCheck(s, true, 2, 2);
    expect(s.healthy).toBe(false);
    s = observeCheck(s, true, 2, 2);
    expect(s.healthy).toBe(true);
    expect(observeCheck(initialHealth(), false, 2, 2).healthy).toBe(false);
  });

  it('a refused client connection marks a backend down at once; rise checks bring it back', () => {
    // Proves observeRefusal skips fall but not rise.
    let s = observeRefusal(observeCheck(initialHealth(), true, 2, 3), 2, 3);
    expect(s).toMatchObject({ healthy: false, okStreak: 0, failStreak: 3 });
    s = observeCheck(s, true, 2, 3);
    expect(s.healthy).toBe(false);
    s = observeCheck(s, true, 2, 3);
    expect(s.healthy).toBe(true);
  });
});

function referenceHealthy(history: readonly boolean[], rise: number, fall: number): boolean {
  let healthy = true;
  for (let i = 0; i < history.length; i++) {
    const run = (want: boolean): number => {
      let n = 0;
      for (let j = i; j >= 0 && history[j] === want; j--) n++;
      return n;
    };
    if (healthy && history[i] === false && (run(false) >= fall || i === 0)) healthy = false;
    else if (!healthy && history[i] === true && run(true) >= rise) healthy = true;
  }
  return healthy;
}

describe('configuration', () => {
  it('parses host:port', () => {
    // Proves host:port parsing, IPv6 brackets, port bounds and the round trip through formatHostPort.
    expect(parseHostPort('127.0.0.1:6443')).toEqual({ host: '127.0.0.1', port: 6443 });
    expect(parseHostPort('[::1]:6443')).toEqual({ host: '::1', port: 6443 });
    expect(parseHostPort('localhost:0', true)).toEqual({ host: 'localhost', port: 0 });
    expect(formatHostPort(parseHostPort('[::1]:7'))).toBe('[::1]:7');
    for (const bad of ['6443', '127.0.0.1', 'h:0', 'h:65536', '::1:80', 'h:x'])
      expect(() => parseHostPort(bad), bad).toThrow(LbError);
  });

  it('fills defaults and refuses bad values', () => {
    // Proves defaults are filled in and bad values are refused with BAD_CONFIG naming the field.
    const base = { listen: { host: '127.0.0.1', port: 0 }, backends: [{ host: '127.0.0.1', port: 1 }] };
    const c = resolveConfig(base);
    expect(c).toMatchObject({
      balance: 'roundrobin',
      healthPath: '/readyz',
      healthIntervalMs: 500,
      fall: 2,
      rise: 2,
    });
    const bad = (extra: object, message: RegExp): void => {
      try {
        resolveConfig({ ...base, ...extra });
        expect.unreachable();
      } catch (err) {
        expect((err as LbError).code).toBe('BAD_CONFIG');
        expect((err as Error).message).toMatch(message);
      }
    };
    bad({ backends: [] }, /at least one --backend/);
    bad({ backends: [base.backends[0], base.backends[0]] }, /given twice/);
    bad({ healthIntervalMs: 0 }, /healthIntervalMs/);
    bad({ fall: 0 }, /fall/);
    bad({ healthPath: 'readyz' }, /health-path/);
    bad({ balance: 'random' }, /--balance/);
  });
});

describe('renderHaproxyConfig', () => {
  it('prints the equivalent haproxy.cfg', () => {
    // Proves the HAProxy text carries the mode, bind, balance, check and server lines the issue asks for,
    // with ca-file verification or plain-http checks when configured.
    const c = resolveConfig({
      listen: { host: '0.0.0.0', port: 6443 },
      backends: [
        { host: '10.0.0.1', port: 6443 },
        { host: '10.0.0.2', port: 6443 },
      ],
      balance: 'leastconn',
    });
    const text = renderHaproxyConfig(c);
    for (const line of [
      'defaults',
      '    mode tcp',
      '    timeout connect 5000ms',
      '    timeout check 1000ms',
      'frontend apiserver',
      '    bind 0.0.0.0:6443',
      '    balance leastconn',
      '    option httpchk GET /readyz',
      '    http-check expect status 200',
      '    server api1 10.0.0.1:6443 check check-ssl verify none inter 500 fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down',
      '    server api2 10.0.0.2:6443 check check-ssl verify none inter 500 fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down',
    ])
      expect(text.split('\n')).toContain(line);
    const verified = renderHaproxyConfig({ ...c, healthCaFile: '/etc/k/ca.crt' });
    expect(verified).toContain('check check-ssl verify required ca-file /etc/k/ca.crt inter 500');
    const plain = renderHaproxyConfig({ ...c, healthScheme: 'http' });
    expect(plain).toContain(
      'server api1 10.0.0.1:6443 check inter 500 fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down',
    );
  });
});
