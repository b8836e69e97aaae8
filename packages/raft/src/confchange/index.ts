export {
  assertConfigInvariants,
  Changer,
  type ChangerTracker,
  type ConfigAndProgress,
  confChangeEnterJoint,
  confChangeLeaveJoint,
} from './changer.js';
export { decodeConfChange, encodeConfChange } from './codec.js';
export { confStatesEquivalent, restore, toConfChangeSingles } from './restore.js';
