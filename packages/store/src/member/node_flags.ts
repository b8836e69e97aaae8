// The Node (V8) flags a store member runs with. Every launcher that starts a member passes them before
// the script: `keelson up` (cluster/), `keelson store cluster`, and the bench, chaos and test harnesses.
// A member started by hand without them runs correctly, only with longer GC pauses.

/**
 * V8's semi-spaces (the young generation) capped at 4 MB instead of Node's 16 MB. A scavenge copies what
 * is still alive in the young generation, which on a member at one client is mostly what it keeps for
 * longer (Raft log entries, MVCC revisions and their index) made since the last scavenge; the pause
 * grows with the space between scavenges. At one client on a 2-core machine, 3 alternating pairs of
 * 10-s runs gave a put p99 of 2.10 / 2.21 / 2.13 ms with 4 MB against 2.43 / 2.95 / 2.79 ms with 16 MB.
 * The price is under sustained load, where more in-flight requests survive a scavenge and are promoted:
 * 256 clients over 30-45 s did 19.6-26.1k puts/s (mean 21.8k) against 21.5-25.9k (mean 24.4k) with
 * 16 MB. 8 MB looked as good at one client in two pairs (1.75 / 2.28 against 2.22 / 2.72 ms); whether
 * it costs less under load is not established. Measurements: bench/results/profile-put1-tail-2026-12-01.md.
 */
export const MEMBER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
