// Member and cluster ids. etcd derives a member id from its peer URLs and the cluster token (plus the
// time for a member added at run time) and the cluster id from the sorted member ids, so that every
// member of a new cluster computes the same ids from the same flags. Raft node ids in Keelson are
// JS numbers, so ids keep the top 52 bits of the SHA-1 (always below 2^53, never 0).
import { createHash } from 'node:crypto';

function idFromDigest(digest: Buffer): number {
  const id = Number(digest.readBigUInt64BE(0) >> 12n);
  return id === 0 ? 1 : id;
}

export function computeMemberId(peerUrls: readonly string[], token: string, nowMs?: number): number {
  const h = createHash('sha1');
  h.update([...peerUrls].sort().join(''));
  h.update(token);
  if (nowMs !== undefined) h.update(String(nowMs));
  return idFromDigest(h.digest());
}

export function computeClusterId(memberIds: readonly number[]): number {
  const h = createHash('sha1');
  const sorted = [...memberIds].sort((a, b) => a - b);
  const b = Buffer.alloc(8);
  for (const id of sorted) {
    b.writeBigUInt64BE(BigInt(id));
    h.update(b);
  }
  return idFromDigest(h.digest());
}

/** etcd prints ids as lowercase hex (etcdctl member list, logs). */
export function idHex(id: number): string {
  return id.toString(16);
}
