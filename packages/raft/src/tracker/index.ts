export { Inflights } from './inflights.js';
export { Progress, ProgressState } from './progress.js';
export {
  emptyTrackerConfig,
  ProgressTracker,
  type TrackerConfig,
  trackerConfigString,
  type VoteTally,
} from './tracker.js';
