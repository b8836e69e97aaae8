// Chaos suites for the store: linearizability and watch checkers, nemeses, workloads.
// This file is the package's whole public API.

export const CHAOS_PACKAGE = '@keelson/chaos';

export {
  type CheckOptions,
  type CheckResult,
  checkHistory,
  DEFAULT_TIMEOUT_MS,
  type Failure,
  type PartitionResult,
  type Verdict,
} from './lin/check.js';
export { type GeneratedModel, type GenerateOptions, generateHistory } from './lin/generate.js';
export {
  type EventType,
  formatHistory,
  HistoryError,
  type HistoryOp,
  type ParsedHistory,
  parseHistory,
} from './lin/history.js';
export {
  type Model,
  type NondeterministicModel,
  type Partition,
  powerSetModel,
  type TimedOp,
} from './lin/model.js';
export { type KvState, kvModel } from './lin/models/kv.js';
export { casRegisterModel, type RegisterState, registerModel } from './lin/models/register.js';
export { canonical, sameValue } from './lin/models/values.js';
export { Prng } from './lin/prng.js';
export { renderReport, writeReport } from './lin/report.js';
export { type SearchResult, searchLinearization } from './lin/search.js';

import type { HistoryOp } from './lin/history.js';
import type { Model } from './lin/model.js';
import { kvModel } from './lin/models/kv.js';
import { casRegisterModel, registerModel } from './lin/models/register.js';

/** The models `keelson chaos check --model` knows, by name. */
export const historyModels: Readonly<Record<'register' | 'cas-register' | 'kv', Model<unknown, HistoryOp>>> =
  {
    register: registerModel,
    'cas-register': casRegisterModel,
    kv: kvModel as Model<unknown, HistoryOp>,
  };

export {
  checkFailures,
  checkFinalState,
  checkLists,
  type KubeCheckResult,
  knownChanges,
  kubeOps,
  type TimedKubeOp,
  toHistoryWrites,
} from './apiserver/check.js';
export { API_NEMESES, type ApiNemesis, parseApiNemeses } from './apiserver/nemesis.js';
// The apiserver chaos suite (src/apiserver): a `keelson cluster up` cluster, ConfigMap writers and
// watchers through the LB, apiserver and store nemeses, runApiserverSuite.
export {
  type ApiCheckerName,
  type ApiSuiteOptions,
  type ApiSuiteSummary,
  runApiserverSuite,
} from './apiserver/run.js';
// Watch checkers (src/watch) and the set checker: see README "Watch and set checkers".
export { checkSet, type SetAdd, type SetCheckOptions, type SetCheckResult } from './set.js';
// The store chaos suite (src/store): a cluster of real members, nemeses, workloads, runSuite.
export { ChaosCluster, type ChaosMember, type ClusterOptions } from './store/cluster.js';
export {
  allVariants,
  NEMESES,
  NEMESIS_KINDS,
  Nemesis,
  type NemesisEvent,
  type NemesisKind,
  parseNemeses,
} from './store/nemesis.js';
export { type CheckerVerdict, runSuite, type SuiteOptions, type SuiteSummary } from './store/run.js';
export { checkWatches } from './watch/check.js';
export { formatWatchReport } from './watch/report.js';
export { WatchLogError } from './watch/stream.js';
export {
  type HistoryWrite,
  type ReplayLog,
  WATCH_PROPERTIES,
  type WatchCheckOptions,
  type WatchCheckResult,
  type WatchCompaction,
  type WatchEventRec,
  type WatcherLog,
  type WatchKv,
  type WatchPropertyName,
  type WatchPropertyVerdict,
  type WatchResponseRec,
  type WatchSession,
  type WatchViolation,
} from './watch/types.js';
