// The Node (V8) flags a store member runs with. Every launcher that starts a member passes them before
// the script: `keelson up` (cluster/), `keelson store cluster`, and the bench, chaos and test harnesses.
// A member started by hand without them runs correctly, only with longer GC pauses.

/**
 * V8's semi-spaces (the young generation) capped at 4 MB instead of Node's 16 MB. A scavenge copies what
 * is still alive in the young generation, which on a member is mostly what it keeps for longer (Raft log
 * entries, MVCC revisions and their index) made since the last scavenge; the pause grows with the space
 * between scavenges. At one client on a 2-core machine, 3 alternating pairs of 10-s runs gave a put p99
 * of 2.10 / 2.21 / 2.13 ms with 4 MB against 2.43 / 2.95 / 2.79 ms with 16 MB (on tmpfs, 1.27 / 1.32 /
 * 1.67 against 1.44 / 1.46 / 1.78 ms); put at 64 and 256 clients and get at 64 did not change beyond
 * the noise. 2 MB cost 4 % at 256 clients.
 */
export const MEMBER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
