export { JointConfig } from './joint.js';
export { type AckedIndexer, MajorityConfig, quorumSize, VoteResult } from './majority.js';
