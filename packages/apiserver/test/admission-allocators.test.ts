// ClusterIP and NodePort allocation: the bitmap's stored form, range parsing, and the service plugin
// against a real store — requested values honoured, Kubernetes' 422 messages, release on delete and
// type changes, and no duplicate across two apiservers creating 100 services at once.
import type { KubeObject } from '@keelson/api';
import {
  kubernetesServiceIP,
  type ObjectStorage,
  parseNodePortRange,
  parseServiceIPRange,
  RangeBitmap,
  RangeConfigError,
  type RangeSpec,
  serviceAllocation,
} from '@keelson/apiserver';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdmissionStore,
  admitAndCreate,
  admitAndDelete,
  admitAndUpdate,
  rejection,
  startAdmissionStore,
} from './admission-harness.js';

const seed =
  process.env.ALLOCATOR_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.ALLOCATOR_SEED);

describe('ranges and the bitmap', () => {
  it('parses the service CIDR like Kubernetes: network+1 first, broadcast excluded, /12 at most', () => {
    // Proves offsets, normalisation of the CIDR and the size bound.
    const r = parseServiceIPRange('10.96.0.5/24');
    expect(r.text).toBe('10.96.0.0/24');
    expect(r.size).toBe(254);
    expect(r.ipAt(0)).toBe('10.96.0.1');
    expect(r.ipAt(253)).toBe('10.96.0.254');
    expect(r.offsetOf(0x0a600000)).toBeUndefined();
    expect(r.offsetOf(0x0a6000ff)).toBeUndefined();
    expect(r.bandOffset).toBe(16);
    expect(parseServiceIPRange('10.96.0.0/12').size).toBe(2 ** 20 - 2);
    expect(kubernetesServiceIP('10.96.0.0/12')).toBe('10.96.0.1');
    expect(() => parseServiceIPRange('10.0.0.0/8')).toThrow(RangeConfigError);
    expect(() => parseServiceIPRange('fd00::/108')).toThrow(RangeConfigError);
  });

  it('parses the node port range', () => {
    // Proves both range forms and the lower band Kubernetes reserves for static ports.
    const r = parseNodePortRange('30000-32767');
    expect([r.text, r.size, r.portAt(0), r.offsetOf(32767), r.offsetOf(32768), r.bandOffset]).toEqual([
      '30000-32767',
      2768,
      30000,
      2767,
      undefined,
      86,
    ]);
    expect(parseNodePortRange('30000+10').text).toBe('30000-30009');
    expect(() => parseNodePortRange('1-70000')).toThrow(RangeConfigError);
  });

  it("stores data as Go's big.Int bytes", () => {
    // Proves the RangeAllocation encoding: big-endian, minimal, bit i for offset i.
    const spec = parseServiceIPRange('10.96.0.0/24');
    const bitmap = RangeBitmap.fromStored('/k', spec, undefined);
    bitmap.allocate(0);
    bitmap.allocate(9);
    const extras = { compares: [], puts: [] } as {
      compares: { key: string; modRevision: number }[];
      puts: { key: string; value: string }[];
    };
    bitmap.addTo(extras);
    expect(extras.compares).toEqual([{ key: '/k', modRevision: 0 }]);
    const stored = JSON.parse(extras.puts[0]!.value);
    expect(stored).toEqual({
      kind: 'RangeAllocation',
      apiVersion: 'v1',
      metadata: { creationTimestamp: null },
      range: '10.96.0.0/24',
      data: 'AgE=',
    });
    const back = RangeBitmap.fromStored('/k', spec, { obj: stored, modRevision: 7 });
    expect([back.has(0), back.has(9), back.has(8), back.count()]).toEqual([true, true, false, 2]);
  });

  it('allocates every free offset but the reserved one, then reports full', () => {
    // Proves dynamic allocation never hands out the kubernetes service's IP and exhausts cleanly.
    const spec = parseServiceIPRange('10.0.0.0/29');
    const bitmap = RangeBitmap.fromStored('/k', spec, undefined);
    const got = new Set<number>();
    for (let i = 0; i < 5; i++) got.add(bitmap.allocateNext(() => 0) ?? -1);
    expect([...got].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(bitmap.allocateNext(() => 0)).toBeUndefined();
    expect(bitmap.allocate(0)).toBe(true);
  });

  it('behaves like a set under random allocate/release/allocateNext', () => {
    // Proves the bitmap against a Set model, and that encode/decode preserves it.
    const spec: RangeSpec = { text: '0-99', size: 100, bandOffset: 10, reservedOffsets: new Set([3]) };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), at: fc.integer({ min: 0, max: 99 }) }),
      fc.record({ kind: fc.constant('release' as const), at: fc.integer({ min: 0, max: 99 }) }),
      fc.record({ kind: fc.constant('next' as const), at: fc.integer({ min: 0, max: 1_000 }) }),
    );
    const result = fc.check(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const bitmap = RangeBitmap.fromStored('/k', spec, undefined);
        const model = new Set<number>();
        for (const o of ops) {
          if (o.kind === 'alloc') expect(bitmap.allocate(o.at)).toBe(!model.has(o.at));
          if (o.kind === 'alloc') model.add(o.at);
          if (o.kind === 'release') {
            bitmap.release(o.at);
            model.delete(o.at);
          }
          if (o.kind === 'next') {
            const at = bitmap.allocateNext((n) => o.at % n);
            const free = [...Array(100).keys()].filter((i) => i !== 3 && !model.has(i));
            if (free.length === 0) expect(at).toBeUndefined();
            else {
              expect(at !== undefined && free.includes(at)).toBe(true);
              // The upper band is preferred while it has room.
              if (free.some((i) => i >= 10)) expect(at).toBeGreaterThanOrEqual(10);
              model.add(at as number);
            }
          }
        }
        const extras = { compares: [], puts: [] } as {
          compares: never[];
          puts: { key: string; value: string }[];
        };
        bitmap.addTo(extras);
        const back =
          extras.puts[0] === undefined
            ? bitmap
            : RangeBitmap.fromStored('/k', spec, { obj: JSON.parse(extras.puts[0].value), modRevision: 1 });
        for (let i = 0; i < 100; i++) expect(back.has(i)).toBe(model.has(i));
      }),
      { seed, numRuns: 200 },
    );
    if (result.failed)
      throw new Error(`failed with ALLOCATOR_SEED=${seed}: ${fc.defaultReportMessage(result)}`);
  });
});

describe('service allocation against the store', () => {
  let store: AdmissionStore | undefined;
  let storage: ObjectStorage;
  const plugins = () => [
    serviceAllocation({ serviceClusterIPRange: '10.96.0.0/16', serviceNodePortRange: '30000-32767' }),
  ];

  beforeAll(async () => {
    store = await startAdmissionStore('admission-alloc');
    storage = store.connect();
  }, 90_000);

  afterAll(async () => {
    await store?.stop();
  }, 30_000);

  function svc(name: string, spec: Record<string, unknown> = {}, namespace = 'default'): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace },
      spec: { ports: [{ port: 80, protocol: 'TCP' }], ...spec },
    };
  }

  async function bitmap(which: 'serviceips' | 'servicenodeports'): Promise<RangeBitmap> {
    const spec =
      which === 'serviceips' ? parseServiceIPRange('10.96.0.0/16') : parseNodePortRange('30000-32767');
    return RangeBitmap.fromStored('/k', spec, await storage.get(`/registry/ranges/${which}`));
  }

  const specOf = (o: KubeObject) => o.spec as Record<string, unknown> & { ports: Record<string, unknown>[] };

  it('allocates a ClusterIP and records it in /registry/ranges/serviceips', async () => {
    // Proves a plain service gets an in-range IP, clusterIPs and families, committed with the write.
    const { stored } = await admitAndCreate(plugins(), storage, 'services', svc('a'));
    const spec = specOf(stored.obj);
    expect(spec.clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
    expect(spec.clusterIPs).toEqual([spec.clusterIP]);
    expect([spec.ipFamilies, spec.ipFamilyPolicy]).toEqual([['IPv4'], 'SingleStack']);
    expect(spec.clusterIP).not.toBe('10.96.0.1');
    expect((await bitmap('serviceips')).count()).toBe(1);
  });

  it('honours a requested IP and refuses it twice with the Kubernetes message', async () => {
    // Proves static allocation and the 422 texts for taken and out-of-range IPs.
    const { stored } = await admitAndCreate(
      plugins(),
      storage,
      'services',
      svc('dns', { clusterIP: '10.96.0.10' }),
    );
    expect(specOf(stored.obj).clusterIPs).toEqual(['10.96.0.10']);
    const taken = await rejection(() =>
      admitAndCreate(plugins(), storage, 'services', svc('dns2', { clusterIP: '10.96.0.10' })),
    );
    expect(taken).toMatchObject({
      code: 422,
      reason: 'Invalid',
      message:
        'Service "dns2" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated',
    });
    const outside = await rejection(() =>
      admitAndCreate(plugins(), storage, 'services', svc('far', { clusterIP: '10.97.0.10' })),
    );
    expect(outside.message).toBe(
      'Service "far" is invalid: spec.clusterIPs: Invalid value: []string{"10.97.0.10"}: failed to allocate IP 10.97.0.10: the provided IP (10.97.0.10) is not in the valid range. The range of valid IPs is 10.96.0.0/16',
    );
  });

  it('allocates node ports, honours requested ones and refuses duplicates', async () => {
    // Proves NodePort allocation per port and the 422 texts for taken and out-of-range ports.
    const ports = [
      { port: 80, protocol: 'TCP', nodePort: 30080 },
      { port: 443, protocol: 'TCP' },
    ];
    const { stored } = await admitAndCreate(
      plugins(),
      storage,
      'services',
      svc('np', { type: 'NodePort', ports }),
    );
    const got = specOf(stored.obj).ports.map((p) => p.nodePort as number);
    expect(got[0]).toBe(30080);
    expect(got[1]).toBeGreaterThanOrEqual(30000 + 86);
    const dup = await rejection(() =>
      admitAndCreate(
        plugins(),
        storage,
        'services',
        svc('np2', { type: 'NodePort', ports: [{ port: 1, protocol: 'TCP', nodePort: 30080 }] }),
      ),
    );
    expect(dup.message).toBe(
      'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
    );
    const far = await rejection(() =>
      admitAndCreate(
        plugins(),
        storage,
        'services',
        svc('np3', { type: 'NodePort', ports: [{ port: 1, protocol: 'TCP', nodePort: 80 }] }),
      ),
    );
    expect(far.message).toBe(
      'Service "np3" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
    expect((await bitmap('servicenodeports')).count()).toBe(2);
  });

  it('gives headless and ExternalName services nothing', async () => {
    // Proves clusterIP None and ExternalName never touch the bitmaps.
    const before = (await bitmap('serviceips')).count();
    const { stored } = await admitAndCreate(
      plugins(),
      storage,
      'services',
      svc('headless', { clusterIP: 'None' }),
    );
    expect(specOf(stored.obj).clusterIPs).toEqual(['None']);
    const ext = await admitAndCreate(
      plugins(),
      storage,
      'services',
      svc('ext', { type: 'ExternalName', externalName: 'example.com' }),
    );
    expect(specOf(ext.stored.obj).clusterIP).toBeUndefined();
    expect((await bitmap('serviceips')).count()).toBe(before);
  });

  it('keeps, adds and releases allocations across updates', async () => {
    // Proves patchAllocatedValues, ClusterIP→NodePort allocation and NodePort→ClusterIP release.
    const { stored } = await admitAndCreate(plugins(), storage, 'services', svc('u'));
    const ip = specOf(stored.obj).clusterIP;
    const ports = (await bitmap('servicenodeports')).count();
    const replaced = await admitAndUpdate(
      plugins(),
      storage,
      'services',
      (o) => {
        const spec = specOf(o);
        delete spec.clusterIP;
        delete spec.clusterIPs;
        spec.type = 'NodePort';
      },
      'default',
      'u',
    );
    expect(specOf(replaced.obj).clusterIP).toBe(ip);
    const nodePort = specOf(replaced.obj).ports[0]?.nodePort;
    expect(typeof nodePort).toBe('number');
    expect((await bitmap('servicenodeports')).count()).toBe(ports + 1);
    const back = await admitAndUpdate(
      plugins(),
      storage,
      'services',
      (o) => {
        specOf(o).type = 'ClusterIP';
      },
      'default',
      'u',
    );
    expect(specOf(back.obj).ports[0]?.nodePort).toBeUndefined();
    expect((await bitmap('servicenodeports')).count()).toBe(ports);
  });

  it('releases on delete, but not while finalizers hold the service', async () => {
    // Proves a deleted service's IP and ports are free again, and held ones are not.
    const ports = [{ port: 80, protocol: 'TCP', nodePort: 31000 }];
    await admitAndCreate(
      plugins(),
      storage,
      'services',
      svc('gone', { type: 'NodePort', clusterIP: '10.96.0.20', ports }),
    );
    await admitAndDelete(plugins(), storage, 'services', 'default', 'gone');
    const again = await admitAndCreate(
      plugins(),
      storage,
      'services',
      svc('again', { type: 'NodePort', clusterIP: '10.96.0.20', ports }),
    );
    expect(specOf(again.stored.obj).clusterIP).toBe('10.96.0.20');
    const held = svc('held', { clusterIP: '10.96.0.21' });
    held.metadata!.finalizers = ['example.com/hold'];
    await admitAndCreate(plugins(), storage, 'services', held);
    await admitAndDelete(plugins(), storage, 'services', 'default', 'held');
    const ipMap = await bitmap('serviceips');
    expect(ipMap.has(parseServiceIPRange('10.96.0.0/16').offsetOf(0x0a600015) as number)).toBe(true);
  });

  it('hands out 100 distinct IPs and node ports to concurrent creates from two apiservers', async () => {
    // Proves the compare on the bitmap's mod_revision: no duplicate IP or port across storage clients.
    const apiservers = [store!.connect(), store!.connect()];
    const ipsBefore = (await bitmap('serviceips')).count();
    const portsBefore = (await bitmap('servicenodeports')).count();
    const created = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        admitAndCreate(plugins(), apiservers[i % 2]!, 'services', svc(`s${i}`, { type: 'NodePort' }, 'race')),
      ),
    );
    const ips = new Set(created.map((c) => specOf(c.stored.obj).clusterIP));
    const nodePorts = new Set(created.map((c) => specOf(c.stored.obj).ports[0]?.nodePort));
    expect(ips.size).toBe(100);
    expect(nodePorts.size).toBe(100);
    expect(Math.max(...created.map((c) => c.attempts))).toBeGreaterThan(1);
    expect((await bitmap('serviceips')).count()).toBe(ipsBefore + 100);
    expect((await bitmap('servicenodeports')).count()).toBe(portsBefore + 100);
  }, 120_000);
});
