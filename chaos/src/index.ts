// Chaos suites for the store: linearizability and watch checkers, nemeses, workloads.
export const CHAOS_PACKAGE = '@keelson/chaos';
