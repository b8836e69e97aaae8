// A quick put benchmark over the etcd v3 API (any etcd-compatible endpoints): single-client
// sequential put latency, then N concurrent clients' throughput. Issue 4's `keelson bench kv`
// will replace it; this gives the store's first figures.
//   node bench/dist/store-put.js --endpoints 127.0.0.1:23790,127.0.0.1:23792 [--seq 2000] [--clients 64] [--seconds 10]
import { EtcdClient } from '@keelson/store';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const endpoints = arg('endpoints', '127.0.0.1:23790').split(',');
  const seq = Number(arg('seq', '2000'));
  const clients = Number(arg('clients', '64'));
  const seconds = Number(arg('seconds', '10'));
  const value = Buffer.alloc(256, 'v');

  const one = new EtcdClient({ endpoints });
  const lat: number[] = [];
  for (let i = 0; i < seq; i++) {
    const t0 = performance.now();
    await one.put(`bench/seq/${i % 1000}`, value);
    lat.push(performance.now() - t0);
  }
  one.close();
  lat.sort((a, b) => a - b);
  const single = { ops: seq, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99), maxMs: lat[lat.length - 1] };

  // Like etcd's benchmark tool: many clients share a few connections.
  const conns = Array.from({ length: Math.min(clients, 8) }, () => new EtcdClient({ endpoints }));
  let done = 0;
  let errors = 0;
  const lat2: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const conn = conns[c % conns.length]!;
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        try {
          await conn.put(`bench/c${c}/${i % 100}`, value);
          done++;
          lat2.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  for (const c of conns) c.close();
  lat2.sort((a, b) => a - b);
  const concurrent = {
    clients,
    opsPerSec: Math.round(done / seconds),
    p50Ms: pct(lat2, 50),
    p99Ms: pct(lat2, 99),
    errors,
  };
  console.log(JSON.stringify({ endpoints, valueBytes: value.length, single, concurrent }, null, 2));
}

await main();
