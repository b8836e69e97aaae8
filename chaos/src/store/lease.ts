// The lease workload and its checker: grant a lease, put keys with it, revoke it; once the revoke is
// acknowledged, a linearizable read must see none of the keys, and a put with the lease must fail.
import { sleep } from './cluster.js';
import { errorText } from './recorder.js';
import { rotatingClient } from './workload.js';

export const LEASE_PREFIX = 'lease/';

export interface LeaseResult {
  /** Cycles whose revoke was acknowledged and then checked. */
  checked: number;
  /** Cycles abandoned on an error (a nemesis got in the way): no claim to check. */
  abandoned: number;
  violations: string[];
}

export interface LeaseWorkloadOptions {
  readonly endpoints: readonly string[];
  readonly signal: AbortSignal;
  /** Cycles per second at most. */
  readonly ratePerS: number;
  readonly onError?: (text: string) => void;
}

const VIOLATIONS_MAX = 100;

export async function runLeaseWorkload(o: LeaseWorkloadOptions): Promise<LeaseResult> {
  const result: LeaseResult = { checked: 0, abandoned: 0, violations: [] };
  const client = rotatingClient(o.endpoints, 2);
  try {
    for (let n = 0; !o.signal.aborted; n++) {
      const t0 = performance.now();
      const prefix = `${LEASE_PREFIX}${n}/`;
      try {
        const lease = await client.leaseGrant(10);
        await client.put(`${prefix}a`, 'a', { lease: lease.ID });
        await client.put(`${prefix}b`, 'b', { lease: lease.ID });
        await client.leaseRevoke(lease.ID);
        await checkRevoked(client, prefix, lease.ID, result);
        result.checked++;
      } catch (e) {
        result.abandoned++;
        o.onError?.(`lease: ${errorText(e)}`);
      }
      const waitMs = 1000 / o.ratePerS - (performance.now() - t0);
      if (waitMs > 0 && !o.signal.aborted) await sleep(waitMs);
    }
  } finally {
    client.close();
  }
  return result;
}

async function checkRevoked(
  client: ReturnType<typeof rotatingClient>,
  prefix: string,
  leaseId: string,
  result: LeaseResult,
): Promise<void> {
  const violation = (text: string): void => {
    if (result.violations.length < VIOLATIONS_MAX) result.violations.push(text);
  };
  const r = await client.get(prefix, { prefix: true });
  if (r.kvs.length > 0) {
    const keys = r.kvs.map((kv) => kv.key.toString('utf8')).join(', ');
    violation(
      `after the revoke of lease ${leaseId} was acknowledged, a read at revision ${r.header.revision} saw ${keys}`,
    );
  }
  let putOk = false;
  try {
    await client.put(`${prefix}c`, 'c', { lease: leaseId });
    putOk = true;
  } catch (e) {
    // "requested lease not found" is the expected answer; any other error says nothing.
    if (!errorText(e).includes('lease not found')) throw e;
  }
  if (putOk) violation(`a put with lease ${leaseId} succeeded after its revoke was acknowledged`);
}
