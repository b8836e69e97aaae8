import { it } from 'vitest';
import { RUNS_PER_PART, runVolumePart, STEPS_PER_RUN, VOLUME_PARTS } from './support/volume.js';

// Proves that 250 random fast-check schedules (part 1 of 4) of at least 2,000 steps each keep every
// safety invariant and regain liveness after the heal.
it(`keeps every invariant over ${RUNS_PER_PART} schedules of ${STEPS_PER_RUN} steps (part 1 of ${VOLUME_PARTS})`, () => {
  runVolumePart(1);
}, 300_000);
