// The master leases of kube-apiserver's "lease" endpoint reconciler (pkg/controlplane/reconcilers/
// lease.go): every apiserver keeps one key under <prefix>/masterleases/ attached to an etcd lease of
// a few seconds and renews it every reconcile interval. A key that outlives its lease vanishes, so
// the set of keys is the set of live apiservers.
import type { KubeObject } from '@keelson/api';
import type { EtcdClient } from '@keelson/store';
import type { Logger } from 'pino';

/** An apiserver as the kubernetes Service's endpoints name it: advertised IP and secure port. */
export interface MasterAddress {
  ip: string;
  port: number;
}

/** kube-apiserver's DefaultEndpointReconcilerTTL. */
export const MASTER_LEASE_TTL_SECONDS_DEFAULT = 15;
/** More leases than this means something other than apiservers writes under the prefix. */
const leasesMax = 1_000;

export function masterLeasesPrefix(etcdPrefix: string): string {
  return `${etcdPrefix}/masterleases/`;
}

/**
 * kube keys a lease by IP alone (one apiserver per host). Here several apiservers may share one host
 * (127.0.0.1 with different ports, as `keelson cluster up` runs them), and keyed by IP they would
 * overwrite each other's lease and one's graceful removal would delete the other's; ip:port is
 * unique per apiserver.
 */
export function masterLeaseKey(etcdPrefix: string, self: MasterAddress): string {
  return `${masterLeasesPrefix(etcdPrefix)}${self.ip}:${self.port}`;
}

/** The lease's value, an Endpoints object as kube stores it, with the port added. */
export function masterLeaseValue(self: MasterAddress): KubeObject {
  return {
    kind: 'Endpoints',
    apiVersion: 'v1',
    metadata: { name: `${self.ip}:${self.port}`, creationTimestamp: null as unknown as string },
    subsets: [{ addresses: [{ ip: self.ip }], ports: [{ name: 'https', port: self.port, protocol: 'TCP' }] }],
  };
}

/** The address a lease value names; undefined for a value this reconciler did not write. */
export function parseMasterLease(value: string): MasterAddress | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  const subset = (parsed as { subsets?: { addresses?: { ip?: unknown }[]; ports?: { port?: unknown }[] }[] })
    ?.subsets?.[0];
  const ip = subset?.addresses?.[0]?.ip;
  const port = subset?.ports?.[0]?.port;
  if (typeof ip !== 'string' || ip === '' || typeof port !== 'number' || !Number.isInteger(port))
    return undefined;
  if (port < 1 || port > 65_535) return undefined;
  return { ip, port };
}

export interface MasterLeasesOptions {
  client: EtcdClient;
  etcdPrefix: string;
  ttlSeconds: number;
  logger: Logger;
}

/**
 * This apiserver's lease and the list of everyone's. The lease key is written only by its owner
 * (the key names the owner), so a plain put is safe: there is nothing to lose to a concurrent writer.
 */
export class MasterLeases {
  /** The etcd lease our key is attached to; undefined until granted, or once it expired. */
  private leaseId: string | undefined;

  constructor(private readonly o: MasterLeasesOptions) {
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1)
      throw new Error(`assertion failed: master lease TTL must be whole seconds ≥ 1, got ${o.ttlSeconds}`);
  }

  /** Adds or refreshes our lease: renews the etcd lease (a new one if it expired) and rewrites the key. */
  async update(self: MasterAddress): Promise<void> {
    if (this.leaseId !== undefined) {
      const renewed = await this.o.client.leaseKeepAliveOnce(this.leaseId);
      // TTL 0: the lease expired (we were paused or cut off longer than the TTL) and took the key.
      if (renewed.TTL <= 0) this.leaseId = undefined;
    }
    if (this.leaseId === undefined) {
      const granted = await this.o.client.leaseGrant(this.o.ttlSeconds);
      if (granted.error !== '') throw new Error(`granting the master lease failed: ${granted.error}`);
      this.leaseId = granted.ID;
    }
    // Rewritten every time, as kube does: it repairs a key someone deleted while the lease lived.
    await this.o.client.put(masterLeaseKey(this.o.etcdPrefix, self), JSON.stringify(masterLeaseValue(self)), {
      lease: this.leaseId,
    });
  }

  /** Every live apiserver, in key order (keys that do not parse are skipped). */
  async list(): Promise<MasterAddress[]> {
    const res = await this.o.client.get(masterLeasesPrefix(this.o.etcdPrefix), {
      prefix: true,
      limit: leasesMax,
    });
    if (res.more)
      this.o.logger.warn({ leasesMax }, 'more master leases than expected: reading the first ones');
    const found: MasterAddress[] = [];
    for (const kv of res.kvs) {
      const address = parseMasterLease(kv.value.toString('utf8'));
      if (address === undefined)
        this.o.logger.warn({ key: kv.key.toString('utf8') }, 'skipping a bad master lease');
      else found.push(address);
    }
    return found;
  }

  /** Removes our lease at once (graceful shutdown), instead of letting it expire. */
  async remove(self: MasterAddress): Promise<void> {
    await this.o.client.delete(masterLeaseKey(this.o.etcdPrefix, self));
    const id = this.leaseId;
    this.leaseId = undefined;
    // The key is gone already; a lease that cannot be revoked now simply expires.
    if (id !== undefined)
      await this.o.client.leaseRevoke(id).catch((err: unknown) => {
        this.o.logger.debug({ err: (err as Error).message }, 'revoking the master lease failed');
      });
  }
}
