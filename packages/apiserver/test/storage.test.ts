// Runs the ObjectStorage compliance suite on a real 3-member Keelson store and on a real etcd 3.4.
import { EtcdObjectStorage } from '@keelson/apiserver';
import { EtcdClient } from '@keelson/store';
import { afterAll, beforeAll, describe } from 'vitest';
import { type Cluster, startCluster } from '../../../test/store/harness.js';
import { storageCompliance } from './storage-compliance.js';

for (const impl of ['keelson', 'etcd'] as const) {
  describe(`EtcdObjectStorage on ${impl}`, () => {
    let cluster: Cluster | undefined;
    let storage: EtcdObjectStorage | undefined;
    let client: EtcdClient | undefined;
    beforeAll(async () => {
      cluster = await startCluster({ impl, size: impl === 'keelson' ? 3 : 1, label: 'apiserver-storage' });
      client = new EtcdClient({ endpoints: cluster.endpoints });
      storage = new EtcdObjectStorage({ client, progressIntervalMs: 500 });
    }, 90_000);
    afterAll(async () => {
      storage?.close();
      await cluster?.stop();
    }, 30_000);
    storageCompliance(
      () => {
        if (storage === undefined) throw new Error('the store did not start (see beforeAll)');
        return storage;
      },
      async (rev) => {
        await client?.compact(rev);
      },
    );
  });
}
