// A one-member store configuration for tests that start a member in process: loopback URLs on the given
// ports, fast timings, everything else etcd's defaults.
import { defaultMemberConfig, type MemberConfig } from '@keelson/store';

export function soloMemberConfig(
  name: string,
  dataDir: string,
  clientPort: number,
  peerPort: number,
): MemberConfig {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return {
    ...defaultMemberConfig(),
    name,
    dataDir,
    listenClientUrls: [new URL(client)],
    advertiseClientUrls: [client],
    listenPeerUrls: [new URL(peer)],
    initialAdvertisePeerUrls: [peer],
    initialCluster: [{ name, peerUrls: [peer] }],
    initialClusterToken: `${name}-test`,
    heartbeatIntervalMs: 50,
    electionTimeoutMs: 500,
    snapshotCount: 10_000,
    snapshotCatchUpEntries: 100,
  };
}
