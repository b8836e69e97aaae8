// Pure pieces of the launcher: port layout, component arguments, process identity, the status table.

import {
  ClusterError,
  type ClusterStatus,
  clusterPaths,
  formatStatusTable,
  layoutPorts,
  matchesIdentity,
  PORT_SPAN,
  ProgressBoard,
  planComponents,
  planLayout,
} from '@keelson/cluster';
import { describe, expect, it } from 'vitest';

const versions = { keelson: '0.0.0', node: 'v20', kubernetes: 'v1.32.0' };

describe('layout', () => {
  it('allocates distinct ports inside [base, base + PORT_SPAN) for the largest topology', () => {
    // Proves the fixed offsets never collide and never leave the span, whatever the counts.
    for (const stores of [1, 3, 5, 7, 9]) {
      for (const apiservers of [1, 2, 9]) {
        const layout = planLayout({ stores, apiservers, basePort: 30_000 }, versions);
        const ports = layoutPorts(layout);
        expect(new Set(ports).size).toBe(ports.length);
        for (const p of ports) expect(p - 30_000).toBeGreaterThanOrEqual(0);
        for (const p of ports) expect(p - 30_000).toBeLessThan(PORT_SPAN);
      }
    }
  });

  it('defaults to 3 stores, 2 apiservers and the LB on 6443', () => {
    // Proves the default topology the README promises.
    const layout = planLayout({}, versions);
    expect(layout.stores.map((s) => s.name)).toEqual(['store-1', 'store-2', 'store-3']);
    expect(layout.apiservers.map((a) => a.securePort)).toEqual([6453, 6454]);
    expect(layout.lb).toEqual({ port: 6443, adminPort: 6444 });
  });

  it('refuses an even store count and out-of-range counts with LAYOUT_MISMATCH', () => {
    // Proves bad flags fail with a coded error before anything is started.
    for (const req of [{ stores: 2 }, { stores: 11 }, { apiservers: 0 }, { basePort: 80 }]) {
      expect(() => planLayout(req, versions)).toThrow(ClusterError);
    }
  });
});

describe('components', () => {
  it('passes every store member to each apiserver and every apiserver to the LB', () => {
    // Proves the wiring between components comes from one layout.
    const layout = planLayout({ basePort: 30_000 }, versions);
    const plans = planComponents(clusterPaths('/tmp/c'), layout);
    expect(plans.map((p) => p.name)).toEqual([
      'store-1',
      'store-2',
      'store-3',
      'apiserver-1',
      'apiserver-2',
      'lb',
    ]);
    const api = plans.find((p) => p.name === 'apiserver-1');
    const servers = api?.args[api.args.indexOf('--etcd-servers') + 1];
    expect(servers).toBe('http://127.0.0.1:30020,http://127.0.0.1:30022,http://127.0.0.1:30024');
    const lb = plans.find((p) => p.kind === 'lb');
    expect(lb?.args.filter((_a, i) => lb.args[i - 1] === '--backend')).toEqual([
      '127.0.0.1:30010',
      '127.0.0.1:30011',
    ]);
    // Each plan's identity is found in its own arguments (so a running component is recognised).
    for (const p of plans)
      expect(matchesIdentity(['/usr/bin/node', '/x/main.js', ...p.args], p.identity)).toBe(true);
  });

  it('does not take another component or another cluster for ours', () => {
    // Proves a recycled PID running something else is never signalled.
    const a = planComponents(clusterPaths('/tmp/a'), planLayout({ basePort: 30_000 }, versions));
    const b = planComponents(clusterPaths('/tmp/b'), planLayout({ basePort: 30_000 }, versions));
    for (const [i, p] of a.entries()) {
      for (const [j, q] of a.entries()) if (i !== j) expect(matchesIdentity(q.args, p.identity)).toBe(false);
      expect(matchesIdentity(b[i]?.args ?? [], p.identity)).toBe(false);
    }
    expect(matchesIdentity(['node', 'something', '--data-dir'], a[0]?.identity ?? [])).toBe(false);
  });
});

describe('display', () => {
  it('prints one plain line per state change when stderr is not a terminal', () => {
    // Proves the progress display degrades to plain lines for logs and CI.
    const lines: string[] = [];
    const board = new ProgressBoard({ out: () => {}, err: (l) => lines.push(l) }, ['store-1', 'lb']);
    board.set('store-1', 'starting', 'pid 1');
    board.set('store-1', 'starting', 'pid 1, still');
    board.set('store-1', 'healthy');
    board.render();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^store-1\s+starting\s+\(pid 1\)$/);
    expect(lines[1]).toMatch(/^store-1\s+healthy\s+\d+\.\ds$/);
  });

  it('redraws the whole block in place on a terminal', () => {
    // Proves the live display moves the cursor up over its previous drawing.
    let text = '';
    const board = new ProgressBoard({ out: () => {}, err: () => {}, tty: { write: (s) => (text += s) } }, [
      'a',
      'b',
    ]);
    board.render();
    board.set('a', 'starting');
    expect(text.split('\x1b[2A')).toHaveLength(2);
  });

  it('formats the status table with a header and the store leader', () => {
    // Proves the table shows role, PID, address and health for each component.
    const status: ClusterStatus = {
      dir: '/tmp/c',
      server: 'https://127.0.0.1:6443',
      kubeconfig: '/tmp/c/kubeconfig',
      storeLeader: 'store-2',
      healthy: false,
      components: [
        {
          name: 'store-2',
          kind: 'store',
          role: 'leader',
          pid: 42,
          address: 'http://127.0.0.1:6465',
          health: 'healthy',
          detail: '',
        },
        {
          name: 'lb',
          kind: 'lb',
          role: 'lb',
          pid: null,
          address: 'https://127.0.0.1:6443',
          health: 'stopped',
          detail: '',
        },
      ],
    };
    const lines = formatStatusTable(status);
    expect(lines[0]).toMatch(/^COMPONENT\s+ROLE\s+PID\s+ADDRESS\s+HEALTH$/);
    expect(lines[1]).toMatch(/^store-2\s+leader\s+42\s+http:\/\/127\.0\.0\.1:6465\s+healthy$/);
    expect(lines[2]).toMatch(/^lb\s+lb\s+-\s+https:\/\/127\.0\.0\.1:6443\s+stopped$/);
    expect(lines.at(-1)).toContain('store leader: store-2');
  });
});
