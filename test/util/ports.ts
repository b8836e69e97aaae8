// Free loopback ports for tests that start servers: the bench's helper, which binds several listeners
// on port 0 at once before releasing any, so that one call never returns the same port twice.
import { freePorts } from '@keelson/bench';

export { freePorts };

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}
